import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/redis.js';
import { dataCaller, useLiveGateways } from '../live/helpers.js';
import { buildDashboard, launchChromium, pageProblems } from './browser.js';

const { pool, redis } = useLiveGateways();
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
  const data = await gql<{ publish: { messageId: string } }>(
    'mutation($topic: String!, $payload: JSON!) { publish(input: { topic: $topic, payload: $payload }) { messageId } }',
    { topic, payload },
  );
  return data.publish.messageId;
}

/** Receives one message of `queue` and nacks it as REJECTED with `error`: a dead letter at once. */
async function deadLetter(gql: Gql, topic: string, queue: string, error: string): Promise<void> {
  const { receive } = await gql<{ receive: { id: string }[] }>(
    'mutation($topic: String!, $queue: String!) { receive(topic: $topic, queue: $queue, max: 1) { id } }',
    { topic, queue },
  );
  const [delivery] = receive;
  if (!delivery) throw new Error('nothing to receive');
  await gql('mutation($id: ID!, $error: String) { nack(deliveryId: $id, reason: REJECTED, error: $error) }', {
    id: delivery.id,
    error,
  });
}

async function deadLetterCount(gql: Gql): Promise<number> {
  const data = await gql<{ deadLetters: { totalCount: number } }>('{ deadLetters { totalCount } }');
  return data.deadLetters.totalCount;
}

async function open(base: string, view = ''): Promise<{ page: Page; problems: string[] }> {
  const context = await browser.newContext();
  contexts.push(context);
  // A locator that never matches fails the test in seconds, not at the 30 s test timeout.
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const problems = pageProblems(page);
  await page.goto(`${base}/dashboard/${view ? `#${view}` : ''}`);
  return { page, problems };
}

/** The text of the table row that holds `text`, once there is one. */
async function rowText(page: Page, text: string): Promise<string> {
  const row = page.locator('tr', { hasText: text }).first();
  await row.waitFor();
  return (await row.textContent()) ?? '';
}

describe('the web dashboard', () => {
  it('shows live rates and queue depths from the stats stream', async () => {
    const { base, gql } = await startGateway();
    await consumerQueue(gql, 'orders', 'audit');
    const { page, problems } = await open(base);
    await page.locator('[data-figure="published"]').waitFor();
    for (let n = 0; n < 3; n += 1) await publish(gql, 'orders', { n });

    // Columns: topic, queue, target, waiting, lag, …
    await waitFor(async () => (await rowText(page, 'audit')).startsWith('ordersauditCONSUMER3'), {
      message: 'the queue row to show 3 waiting',
    });
    // The lag column: the age of the oldest waiting message, as the page formats it.
    const lag = await page.locator('tr', { hasText: 'audit' }).locator('td').nth(4).textContent();
    expect(lag).toMatch(/^\d+ ms$|^\d+(\.\d)? s$/);
    await waitFor(
      async () => (await page.locator('[data-figure="published"] strong').textContent()) !== '0',
      {
        message: 'published/s to move',
      },
    );
    expect(await page.locator('svg.sparkline polyline').count()).toBe(2);
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
    await waitFor(async () => (await gql<{ alerts: unknown[] }>('{ alerts { id } }')).alerts.length === 1, {
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
      (await gql<{ queue: { paused: boolean } }>('{ queue(topic: "orders", name: "audit") { paused } }'))
        .queue.paused;

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
    expect(await rowText(page, kept)).toContain(hostile);
    expect(await rowText(page, dropped)).toContain('no such customer');
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
    const { queue } = await gql<{ queue: { stats: { waiting: number } } }>(
      '{ queue(topic: "orders", name: "audit") { stats { waiting } } }',
    );
    expect(queue.stats.waiting).toBe(1);
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
    await rowText(page, id);

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
    expect(await rowText(page, id)).toContain('PUBLISHED');
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

    await page.fill('#key', ADMIN_KEY);
    await page.click('#key-form button[type="submit"]');
    await page.locator('section[data-topic="orders"]').waitFor();
    expect(page.url()).not.toContain(ADMIN_KEY);

    // The live views use the same key over the websocket.
    await page.click('nav a[href="#overview"]');
    await page.locator('[data-figure="published"]').waitFor();
    // The refused requests above logged "Failed to load resource" (HTTP 401); nothing else may show.
    expect(problems.filter((problem) => !problem.includes('Failed to load resource'))).toEqual([]);
  });
});
