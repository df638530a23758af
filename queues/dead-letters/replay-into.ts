import type { ChainableCommander } from 'ioredis';
import type { MessageRecord, QueueRecord, TopicRecord } from '../core/index.js';
import { conflict, notFound } from '../core/index.js';
import { messageAdd } from '../publish/index.js';
import type { Keys, RedisClient } from '../redis/index.js';
import { addSerialized, answers, queueCommand } from '../redis/index.js';
import type { Registry } from '../registry/index.js';
import { discardCall } from './commands.js';
import { type DeadLetterRef, deadLetterGone, deadLetterId } from './ids.js';
import {
  assertLinked,
  type ReplayTrail,
  type ReplayWatch,
  type TrailStepOf,
  trailArgs,
  WATCH_TRIES,
} from './replay-watch.js';

export interface IntoContext {
  watch: ReplayWatch;
  keys: Keys;
  trail: ReplayTrail;
  /** Where the target queue's record is read again under WATCH of its topic's routing version. */
  registry: Pick<Registry, 'getQueue'>;
}

/**
 * The target's record as the registry holds it now, read after the WATCH of its topic's routing
 * version: a deleteQueue on any instance removes the record before it moves the version on (and
 * removes the queue's keys only after), so either this read misses the queue or the move breaks the
 * WATCH and the replay reads again. Without it, a replay into a queue another instance was deleting
 * wrote the queue's BullMQ keys again after they were removed (docs/SCALING.md).
 */
async function currentTarget(
  context: IntoContext,
  watching: RedisClient,
  topic: string,
  name: string,
): Promise<QueueRecord> {
  const target = await context.registry.getQueue(topic, name);
  if (target) return target;
  await watching.unwatch();
  throw notFound(`Queue ${name} of topic ${topic} does not exist`);
}

/** The dead letter's state, read under WATCH: refuses one that cannot move. Answers its replays and logs. */
async function readMovable(
  watching: RedisClient,
  keys: Keys,
  ref: DeadLetterRef,
  target: QueueRecord,
): Promise<{ replays: number; logs: string[] }> {
  const from = keys.bull(ref.topic, ref.queue);
  const to = keys.bull(ref.topic, target.name);
  const [score, taken, parent, replays, logs] = answers(
    await watching
      .pipeline()
      .zscore(from.failed, ref.jobId)
      .exists(to.job(ref.jobId))
      .hexists(from.job(ref.jobId), 'parentKey')
      .hget(from.job(ref.jobId), 'syReplays')
      .lrange(from.logs(ref.jobId), 0, -1)
      .exec(),
  );
  if (score === null || Number(parent) === 1 || Number(taken) === 1) {
    await watching.unwatch();
    if (score === null) throw deadLetterGone(deadLetterId(ref));
    if (Number(parent) === 1) throw conflict(`Dead letter ${deadLetterId(ref)} belongs to a flow`);
    throw conflict(`Queue ${target.name} already holds message ${ref.jobId}`);
  }
  return { replays: Number(replays ?? 0), logs: logs as string[] };
}

/**
 * Moves a dead letter into another queue of its topic: added there, removed here and its trail entry
 * appended, in one MULTI under WATCH of both jobs, the trail and the topic's routing version, or none
 * of it; NOT_FOUND, nothing written, when the target queue is deleted meanwhile.
 */
export function replayInto(
  context: IntoContext,
  ref: DeadLetterRef,
  topic: TopicRecord,
  target: QueueRecord,
  step: TrailStepOf,
): Promise<void> {
  const { keys } = context;
  const message: MessageRecord = step.message;
  return context.watch.run(keys.bullPrefix(ref.topic), target.name, async (watching, into) => {
    const from = keys.bull(ref.topic, ref.queue);
    const to = keys.bull(ref.topic, target.name);
    for (let attempt = 0; attempt < WATCH_TRIES; attempt++) {
      await watching.watch(
        from.job(ref.jobId),
        to.job(ref.jobId),
        keys.trail(ref.topic, message.id),
        keys.topicRouting(ref.topic),
      );
      const current = await currentTarget(context, watching, ref.topic, target.name);
      const { replays, logs } = await readMovable(watching, keys, ref, current);
      const { trailKeys, args } = await trailArgs(
        watching,
        keys,
        topic,
        [{ jobId: ref.jobId, step }],
        context.trail,
      );
      const count = replays + 1;
      const transaction = (await into.client).multi();
      const raw = transaction as unknown as ChainableCommander;
      queueCommand(raw, 'trail-append-n', [from.failed, ...trailKeys], args);
      // The same add as a publish's, under the dead letter's own job id (a job some other tool
      // put into the queue may carry another id in its data); its answer comes with EXEC's.
      const data = Buffer.from(JSON.stringify(message));
      addSerialized(into, raw, { ...messageAdd(current, message, data, Date.now()), jobId: ref.jobId });
      const marker = JSON.stringify({ replay: count, at: new Date().toISOString() });
      raw.rpush(to.logs(ref.jobId), ...logs, marker);
      raw.call('HSET', to.job(ref.jobId), 'syReplays', count);
      const discard = discardCall(keys, ref.topic, ref.queue, [ref.jobId]);
      queueCommand(raw, 'dead-letter-discard-n', discard.keys, discard.args);
      const results = await transaction.exec();
      if (results === null) continue;
      const [appended] = answers(results) as [number[]];
      assertLinked(appended);
      return;
    }
    throw conflict(`Dead letter ${deadLetterId(ref)} kept changing during the replay; try again`);
  });
}
