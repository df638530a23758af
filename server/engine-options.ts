import type { EngineOptions } from '../queues/engine/index.js';
import type { LiveOptions } from '../queues/live/index.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import { engineSecurityOptions } from './security-config.js';

/** The same background error (a Redis reconnect failing, say) is logged at most once per this window. */
const ERROR_LOG_WINDOW_MS = 10_000;

/** The engine's options from the gateway's config: every setting the engine reads, in one place. */
export function engineOptions(
  config: Config,
  redis: EngineOptions['redis'],
  live: LiveOptions | undefined,
  logger: Logger,
): EngineOptions {
  return {
    redis,
    keyPrefix: config.keyPrefix,
    dedupWindowMs: config.dedupWindowMs,
    defaultMaxMessageBytes: config.defaultMaxMessageBytes,
    queueDeleteWaitMs: config.queueDeleteWaitMs,
    onError: throttledErrorLog(logger),
    // Nobody reads them with /metrics off; their GC observer and event-loop monitor need not run.
    processMetrics: config.metrics,
    live,
    ...engineSecurityOptions(config),
    alerts: {
      intervalMs: config.alertIntervalMs,
      thresholds: {
        // An interval of 0 turns every kind off, so none fires from a manual evaluation either.
        lagMs: config.alertIntervalMs > 0 ? config.alertLagMs : 0,
        depth: config.alertIntervalMs > 0 ? config.alertDepth : 0,
        deadLetters: config.alertIntervalMs > 0 ? config.alertDeadLetters : 0,
        circuitOpen: config.alertIntervalMs > 0 && config.alertCircuit,
        deliveryLatencyMs: config.alertIntervalMs > 0 ? config.alertDeliveryLatencyMs : 0,
        failureRate: config.alertIntervalMs > 0 ? config.alertFailureRate : 0,
        retries: config.alertIntervalMs > 0 ? config.alertRetries : 0,
      },
      windowMs: config.alertWindowMs,
      webhook: config.alertWebhookUrl
        ? { url: config.alertWebhookUrl, secret: config.alertWebhookSecret }
        : null,
      onTransition: ({ state, alert }) => {
        const fields = {
          alert: alert.id,
          kind: alert.kind,
          topic: alert.topic,
          queue: alert.queue,
          value: alert.value,
        };
        if (state === 'FIRING') logger.warn(fields, `Alert firing: ${alert.message}`);
        else logger.info(fields, `Alert resolved: ${alert.message}`);
      },
    },
    circuit: {
      failures: config.circuitFailures,
      cooldownMs: config.circuitCooldownMs,
      maxCooldownMs: config.circuitMaxCooldownMs,
    },
    deadLetters: {
      retentionMs: config.deadLetterRetentionMs,
      archiveDir: config.deadLetterArchiveDir,
      redactHeaders: config.redactHeaders,
    },
  };
}

/**
 * Redis reconnect attempts fail every couple of seconds on every connection while Redis is away;
 * one line per distinct error per window says the same thing without burying everything else.
 */
export function throttledErrorLog(logger: Logger): (error: Error) => void {
  const lastLogged = new Map<string, number>();
  return (error) => {
    const now = Date.now();
    const last = lastLogged.get(error.message);
    if (last !== undefined && now - last < ERROR_LOG_WINDOW_MS) return;
    // Messages can carry addresses or ids; forget them all now and then rather than grow without bound.
    if (lastLogged.size >= 100) lastLogged.clear();
    lastLogged.set(error.message, now);
    logger.warn({ err: error }, 'Background error');
  };
}
