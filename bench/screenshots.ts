/**
 * `npm run screenshots`: refreshes the pictures in docs/DASHBOARD.md from a live gateway. It starts a
 * redis-server of its own (in a temporary directory) and a gateway on a free loopback port, builds the
 * dashboard, fills the gateway with a few topics, queues, messages, dead letters and a key, then has
 * Debian's chromium open each view and save a PNG to docs/img/. Nothing outside loopback is reached.
 */
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../server/config.js';
import { createGateway } from '../server/gateway.js';
import { startTestRedis, waitFor } from '../test/helpers/redis.js';
import { dataCaller } from '../test/live/helpers.js';
import { buildDashboard, launchChromium } from '../test/web/browser.js';

const OUT = fileURLToPath(new URL('../docs/img/', import.meta.url));
const VIEWPORT = { width: 1280, height: 800 };
/** Seconds of traffic before the pictures, so the charts have a line to show. */
const TRAFFIC_SECONDS = 20;

async function main(): Promise<void> {
  await mkdir(OUT, { recursive: true });
  const redis = await startTestRedis();
  const dashboard = await buildDashboard();
  // A webhook endpoint that takes its time, and fails one call in ten.
  let calls = 0;
  const receiver = createServer((_req, res) => {
    calls += 1;
    setTimeout(() => res.writeHead(calls % 10 === 0 ? 500 : 204).end(), 20 + (calls % 7) * 15);
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
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
  const gateway = await createGateway(config, { dashboardDir: dashboard.dir });
  const browser = await launchChromium();
  try {
    const { url } = await gateway.start();
    const base = url.replace(/\/graphql$/, '');
    const gql = dataCaller(url, null);
    await gql(
      `mutation($schema: JSON) { createTopic(input: { name: "orders", kind: TOPIC, description: "Orders from the shop",
        payloadSchema: $schema }) { name } }`,
      {
        schema: {
          type: 'object',
          required: ['orderId', 'total'],
          properties: { orderId: { type: 'string' }, total: { type: 'number', minimum: 0 } },
        },
      },
    );
    await gql('mutation { createTopic(input: { name: "payments", kind: FANOUT }) { name } }');
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
      'mutation { createApiKey(name: "shop-backend", scopes: ["publish:orders", "stats"]) { secret } }',
    );

    const regions = ['eu', 'us', 'apac'];
    const publishSome = async (round: number) => {
      const inputs = Array.from({ length: 5 }, (_, n) => ({
        topic: 'orders',
        routingKey: `orders.${regions[(round + n) % regions.length]}.created`,
        payload: { orderId: `o-${round}-${n}`, total: 10 + n * 3.5 },
        headers: { 'x-tenant': 'acme' },
      }));
      await gql('mutation($inputs: [PublishInput!]!) { publishBatch(inputs: $inputs) { messageId } }', {
        inputs,
      });
      await gql('mutation { publish(input: { topic: "payments", payload: { amount: 12 } }) { messageId } }');
    };
    // Two dead letters in the audit queue, as a consumer would leave them.
    await publishSome(0);
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

    const context = await browser.newContext({ viewport: VIEWPORT, colorScheme: 'light' });
    const page = await context.newPage();
    // The charts keep their samples in the page: open them first, and let traffic flow meanwhile.
    await page.goto(`${base}/dashboard/#charts`);
    for (let second = 1; second <= TRAFFIC_SECONDS; second += 1) {
      await publishSome(second);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    await page.locator('select[name="scope"]').selectOption('topic:orders');
    await shoot(page, 'charts');

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

    await page.click('nav a[href="#publish"]');
    await page.locator('select[name="topic"] option[value="orders"]').waitFor({ state: 'attached' });
    await page.fill('input[name="routingKey"]', 'orders.eu.created');
    await page.fill('[data-json="payload"]', '{\n  "orderId": "o-1001",\n  "total": -5\n}');
    await page.click('form[aria-label="Publish a message"] button[type="submit"]');
    await page.locator('[data-error-for="payload"]', { hasText: 'must be >= 0' }).waitFor();
    await shoot(page, 'publish');

    await page.click('nav a[href="#dead-letters"]');
    await page.locator('button[data-action="edit"]').first().click();
    await page.locator('section.editor [data-json="payload"]').waitFor();
    await shoot(page, 'fix-and-replay');

    await page.click('nav a[href="#tail"]');
    await page.locator('select[name="topic"] option[value="orders"]').waitFor({ state: 'attached' });
    await page.fill('input[name="bindingKey"]', 'orders.eu.*');
    await page.click('form[aria-label="Follow a topic"] button[type="submit"]');
    await waitFor(
      async () => {
        await publishSome(100);
        return (await page.locator('code[data-message-id]').count()) >= 3;
      },
      { timeoutMs: 10_000, message: 'messages in the live tail' },
    );
    await shoot(page, 'tail');

    await page.goto(`${base}/queues/queue/${encodeURIComponent('orders:audit')}?status=failed`);
    await page.getByText('customer c-42 does not exist').first().waitFor();
    await shoot(page, 'bull-board');
    await context.close();
  } finally {
    await browser.close();
    await gateway.stop();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
    await redis.stop();
    await dashboard.remove();
  }
}

async function shoot(page: import('playwright-core').Page, name: string): Promise<void> {
  const path = `${OUT}${name}.png`;
  await page.screenshot({ path });
  console.log(`wrote docs/img/${name}.png`);
}

await main();
