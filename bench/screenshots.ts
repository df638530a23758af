/**
 * `npm run screenshots`: refreshes the pictures in docs/DASHBOARD.md from a live gateway. It starts a
 * redis-server of its own (in a temporary directory) and a gateway on a free loopback port, builds the
 * dashboard, fills the gateway with a few topics, queues, messages, dead letters and a key, then has
 * Debian's chromium open each view and save a PNG to docs/img/. Nothing outside loopback is reached.
 */
import { mkdir } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { loadConfig } from '../server/config.js';
import { createGateway, type Gateway } from '../server/gateway.js';
import { startTestRedis, type TestRedis, waitFor } from '../test/helpers/redis.js';
import { type DataCaller, dataCaller } from '../test/live/helpers.js';
import { buildDashboard, launchChromium } from '../test/web/browser.js';

const OUT = fileURLToPath(new URL('../docs/img/', import.meta.url));
const VIEWPORT = { width: 1280, height: 800 };
/** Seconds of traffic before the pictures, so the charts have a line to show. */
const TRAFFIC_SECONDS = 20;
const PUBLISH_FORM = 'form[aria-label="Publish a message"]';

/** Everything the pictures need running, and how to stop it all. */
interface Stage {
  base: string;
  gql: DataCaller;
  receiverUrl: string;
  browser: Browser;
  stop(): Promise<void>;
}

/** The webhook endpoints: a quote service answering requests with JSON, and a slow, flaky fulfilment. */
function receive(): (req: IncomingMessage, res: ServerResponse) => void {
  let calls = 0;
  return (req, res) => {
    if (req.url?.startsWith('/quote')) {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const { payload } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          payload: { sku: string };
        };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ sku: payload.sku, price: 42.5, currency: 'EUR', validForS: 300 }));
      });
      return;
    }
    // Fulfilment takes its time, and fails one call in ten.
    calls += 1;
    setTimeout(() => res.writeHead(calls % 10 === 0 ? 500 : 204).end(), 20 + (calls % 7) * 15);
  };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function startGateway(redis: TestRedis, dashboardDir: string): Promise<Gateway> {
  const config = {
    ...loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      SWITCHYARD_LOG_LEVEL: 'warn',
      SWITCHYARD_ALLOW_PRIVATE_WEBHOOKS: 'true',
      SWITCHYARD_PREFIX: 'screenshots',
    }),
    redisUrl: redis.url,
  };
  return createGateway(config, { dashboardDir });
}

async function setStage(): Promise<Stage> {
  const redis = await startTestRedis();
  const dashboard = await buildDashboard();
  const receiver = createServer(receive());
  const receiverUrl = await listen(receiver);
  const gateway = await startGateway(redis, dashboard.dir);
  const browser = await launchChromium();
  const stop = async () => {
    await browser.close();
    await gateway.stop();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
    await redis.stop();
    await dashboard.remove();
  };
  try {
    const { url } = await gateway.start();
    return { base: url.replace(/\/graphql$/, ''), gql: dataCaller(url, null), receiverUrl, browser, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Topics (orders keeps its history), queues of both targets, and a key for the audit log. */
async function seedTopology(gql: DataCaller, receiverUrl: string): Promise<void> {
  await gql(
    `mutation($schema: JSON) { createTopic(input: { name: "orders", kind: TOPIC, description: "Orders from the shop",
      payloadSchema: $schema, history: { maxMessages: 10000 } }) { name } }`,
    {
      schema: {
        type: 'object',
        required: ['orderId', 'total'],
        properties: { orderId: { type: 'string' }, total: { type: 'number', minimum: 0 } },
      },
    },
  );
  await gql('mutation { createTopic(input: { name: "payments", kind: FANOUT }) { name } }');
  await gql('mutation { createTopic(input: { name: "quotes", kind: DIRECT }) { name } }');
  await gql(
    'mutation($url: String!) { createQueue(input: { topic: "orders", name: "fulfilment", target: WEBHOOK, url: $url, bindingKey: "orders.*.created", concurrency: 4 }) { name } }',
    { url: `${receiverUrl}/fulfil` },
  );
  await gql(
    'mutation { createQueue(input: { topic: "orders", name: "audit", target: CONSUMER, bindingKey: "#", retry: { maxAttempts: 1 } }) { name } }',
  );
  await gql(
    'mutation { createQueue(input: { topic: "payments", name: "ledger", target: CONSUMER }) { name } }',
  );
  await gql(
    'mutation($url: String!) { createQueue(input: { topic: "quotes", name: "pricing", target: WEBHOOK, url: $url, bindingKey: "price" }) { name } }',
    { url: `${receiverUrl}/quote` },
  );
  await gql(
    'mutation { createApiKey(name: "shop-backend", scopes: ["publish:orders", "stats"]) { secret } }',
  );
}

const REGIONS = ['eu', 'us', 'apac'];

/** One round of traffic: five orders across the regions, and a payment. */
async function publishSome(gql: DataCaller, round: number): Promise<void> {
  const inputs = Array.from({ length: 5 }, (_, n) => ({
    topic: 'orders',
    routingKey: `orders.${REGIONS[(round + n) % REGIONS.length]}.created`,
    payload: { orderId: `o-${round}-${n}`, total: 10 + n * 3.5 },
    headers: { 'x-tenant': 'acme' },
  }));
  await gql('mutation($inputs: [PublishInput!]!) { publishBatch(inputs: $inputs) { messageId } }', {
    inputs,
  });
  await gql('mutation { publish(input: { topic: "payments", payload: { amount: 12 } }) { messageId } }');
}

/** Two dead letters in the audit queue, as a consumer would leave them. */
async function leaveDeadLetters(gql: DataCaller): Promise<void> {
  await publishSome(gql, 0);
  const { receive } = await gql<{ receive: { id: string }[] }>(
    'mutation { receive(topic: "orders", queue: "audit", max: 2) { id } }',
  );
  for (const [index, delivery] of receive.entries()) {
    await gql(
      'mutation($id: ID!, $error: String) { nack(deliveryId: $id, reason: REJECTED, error: $error) }',
      {
        id: delivery.id,
        error: index === 0 ? 'customer c-42 does not exist' : 'total does not match the basket',
      },
    );
  }
}

async function shoot(page: Page, name: string): Promise<void> {
  const path = `${OUT}${name}.png`;
  await page.screenshot({ path });
  console.log(`wrote docs/img/${name}.png`);
}

/** The charts keep their samples in the page: opened first, while traffic flows. */
async function shootCharts(page: Page, stage: Stage): Promise<void> {
  await page.goto(`${stage.base}/dashboard/#charts`);
  for (let second = 1; second <= TRAFFIC_SECONDS; second += 1) {
    await publishSome(stage.gql, second);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  await page.locator('select[name="scope"]').selectOption('topic:orders');
  await shoot(page, 'charts');
}

/** The views that need nothing done on them, each once what it shows has loaded. */
async function shootPlainViews(page: Page): Promise<void> {
  const views: ReadonlyArray<readonly [view: string, ready: string]> = [
    ['overview', '[data-figure="published"]'],
    ['topology', 'section[data-topic="orders"]'],
    ['dead-letters', 'button[data-action="edit"]'],
    ['keys', 'section[aria-label="Audit log"] table'],
  ];
  for (const [view, ready] of views) {
    await page.click(`nav a[href="#${view}"]`);
    await page.locator(ready).first().waitFor();
    await shoot(page, view);
  }
}

/** A publish refused by the topic's JSON Schema, its error under the payload. */
async function shootPublish(page: Page): Promise<void> {
  await page.click('nav a[href="#publish"]');
  await page.locator('select[name="topic"] option[value="orders"]').waitFor({ state: 'attached' });
  await page.fill('input[name="routingKey"]', 'orders.eu.created');
  await page.fill('[data-json="payload"]', '{\n  "orderId": "o-1001",\n  "total": -5\n}');
  await page.click(`${PUBLISH_FORM} button[type="submit"]`);
  await page.locator('[data-error-for="payload"]', { hasText: 'must be >= 0' }).waitFor();
  await shoot(page, 'publish');
}

/** Request mode: a request to the quote webhook, and its JSON answer shown as the reply. */
async function shootRequest(page: Page): Promise<void> {
  await page.click('nav a[href="#publish"]');
  await page.locator('select[name="topic"] option[value="quotes"]').waitFor({ state: 'attached' });
  await page.locator('select[name="topic"]').selectOption('quotes');
  await page.check('input[name="mode"][value="request"]');
  await page.fill('input[name="routingKey"]', 'price');
  await page.fill('[data-json="payload"]', '{\n  "sku": "A-1",\n  "quantity": 3\n}');
  await page.click(`${PUBLISH_FORM} button[type="submit"]`);
  const reply = page.locator('section.reply[data-reply-from="pricing"]');
  await reply.waitFor();
  // The form is taller than the window: the picture ends with the mode chosen and the reply under it.
  await reply.evaluate((section) => section.scrollIntoView({ block: 'end' }));
  await shoot(page, 'request');
}

async function shootFixAndReplay(page: Page): Promise<void> {
  await page.click('nav a[href="#dead-letters"]');
  await page.locator('button[data-action="edit"]').first().click();
  await page.locator('section.editor [data-json="payload"]').waitFor();
  await shoot(page, 'fix-and-replay');
}

async function shootTail(page: Page, gql: DataCaller): Promise<void> {
  await page.click('nav a[href="#tail"]');
  await page.locator('select[name="topic"] option[value="orders"]').waitFor({ state: 'attached' });
  await page.fill('input[name="bindingKey"]', 'orders.eu.*');
  await page.click('form[aria-label="Follow a topic"] button[type="submit"]');
  await waitFor(
    async () => {
      await publishSome(gql, 100);
      return (await page.locator('code[data-message-id]').count()) >= 3;
    },
    { timeoutMs: 10_000, message: 'messages in the live tail' },
  );
  await shoot(page, 'tail');
}

/** The orders topic's retained history, oldest first, each message with its replay-from button. */
async function shootHistory(page: Page): Promise<void> {
  await page.click('nav a[href="#history"]');
  await page.locator('select[name="topic"] option[value="orders"]').waitFor({ state: 'attached' });
  await page.locator('select[name="topic"]').selectOption('orders');
  await page.locator('#view table button[data-action="replay-from"]').first().waitFor();
  await shoot(page, 'history');
}

async function shootBullBoard(page: Page, base: string): Promise<void> {
  await page.goto(`${base}/queues/queue/${encodeURIComponent('orders:audit')}?status=failed`);
  await page.getByText('customer c-42 does not exist').first().waitFor();
  await shoot(page, 'bull-board');
}

async function main(): Promise<void> {
  await mkdir(OUT, { recursive: true });
  const stage = await setStage();
  try {
    await seedTopology(stage.gql, stage.receiverUrl);
    await leaveDeadLetters(stage.gql);
    const context = await stage.browser.newContext({ viewport: VIEWPORT, colorScheme: 'light' });
    const page = await context.newPage();
    await shootCharts(page, stage);
    await shootPlainViews(page);
    await shootPublish(page);
    await shootRequest(page);
    await shootFixAndReplay(page);
    await shootTail(page, stage.gql);
    await shootHistory(page);
    await shootBullBoard(page, stage.base);
    await context.close();
  } finally {
    await stage.stop();
  }
}

await main();
