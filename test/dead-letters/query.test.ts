import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../queues/core/errors.js';
import type { FailureReason } from '../../queues/core/types.js';
import type { DeadLetterFilter, DeadLetterRecord } from '../../queues/dead-letters/dead-letters.js';
import type { Engine } from '../../queues/engine/engine.js';
import { expectRefusal } from '../engine/harness.js';
import { consumerTopic, deadLetter, listAll, messageIds, useEngineHarness } from './helpers.js';

const harness = useEngineHarness();

/** Two topics, a queue name both have, three reasons and two error texts. */
async function mixedDeadLetters(engine: Engine): Promise<DeadLetterRecord[]> {
  await consumerTopic(engine, 'orders', ['a', 'b']);
  await consumerTopic(engine, 'billing', ['a']);
  await deadLetter(engine, 'orders', 'a', 3, 'REJECTED', (n) => `card declined (${n})`);
  await deadLetter(engine, 'billing', 'a', 2, 'REJECTED', (n) => `Card DECLINED by bank ${n}`);
  await deadLetter(engine, 'orders', 'b', 2, 'PROCESSING', () => 'upstream 502');
  await deadLetter(engine, 'orders', 'a', 2, 'VALIDATION', () => 'amount must be positive');
  await deadLetter(engine, 'orders', 'b', 1, 'REJECTED', () => 'card declined again');
  const all = await listAll(engine, {}, 4);
  expect(all).toHaveLength(10);
  return all;
}

/** What a filter must select, written independently of the index: a plain filter over the full list. */
function expected(all: readonly DeadLetterRecord[], filter: DeadLetterFilter): DeadLetterRecord[] {
  const search = filter.search?.toLowerCase();
  return all.filter((record) => {
    const at = Date.parse(record.failedAt);
    if (filter.topic != null && record.topic !== filter.topic) return false;
    if (filter.queue != null && record.queue !== filter.queue) return false;
    if (filter.reason != null && record.reason !== filter.reason) return false;
    if (filter.from != null && at < filter.from.getTime()) return false;
    if (filter.to != null && at > filter.to.getTime()) return false;
    if (search) {
      const text = `${record.reason}: ${record.error}`.toLowerCase();
      if (!text.includes(search) && !record.message.id.toLowerCase().includes(search)) return false;
    }
    return true;
  });
}

describe('deadLetters filters', () => {
  it('should answer newest first across topics and queues, with ids, cursors and totalCount', async () => {
    const engine = await harness.engine();
    const all = await mixedDeadLetters(engine);
    const times = all.map((record) => Date.parse(record.failedAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(all[0]).toMatchObject({ topic: 'orders', queue: 'b', error: 'card declined again' });
    expect(new Set(all.map((record) => record.id)).size).toBe(10);

    const page = await engine.deadLetters.page({}, { first: 3 });
    expect(page.edges.map((edge) => edge.node.id)).toEqual(all.slice(0, 3).map((record) => record.id));
    expect(page.pageInfo).toEqual({
      hasNextPage: true,
      hasPreviousPage: false,
      startCursor: page.edges[0]?.cursor,
      endCursor: page.edges[2]?.cursor,
    });
    expect(await page.totalCount()).toBe(10);
    const empty = await engine.deadLetters.page({}, { first: 0 });
    expect(empty.edges).toEqual([]);
    expect(await empty.totalCount()).toBe(10);
  });

  it('should select exactly what each filter and every combination of them says', async () => {
    const engine = await harness.engine();
    const all = await mixedDeadLetters(engine);
    const middle = all[4];
    const older = all[7];
    if (!middle || !older) throw new Error('dataset too small');
    const ranges: Pick<DeadLetterFilter, 'from' | 'to'>[] = [
      {},
      { from: new Date(older.failedAt) },
      { to: new Date(middle.failedAt) },
      { from: new Date(older.failedAt), to: new Date(middle.failedAt) },
    ];
    const searches = [undefined, 'declined', 'DECLINED', (all[2]?.message.id ?? '').slice(0, 13)];
    let checked = 0;
    for (const topic of [undefined, 'orders', 'billing']) {
      for (const queue of [undefined, 'a', 'b']) {
        for (const reason of [undefined, 'REJECTED', 'VALIDATION', 'PROCESSING'] as (
          | FailureReason
          | undefined
        )[]) {
          for (const search of searches) {
            for (const range of ranges) {
              const filter: DeadLetterFilter = { topic, queue, reason, search, ...range };
              if (topic === 'billing' && queue === 'b') {
                await expectRefusal(
                  engine.deadLetters.page(filter),
                  ErrorCode.NotFound,
                  /Queue b of topic billing/,
                );
                continue;
              }
              const want = expected(all, filter);
              const got = await listAll(engine, filter, 3);
              expect(messageIds(got), JSON.stringify(filter)).toEqual(messageIds(want));
              expect(await (await engine.deadLetters.page(filter, { first: 1 })).totalCount()).toBe(
                want.length,
              );
              checked++;
            }
          }
        }
      }
    }
    expect(checked).toBe(3 * 3 * 4 * 4 * 4 - 4 * 4 * 4);
  });

  it('should refuse a bad filter, a bad cursor and a bad page size with BAD_USER_INPUT, and unknown names with NOT_FOUND', async () => {
    const engine = await harness.engine();
    await consumerTopic(engine, 'orders', ['a']);
    const page = engine.deadLetters.page;
    await expectRefusal(
      page({}, { after: 'not a cursor' }),
      ErrorCode.BadUserInput,
      /after must be a cursor/,
    );
    await expectRefusal(
      page({}, { after: Buffer.from('[1,"x"]').toString('base64url') }),
      ErrorCode.BadUserInput,
    );
    await expectRefusal(page({}, { first: -1 }), ErrorCode.BadUserInput, /first/);
    await expectRefusal(page({}, { first: 1001 }), ErrorCode.BadUserInput, /first/);
    await expectRefusal(page({ topic: 'no such' }), ErrorCode.BadUserInput, /filter.topic/);
    await expectRefusal(
      page({ from: new Date('2026-02-01'), to: new Date('2026-01-01') }),
      ErrorCode.BadUserInput,
      /filter.from must not be later/,
    );
    await expectRefusal(page({ search: 'x'.repeat(257) }), ErrorCode.BadUserInput, /filter.search/);
    await expectRefusal(page({ reason: 'NOPE' as FailureReason }), ErrorCode.BadUserInput, /filter.reason/);
    await expectRefusal(page({ topic: 'nope' }), ErrorCode.NotFound, /Topic nope/);
    await expectRefusal(page({ queue: 'nope' }), ErrorCode.NotFound, /No topic has a queue nope/);
    expect(await engine.deadLetters.get('orders/a/nothing-here')).toBeNull();
    await expectRefusal(engine.deadLetters.get('just-one-part'), ErrorCode.BadUserInput, /dead letter id/);
  });
});

describe('deadLetters pagination', () => {
  it('should keep later pages where they were while newer dead letters arrive', async () => {
    const engine = await harness.engine();
    await consumerTopic(engine, 'orders', ['a', 'b']);
    const original = [...(await deadLetter(engine, 'orders', 'a', 12))].reverse();

    const seen: string[] = [];
    let after: string | null = null;
    for (let round = 0; round < 10; round++) {
      const page = await engine.deadLetters.page({ topic: 'orders' }, { first: 5, after });
      seen.push(...page.edges.map((edge) => edge.node.message.id));
      // Newer dead letters, in both queues, between every two pages.
      await deadLetter(engine, 'orders', round % 2 === 0 ? 'a' : 'b', 2);
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toEqual(original);
    expect(await (await engine.deadLetters.page({ topic: 'orders' })).totalCount()).toBe(12 + 2 * 3);
  });

  it('should page through concurrent inserts without duplicates or gaps', async () => {
    const engine = await harness.engine();
    await consumerTopic(engine, 'orders', ['a']);
    const original = [...(await deadLetter(engine, 'orders', 'a', 20))].reverse();
    const paging = (async () => {
      const seen: string[] = [];
      let after: string | null = null;
      for (let round = 0; round < 30; round++) {
        const page = await engine.deadLetters.page({ queue: 'a' }, { first: 3, after });
        seen.push(...page.edges.map((edge) => edge.node.message.id));
        if (!page.pageInfo.hasNextPage) break;
        after = page.pageInfo.endCursor;
      }
      return seen;
    })();
    const [seen] = await Promise.all([paging, deadLetter(engine, 'orders', 'a', 10)]);
    expect(seen).toEqual(original);
  });

  it('should order dead letters that failed in the same millisecond by id and page through them exactly once', async () => {
    const engine = await harness.engine();
    await consumerTopic(engine, 'orders', ['a', 'b']);
    await consumerTopic(engine, 'billing', ['a']);
    await deadLetter(engine, 'orders', 'a', 4);
    await deadLetter(engine, 'orders', 'b', 3);
    await deadLetter(engine, 'billing', 'a', 3);
    // Give every failure the same time, as BullMQ would for failures within one millisecond.
    const redis = harness.redis.client();
    const at = Date.now() - 1000;
    for (const [topic, queue] of [
      ['orders', 'a'],
      ['orders', 'b'],
      ['billing', 'a'],
    ] as const) {
      const failed = `${engine.keys.bullPrefix(topic)}:${queue}:failed`;
      for (const jobId of await redis.zrange(failed, 0, -1)) await redis.zadd(failed, 'XX', at, jobId);
    }
    await engine.deadLetters.repair();

    const ids = (await listAll(engine, {}, 100)).map((record) => record.id);
    expect(ids).toHaveLength(10);
    expect(ids).toEqual([...ids].sort().reverse());
    expect((await listAll(engine, {}, 3)).map((record) => record.id)).toEqual(ids);
    expect((await listAll(engine, { topic: 'orders' }, 2)).map((record) => record.id)).toEqual(
      ids.filter((id) => id.startsWith('orders/')),
    );

    // The cursor's own dead letter is gone by the time the next page is asked for.
    const first = await engine.deadLetters.page({}, { first: 4 });
    const last = first.edges[3]?.node.id ?? '';
    await engine.deadLetters.discard(last);
    const rest = await listAll(engine, {}, 100);
    const next = await engine.deadLetters.page({}, { first: 100, after: first.pageInfo.endCursor });
    expect(next.edges.map((edge) => edge.node.id)).toEqual(ids.slice(4));
    expect(rest.map((record) => record.id)).toEqual(ids.filter((id) => id !== last));
  });
});
