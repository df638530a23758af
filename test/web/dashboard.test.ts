import type { Browser, BrowserContext, Locator, Page, WebSocketRoute } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  TestWebAlertIdsDocument,
  TestWebDeadLetterCountDocument,
  TestWebPublishDocument,
  TestWebQueueDepthDocument,
  TestWebQueuePausedDocument,
  TestWebReceiveOneDocument,
} from '../generated/graphql.js';
import { startReceiver } from '../helpers/receiver.js';
import { waitFor } from '../helpers/redis.js';
import { dataCaller, useLiveGateways } from '../live/helpers.js';
import { buildDashboard, launchChromium, pageProblems } from './browser.js';

const { pool, redis, receivers } = useLiveGateways();
let browser: Browser;
let dashboard: Awaited<ReturnType<typeof buildDashboard>>;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  [browser, dashboard] = await Promise.all([launchChromium(), buildDashboard()]);
}, 60_000);
afterEach(async () => {
  await Promise.all(contexts.splice(0).map((context) => context.close()));
});
afterAll(async () => {
  await browser?.close();
  await dashboard?.remove();
});

const ADMIN_KEY = 'sy_dashboard-test-admin-key-0123456789abcdefghijklmn';

async function startGateway(env: Record<string, string> = {}) {
  const { url } = await pool.start(redis.url, env, { dashboardDir: dashboard.dir });
  const key = env.SWITCHYARD_ADMIN_KEY;
  const gql = dataCaller(url, key);
  return { base: url.replace(/\/graphql$/, ''), gql };
}

type Gql = Awaited<ReturnType<typeof startGateway>>['gql'];

async function consumerQueue(gql: Gql, topic: string, queue: string) {
  await gql(`mutation { createTopic(input: { name: "${topic}", kind: FANOUT }) { name } }`);
  await gql(
    `mutation { createQueue(input: { topic: "${topic}", name: "${queue}", target: CONSUMER, retry: { maxAttempts: 1 } }) { name } }`,
  );
}

async function publish(gql: Gql, topic: string, payload: unknown): Promise<string> {
  const data = await gql(TestWebPublishDocument, { input: { topic, payload } });
  return data.publish.messageId;
}

/** Receives one message of `queue` and nacks it as REJECTED with `error`: a dead letter at once. */
async function deadLetter(gql: Gql, topic: string, queue: string, error: string): Promise<void> {
  const { receive } = await gql(TestWebReceiveOneDocument, { topic, queue });
  const [delivery] = receive;
  if (!delivery) throw new Error('nothing to receive');
  await gql('mutation($id: ID!, $error: String) { nack(deliveryId: $id, reason: REJECTED, error: $error) }', {
    id: delivery.id,
    error,
  });
}

async function deadLetterCount(gql: Gql): Promise<number> {
  const data = await gql(TestWebDeadLetterCountDocument);
  return data.deadLetters.totalCount;
}

/** Opens the dashboard at `view`; `before` runs on the page before it loads (to route its websocket). */
async function open(
  base: string,
  view = '',
  before: (page: Page) => Promise<void> = async () => {},
): Promise<{ page: Page; problems: string[] }> {
  const context = await browser.newContext();
  contexts.push(context);
  // A locator that never matches fails the test in seconds, not at the 30 s test timeout.
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const problems = pageProblems(page);
  await before(page);
  await page.goto(`${base}/dashboard/${view ? `#${view}` : ''}`);
  return { page, problems };
}

/**
 * A table's header texts and each body row's cell texts, as the page shows them; rows of nested
 * tables and the "nothing here" row are left out.
 */
async function readTable(table: Locator): Promise<{ headers: string[]; rows: string[][] }> {
  return table.evaluate((element) => ({
    headers: [...element.querySelectorAll(':scope > thead > tr > th')].map((th) => th.textContent ?? ''),
    rows: [...element.querySelectorAll(':scope > tbody > tr')]
      .filter((tr) => !tr.querySelector(':scope > td.empty'))
      .map((tr) => [...tr.querySelectorAll(':scope > td')].map((td) => td.textContent ?? '')),
  }));
}

/**
 * The row of `table` that has a cell reading exactly `key`, as header → cell, once there is one.
 * Every row must have one cell per header: a row with a cell too many (a lag cell without its header)
 * put each later value under its neighbour's header, and fails here.
 */
async function rowUnderHeaders(table: Locator, key: string): Promise<Record<string, string>> {
  let read: { headers: string[]; rows: string[][] } = { headers: [], rows: [] };
  await waitFor(
    async () => {
      read = await readTable(table);
      return read.rows.some((cells) => cells.includes(key));
    },
    { message: `a row with a cell "${key}"`, timeoutMs: 10_000 },
  );
  const { headers, rows } = read;
  for (const cells of rows)
    expect(cells, `cells under ${JSON.stringify(headers)}`).toHaveLength(headers.length);
  const row = rows.find((cells) => cells.includes(key)) ?? [];
  return Object.fromEntries(headers.map((header, index) => [header, row[index] ?? '']));
}

/** The lag as the page formats durations: 850 ms, 12.5 s, 4.2 min. */
const DURATION = /^\d+ ms$|^\d+(\.\d)? (s|min)$/;

describe('the web dashboard', () => {
  it('shows live rates and queue depths from the stats stream', async () => {
    const { base, gql } = await startGateway();
    await consumerQueue(gql, 'orders', 'audit');
    const { page, problems } = await open(base);
    await page.locator('[data-figure="published"]').waitFor();
    for (let n = 0; n < 3; n += 1) await publish(gql, 'orders', { n });

    // One received and not yet acked: active, so that every count differs from its neighbours.
    await gql('mutation { receive(topic: "orders", queue: "audit", max: 1) { id } }');

    const queues = page.locator('#view table');
    await waitFor(async () => (await rowUnderHeaders(queues, 'audit')).active === '1', {
      message: 'the stream to show the received message as active',
    });
    const row = await rowUnderHeaders(queues, 'audit');
    expect(row).toEqual({
      topic: 'orders',
      queue: 'audit',
      target: 'CONSUMER',
      waiting: '2',
      lag: expect.stringMatching(DURATION),
      active: '1',
      delayed: '0',
      failed: '0',
      'dead letters': '0',
      state: 'running',
    });
    await waitFor(
      async () => (await page.locator('[data-figure="published"] strong').textContent()) !== '0',
      {
        message: 'published/s to move',
      },
    );
    expect(await page.locator('svg.sparkline polyline').count()).toBe(2);
    expect(problems).toEqual([]);
  });

  it('shows the figures of now before the stream pushes, then follows the stream', async () => {
    const { base, gql } = await startGateway();
    await consumerQueue(gql, 'orders', 'audit');
    await publish(gql, 'orders', { n: 1 });
    await publish(gql, 'orders', { n: 2 });

    // The websocket reaches the gateway, but what the gateway sends is held back from the page: what
    // shows meanwhile came over HTTP. (A proxy that stalls websockets does this to a real dashboard.)
    const held: Array<string | Buffer> = [];
    let release: () => void = () => {};
    const { page, problems } = await open(base, 'overview', (page) =>
      page.routeWebSocket(
        (url) => url.pathname === '/graphql',
        (ws: WebSocketRoute) => {
          let holding = true;
          const server = ws.connectToServer();
          server.onMessage((message) => (holding ? held.push(message) : ws.send(message)));
          release = () => {
            holding = false;
            for (const message of held.splice(0)) ws.send(message);
          };
        },
      ),
    );
    const queues = page.locator('#view table');
    expect(await rowUnderHeaders(queues, 'audit')).toMatchObject({
      waiting: '2',
      lag: expect.stringMatching(DURATION),
    });
    // The gateway did answer the websocket; the page, still waiting for that answer to subscribe,
    // showed the figures without the stream.
    await waitFor(() => held.some((message) => String(message).includes('"type":"connection_ack"')), {
      message: "the gateway's connection_ack (held back)",
    });

    await publish(gql, 'orders', { n: 3 });
    release();
    await waitFor(async () => (await rowUnderHeaders(queues, 'audit')).waiting === '3', {
      message: 'the stream to take over once let through',
    });
    expect(problems).toEqual([]);
  });

  it("shows each queue's figures under their own headers in topics & queues", async () => {
    const receiver = await startReceiver();
    receivers.push(receiver);
    const { base, gql } = await startGateway();
    await consumerQueue(gql, 'orders', 'audit');
    await gql(
      'mutation($url: String!) { createQueue(input: { topic: "orders", name: "hook", target: WEBHOOK, url: $url }) { name } }',
      {
        url: `${receiver.url}/hook`,
      },
    );
    for (let n = 0; n < 3; n += 1) await publish(gql, 'orders', { n });
    await deadLetter(gql, 'orders', 'audit', 'rejected');
    await waitFor(
      async () => {
        const { queue } = await gql(TestWebQueueDepthDocument, { topic: 'orders', name: 'hook' });
        return (
          receiver.requests.length === 3 && queue !== null && queue.stats.waiting + queue.stats.active === 0
        );
      },
      { message: 'the webhook queue to deliver all three' },
    );

    const { page, problems } = await open(base, 'topology');
    const queues = page.locator('section[data-topic="orders"] table');
    expect(await rowUnderHeaders(queues, 'audit')).toEqual({
      queue: 'audit',
      binding: '—',
      target: 'consumer',
      mode: 'at-least-once',
      concurrency: '—',
      waiting: '2',
      lag: expect.stringMatching(DURATION),
      active: '0',
      delayed: '0',
      'dead letters': '1',
      circuit: '—',
      '': 'PauseEdit…Delete',
    });
    expect(await rowUnderHeaders(queues, 'hook')).toEqual({
      queue: 'hook',
      binding: '—',
      target: `webhook ${receiver.url}/hook`,
      mode: 'at-least-once',
      // The worker of the instance that answered, at the queue's fixed concurrency (default 10).
      concurrency: '10',
      waiting: '0',
      lag: '—',
      active: '0',
      delayed: '0',
      'dead letters': '0',
      circuit: 'closed',
      '': 'PauseEdit…Rotate secretDelete',
    });
    expect(problems).toEqual([]);
  });

  it('lists the alerts that fire above every view', async () => {
    const { base, gql } = await startGateway({
      SWITCHYARD_ALERT_DEPTH: '2',
      SWITCHYARD_ALERT_INTERVAL_MS: '100',
    });
    await consumerQueue(gql, 'orders', 'audit');
    await publish(gql, 'orders', { n: 1 });
    await publish(gql, 'orders', { n: 2 });
    await waitFor(async () => (await gql(TestWebAlertIdsDocument)).alerts.length === 1, {
      message: 'the depth alert to fire',
    });
    const { page, problems } = await open(base, 'topology');
    const alert = page.locator('#alerts li[data-alert="QUEUE_DEPTH:orders/audit"]');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('QUEUE_DEPTH orders/audit: 2 messages waiting (alert at 2)');
    expect(problems).toEqual([]);
  });

  it('pauses and resumes a queue', async () => {
    const { base, gql } = await startGateway();
    await consumerQueue(gql, 'orders', 'audit');
    const { page, problems } = await open(base, 'topology');
    const paused = async () =>
      (await gql(TestWebQueuePausedDocument, { topic: 'orders', name: 'audit' })).queue?.paused;

    await page.locator('section[data-topic="orders"] button[data-action="pause"]').click();
    await waitFor(paused, { message: 'the queue to be paused' });
    await page.locator('section[data-topic="orders"] button[data-action="resume"]').click();
    await waitFor(async () => !(await paused()), { message: 'the queue to run again' });
    // The page reports it once its own request has answered, which may be after Redis shows it.
    await page.locator('#status', { hasText: /^orders\/audit resumed$/ }).waitFor();
    expect(problems).toEqual([]);
  });

  it('lists dead letters as text, filters them, replays one and discards another', async () => {
    const { base, gql } = await startGateway();
    await consumerQueue(gql, 'orders', 'audit');
    const kept = await publish(gql, 'orders', { n: 1 });
    const dropped = await publish(gql, 'orders', { n: 2 });
    // An error a receiver wrote: the page must show it, not run it.
    const hostile = 'bad <img src=x onerror="window.__pwned=1"> input';
    await deadLetter(gql, 'orders', 'audit', hostile);
    await deadLetter(gql, 'orders', 'audit', 'no such customer');

    const { page, problems } = await open(base, 'dead-letters');
    const letters = page.locator('#view table').first();
    expect(await rowUnderHeaders(letters, kept)).toMatchObject({
      'topic / queue': 'orders / audit',
      reason: 'REJECTED',
      error: hostile,
      message: kept,
    });
    expect(await rowUnderHeaders(letters, dropped)).toMatchObject({
      error: 'no such customer',
      message: dropped,
    });
    expect(await page.locator('main img').count()).toBe(0);
    expect(await page.evaluate(() => (window as { __pwned?: number }).__pwned)).toBeUndefined();

    await page.fill('input[name="search"]', 'no such');
    await page.click('form.filter button[type="submit"]');
    await waitFor(async () => (await page.locator(`code[data-message-id="${kept}"]`).count()) === 0, {
      message: 'the filter to hide the other dead letter',
    });
    expect(await page.locator('main p.muted').first().textContent()).toContain('1 dead letter match');
    await page.fill('input[name="search"]', '');
    await page.click('form.filter button[type="submit"]');

    await page.locator('tr', { hasText: kept }).locator('button[data-action="replay"]').click();
    await waitFor(async () => (await deadLetterCount(gql)) === 1, {
      message: 'the replayed dead letter to leave',
    });
    const { queue } = await gql(TestWebQueueDepthDocument, { topic: 'orders', name: 'audit' });
    expect(queue?.stats.waiting).toBe(1);
    await waitFor(async () => (await page.locator(`code[data-message-id="${kept}"]`).count()) === 0, {
      message: 'the list to drop the replayed dead letter',
    });

    page.once('dialog', (dialog) => void dialog.accept());
    await page.locator('tr', { hasText: dropped }).locator('button[data-action="discard"]').click();
    await waitFor(async () => (await deadLetterCount(gql)) === 0, {
      message: 'the discarded dead letter to go',
    });
    await page.locator('td.empty', { hasText: 'No dead letters match.' }).waitFor();
    expect(problems).toEqual([]);
  });

  it('keeps a dead letter when the discard is not confirmed', async () => {
    const { base, gql } = await startGateway();
    await consumerQueue(gql, 'orders', 'audit');
    const id = await publish(gql, 'orders', { n: 1 });
    await deadLetter(gql, 'orders', 'audit', 'rejected');
    const { page, problems } = await open(base, 'dead-letters');
    await rowUnderHeaders(page.locator('#view table').first(), id);

    const asked: string[] = [];
    page.once('dialog', (dialog) => {
      asked.push(dialog.message());
      void dialog.dismiss();
    });
    await page.locator('tr', { hasText: id }).locator('button[data-action="discard"]').click();
    expect(asked).toEqual([`Discard dead letter ${id} for good?`]);
    // The button is enabled again once the action has run (and decided to do nothing).
    await page.locator('tr', { hasText: id }).locator('button[data-action="discard"]:enabled').waitFor();
    expect(await deadLetterCount(gql)).toBe(1);
    expect(problems).toEqual([]);
  });

  it('follows delivery events as they happen', async () => {
    const { base, gql } = await startGateway();
    await consumerQueue(gql, 'orders', 'audit');
    const { page, problems } = await open(base, 'events');
    await page.locator('td.empty', { hasText: 'Waiting for events' }).waitFor();
    // The subscription starts when the view does; publish until its first event arrives.
    let id = '';
    await waitFor(
      async () => {
        id = await publish(gql, 'orders', { n: 1 });
        return (await page.locator('tr', { hasText: id }).count()) > 0;
      },
      { message: 'a PUBLISHED event to show' },
    );
    expect(await rowUnderHeaders(page.locator('#view table'), id)).toMatchObject({
      event: 'PUBLISHED',
      topic: 'orders',
      message: id,
    });
    expect(problems).toEqual([]);
  });

  it('asks for a key when the gateway has an admin key, and keeps it out of the URL', async () => {
    const { base, gql } = await startGateway({ SWITCHYARD_ADMIN_KEY: ADMIN_KEY });
    await consumerQueue(gql, 'orders', 'audit');
    const { page, problems } = await open(base, 'topology');
    const status = page.locator('#status');
    await waitFor(async () => (await status.textContent())?.startsWith('UNAUTHENTICATED') ?? false, {
      message: 'a keyless dashboard to be refused',
    });

    await page.fill('#key', 'sy_not-a-real-key');
    await page.click('#key-form button[type="submit"]');
    await waitFor(async () => (await status.textContent())?.startsWith('UNAUTHENTICATED') ?? false, {
      message: 'a wrong key to be refused',
    });
    expect(await page.locator('section[data-topic]').count()).toBe(0);

    // The socket opens as the key is taken (the alerts follow it), so it is watched from before.
    const pushes: string[] = [];
    page.on('websocket', (socket) =>
      socket.on('framereceived', ({ payload }) => {
        if (typeof payload === 'string' && /"type":"(next|error)"/.test(payload)) pushes.push(payload);
      }),
    );
    await page.fill('#key', ADMIN_KEY);
    await page.click('#key-form button[type="submit"]');
    await page.locator('section[data-topic="orders"]').waitFor();
    expect(page.url()).not.toContain(ADMIN_KEY);

    // The live views use the same key over the websocket: the overview's figures come over HTTP
    // first, so wait for the stream's own push.
    await page.click('nav a[href="#overview"]');
    await page.locator('[data-figure="published"]').waitFor();
    await waitFor(() => pushes.length > 0, { message: 'a stats push over the websocket' });
    expect(pushes[0]).toContain('"type":"next"');
    // The refused requests above logged "Failed to load resource" (HTTP 401); nothing else may show.
    expect(problems.filter((problem) => !problem.includes('Failed to load resource'))).toEqual([]);
  });
});
