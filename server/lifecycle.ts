import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Engine } from '../queues/engine/index.js';
import type { BullBoardMount } from './bull-board.js';
import type { Config } from './config.js';
import type { InFlight } from './in-flight.js';
import type { Logger } from './logger.js';
import type { SubscriptionDrainPlugin } from './use-subscription-drain.js';
import type { AttachedWebSocket } from './websocket.js';

/** The gateway's parts its start and stop work on (server/gateway.ts builds them). */
export interface LifecycleParts {
  config: Config;
  server: Server;
  /** The GraphQL path, for the URL `start` answers. */
  path: string;
  logger: Logger;
  engine: Engine;
  inFlight: InFlight;
  subscriptionDrain: SubscriptionDrainPlugin;
  bullBoard: BullBoardMount | null;
  setPhase(phase: 'listening' | 'draining' | 'stopped'): void;
  draining(): boolean;
  /**
   * Attaches graphql-ws once the port is bound: ws re-emits the HTTP server's errors, and graphql-ws
   * answers any such error by closing every socket and printing it, which a failed listen() must not trigger.
   */
  attach(): AttachedWebSocket;
  /** The line logged once listening: where, and how callers authenticate. */
  describe(): string;
}

interface LifecycleState {
  websocket: AttachedWebSocket | null;
}

/** Start once, stop once (idempotent): listen, then drain within the shutdown timeout. */
export function createLifecycle(parts: LifecycleParts) {
  const state: LifecycleState = { websocket: null };
  let starting: Promise<{ port: number; url: string }> | null = null;
  let stopping: Promise<void> | null = null;
  return {
    get websocket() {
      return state.websocket;
    },
    start(): Promise<{ port: number; url: string }> {
      if (stopping) return Promise.reject(new Error('The gateway is stopping; it cannot start again'));
      starting ??= listen(parts, state);
      return starting;
    },
    stop(): Promise<void> {
      stopping ??= shutdown(parts, state);
      return stopping;
    },
  };
}

async function listen(parts: LifecycleParts, state: LifecycleState): Promise<{ port: number; url: string }> {
  const { server, config, logger } = parts;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // A stop() that began while we were binding wins: close what we just opened.
  if (parts.draining()) {
    server.close();
    throw new Error('The gateway was stopped while starting');
  }
  server.on('error', (error) => logger.error({ err: error }, 'HTTP server error'));
  state.websocket = parts.attach();
  parts.setPhase('listening');
  logger.info(parts.describe());
  const { port } = server.address() as AddressInfo;
  return { port, url: `http://${urlHost(config.host)}:${port}${parts.path}` };
}

async function drain(parts: LifecycleParts, state: LifecycleState): Promise<void> {
  const { server, engine, inFlight, subscriptionDrain, bullBoard } = parts;
  parts.setPhase('draining');
  // Nothing new starts from here: no webhook delivery, no fetch for a consume stream or a receive.
  const workStopped = engine.stopTakingWork();
  // Subscriptions over HTTP (SSE) would keep their requests in flight for ever: end them first.
  subscriptionDrain.drain();
  // So would a request waiting for its reply, until its timeout: it answers UNAVAILABLE now.
  const requestsStopped = engine.stopRequests();
  // Stop accepting connections (the callback also comes, with an error we ignore, if we never listened);
  // idle keep-alive connections close now, busy ones once their response is out.
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  await inFlight.idle();
  // Let graphql-ws send the results of executions that just settled before the 1001 close frame.
  await new Promise<void>((resolve) => setImmediate(resolve));
  await state.websocket?.dispose();
  server.closeAllConnections();
  await Promise.all([closed, requestsStopped, workStopped, engine.close(), bullBoard?.close()]);
}

async function shutdown(parts: LifecycleParts, state: LifecycleState): Promise<void> {
  const { server, config, logger, inFlight } = parts;
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), config.shutdownTimeoutMs);
  });
  const drained = drain(parts, state);
  try {
    const outcome = await Promise.race([drained.then(() => 'drained' as const), timedOut]);
    if (outcome === 'timeout') {
      server.closeAllConnections();
      state.websocket?.terminate();
      // The engine keeps closing in the background; its in-flight jobs are redelivered if we exit first.
      drained.catch((error: unknown) => logger.error({ err: error }, 'Shutdown failed after the timeout'));
      throw new Error(
        `Graceful shutdown did not finish within ${config.shutdownTimeoutMs} ms: connections were cut with ` +
          `${inFlight.size} request(s) in flight; unfinished webhook deliveries will be redelivered`,
      );
    }
    logger.debug({ ms: Date.now() - started }, 'Gateway stopped');
  } finally {
    clearTimeout(timer);
    parts.setPhase('stopped');
  }
}

/** A host usable in a URL: brackets for IPv6, and a wildcard bind reachable as localhost. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}
