import type { Queue } from 'bullmq';
import { encodeAdd, type SerializedAdd } from './bull-add.js';
import { ADD_JOBS_KEYS, type EncodedAdd, encodeAdds } from './commands/add-jobs.js';

/** Runs `publish-commit` (queues/commands/publish-commit.ts) with these keys and arguments. */
export type RunPublishCommit = (keys: string[], args: (string | number | Buffer)[]) => Promise<unknown>;

/**
 * Added to an add's job key position when the add is its owner's first: the script probes that job
 * (see {@link PublishCommit.add}). Positions stay far below it (a call holds at most a few thousand keys).
 */
export const PROBE = 0x80000000;

/** How a refusal starts when a trail's chain head moved after its entry was made: make it again. */
export const TRAIL_MOVED = 'TRAIL_MOVED';

/**
 * How a refusal starts when a topic's routing version moved on after the owner was routed (see
 * {@link PublishCommit.routedAt}); the topics that moved follow, separated by spaces.
 */
export const ROUTING_MOVED = 'ROUTING_MOVED';

/**
 * The writes of several publishes ("owners"), gathered for one `publish-commit` call that applies
 * each owner's writes whole or not at all. Set `owner` before writing an owner's part.
 */
export class PublishCommit {
  /** Whose writes are being gathered: an index from 0, one per publish of the call. */
  owner = 0;
  /**
   * Per queue: its adds, and per add its owner and its job key's position among the write keys, with
   * {@link PROBE} set on each owner's first add (see `add`).
   */
  private readonly queues = new Map<Queue, { adds: EncodedAdd[]; owners: number[]; jobKeys: number[] }>();
  /** The write keys in KEYS order; `writeKeys` finds the position of those several writes share. */
  private readonly keyList: string[] = [];
  private readonly writeKeys = new Map<string, number>();
  private readonly writes: (string | number | Buffer)[] = [];
  /** The routing versions checked, one write per topic key and version, with the owners routed at it. */
  private readonly routings = new Map<
    string,
    { key: number; topic: string; version: string; owners: number[] }
  >();
  /** The counters, one write per hash and field, with each owner's increment. */
  private readonly counters = new Map<
    string,
    { key: number; field: string; owners: number[]; increments: number[] }
  >();
  /** How many history writes (`X`) the call holds; each is named by its number from 1. */
  private historyWrites = 0;
  /** Owners whose first job is already named in the call (see `add`). */
  private readonly probed = new Set<number>();

  /** A BullMQ add of a message into a queue. */
  add(queue: Queue, add: SerializedAdd): void {
    let entry = this.queues.get(queue);
    if (!entry) {
      entry = { adds: [], owners: [], jobKeys: [] };
      this.queues.set(queue, entry);
    }
    // BullKeys.job: the queue's prefix and the id. A job key is its add's alone (one message, one job
    // per queue), so it takes a position without the lookup shared keys need.
    this.keyList.push(`${queue.keys['']}${add.jobId}`);
    let jobKey = this.keyList.length;
    entry.adds.push(encodeAdd(add));
    entry.owners.push(this.owner);
    // An owner whose first job exists already was applied by an earlier run of this very call: ioredis
    // sends a command again when its connection dropped before the answer came, and Redis may have run
    // it. Such an owner is answered as applied and written nothing again (no second count, no second
    // live message), so a resent publish is harmless. The script probes the adds marked PROBE.
    if (!this.probed.has(this.owner)) {
      this.probed.add(this.owner);
      jobKey += PROBE;
    }
    entry.jobKeys.push(jobKey);
  }

  /**
   * When `key` holds `value` (a publish's idempotency key naming its message), the owner was applied by
   * an earlier run of this very call (see `add`): answered as applied, nothing of it written again.
   * Covers what the first-job probe cannot: a publish no queue matched, or whose job was delivered since.
   */
  appliedIf(key: string, value: string): void {
    this.writes.push('A', this.owner, this.keyAt(key), value);
  }

  /**
   * Applies the owner's writes only if the topic's routing version (`key`, keys.topicRouting) still
   * holds `version`, the version of the queues it was routed to; else the owner is refused with a
   * reason starting {@link ROUTING_MOVED} that names `topic`, nothing of it written. One per topic
   * the owner publishes to.
   */
  routedAt(key: string, topic: string, version: string): void {
    const at = this.keyAt(key);
    const id = `${at}:${version}`;
    let routing = this.routings.get(id);
    if (!routing) {
      routing = { key: at, topic, version, owners: [] };
      this.routings.set(id, routing);
    }
    // Once per owner: its writes are gathered one owner after another.
    if (routing.owners.at(-1) !== this.owner) routing.owners.push(this.owner);
  }

  /** SET key value PX ms. */
  set(key: string, value: string, ms: number): void {
    this.writes.push('S', this.owner, this.keyAt(key), value, ms);
  }

  /** HINCRBY key field increment. */
  hincrby(key: string, field: string, increment: number): void {
    const at = this.keyAt(key);
    const id = `${at}:${field}`;
    let counter = this.counters.get(id);
    if (!counter) {
      counter = { key: at, field, owners: [], increments: [] };
      this.counters.set(id, counter);
    }
    counter.owners.push(this.owner);
    counter.increments.push(increment);
  }

  /** PUBLISH channel message, sent only if the owner's writes are applied. */
  publish(channel: string, message: string): void {
    this.writes.push('P', this.owner, channel, message);
  }

  /**
   * XADD of a message (the JSON its jobs store, id `messageId`) to its topic's history stream, trimmed
   * to the topic's limits (null: none of that kind), with its entry in the history's index `ids`
   * (keys.topicHistoryIds). Answers the write's number, for {@link publishWithCursor}.
   */
  history(
    target: { key: string; ids: string; messageId: string },
    message: Buffer,
    maxMessages: number | null,
    maxAgeMs: number | null,
  ): number {
    const { key, ids, messageId } = target;
    this.writes.push(
      'X',
      this.owner,
      this.keyAt(key),
      this.keyAt(ids),
      messageId,
      maxMessages ?? 0,
      maxAgeMs ?? 0,
      message,
    );
    this.historyWrites += 1;
    return this.historyWrites;
  }

  /**
   * RPUSH of a provenance trail entry (its stored JSON), the key's expiry raised to `ttlMs`, only if
   * the trail's last stored entry still has hash `head` ('' or null: none is stored yet, the entry
   * linking to the derived PUBLISHED one); else the owner is refused with a reason starting
   * {@link TRAIL_MOVED}, nothing of it written.
   */
  trail(key: string, head: string | null, hash: string, entry: string, ttlMs: number): void {
    this.writes.push('T', this.owner, this.keyAt(key), head ?? '', hash, entry, ttlMs);
  }

  /**
   * PUBLISH of a message JSON object with `"cursor":"<stream id>"` added: the id its history write
   * (`historyWrite`, as {@link history} answered it) got.
   */
  publishWithCursor(historyWrite: number, channel: string, message: string): void {
    this.writes.push('C', this.owner, historyWrite, channel, message);
  }

  /**
   * Sends the call; answers, per owner from 0, null when its writes were applied or why none were.
   * Rejects, with nothing of any owner written, when Redis refuses the call as a whole (no
   * connection, out of memory, a read-only replica).
   */
  async run(run: RunPublishCommit, owners: number): Promise<(string | null)[]> {
    const keys: string[] = [];
    const args: (string | number | Buffer)[] = [this.queues.size, owners];
    for (const [queue, { adds, owners: ownerList, jobKeys }] of this.queues) {
      for (const name of ADD_JOBS_KEYS) keys.push(queue.keys[name] as string);
      const list = Buffer.allocUnsafe(ownerList.length * 8);
      ownerList.forEach((owner, index) => {
        list.writeUInt32BE(owner, index * 8);
        list.writeUInt32BE(jobKeys[index] as number, index * 8 + 4);
      });
      args.push(encodeAdds(queue.keys[''] as string, adds), list);
    }
    // Each job's data as an argument of its own, queue after queue, add after add (see add-jobs.ts).
    for (const { adds } of this.queues.values()) for (const add of adds) args.push(add.data);
    keys.push(...this.keyList);
    // Routing checks first: a publish whose routing moved is refused for that reason, whatever else.
    for (const { key, topic, version, owners } of this.routings.values()) {
      const list = Buffer.allocUnsafe(owners.length * 4);
      owners.forEach((owner, index) => {
        list.writeUInt32BE(owner, index * 4);
      });
      args.push('V', key, topic, version, list);
    }
    args.push(...this.writes);
    for (const { key, field, owners, increments } of this.counters.values()) {
      const list = Buffer.allocUnsafe(owners.length * 12);
      owners.forEach((owner, index) => {
        list.writeUInt32BE(owner, index * 12);
        list.writeDoubleBE(increments[index] as number, index * 12 + 4);
      });
      args.push('H', key, field, list);
    }
    const answer = await run(keys, args);
    if (!Array.isArray(answer) || answer.length !== owners) {
      throw new Error(`publish-commit answered ${JSON.stringify(answer)} for ${owners} publishes`);
    }
    return answer.map((result) => (result === 1 ? null : String(result)));
  }

  /** A write key's position (from 1) among the call's write keys. */
  private keyAt(key: string): number {
    let at = this.writeKeys.get(key);
    if (at === undefined) {
      this.keyList.push(key);
      at = this.keyList.length;
      this.writeKeys.set(key, at);
    }
    return at;
  }
}
