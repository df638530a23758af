import type { Engine } from '../queues/engine/index.js';
import type { Caller } from '../queues/security/index.js';

/**
 * What every resolver receives; built once per gateway by createYogaApp, shared by every request. It
 * lives here, under the resolvers, so that schema/ (which builds on it) and resolvers/ both import it
 * from below: calls go schema → resolvers → queues and no arrow runs back up.
 */
export interface Context {
  engine: Engine;
  /** Answered by `health.version`. */
  version: string;
  /** Process start time in epoch ms; `health.uptimeSeconds` counts from it. */
  startedAt: number;
  /**
   * True only when the yoga app was built without authentication on purpose (createYogaApp's
   * `authDisabled`): then a request without `auth` is served as admin. False in every gateway, where a
   * request without `auth` is granted nothing.
   */
  authDisabled: boolean;
  /** Who is calling, per request (server/use-auth.ts); absent when the yoga app runs without auth. */
  auth?: Caller;
}
