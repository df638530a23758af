import { Queue } from 'bullmq';
import type { ChainableCommander } from 'ioredis';
import type { MessageRecord, QueueRecord } from '../core/index.js';
import { conflict } from '../core/index.js';
import { messageAdd } from '../publish/index.js';
import type { Keys, RedisClient } from '../redis/index.js';
import { addSerialized, answers, defineCommands, queueCommand } from '../redis/index.js';
import { indexSets, REASONS_ARG, STALLED_ARG } from './commands.js';
import { type DeadLetterRef, deadLetterGone, deadLetterId } from './ids.js';

const MOVE_TRIES = 3;

/**
 * Replays into another queue of the topic: added there and removed here in one WATCHed MULTI, or
 * neither. The WATCH needs a connection of its own, opened on first use.
 */
export function createReplayInto(client: RedisClient, keys: Keys) {
  let exclusive: Promise<unknown> = Promise.resolve();
  let watcher: Promise<RedisClient> | null = null;

  function watchConnection(): Promise<RedisClient> {
    watcher ??= (async () => {
      const connection = client.duplicate();
      connection.on('error', () => {});
      defineCommands(connection);
      await connection.connect();
      return connection;
    })();
    return watcher;
  }

  /** Moves a dead letter into another queue of its topic: added there, removed here, or neither. */
  async function replayInto(ref: DeadLetterRef, target: QueueRecord, message: MessageRecord): Promise<void> {
    const run = async () => {
      const connection = await watchConnection();
      // A BullMQ handle on the watching connection, so BullMQ's add script is defined on it.
      const into = new Queue(target.name, { connection, prefix: keys.bullPrefix(ref.topic) });
      into.on('error', () => {});
      try {
        const bullClient = await into.client;
        const from = keys.bull(ref.topic, ref.queue);
        const to = keys.bull(ref.topic, target.name);
        for (let attempt = 0; attempt < MOVE_TRIES; attempt++) {
          await connection.watch(from.job(ref.jobId), to.job(ref.jobId));
          const [score, taken, parent, replays, logs] = answers(
            await connection
              .pipeline()
              .zscore(from.failed, ref.jobId)
              .exists(to.job(ref.jobId))
              .hexists(from.job(ref.jobId), 'parentKey')
              .hget(from.job(ref.jobId), 'syReplays')
              .lrange(from.logs(ref.jobId), 0, -1)
              .exec(),
          );
          if (score === null || Number(parent) === 1 || Number(taken) === 1) {
            await connection.unwatch();
            if (score === null) throw deadLetterGone(deadLetterId(ref));
            if (Number(parent) === 1) throw conflict(`Dead letter ${deadLetterId(ref)} belongs to a flow`);
            throw conflict(`Queue ${target.name} already holds message ${ref.jobId}`);
          }
          const count = Number(replays ?? 0) + 1;
          const transaction = bullClient.multi();
          const raw = transaction as unknown as ChainableCommander;
          // The same add as a publish's, under the dead letter's own job id (a job some other tool
          // put into the queue may carry another id in its data); its answer comes with EXEC's.
          const data = Buffer.from(JSON.stringify(message));
          addSerialized(into, raw, { ...messageAdd(target, message, data, Date.now()), jobId: ref.jobId });
          const marker = JSON.stringify({ replay: count, at: new Date().toISOString() });
          raw.rpush(to.logs(ref.jobId), ...(logs as string[]), marker);
          raw.call('HSET', to.job(ref.jobId), 'syReplays', count);
          queueCommand(
            raw,
            'dead-letter-discard-n',
            [from.failed, from.events, ...indexSets(keys, ref.topic, ref.queue)],
            [from.jobPrefix, '', ref.queue, REASONS_ARG, STALLED_ARG, '+inf', ref.jobId],
          );
          const results = await transaction.exec();
          if (results === null) continue;
          answers(results);
          return;
        }
        throw conflict(`Dead letter ${deadLetterId(ref)} kept changing during the replay; try again`);
      } finally {
        await into.close().catch(() => {});
      }
    };
    // One WATCH at a time on the connection: another EXEC there would silently drop ours.
    const result = exclusive.then(run, run);
    exclusive = result.catch(() => {});
    return result;
  }

  return {
    replayInto,
    async close(): Promise<void> {
      const connection = await watcher?.catch(() => null);
      watcher = null;
      await connection?.quit().catch(() => {});
    },
  };
}
