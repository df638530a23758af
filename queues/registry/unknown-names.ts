import type { Keys, RedisClient } from '../redis/index.js';
import type { RoutingTable } from './router.js';
import type { RegistryChange } from './routing-cache.js';

/** A name the caller is about to use: a topic, or a queue of one. */
export type WantedName = { topic: string; queue?: string };

export interface UnknownNamesOptions {
  client: RedisClient;
  keys: Keys;
  /** The cached routing table. */
  table: () => Promise<RoutingTable>;
  /** Drops the cached table here only (another instance's change this one has not heard of yet). */
  invalidateLocally: (change: RegistryChange) => void;
  /**
   * How long a name Redis did not hold is answered as unknown without asking Redis again, unless an
   * announcement names its topic first.
   * @default 250 ms
   */
  unknownForMs?: number;
  /**
   * The most names remembered as unknown; the oldest is forgotten first.
   * @default 1024
   */
  maxUnknown?: number;
}

const DEFAULT_UNKNOWN_FOR_MS = 250;
const DEFAULT_MAX_UNKNOWN = 1024;

const knows = (table: RoutingTable, { topic, queue }: WantedName): boolean =>
  table.topic(topic) !== undefined &&
  (queue === undefined || table.queues(topic).some((candidate) => candidate.name === queue));

const nameKey = ({ topic, queue }: WantedName): string => `${topic}\n${queue ?? ''}`;

/**
 * A name missing from the cached routing table may have been created on another instance whose
 * announcement is still on its way, so before a miss answers NOT_FOUND Redis is asked once. The ask is
 * a single HEXISTS, coalesced per name, and a name Redis does not hold is remembered as unknown for
 * `unknownForMs` (forgotten on any announcement about its topic), so a flood of publishes to a name
 * that does not exist costs at most one read per name per while, not one per publish. The price: a
 * name that missed moments before another instance created it can stay unknown here for up to
 * `unknownForMs` if that instance's announcement is slower still.
 */
export function createUnknownNames(options: UnknownNamesOptions) {
  const { client, keys, table } = options;
  const unknownForMs = options.unknownForMs ?? DEFAULT_UNKNOWN_FOR_MS;
  const maxUnknown = options.maxUnknown ?? DEFAULT_MAX_UNKNOWN;
  /** Name key → when it stops counting as unknown. Insertion order is age order. */
  const unknown = new Map<string, number>();
  const asking = new Map<string, Promise<boolean>>();
  let generation = 0;

  function rememberUnknown(key: string): void {
    unknown.delete(key);
    if (unknown.size >= maxUnknown) {
      const oldest = unknown.keys().next();
      if (!oldest.done) unknown.delete(oldest.value);
    }
    unknown.set(key, Date.now() + unknownForMs);
  }

  async function inRedisNow(wanted: WantedName): Promise<boolean> {
    const exists =
      wanted.queue === undefined
        ? await client.hexists(keys.topics, wanted.topic)
        : await client.hexists(keys.topicQueues(wanted.topic), wanted.queue);
    return exists === 1;
  }

  /** Whether Redis holds the name; one ask in flight per name, and none while it is known unknown. */
  function inRedis(wanted: WantedName): Promise<boolean> {
    const key = nameKey(wanted);
    const until = unknown.get(key);
    if (until !== undefined && until > Date.now()) return Promise.resolve(false);
    const pending = asking.get(key);
    if (pending) return pending;
    const startedAt = generation;
    const ask = inRedisNow(wanted).then((exists) => {
      // An announcement during the ask may be the creation itself: then the answer is not remembered.
      if (!exists && generation === startedAt) rememberUnknown(key);
      return exists;
    });
    const done = () => asking.delete(key);
    ask.then(done, done);
    asking.set(key, ask);
    return ask;
  }

  let reloading: Promise<RoutingTable> | null = null;

  /** Drops the cached table for these names and reads it again; misses meanwhile share the read. */
  function reload(names: readonly WantedName[]): Promise<RoutingTable> {
    if (reloading) return reloading;
    for (const name of names) options.invalidateLocally(name);
    const current = table();
    reloading = current;
    const done = () => {
      reloading = null;
    };
    current.then(done, done);
    return current;
  }

  /**
   * The routing table, made to know every wanted name Redis holds: when one is missing from the
   * cached table but present in Redis, the table is read again (at most twice: a shared read may have
   * started before this name was created). Names Redis does not hold stay missing, and the caller
   * answers NOT_FOUND as before.
   */
  async function tableKnowing(wanted: readonly WantedName[]): Promise<RoutingTable> {
    const cached = await table();
    const missing = wanted.filter((name) => !knows(cached, name));
    if (missing.length === 0) return cached;
    const unique = [...new Map(missing.map((name) => [nameKey(name), name])).values()];
    const held = await Promise.all(unique.map(inRedis));
    const found = unique.filter((_, index) => held[index]);
    if (found.length === 0) return cached;
    let fresh = await table();
    for (let read = 0; read < 2 && !found.every((name) => knows(fresh, name)); read++) {
      fresh = await reload(found);
    }
    return fresh;
  }

  return {
    tableKnowing,
    /** An announcement: what it names is no longer known to be unknown. */
    forget(change: RegistryChange): void {
      generation++;
      if (change.topic === '') {
        unknown.clear();
        return;
      }
      for (const key of unknown.keys()) if (key.startsWith(`${change.topic}\n`)) unknown.delete(key);
    },
  };
}
