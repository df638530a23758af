import { ENGINE_DEFAULTS } from '../core/index.js';
import type { RedisClient } from '../redis/index.js';
import { circuitOperations } from './circuit-operations.js';
import { historyOperations } from './history-operations.js';
import { createMonitoring } from './monitoring.js';
import { messagingOperations, statsOperations, topologyOperations } from './operations.js';
import type { EngineOptions } from './options.js';
import {
  type Connections,
  createCoreParts,
  createDeliveryParts,
  createReconciler,
  openConnections,
  type Parts,
  redisTarget,
} from './parts.js';
import { gated, gatedMethods, publishOutcomeUnknown, type RedisWatch, watchRedis } from './redis-watch.js';

export type { EngineOptions } from './options.js';

/**
 * The messaging engine: registry, publisher, delivery. No GraphQL in here; the schema's resolvers
 * call these functions and nothing else touches Redis.
 */
export async function createEngine(options: EngineOptions) {
  const onError = options.onError ?? (() => {});
  const connections = await openConnections(redisTarget(options), onError, options.commandTimeoutMs);
  const core = await createCoreParts(options, connections, onError);
  const parts: Parts = { ...core, ...createDeliveryParts(core, options, onError) };
  const redisWatch = watchEngineRedis(connections.client, options, onError);
  const { keys, events, registry, security, deadLetters, consumers, push, webhooks } = parts;
  const monitoring = createMonitoring(parts, options, onError);
  const reconciler = createReconciler(parts, options.runWorkers !== false, onError);

  const stopWatching = registry.onChange(() => void reconciler.reconcile());
  await parts.requests.listen();
  await reconciler.reconcile();
  deadLetters.start();
  parts.replayTasks.start();
  const stopOrderingSweep = startOrderingSweep(parts, options, onError);

  const messaging = messagingOperations(parts);
  let closed: Promise<void> | null = null;
  return {
    keys,
    events,
    /** Messages accepted that reach no target without becoming dead letters, for counting (core/losses.ts). */
    losses: parts.losses,
    registry,
    /** API keys: create, list, revoke, authenticate, onRevoked (api-keys.ts). */
    // Key lookups and rate-limit buckets read Redis on every request: refused at once while the
    // watchdog holds Redis for unresponsive, like the calls below.
    apiKeys: gatedMethods(redisWatch, security.apiKeys, ['authenticate']),
    /** The audit log of admin mutations (audit-log.ts). */
    auditLog: security.auditLog,
    /** Per-key token buckets shared by every instance, or null when rate limiting is off. */
    rateLimiter: security.rateLimiter && gatedMethods(redisWatch, security.rateLimiter, ['take']),
    /** The webhook targets this engine allows besides public addresses. */
    webhookPolicy: security.webhookPolicy,
    ...topologyOperations(parts, reconciler.reconcile, {
      waitMs: options.queueDeleteWaitMs ?? ENGINE_DEFAULTS.queueDeleteWaitMs,
      onError,
    }),
    ...messaging,
    ...gatedMessaging(redisWatch, messaging),
    ...statsOperations(parts, monitoring),
    ...circuitOperations(parts),
    ...historyOperations(parts),
    /**
     * Fails every request waiting here with UNAVAILABLE now and takes no new one: the first step of a
     * gateway's drain, so a waiting request does not hold the drain until its timeout. Idempotent.
     */
    stopRequests: (): Promise<void> => parts.requests.close(),
    /**
     * Takes no new work on this instance, without waiting for the work under way: webhook workers stop
     * fetching (BullMQ `pause(true)`) while their deliveries finish, `consume` pumps stop fetching, and
     * `receive` hands out nothing more (one under way answers what it has). Acks, nacks and replies still
     * work. The first step of a gateway's drain, before close(); there is no resuming. Idempotent.
     */
    async stopTakingWork(): Promise<void> {
      consumers.stopTaking();
      push.pause();
      await webhooks.pause();
    },
    /**
     * Whether Redis answers right now, by the engine's watchdog (a PING every 20 ms; one unanswered
     * past the watchdog's limit, or a dropped connection, is an outage), and who is told of each change.
     */
    redis: {
      get available() {
        return redisWatch.available;
      },
      /** How long a PING may go unanswered now before Redis counts as not answering. */
      get limitMs() {
        return redisWatch.limitMs;
      },
      /** True for the watchdog's first 5 s of answers, when its limit is the upper one. */
      get warmingUp() {
        return redisWatch.warmingUp;
      },
      onChange: redisWatch.onChange,
    },
    /** This instance's `consume` subscribers and their unacked deliveries. */
    get consumeSize() {
      return push.size;
    },
    get webhookWorkers() {
      return webhooks.size;
    },
    /** Stops taking work, lets in-flight deliveries finish, then closes every connection. Idempotent. */
    close(): Promise<void> {
      closed ??= closeEngine(parts, connections, monitoring, redisWatch, {
        stopWatching,
        stopOrderingSweep,
        stopReconciler: reconciler.stop,
      });
      return closed;
    },
  };
}

export type Engine = Awaited<ReturnType<typeof createEngine>>;

/**
 * The calls that need Redis on every request, gated by the watchdog: while it holds Redis for
 * unresponsive they answer UNAVAILABLE at once, having sent nothing.
 */
function gatedMessaging(redisWatch: RedisWatch, messaging: ReturnType<typeof messagingOperations>) {
  const busyPerMessageMs = ENGINE_DEFAULTS.redisBusyPerMessageMs;
  return {
    // While the watchdog holds Redis for unresponsive (a PING unanswered past its limit), these answer
    // UNAVAILABLE at once, having sent nothing, instead of waiting out a frozen Redis for the command
    // timeout. One under way when Redis froze answers then too; a publish's outcome is then unknown.
    publish: gated(redisWatch, messaging.publish, publishOutcomeUnknown, () => busyPerMessageMs),
    // A group commit's one script keeps Redis busy in proportion to the messages in it: each call
    // announces its share, so that our own big commit is not taken for a frozen Redis (redis-watch.ts).
    publishBatch: gated(
      redisWatch,
      messaging.publishBatch,
      publishOutcomeUnknown,
      (inputs) => inputs.length * busyPerMessageMs,
    ),
    request: gated(redisWatch, messaging.request, publishOutcomeUnknown, () => busyPerMessageMs),
    receive: gated(redisWatch, messaging.receive),
    ack: gated(redisWatch, messaging.ack),
    ackMany: gated(redisWatch, messaging.ackMany),
    nack: gated(redisWatch, messaging.nack),
    reply: gated(redisWatch, messaging.reply),
  };
}

/** The engine's watchdog on its request client, with the engine's settings (redis-watch.ts). */
function watchEngineRedis(client: RedisClient, options: EngineOptions, onError: (error: Error) => void) {
  return watchRedis(client, {
    pingIntervalMs: options.redisWatch?.pingIntervalMs ?? ENGINE_DEFAULTS.redisPingIntervalMs,
    unresponsiveAfterMs: options.redisWatch?.unresponsiveAfterMs ?? ENGINE_DEFAULTS.redisUnresponsiveAfterMs,
    maxUnresponsiveAfterMs: Math.max(
      options.redisWatch?.maxUnresponsiveAfterMs ?? ENGINE_DEFAULTS.redisMaxUnresponsiveAfterMs,
      options.redisWatch?.unresponsiveAfterMs ?? 0,
    ),
    busyLimitMs: options.commandTimeoutMs ?? ENGINE_DEFAULTS.commandTimeoutMs,
    warmUpMs: options.redisWatch?.warmUpMs ?? ENGINE_DEFAULTS.redisWatchWarmUpMs,
    onError,
  });
}

/** Stops taking work, lets in-flight deliveries finish, then closes every connection. */
async function closeEngine(
  parts: Parts,
  connections: Connections,
  monitoring: ReturnType<typeof createMonitoring>,
  redisWatch: RedisWatch,
  stops: {
    stopWatching: () => void;
    stopOrderingSweep: () => Promise<void>;
    stopReconciler: () => Promise<void>;
  },
): Promise<void> {
  const { stopWatching, stopOrderingSweep, stopReconciler } = stops;
  const { registry, security, live, deadLetters, consumers, push, webhooks, handles } = parts;
  const { client, subscriber, workerConnection } = connections;
  const { alerts, metrics } = monitoring;

  // Waiting requests fail with UNAVAILABLE at once, not at their timeouts.
  const requestsClosed = parts.requests.close();
  stopWatching();
  // Before the connections go: each running replay task stops after its batch, lease released.
  await parts.replayTasks.close();
  await stopOrderingSweep();
  const reconciled = stopReconciler();
  await alerts.close();
  await reconciled;
  // Consume streams first: their unacked deliveries go back before the consumer workers close,
  // and closing those ends the pumps' blocking fetches.
  const consumersClosed = push
    .close()
    .then(() => consumers.close())
    .then(() => push.idle());
  const results = await Promise.allSettled([webhooks.close(), consumersClosed, live.close()]);
  // After the workers: failures they finished while closing are indexed before the connection goes.
  results.push(...(await Promise.allSettled([deadLetters.close()])));
  results.push(...(await Promise.allSettled([security.close(), requestsClosed])));
  await registry.close();
  await handles.close();
  metrics.close();
  redisWatch.close();
  await Promise.allSettled([client.quit(), subscriber.quit(), workerConnection.quit()]);
  const failure = results.find((result) => result.status === 'rejected');
  if (failure) throw failure.reason;
}

/**
 * Every `orderingSweepMs`, repairs each queue's ordering keys (queues/redis/ordering.ts): what a
 * gateway killed between two steps left behind waits at most about one interval. Every instance
 * sweeps; the repairs are idempotent. Answers the function that stops it, once a pass under way ends.
 */
function startOrderingSweep(parts: Parts, options: EngineOptions, onError: (error: Error) => void) {
  const every = options.orderingSweepMs ?? ENGINE_DEFAULTS.orderingSweepMs;
  // A message still pending after this long was stored by a publish that never lined it up.
  const graceMs = Math.max(every, 5_000);
  let pass: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    pass = pass.then(async () => {
      try {
        const table = await parts.registry.table();
        for (const topic of table.topics()) {
          for (const queue of table.queues(topic.name))
            await parts.ordering.sweep(topic.name, queue.name, graceMs);
        }
      } catch (error) {
        onError(error as Error);
      }
    });
  }, every);
  timer.unref();
  return () => {
    clearInterval(timer);
    return pass;
  };
}
