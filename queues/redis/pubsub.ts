import type { RedisClient } from './connection.js';

export type ChannelListener = (payload: unknown) => void;

/**
 * Redis pub/sub on one subscriber-mode connection, shared by every live stream of this instance:
 * a channel is subscribed while it has at least one listener here, and each message is parsed once,
 * however many listeners it has. ioredis re-subscribes every channel after a reconnect by itself.
 */
export function createPubSub(subscriber: RedisClient, onError: (error: Error) => void = () => {}) {
  const listeners = new Map<string, Set<ChannelListener>>();
  /** The SUBSCRIBE or UNSUBSCRIBE in flight per channel, so they reach Redis in the order they were asked. */
  const pending = new Map<string, Promise<unknown>>();
  let closed = false;

  const onMessage = (channel: string, message: string) => {
    const set = listeners.get(channel);
    if (!set || set.size === 0) return;
    let payload: unknown;
    try {
      payload = JSON.parse(message);
    } catch {
      onError(new Error(`Unparsable message on ${channel}`));
      return;
    }
    for (const listener of set) {
      try {
        listener(payload);
      } catch (error) {
        onError(error as Error);
      }
    }
  };
  subscriber.on('message', onMessage);

  function chain(channel: string, step: () => Promise<unknown>): Promise<unknown> {
    const previous = pending.get(channel) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(step);
    pending.set(channel, next);
    void next.then(
      () => pending.get(channel) === next && pending.delete(channel),
      () => pending.get(channel) === next && pending.delete(channel),
    );
    return next;
  }

  return {
    /**
     * Listens on `channel`; resolves once Redis confirmed the subscription, so a message published
     * after that reaches the listener. Answers the function that stops listening.
     */
    async listen(channel: string, listener: ChannelListener): Promise<() => void> {
      if (closed) throw new Error('The live event bridge is closed');
      let set = listeners.get(channel);
      const first = !set;
      if (!set) {
        set = new Set();
        listeners.set(channel, set);
      }
      set.add(listener);
      const own = set;
      const stop = () => {
        own.delete(listener);
        if (own.size > 0 || listeners.get(channel) !== own) return;
        listeners.delete(channel);
        if (closed) return;
        // Checked when the step runs, not now: a listener may have come back, or the bridge closed, since.
        void chain(channel, () =>
          closed || listeners.has(channel) ? Promise.resolve() : subscriber.unsubscribe(channel),
        ).catch(onError);
      };
      try {
        // Every listener waits for the channel's SUBSCRIBE, not only the first one.
        await (first
          ? chain(channel, () => subscriber.subscribe(channel))
          : (pending.get(channel) ?? undefined));
      } catch (error) {
        stop();
        throw error;
      }
      return stop;
    },
    /** How many listeners `channel` has here. */
    listeners(channel: string): number {
      return listeners.get(channel)?.size ?? 0;
    },
    close(): void {
      closed = true;
      listeners.clear();
      subscriber.off('message', onMessage);
    },
  };
}

export type PubSub = ReturnType<typeof createPubSub>;
