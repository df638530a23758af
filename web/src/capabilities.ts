/**
 * What the key in use may do, so that pages offer only that. The schema has no field naming the
 * caller's own scopes (no `viewer`), so the dashboard learns what it can:
 * - `admin`: `apiKeys` answers only admins;
 * - `stats`: `alerts` answers only keys with the stats scope (or admin);
 * - per topic (publish, subscribe, dead letters): from the FORBIDDEN answers the key has had, which
 *   take the refused action off the page for that topic until the key changes.
 */
import { DashboardProbeAdminDocument, DashboardProbeStatsDocument } from '../../client/generated/graphql.js';
import { GatewayError, request } from './gateway.js';

export interface Capabilities {
  /** Topology, keys and the audit log, signing secrets, circuit resets, bull-board. */
  admin: boolean;
  /** Counters, charts, circuit breakers and alerts. */
  stats: boolean;
}

/** The actions granted per topic pattern (docs/SECURITY.md). */
export type TopicAction = 'publish' | 'subscribe' | 'deadletters:read' | 'deadletters:write';

let known: Promise<Capabilities> | null = null;
const refused = new Set<string>();

async function granted(probe: () => Promise<unknown>): Promise<boolean> {
  try {
    await probe();
    return true;
  } catch (error) {
    // Only a refusal says no; a gateway that cannot answer now says nothing about the key.
    if (error instanceof GatewayError && (error.code === 'FORBIDDEN' || error.code === 'UNAUTHENTICATED'))
      return false;
    throw error;
  }
}

/** The key's capabilities, asked once per key. */
export function capabilities(): Promise<Capabilities> {
  known ??= Promise.all([
    granted(() => request(DashboardProbeAdminDocument)),
    granted(() => request(DashboardProbeStatsDocument)),
  ]).then(
    ([admin, stats]) => ({ admin, stats: admin || stats }),
    (error: unknown) => {
      known = null;
      throw error;
    },
  );
  return known;
}

/** Forgets everything learned: the key changed. */
export function forgetCapabilities(): void {
  known = null;
  refused.clear();
}

/** False once the gateway refused `action` on `topic` to this key. */
export function mayDo(action: TopicAction, topic: string): boolean {
  return !refused.has(`${action}\u0000${topic}`);
}

/** Remembers a FORBIDDEN answer to `action` on `topic`; answers whether `error` was one. */
export function noteRefusal(error: unknown, action: TopicAction, topic: string): boolean {
  if (!(error instanceof GatewayError) || error.code !== 'FORBIDDEN') return false;
  refused.add(`${action}\u0000${topic}`);
  return true;
}
