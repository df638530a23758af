import { type ExecutionResult, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import {
  createSharedSubscriptions,
  planSharing,
  type ShareablePlan,
  type WriteResult,
} from '../../server/shared-subscriptions.js';

/**
 * The fan-out of one shared execution to its subscribers, without a socket: `write` is the transport,
 * answering true when the next result may follow at once and false when it must wait for `resume`.
 */

const QUERY = 'subscription { messages(topic: "t") { payload droppedBefore } }';

function plan(): ShareablePlan {
  const planned = planSharing(parse(QUERY), undefined, 'caller', {}, QUERY);
  if (!planned) throw new Error('the query should be shareable');
  return planned;
}

/** An upstream the test feeds by hand: each `emit` is one result of the shared execution. */
function upstream() {
  const queued: ExecutionResult[] = [];
  let wake: (() => void) | null = null;
  let ended = false;
  async function* results(): AsyncGenerator<ExecutionResult> {
    for (;;) {
      const next = queued.shift();
      if (next) yield next;
      else if (ended) return;
      else await new Promise<void>((resolve) => (wake = resolve));
    }
  }
  const poke = () => {
    const resolve = wake;
    wake = null;
    resolve?.();
  };
  return {
    results: results(),
    emit(payload: number) {
      queued.push({ data: { messages: { payload, droppedBefore: 0 } } });
      poke();
    },
    end() {
      ended = true;
      poke();
    },
  };
}

/** Lets the group's pump read what was emitted and hand it out. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

interface Written {
  payload: number;
  droppedBefore: number;
}

/** A transport that records what it is given and answers with `accept()` (true: the next may follow). */
function transport(accept: () => boolean = () => true) {
  const written: Written[] = [];
  const resumes: ((error?: Error) => void)[] = [];
  const write: WriteResult = (json, resume) => {
    const result = JSON.parse(json) as { data: { messages: Written } };
    written.push(result.data.messages);
    if (accept()) return true;
    resumes.push(resume);
    return false;
  };
  return { write, written, resumes };
}

describe('createSharedSubscriptions', () => {
  it('should write every result to a subscriber that keeps up, at once and in order', async () => {
    const shared = createSharedSubscriptions();
    const source = upstream();
    const a = transport();
    const b = transport();
    shared.join(plan(), source.results, a.write);
    shared.join(plan(), upstream().results, b.write);
    expect(shared.size).toEqual({ groups: 1, listeners: 2 });
    for (const payload of [1, 2, 3]) source.emit(payload);
    await settle();
    const expected = [1, 2, 3].map((payload) => ({ payload, droppedBefore: 0 }));
    expect(a.written).toEqual(expected);
    expect(b.written).toEqual(expected);
    expect(shared.heldBytes).toBe(0);
  });

  it('should hold results while a write waits, dropping the oldest and reporting them in droppedBefore', async () => {
    const shared = createSharedSubscriptions({ maxBufferedResults: 2 });
    const source = upstream();
    let open = false;
    const slow = transport(() => open);
    const fast = transport();
    shared.join(plan(), source.results, slow.write);
    shared.join(plan(), upstream().results, fast.write);
    source.emit(1);
    await settle();
    // The first write waits for its resume: nothing more may reach the slow transport until then.
    expect(slow.written.map((result) => result.payload)).toEqual([1]);
    for (const payload of [2, 3, 4, 5, 6]) source.emit(payload);
    await settle();
    expect(slow.written.map((result) => result.payload)).toEqual([1]);
    expect(shared.heldBytes).toBeGreaterThan(0);
    // The other subscriber is not held back by the slow one.
    expect(fast.written.map((result) => result.payload)).toEqual([1, 2, 3, 4, 5, 6]);
    open = true;
    slow.resumes.shift()?.();
    // Two results were held (maxBufferedResults), the three before them dropped and counted on the first.
    expect(slow.written.slice(1)).toEqual([
      { payload: 5, droppedBefore: 3 },
      { payload: 6, droppedBefore: 0 },
    ]);
    expect(shared.heldBytes).toBe(0);
    // Caught up: the next result goes out at once, with nothing dropped before it.
    source.emit(7);
    await settle();
    expect(slow.written.slice(3)).toEqual([{ payload: 7, droppedBefore: 0 }]);
  });

  it('should keep the order when results arrive while a write waits and then while it resumes', async () => {
    const shared = createSharedSubscriptions();
    const source = upstream();
    let accepting = false;
    const client = transport(() => accepting);
    shared.join(plan(), source.results, client.write);
    source.emit(1);
    await settle();
    source.emit(2);
    source.emit(3);
    await settle();
    // The resumed subscriber waits again at once (its socket is still full), then catches up.
    client.resumes.shift()?.();
    expect(client.written.map((result) => result.payload)).toEqual([1, 2]);
    source.emit(4);
    await settle();
    expect(client.written.map((result) => result.payload)).toEqual([1, 2]);
    accepting = true;
    client.resumes.shift()?.();
    source.emit(5);
    await settle();
    expect(client.written).toEqual([1, 2, 3, 4, 5].map((payload) => ({ payload, droppedBefore: 0 })));
  });

  it('should drop a subscriber whose write fails, failing its stream, and keep feeding the others', async () => {
    const shared = createSharedSubscriptions();
    const source = upstream();
    const failing = transport(() => false);
    const healthy = transport();
    const stream = shared.join(plan(), source.results, failing.write);
    shared.join(plan(), upstream().results, healthy.write);
    source.emit(1);
    await settle();
    const ended = stream.next();
    failing.resumes.shift()?.(new Error('The socket is closed'));
    await expect(ended).rejects.toThrow('The socket is closed');
    expect(shared.size).toEqual({ groups: 1, listeners: 1 });
    source.emit(2);
    await settle();
    expect(failing.written.map((result) => result.payload)).toEqual([1]);
    expect(healthy.written.map((result) => result.payload)).toEqual([1, 2]);
  });

  it('should end every subscriber when the upstream ends, after what each still holds', async () => {
    const shared = createSharedSubscriptions();
    const source = upstream();
    const slow = transport(() => false);
    const stream = shared.join(plan(), source.results, slow.write);
    source.emit(1);
    source.emit(2);
    source.end();
    await settle();
    const ended = stream.next();
    expect(slow.written.map((result) => result.payload)).toEqual([1]);
    slow.resumes.shift()?.();
    expect(slow.written.map((result) => result.payload)).toEqual([1, 2]);
    slow.resumes.shift()?.();
    await expect(ended).resolves.toEqual({ value: undefined, done: true });
    expect(shared.size).toEqual({ groups: 0, listeners: 0 });
  });
});
