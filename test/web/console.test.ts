/**
 * The operators' console (issue 23): publishing from a form, fixing and replaying dead letters, the
 * live tail, topology changes, charts, keys and the audit log, each driven in chromium against a live
 * gateway, with axe-core finding no serious or critical violation and the page logging no error.
 */
import { describe, expect, it } from 'vitest';
import {
  TestWebCircuitStateDocument,
  TestWebCreateApiKeyDocument,
  TestWebDeadLetterCountDocument,
  TestWebQueueDepthDocument,
  TestWebQueueSettingsDocument,
} from '../generated/graphql.js';
import { startReceiver } from '../helpers/receiver.js';
import { waitFor } from '../helpers/redis.js';
import { dataCaller } from '../live/helpers.js';
import {
  consumerQueue,
  deadLetter,
  expectAccessible,
  publish,
  receiveAll,
  useDashboardHarness,
} from './harness.js';

const { startGateway, open, receivers } = useDashboardHarness();
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
    await page.fill('[data-json="payload"]', '{"n": ');
    await page.click(PUBLISH);
    await waitFor(
      async () => (await payloadError.textContent())?.startsWith('payload (JSON) is not JSON') ?? false,
      {
        message: 'the JSON error under the payload',
      },
    );
    expect(await page.getAttribute('[data-json="payload"]', 'aria-invalid')).toBe('true');

    // JSON the topic's schema refuses: the gateway's VALIDATION, with its path, under the payload.
    await page.fill('[data-json="payload"]', '{"n": "one"}');
    await page.click(PUBLISH);
    await waitFor(
      async () => (await payloadError.textContent())?.includes('payload/n must be integer') ?? false,
      {
        message: 'the schema error under the payload',
      },
    );
    expect(await page.locator('#status').textContent()).toMatch(/^VALIDATION: payload\/n must be integer/);
    await expectAccessible(page, 'the publish form showing an error');

    await page.fill('[data-json="payload"]', '{"n": 1}');
    await page.fill('input[name="routingKey"]', 'orders.eu');
    await page.fill('[data-json="headers"]', '{"x-tenant": "acme"}');
    await page.fill('input[name="priority"]', '7');
    await page.fill('input[name="ttlMs"]', '60000');
    await page.fill('input[name="correlationId"]', 'corr-1');
    await page.fill('input[name="idempotencyKey"]', 'idem-1');
    await page.fill('input[name="orderingKey"]', 'customer-1');
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
      orderingKey: 'customer-1',
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
        (await gql(TestWebQueueDepthDocument, { topic: 'orders', name: 'audit' })).queue?.stats.delayed === 1,
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
    await editor.locator('[data-json="payload"]').waitFor();
    expect(JSON.parse((await editor.locator('[data-json="payload"]').textContent()) ?? '')).toEqual({ n: 1 });
    await expectAccessible(page, 'the dead-letter editor');

    await editor.locator('[data-json="payload"]').fill('{"n": 2,');
    await editor.locator('button[data-action="replay-edited"]').click();
    await editor.locator('[data-error-for="payload"]', { hasText: 'is not JSON' }).waitFor();

    await editor.locator('[data-json="payload"]').fill('{"n": 2, "fixed": true}');
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
    const count = async () => (await gql(TestWebDeadLetterCountDocument)).deadLetters.totalCount;
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

describe('topology', () => {
  it('creates, edits and deletes topics and queues, and rotates a signing secret shown once', async () => {
    const receiver = await startReceiver();
    receivers.push(receiver);
    const { base, gql } = await startGateway();
    const { page, problems } = await open(base, 'topology');
    await page.click('button[data-action="new-topic"]');
    const editor = page.locator('section.editor');
    await editor.locator('input[name="name"]').fill('billing');
    await editor.locator('select[name="kind"]').selectOption('DIRECT');
    await editor.locator('input[name="description"]').fill('Invoices');
    await expectAccessible(page, 'the new topic form');
    await editor.locator('button[type="submit"]').click();
    const topic = page.locator('section[data-topic="billing"]');
    await topic.waitFor();
    expect(await editor.isHidden()).toBe(true);

    await topic.locator('button[data-action="add-queue"]').click();
    await editor.locator('input[name="name"]').fill('hook');
    await editor.locator('select[name="target"]').selectOption('WEBHOOK');
    await editor.locator('input[name="url"]').fill(`${receiver.url}/hook`);
    await editor.locator('input[name="bindingKey"]').fill('invoice');
    await editor.locator('input[name="maxAttempts"]').fill('3');
    await expectAccessible(page, 'the new queue form');
    await editor.locator('button[type="submit"]').click();
    await topic.locator('[data-queue="hook"]').waitFor();

    await topic.locator('button[data-key="billing/hook/edit"]').click();
    expect(await editor.locator('input[name="bindingKey"]').inputValue()).toBe('invoice');
    await editor.locator('input[name="bindingKey"]').fill('invoice.paid');
    await editor.locator('input[name="url"]').fill(`${receiver.url}/v2`);
    await editor.locator('input[name="concurrency"]').fill('4');
    await editor.locator('select[name="backoff"]').selectOption('FIXED');
    await editor.locator('input[name="delayMs"]').fill('500');
    await editor.locator('button[type="submit"]').click();
    await page.locator('#status', { hasText: 'Saved billing/hook' }).waitFor();
    const read = async () => {
      const { queue } = await gql(TestWebQueueSettingsDocument, { topic: 'billing', name: 'hook' });
      if (!queue) throw new Error('the queue billing/hook is gone');
      return queue;
    };
    const saved = await read();
    expect(saved).toMatchObject({
      bindingKey: 'invoice.paid',
      url: `${receiver.url}/v2`,
      concurrency: 4,
      retry: { maxAttempts: 3, backoff: 'FIXED', delayMs: 500 },
    });

    page.once('dialog', (dialog) => void dialog.accept());
    await topic.locator('button[data-key="billing/hook/rotate"]').click();
    const secret = editor.locator('[data-new-secret]');
    await secret.waitFor();
    const shown = await secret.textContent();
    expect(shown).toMatch(/^whsec_/);
    expect(shown).not.toBe(saved.signingSecret);
    expect((await read()).signingSecret).toBe(shown);
    await expectAccessible(page, 'the rotated secret');
    // Shown once: closing the panel forgets it.
    await editor.locator('button[data-action="close-editor"]').click();
    expect(await page.locator('[data-new-secret]').count()).toBe(0);

    // A topic with queues cannot go: the page shows the gateway's CONFLICT.
    page.once('dialog', (dialog) => void dialog.accept());
    await topic.locator('button[data-action="delete-topic"]').click();
    await page.locator('#status', { hasText: /^CONFLICT: / }).waitFor();
    page.once('dialog', (dialog) => void dialog.accept());
    await topic.locator('button[data-key="billing/hook/delete"]').click();
    await page.locator('#status', { hasText: 'Deleted billing/hook' }).waitFor();
    page.once('dialog', (dialog) => void dialog.accept());
    await topic.locator('button[data-action="delete-topic"]').click();
    await page.locator('#status', { hasText: 'Deleted topic billing' }).waitFor();
    expect(await gql('{ topics { name } }')).toEqual({ topics: [] });
    expect(problems).toEqual([]);
  });

  it('shows an open circuit breaker with a reset button that closes it', async () => {
    const receiver = await startReceiver();
    receivers.push(receiver);
    receiver.respond = () => ({ status: 500 });
    const { base, gql } = await startGateway({
      SWITCHYARD_CIRCUIT_FAILURES: '1',
      SWITCHYARD_CIRCUIT_COOLDOWN_MS: '600000',
    });
    await gql('mutation { createTopic(input: { name: "billing", kind: FANOUT }) { name } }');
    await gql(
      'mutation($url: String!) { createQueue(input: { topic: "billing", name: "hook", target: WEBHOOK, url: $url, retry: { maxAttempts: 1 } }) { name } }',
      {
        url: `${receiver.url}/hook`,
      },
    );
    await publish(gql, 'billing', { n: 1 });
    await waitFor(
      async () =>
        (await gql(TestWebCircuitStateDocument, { topic: 'billing', name: 'hook' })).queue?.circuit?.state ===
        'OPEN',
      { message: 'the circuit to open' },
    );
    const { page, problems } = await open(base, 'topology');
    const topic = page.locator('section[data-topic="billing"]');
    await topic.locator('[data-circuit="OPEN"]').waitFor();
    await topic.locator('button[data-key="billing/hook/reset-circuit"]').click();
    // resetCircuit closes the breaker on every instance (250a4ce); the page says so and shows it closed.
    await page.locator('#status', { hasText: /^Circuit of billing\/hook reset: closed$/ }).waitFor();
    await topic.locator('[data-circuit="CLOSED"]').waitFor();
    expect(await topic.locator('button[data-key="billing/hook/reset-circuit"]').count()).toBe(0);
    const { queue } = await gql(TestWebCircuitStateDocument, { topic: 'billing', name: 'hook' });
    expect(queue?.circuit?.state).toBe('CLOSED');
    expect(problems).toEqual([]);
  });
});

describe('charts', () => {
  it("draws the last samples of the stats stream, and a queue's depth and lag", async () => {
    const { base, gql } = await startGateway();
    await consumerQueue(gql, 'orders', 'audit');
    await consumerQueue(gql, 'payments', 'ledger');
    await publish(gql, 'orders', { n: 1 });
    await publish(gql, 'orders', { n: 2 });
    const { page, problems } = await open(base, 'charts');
    await waitFor(async () => Number(await page.locator('[data-samples]').textContent()) >= 2, {
      message: 'two samples of the stream',
    });
    expect(await page.locator('figure[data-chart] canvas').count()).toBe(4);
    await page.locator('select[name="scope"]').selectOption('orders/audit');
    await page.locator('[data-summary="depth"]', { hasText: 'now 2 waiting' }).waitFor();
    expect(await page.locator('[data-summary="lag"]').textContent()).toMatch(/^now \d/);
    await page.locator('select[name="scope"]').selectOption('topic:payments');
    await page.locator('[data-summary="depth"]', { hasText: 'now 0 waiting' }).waitFor();
    expect(await page.locator('[data-summary="lag"]').textContent()).toBe('now nothing waits');
    await page.locator('select[name="scope"]').selectOption('');
    await page.locator('[data-summary="depth"]', { hasText: 'now 2 waiting' }).waitFor();
    // Two publishes over the stats window (10 s) read as 0.2/s once the gateway is older than it: any
    // rate above zero is the figure this checks, not its size.
    await waitFor(
      async () => {
        const text = (await page.locator('[data-summary="throughput"]').textContent()) ?? '';
        const rate = Number(/^now ([\d.]+)/.exec(text)?.[1] ?? '0');
        return rate > 0;
      },
      { message: 'the published rate to show' },
    );
    await expectAccessible(page, 'the charts');
    expect(problems).toEqual([]);
  });
});

const ADMIN_KEY = 'sy_console-test-admin-key-0123456789abcdefghijklmnop';

describe('keys and audit', () => {
  it('creates a key with scopes, shows its secret once, revokes it, and lists both in the audit log', async () => {
    const { base, url } = await startGateway({ SWITCHYARD_ADMIN_KEY: ADMIN_KEY });
    const { page, problems } = await open(base, 'keys', { key: ADMIN_KEY });
    await page.fill('form[aria-label="Create an API key"] input[name="name"]', 'billing-service');
    await page.fill('form[aria-label="Create an API key"] input[name="scopes"]', 'publish:billing.*, stats');
    await page.click('form[aria-label="Create an API key"] button[type="submit"]');
    const secret = page.locator('[data-new-secret]');
    await secret.waitFor();
    const shown = (await secret.textContent()) ?? '';
    expect(shown).toMatch(/^sy_/);
    const row = page.locator('section[aria-label="API keys"] tr', { hasText: 'billing-service' });
    expect(await row.locator('td').nth(2).textContent()).toBe('publish:billing.* stats');
    const asKey = dataCaller(url, shown);
    expect(await asKey('{ alerts { id } }')).toEqual({ alerts: [] });
    await page.locator('section[aria-label="Audit log"] td', { hasText: /^createApiKey$/ }).waitFor();
    await expectAccessible(page, 'keys and audit');

    page.once('dialog', (dialog) => void dialog.accept());
    await row.locator('button[data-action="revoke"]').click();
    await page.locator('#status', { hasText: 'Revoked billing-service' }).waitFor();
    await expect(asKey('{ alerts { id } }')).rejects.toThrow('UNAUTHENTICATED');
    await page.locator('section[aria-label="Audit log"] td', { hasText: /^revokeApiKey$/ }).waitFor();
    // The secret is gone with the page.
    await page.click('nav a[href="#topology"]');
    await page.click('nav a[href="#keys"]');
    await page.locator('section[aria-label="API keys"] td.empty').waitFor();
    expect(await page.locator('[data-new-secret]').count()).toBe(0);

    // A bad scope: the gateway's BAD_USER_INPUT names it.
    await page.fill('form[aria-label="Create an API key"] input[name="name"]', 'bad');
    await page.fill('form[aria-label="Create an API key"] input[name="scopes"]', 'publish');
    await page.click('form[aria-label="Create an API key"] button[type="submit"]');
    await page.locator('#status', { hasText: /^BAD_USER_INPUT: .*publish/ }).waitFor();
    expect(problems).toEqual([]);
  });
});

describe("the key's scopes", () => {
  it('offers only what the key may do, and takes off what the gateway refuses', async () => {
    const { base, gql } = await startGateway({ SWITCHYARD_ADMIN_KEY: ADMIN_KEY });
    await consumerQueue(gql, 'orders', 'audit');
    await consumerQueue(gql, 'payments', 'ledger');
    const { createApiKey } = await gql(TestWebCreateApiKeyDocument, {
      name: 'watcher',
      scopes: ['publish:orders', 'subscribe:#'],
    });
    const { page, problems } = await open(base, 'publish', { key: createApiKey.secret });
    await page.locator('select[name="topic"] option[value="payments"]').waitFor({ state: 'attached' });
    const links = await page.locator('nav a').allTextContents();
    expect(links).toEqual(['Topics & queues', 'Publish', 'Live tail', 'History', 'Dead letters', 'Events']);
    await expectAccessible(page, 'the publish form of a scoped key');

    await page.locator('select[name="topic"]').selectOption('payments');
    await page.fill('[data-json="payload"]', '{"n": 1}');
    await page.click(PUBLISH);
    await page.locator('#status', { hasText: /^FORBIDDEN: .*publish:payments/ }).waitFor();
    expect(await page.locator('select[name="topic"] option').allTextContents()).toEqual(['orders']);
    await page.click(PUBLISH);
    await page.locator('#status', { hasText: /^Published / }).waitFor();

    // Topics & queues: no counters (no stats scope) and no admin buttons.
    await page.click('nav a[href="#topology"]');
    await page.locator('section[data-topic="orders"] [data-queue="audit"]').waitFor();
    expect(await page.locator('#view button').count()).toBe(0);
    await expectAccessible(page, 'topics & queues for a scoped key');

    // An admin's own links, for comparison; and /queues is linked for admins only.
    const admin = await open(base, 'topology', { key: ADMIN_KEY });
    await admin.page.locator('button[data-action="new-topic"]').waitFor();
    expect(await admin.page.locator('nav a').allTextContents()).toEqual([
      'Overview',
      'Topics & queues',
      'Publish',
      'Live tail',
      'History',
      'Dead letters',
      'Charts',
      'Events',
      'Keys & audit',
      'bull-board',
    ]);
    expect(await page.locator('nav a[href="/queues/"]').count()).toBe(0);
    // The refused publish logged nothing but its own refusal (HTTP 200 with an error: no console error).
    expect(problems).toEqual([]);
    expect(admin.problems).toEqual([]);
  });
});

describe('every view', () => {
  it('passes axe-core with content on screen, and is driven by keyboard alone', async () => {
    const { base, gql } = await startGateway();
    await consumerQueue(gql, 'orders', 'audit');
    await publish(gql, 'orders', { n: 1 });
    await publish(gql, 'orders', { n: 2 });
    await deadLetter(gql, 'orders', 'audit', 'rejected');
    const { page, problems } = await open(base, 'overview');
    const views: Record<string, string> = {
      overview: '[data-figure="published"]',
      topology: 'section[data-topic="orders"]',
      publish: 'select[name="topic"] option[value="orders"]',
      tail: 'select[name="topic"] option[value="orders"]',
      history: '[data-history-about]',
      'dead-letters': 'button[data-action="edit"]',
      charts: 'figure[data-chart="depth"] canvas',
      events: 'form.filter',
      keys: 'section[aria-label="Audit log"] table',
    };
    for (const [view, ready] of Object.entries(views)) {
      await page.click(`nav a[href="#${view}"]`);
      await page.locator(ready).first().waitFor({ state: 'attached' });
      await expectAccessible(page, `#${view}`);
    }

    // Keyboard only: Tab to the Publish link, open it, fill the form and send it with Enter.
    await page.goto(`${base}/dashboard/#overview`);
    await page.locator('[data-figure="published"]').waitFor();
    const focused = () =>
      page.evaluate(
        () =>
          document.activeElement?.getAttribute('href') ??
          document.activeElement?.getAttribute('name') ??
          document.activeElement?.getAttribute('data-json'),
      );
    for (let tab = 0; tab < 20 && (await focused()) !== '#publish'; tab += 1)
      await page.keyboard.press('Tab');
    expect(await focused()).toBe('#publish');
    await page.keyboard.press('Enter');
    await page.locator('select[name="topic"] option[value="orders"]').waitFor({ state: 'attached' });
    for (let tab = 0; tab < 20 && (await focused()) !== 'payload'; tab += 1) await page.keyboard.press('Tab');
    expect(await focused()).toBe('payload');
    await page.keyboard.press('Control+A');
    await page.keyboard.type('{"by": "keyboard"}');
    for (let tab = 0; tab < 20 && (await focused()) !== 'correlationId'; tab += 1)
      await page.keyboard.press('Tab');
    await page.keyboard.type('kb-1');
    await page.keyboard.press('Enter');
    await page.locator('#status', { hasText: /^Published / }).waitFor();
    const received = await receiveAll(gql, 'orders', 'audit');
    expect(received.find((message) => message.correlationId === 'kb-1')?.payload).toEqual({ by: 'keyboard' });
    expect(problems).toEqual([]);
  });
});

describe('the page', () => {
  it('gives each load its own style nonce, in the page and in the policy, and no inline script', async () => {
    const { base } = await startGateway();
    const nonces: string[] = [];
    for (let load = 0; load < 2; load += 1) {
      const answer = await fetch(`${base}/dashboard/`);
      const policy = answer.headers.get('content-security-policy') ?? '';
      const page = await answer.text();
      const nonce = /<meta name="csp-nonce" content="([^"]+)"/.exec(page)?.[1] ?? '';
      expect(nonce).toMatch(/^[A-Za-z0-9+/]{22}==$/);
      expect(policy).toContain(`style-src 'self' 'nonce-${nonce}';`);
      expect(policy).toContain("script-src 'self';");
      expect(answer.headers.get('cache-control')).toBe('no-store');
      nonces.push(nonce);
    }
    expect(nonces[0]).not.toBe(nonces[1]);
  });
});

describe('errors people can act on', () => {
  it('says what to do about a refusal: a topic to name, or a key with the scope', async () => {
    const { base, gql } = await startGateway({ SWITCHYARD_ADMIN_KEY: ADMIN_KEY });
    await consumerQueue(gql, 'orders', 'audit');
    const { createApiKey } = await gql(TestWebCreateApiKeyDocument, {
      name: 'orders-reader',
      scopes: ['deadletters:read:orders', 'subscribe:orders'],
    });
    const id = await publish(gql, 'orders', { n: 1 });
    await deadLetter(gql, 'orders', 'audit', 'rejected');
    const { page, problems } = await open(base, 'dead-letters', { key: createApiKey.secret });
    const status = page.locator('#status');
    await status
      .filter({ hasText: /^FORBIDDEN: .*deadletters:read:# .*name one topic in the filter\.$/ })
      .waitFor();
    await page.fill('input[name="topic"]', 'orders');
    await page.click('form.filter button[type="submit"]');
    const row = page.locator('tr', { hasText: id });
    await row.waitFor();
    // Reading is granted. No field tells a key's scopes, so Replay is offered until the gateway refuses
    // it; then the refusal names the scope to ask for, and the write buttons go.
    await row.locator('button[data-action="replay"]').click();
    await status
      .filter({ hasText: /^FORBIDDEN: .*deadletters:write:orders.*Use a key with that scope/ })
      .waitFor();
    await waitFor(async () => (await page.locator('button[data-action="replay"]').count()) === 0, {
      message: 'the write buttons to go',
    });
    expect(await page.locator('button[data-action="replay-all"]').count()).toBe(0);
    await row.waitFor();
    await page.click('nav a[href="#events"]');
    await status.filter({ hasText: /^FORBIDDEN: .*subscribe:#/ }).waitFor();
    await page.fill('input[name="topic"]', 'orders');
    await page.click('form.filter button[type="submit"]');
    await page.locator('td.empty', { hasText: 'Waiting for events' }).waitFor();
    await expectAccessible(page, 'events for a scoped key');
    expect(problems).toEqual([]);
  });
});
