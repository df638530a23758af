import type { Queue, RedisJobOptions } from 'bullmq';
import type { ChainableCommander } from 'ioredis';
import { Packr } from 'msgpackr';
import { ADD_JOBS_KEYS, type AddKind, type EncodedAdd, encodeAdds } from './commands/add-jobs.js';
import { queueCommand } from './commands/index.js';
import { bullKeysOf } from './keys.js';

/** One message's add to one BullMQ queue, with its data already serialized. */
export interface SerializedAdd {
  jobId: string;
  name: string;
  /**
   * The job's data: the UTF-8 bytes of the JSON text BullMQ stores (and its workers parse). Bytes,
   * not a string, because ioredis copies a Buffer argument into the command as it is, where a string
   * argument is measured and re-encoded three times over; one message going to several queues is
   * encoded once.
   */
  data: Buffer;
  /** Milliseconds since the epoch: the job's `timestamp`. */
  timestamp: number;
  attempts: number;
  /** BullMQ priority (1 is the highest); 0 for none. */
  priority: number;
  /** Set only for a delayed add. */
  delayMs?: number;
  /** The name of the custom backoff strategy the workers implement. */
  backoffType: string;
}

// BullMQ's own encoding of its add scripts' arguments (classes/scripts.js).
const packer = new Packr({ useRecords: false, encodeUndefinedAsNil: true });

/**
 * The most adds one `add-jobs` command carries: one huge Lua call costs Redis more per add than
 * several of this size (measured: ~32 µs of Redis CPU per add at 1,600 adds a call against ~24 µs at
 * 100, AOF off), and a command this size already spreads its overhead thin.
 */
export const MAX_ADDS_PER_COMMAND = 100;

/**
 * Each distinct set of options, msgpacked once: a queue's adds share their retry policy and mostly
 * their priority, so add-jobs decodes each set once per call (encodeAdds keeps one copy per instance).
 * Cleared when it grows past {@link MAX_PACKED_OPTIONS} (delays make many distinct sets).
 */
const packedOptions = new Map<string, Uint8Array>();
const MAX_PACKED_OPTIONS = 1024;

/** An add as BullMQ's Scripts.addJob would call its script, for a job without parent, repeat or deduplication. */
export function encodeAdd(add: SerializedAdd): EncodedAdd {
  // add-jobs passes the job's key in KEYS, named from this id: BullMQ's generated ids are not used.
  if (add.jobId === '') throw new Error('a BullMQ add needs its job id');
  const delay = add.delayMs !== undefined && add.delayMs > 0 ? add.delayMs : 0;
  const id = `${add.attempts}/${add.priority}/${delay}/${add.backoffType}`;
  let packed = packedOptions.get(id);
  if (!packed) {
    // The key order is the Job constructor's ({ attempts } first, then the caller's options). No
    // `jobId` (the id is the job's key and its `id` already, and BullMQ reads it from the options only
    // when a job is added through Queue.add) and no `removeOnFail: false` (BullMQ's default, keep
    // failed jobs, is the same for a job without it: Scripts.getKeepJobs, moveStalledJobsToWait): every
    // byte of the options is decoded, encoded again as JSON and stored per message, ~65 bytes of each.
    // Jobs stored with both still read the same.
    const opts: RedisJobOptions = {
      attempts: add.attempts,
      priority: add.priority,
      backoff: { type: add.backoffType },
      removeOnComplete: true,
    };
    if (delay > 0) opts.delay = delay;
    packed = packer.pack(opts);
    if (packedOptions.size >= MAX_PACKED_OPTIONS) packedOptions.clear();
    packedOptions.set(id, packed);
  }
  const kind: AddKind = delay > 0 ? 'delayed' : add.priority ? 'prioritized' : 'standard';
  return { kind, jobId: add.jobId, name: add.name, timestamp: add.timestamp, data: add.data, opts: packed };
}

/**
 * BullMQ adds gathered over one transaction and queued as one `add-jobs` command per queue
 * (queues/redis/commands/add-jobs.ts runs BullMQ's own add scripts), producing the jobs exactly as
 * `new Job(...).addJob()` would (test/engine/bull-add.test.ts compares the stored jobs field by
 * field) without what that costs per message: a Job object, a Scripts call and an ioredis command
 * each, options copied and re-encoded, and a JSON.stringify of data the publisher already holds as
 * text (the canonical payload it hashed).
 *
 * Each queue's adds run in the order they were added. A command's answer comes with EXEC's; an add
 * that fails stops the adds after it in the same command, and the adds before it stay (a Lua script
 * is not rolled back), as when they were separate commands of one MULTI.
 */
export class JobAdds {
  /** Per queue: its adds, encoded for their script, and each add's job key (the script's KEYS). */
  private readonly queues = new Map<Queue, { adds: EncodedAdd[]; jobKeys: string[] }>();

  add(queue: Queue, add: SerializedAdd): void {
    let entry = this.queues.get(queue);
    if (!entry) {
      entry = { adds: [], jobKeys: [] };
      this.queues.set(queue, entry);
    }
    entry.adds.push(encodeAdd(add));
    entry.jobKeys.push(bullKeysOf(queue.keys[''] as string).job(add.jobId));
  }

  /** Queues one command per queue (per MAX_ADDS_PER_COMMAND adds of it), in the order the queues came. */
  write(transaction: ChainableCommander): void {
    for (const [queue, { adds, jobKeys }] of this.queues) {
      const keys = ADD_JOBS_KEYS.map((name) => queue.keys[name] as string);
      for (let at = 0; at < adds.length; at += MAX_ADDS_PER_COMMAND) {
        const some = adds.slice(at, at + MAX_ADDS_PER_COMMAND);
        queueCommand(
          transaction,
          'add-jobs-n',
          [...keys, ...jobKeys.slice(at, at + MAX_ADDS_PER_COMMAND)],
          [encodeAdds(queue.keys[''] as string, some), ...some.map((add) => add.data)],
        );
      }
    }
    this.queues.clear();
  }
}

/** One add on its own, queued on a transaction whose EXEC answers it. */
export function addSerialized(queue: Queue, transaction: ChainableCommander, add: SerializedAdd): void {
  const adds = new JobAdds();
  adds.add(queue, add);
  adds.write(transaction);
}
