/**
 * The operators' console (issue 23): publishing from a form, fixing and replaying dead letters, the
 * live tail, topology changes, charts, keys and the audit log, each driven in chromium against a live
 * gateway, with axe-core finding no serious or critical violation and the page logging no error.
 */
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/redis.js';
import {
  consumerQueue,
  deadLetter,
  expectAccessible,
  publish,
  receiveAll,
  useDashboardHarness,
} from './harness.js';

const { startGateway, open } = useDashboardHarness();
const PUBLISH = 'form[aria-label="Publish a message"] button[type="submit"]';

const ORDER_SCHEMA = {
  type: 'object',
  required: ['n'],
  properties: { n: { type: 'integer' } },
};

describe('publish', () => {
  it('publishes every field the form offers, and shows JSON and schema errors under the payload', async () => {
    const { base, gql } = await startGateway();
    await gql(
      'mutation($s: JSON) { createTopic(input: { name: "orders", kind: TOPIC, payloadSchema: $s }) { name } }',
      {
        s: ORDER_SCHEMA,
      },
    );
    await gql(
      'mutation { createQueue(input: { topic: "orders", name: "audit", target: CONSUMER, bindingKey: "orders.#" }) { name } }',
    );
    const { page, problems } = await open(base, 'publish');
    await page.locator('select[name="topic"] option[value="orders"]').waitFor({ state: 'attached' });
    await expectAccessible(page, 'the publish form');
    const payloadError = page.locator('[data-error-for="payload"]');

    // Not JSON: caught in the page, nothing sent.
    await page.fill('textarea[name="payload"]', '{"n": ');
    await page.click(PUBLISH);
    await waitFor(
      async () => (await payloadError.textContent())?.startsWith('payload (JSON) is not JSON') ?? false,
      {
        message: 'the JSON error under the payload',
      },
    );
    expect(await page.getAttribute('textarea[name="payload"]', 'aria-invalid')).toBe('true');

    // JSON the topic's schema refuses: the gateway's VALIDATION, with its path, under the payload.
    await page.fill('textarea[name="payload"]', '{"n": "one"}');
    await page.click(PUBLISH);
    await waitFor(
      async () => (await payloadError.textContent())?.includes('payload/n must be integer') ?? false,
      {
        message: 'the schema error under the payload',
      },
    );
    expect(await page.locator('#status').textContent()).toMatch(/^VALIDATION: payload\/n must be integer/);
    await expectAccessible(page, 'the publish form showing an error');

    await page.fill('textarea[name="payload"]', '{"n": 1}');
    await page.fill('input[name="routingKey"]', 'orders.eu');
    await page.fill('textarea[name="headers"]', '{"x-tenant": "acme"}');
    await page.fill('input[name="priority"]', '7');
    await page.fill('input[name="ttlMs"]', '60000');
    await page.fill('input[name="correlationId"]', 'corr-1');
    await page.fill('input[name="idempotencyKey"]', 'idem-1');
    await page.click(PUBLISH);
    const shown = page.locator('.result code[data-message-id]');
    await shown.waitFor();
    const id = await shown.getAttribute('data-message-id');
    expect(await payloadError.textContent()).toBe('');
    expect(await page.locator('.result').textContent()).toContain('routed to audit');
    const [message] = await receiveAll(gql, 'orders', 'audit');
    expect(message).toEqual({
      id,
      routingKey: 'orders.eu',
      headers: { 'x-tenant': 'acme' },
      payload: { n: 1 },
      priority: 7,
      correlationId: 'corr-1',
      idempotencyKey: 'idem-1',
    });

    // The same idempotency key again: not enqueued twice, and the page says so.
    await page.click(PUBLISH);
    await page.locator('#status', { hasText: 'idempotency key was already used' }).waitFor();

    // A delay: the message waits in the delayed set.
    await page.fill('input[name="idempotencyKey"]', '');
    await page.fill('input[name="ttlMs"]', '');
    await page.fill('input[name="delayMs"]', '600000');
    await page.click(PUBLISH);
    await page.locator('#status', { hasText: /^Published / }).waitFor();
    await waitFor(
      async () =>
        (
          await gql<{ queue: { stats: { delayed: number } } }>(
            '{ queue(topic: "orders", name: "audit") { stats { delayed } } }',
          )
        ).queue.stats.delayed === 1,
      { message: 'the delayed message' },
    );
    expect(problems).toEqual([]);
  });
});

describe('fix and replay', () => {
  it('replays a dead letter with an edited payload into another queue of its topic', async () => {
    const { base, gql } = await startGateway();
    await consumerQueue(gql, 'orders', 'audit');
    await consumerQueue(gql, 'orders', 'repair');
    const id = await publish(gql, 'orders', { n: 1 });
    await deadLetter(gql, 'orders', 'audit', 'n must be even');
    await receiveAll(gql, 'orders', 'repair');

    const { page, problems } = await open(base, 'dead-letters');
    await page.locator('tr', { hasText: id }).locator('button[data-action="edit"]').click();
    const editor = page.locator('section.editor');
    await editor.locator('textarea[name="payload"]').waitFor();
    expect(JSON.parse(await editor.locator('textarea[name="payload"]').inputValue())).toEqual({ n: 1 });
    await expectAccessible(page, 'the dead-letter editor');

    await editor.locator('textarea[name="payload"]').fill('{"n": 2,');
    await editor.locator('button[data-action="replay-edited"]').click();
    await editor.locator('[data-error-for="payload"]', { hasText: 'is not JSON' }).waitFor();

    await editor.locator('textarea[name="payload"]').fill('{"n": 2, "fixed": true}');
    await editor.locator('select[name="toQueue"]').selectOption('repair');
    await editor.locator('button[data-action="replay-edited"]').click();
    await page.locator('#status', { hasText: `Replayed ${id} into orders/repair` }).waitFor();
    const [replayed] = await receiveAll(gql, 'orders', 'repair');
    expect(replayed).toMatchObject({ id, payload: { n: 2, fixed: true } });
    expect(await receiveAll(gql, 'orders', 'audit')).toEqual([]);
    expect(problems).toEqual([]);
  });

  it('counts what a filter selects before replaying it all, and replays nothing when not confirmed', async () => {
    const { base, gql } = await startGateway();
    await consumerQueue(gql, 'orders', 'audit');
    for (let n = 0; n < 3; n += 1) {
      await publish(gql, 'orders', { n });
      await deadLetter(gql, 'orders', 'audit', n === 2 ? 'other' : 'timeout talking to billing');
    }
    const { page, problems } = await open(base, 'dead-letters');
    await page.fill('input[name="search"]', 'billing');
    await page.click('form.filter button[type="submit"]');
    await page.locator('main p.muted', { hasText: '2 dead letters match' }).waitFor();

    const asked: string[] = [];
    page.once('dialog', (dialog) => {
      asked.push(dialog.message());
      void dialog.dismiss();
    });
    await page.click('button[data-action="replay-all"]');
    await page.locator('button[data-action="replay-all"]:enabled').waitFor();
    expect(asked).toEqual(['Replay all 2 dead letters with matching "billing"?']);
    const count = async () =>
      (await gql<{ deadLetters: { totalCount: number } }>('{ deadLetters { totalCount } }')).deadLetters
        .totalCount;
    expect(await count()).toBe(3);

    page.once('dialog', (dialog) => void dialog.accept());
    await page.click('button[data-action="replay-all"]');
    await page.locator('#status', { hasText: 'Replayed 2, 0 could not be replayed' }).waitFor();
    expect(await count()).toBe(1);
    expect(await receiveAll(gql, 'orders', 'audit')).toHaveLength(2);
    expect(problems).toEqual([]);
  });
});

describe('live tail', () => {
  it('follows a topic through a binding key, holds messages while paused, and shows what it dropped', async () => {
    // A buffer of one message per subscriber: a batch arriving at once overflows it.
    const { base, gql } = await startGateway({}, { live: { maxBufferedMessages: 1 } });
    await gql('mutation { createTopic(input: { name: "orders", kind: TOPIC }) { name } }');
    const { page, problems } = await open(base, 'tail');
    await page.locator('select[name="topic"] option[value="orders"]').waitFor({ state: 'attached' });
    await page.fill('input[name="bindingKey"]', 'orders.eu.*');
    await page.click('form.filter button[type="submit"]');
    await page.locator('[data-dropped="0"]').waitFor();

    // The stream starts when the page subscribes; publish until its first message shows.
    let first = '';
    await waitFor(
      async () => {
        first = await publish(gql, 'orders', { n: 1 }, { routingKey: 'orders.eu.new' });
        return (await page.locator(`code[data-message-id="${first}"]`).count()) > 0;
      },
      { message: 'a matching message to show' },
    );
    const other = await publish(gql, 'orders', { n: 2 }, { routingKey: 'orders.us.new' });
    const matching = await publish(gql, 'orders', { n: 3 }, { routingKey: 'orders.eu.paid' });
    await page.locator(`code[data-message-id="${matching}"]`).waitFor();
    expect(await page.locator(`code[data-message-id="${other}"]`).count()).toBe(0);
    await expectAccessible(page, 'the live tail');

    await page.click('button[data-action="pause-tail"]');
    const held = await publish(gql, 'orders', { n: 4 }, { routingKey: 'orders.eu.held' });
    await page.locator('[data-held="1"]').waitFor();
    expect(await page.locator(`code[data-message-id="${held}"]`).count()).toBe(0);
    await page.click('button[data-action="pause-tail"]');
    await page.locator(`code[data-message-id="${held}"]`).waitFor();

    const inputs = Array.from({ length: 50 }, (_, n) => ({
      topic: 'orders',
      routingKey: 'orders.eu.bulk',
      payload: { n },
    }));
    await gql('mutation($inputs: [PublishInput!]!) { publishBatch(inputs: $inputs) { messageId } }', {
      inputs,
    });
    const bulkShown = async () => page.locator('td', { hasText: /^orders\.eu\.bulk$/ }).count();
    const dropped = async () => Number(await page.locator('[data-dropped]').getAttribute('data-dropped'));
    await waitFor(async () => (await bulkShown()) + (await dropped()) === 50, {
      message: 'every message of the batch shown or counted as dropped',
    });
    expect(await dropped()).toBeGreaterThan(0);
    expect(await page.locator('[data-dropped]').textContent()).toBe(`${await dropped()} dropped`);
    expect(problems).toEqual([]);
  });
});
