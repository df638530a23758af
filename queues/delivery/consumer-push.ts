import { setTimeout as sleep } from 'node:timers/promises';
import type { QueueRecord } from '../core/index.js';
import { assertInt, notFound } from '../core/index.js';
import { createLiveBuffer, type LiveBuffer, mapLive } from '../live/index.js';
import type { LiveChannels, PubSub, RedisClient } from '../redis/index.js';
import type { Registry } from '../registry/index.js';
import type { Consumers, Delivery } from './consumer.js';

/** `consume(prefetch)` is refused outside these bounds. */
export const PREFETCH_LIMITS = { min: 1, max: 1000 } as const;

/** How often a pump with no credit to spend looks for deliveries whose visibility timeout ran out. */
const SWEEP_MS = 1_000;
/** Pause after a failed fetch (Redis away), so a pump does not spin. */
const RETRY_MS = 1_000;

export interface ConsumerPushOptions {
  consumers: Consumers;
  registry: Registry;
  pubsub: PubSub;
  /** Commands connection: acks of deliveries pushed by another instance are announced through it. */
  client: RedisClient;
  channels: LiveChannels;
  onError?: (error: Error) => void;
}

interface Held {
  deadline: number;
  /** Handed to the transport: the client may have seen it. */
  yielded: boolean;
}

interface Subscriber {
  credits: number;
  mode: QueueRecord['deliveryMode'];
  held: Map<string, Held>;
  buffer: LiveBuffer<Delivery>;
}

interface Pump {
  topic: string;
  name: string;
  subscribers: Set<Subscriber>;
  /** Resolves the pump's current wait, if any. */
  wake: () => void;
  /** Round-robin position, so subscribers with credit take turns. */
  turn: number;
}

function nextWithCredit(pump: Pump): Subscriber | null {
  const all = [...pump.subscribers];
  for (let offset = 0; offset < all.length; offset++) {
    const candidate = all[(pump.turn + offset) % all.length] as Subscriber;
    if (candidate.credits > 0) {
      pump.turn = (pump.turn + offset + 1) % Math.max(1, all.length);
      return candidate;
    }
  }
  return null;
}

function waitForWake(pump: Pump, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      pump.wake = () => {};
      resolve();
    }
    pump.wake = done;
  });
}

/** The state behind createConsumerPush: pumps, their subscribers, and who holds which delivery. */
class Pumps {
  private readonly pumps = new Map<string, Pump>();
  private readonly owners = new Map<string, Subscriber>();
  private readonly releasing = new Set<Promise<unknown>>();
  private readonly running = new Set<Promise<void>>();
  private stopSettledChannel: Promise<() => void> | null = null;
  private readonly stopSettled: () => void;
  private closed = false;
  /** Set by pause(): pumps fetch nothing more; streams stay open and acks still give credit back. */
  private paused = false;
  private readonly onError: (error: Error) => void;

  constructor(private readonly options: ConsumerPushOptions) {
    this.onError = options.onError ?? (() => {});
    this.stopSettled = options.consumers.onSettled((deliveryId, handedOutHere) => {
      if (this.owners.has(deliveryId)) this.giveBack(deliveryId);
      // Settled here but handed out elsewhere: that instance's subscriber gets its credit back by this.
      else if (!handedOutHere)
        options.client.publish(options.channels.settled, JSON.stringify(deliveryId)).catch(this.onError);
    });
  }

  get size() {
    let subscribers = 0;
    for (const pump of this.pumps.values()) subscribers += pump.subscribers.size;
    return { subscribers, unacked: this.owners.size };
  }

  async consume(topic: string, name: string, prefetch: number): Promise<AsyncIterableIterator<Delivery>> {
    assertInt('prefetch', prefetch, PREFETCH_LIMITS.min, PREFETCH_LIMITS.max);
    const queue = await this.options.consumers.consumerQueue(topic, name);
    if (this.closed) throw new Error('The engine is closing');
    await this.listenForRemoteAcks();
    const key = `${queue.topic}/${queue.name}`;
    const existing = this.pumps.get(key);
    const pump: Pump = existing ?? {
      topic: queue.topic,
      name: queue.name,
      subscribers: new Set(),
      wake: () => {},
      turn: 0,
    };
    const subscriber: Subscriber = {
      credits: prefetch,
      mode: queue.deliveryMode,
      held: new Map(),
      // Credits bound what is held, so nothing is ever dropped here.
      buffer: createLiveBuffer<Delivery>({
        maxItems: Number.POSITIVE_INFINITY,
        onClose: () => this.leave(pump, subscriber),
      }),
    };
    pump.subscribers.add(subscriber);
    if (existing) pump.wake();
    else {
      // Started after the subscriber joined: a pump with no subscribers stops at once.
      this.pumps.set(key, pump);
      const started = this.run(key, pump).catch(this.onError);
      this.running.add(started);
      void started.finally(() => this.running.delete(started));
    }
    return mapLive(subscriber.buffer, ({ item }) => {
      const held = subscriber.held.get(item.id);
      if (held) held.yielded = true;
      return item;
    });
  }

  pause(): void {
    this.paused = true;
    for (const pump of this.pumps.values()) pump.wake();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopSettled();
    for (const pump of this.pumps.values()) {
      // return(), not end(): a stream ended here may never be read again, so it must leave now.
      for (const subscriber of [...pump.subscribers]) void subscriber.buffer.return();
      pump.wake();
    }
    await Promise.allSettled([...this.releasing]);
    const stop = await this.stopSettledChannel?.catch(() => null);
    stop?.();
  }

  async idle(): Promise<void> {
    await Promise.allSettled([...this.running]);
    await Promise.allSettled([...this.releasing]);
  }

  private giveBack(deliveryId: string): void {
    const subscriber = this.owners.get(deliveryId);
    if (!subscriber) return;
    this.owners.delete(deliveryId);
    if (subscriber.held.delete(deliveryId)) subscriber.credits++;
    for (const pump of this.pumps.values()) if (pump.subscribers.has(subscriber)) pump.wake();
  }

  private listenForRemoteAcks(): Promise<() => void> {
    this.stopSettledChannel ??= this.options.pubsub.listen(this.options.channels.settled, (payload) => {
      if (typeof payload === 'string') this.giveBack(payload);
    });
    this.stopSettledChannel.catch(() => {
      this.stopSettledChannel = null;
    });
    return this.stopSettledChannel;
  }

  private reclaimExpired(pump: Pump, now: number): void {
    for (const subscriber of pump.subscribers) {
      for (const [id, held] of subscriber.held) {
        // The stalled-job check puts the message back; the subscriber may have another instead.
        if (held.deadline <= now) this.giveBack(id);
      }
    }
  }

  private release(deliveryId: string): void {
    const done = this.options.consumers.release(deliveryId).catch(this.onError);
    this.releasing.add(done);
    void done.finally(() => this.releasing.delete(done));
  }

  private async currentQueue(pump: Pump): Promise<QueueRecord> {
    const table = await this.options.registry.tableKnowing([{ topic: pump.topic, queue: pump.name }]);
    const queue = table.queues(pump.topic).find((record) => record.name === pump.name);
    if (queue?.target !== 'CONSUMER')
      throw notFound(`Queue ${pump.name} of topic ${pump.topic} does not exist`);
    return queue;
  }

  /** One fetch for the pump: a delivery, nothing, or 'retry' after an error (the queue gone ends its streams). */
  private async fetch(pump: Pump): Promise<Delivery | 'expired' | null | 'retry'> {
    try {
      return await this.options.consumers.take(await this.currentQueue(pump), true);
    } catch (error) {
      if (error instanceof Error && error.name === 'SwitchyardError') {
        // The queue was deleted (or is no longer a consumer queue): its streams end with the reason.
        for (const subscriber of [...pump.subscribers]) {
          subscriber.buffer.end(error);
          this.leave(pump, subscriber);
        }
        return 'retry';
      }
      this.onError(error as Error);
      await sleep(RETRY_MS);
      return 'retry';
    }
  }

  private async run(key: string, pump: Pump): Promise<void> {
    for (;;) {
      // Checked and acted on with no await in between, so a subscriber cannot join a pump that is leaving.
      if (this.closed || pump.subscribers.size === 0) {
        if (this.pumps.get(key) === pump) this.pumps.delete(key);
        return;
      }
      this.reclaimExpired(pump, Date.now());
      if (this.paused || ![...pump.subscribers].some((subscriber) => subscriber.credits > 0)) {
        await waitForWake(pump, SWEEP_MS);
        continue;
      }
      const delivery = await this.fetch(pump);
      if (delivery === null || delivery === 'expired' || delivery === 'retry') continue;
      // Fetched in the race with close() or pause(): back to the queue, never pushed.
      const target = this.closed || this.paused ? null : nextWithCredit(pump);
      if (!target) {
        this.release(delivery.id);
        continue;
      }
      target.credits--;
      target.held.set(delivery.id, { deadline: Date.parse(delivery.deliverBy), yielded: false });
      this.owners.set(delivery.id, target);
      target.buffer.push(delivery);
    }
  }

  /** Idempotent: the stream's own close calls it again. */
  private leave(pump: Pump, subscriber: Subscriber): void {
    pump.subscribers.delete(subscriber);
    for (const [id, held] of subscriber.held) {
      this.owners.delete(id);
      // At-most-once: what the client may have seen is never handed out again (it fails when its
      // visibility timeout runs out); what it cannot have seen goes back.
      if (held.yielded && subscriber.mode === 'AT_MOST_ONCE') continue;
      this.release(id);
    }
    subscriber.held.clear();
    pump.wake();
  }
}

/**
 * `consume`: CONSUMER queues pushed over a live stream, with credits. A subscriber starts with
 * `prefetch` credits; each delivery pushed to it spends one and each ack or nack of it (through
 * Mutation.ack/nack, on any instance) gives one back, so it never has more than `prefetch` unacked.
 *
 * One pump per queue and instance fetches for all of this instance's subscribers of the queue, one
 * delivery at a time, blocking on BullMQ's wake-up marker while the queue is empty; BullMQ's atomic
 * fetch keeps two instances from taking the same message. When a subscriber goes away its unacked
 * deliveries are put back at once for the others (see {@link Consumers.release}), except, on
 * AT_MOST_ONCE queues, those already handed to the client: those are never delivered twice.
 */
export function createConsumerPush(options: ConsumerPushOptions) {
  const pumps = new Pumps(options);
  return {
    /**
     * A push stream of deliveries of a CONSUMER queue, at most `prefetch` unacked at a time. Checks
     * the queue and the arguments before answering, so a bad call fails at once.
     */
    consume: (topic: string, name: string, prefetch = 10) => pumps.consume(topic, name, prefetch),
    /** Subscribers of this instance and their unacked deliveries, for tests and health. */
    get size() {
      return pumps.size;
    },
    /**
     * Stops every pump fetching (a blocking fetch under way hands back what it gets), while the streams
     * stay open and their unacked deliveries can still be acked: the first step of a drain. Idempotent.
     */
    pause: () => pumps.pause(),
    /**
     * Ends every stream and puts their unacked deliveries back at once. Call before the consumers
     * close; then {@link idle} waits for the pumps, whose blocking fetch the consumers' close ends.
     */
    close: () => pumps.close(),
    idle: () => pumps.idle(),
  };
}

export type ConsumerPush = ReturnType<typeof createConsumerPush>;
