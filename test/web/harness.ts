/**
 * What the dashboard's browser tests share: one chromium and one build of web/ per file, gateways on
 * the file's redis-server, pages opened on a view (with a key already in the tab when given), and the
 * GraphQL calls that set the scene.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import type { GatewayDeps } from '../../server/gateway.js';
import {
  type PublishInput,
  TestWebPublishDocument,
  TestWebReceiveAllDocument,
  type TestWebReceiveAllMutation,
  TestWebReceiveOneDocument,
} from '../generated/graphql.js';
import { dataCaller, useLiveGateways } from '../live/helpers.js';
import { accessibilityViolations, buildDashboard, launchChromium, pageProblems } from './browser.js';

export type Gql = ReturnType<typeof dataCaller>;

export function useDashboardHarness() {
  const live = useLiveGateways();
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

  async function startGateway(env: Record<string, string> = {}, deps: GatewayDeps = {}) {
    const { url, gateway } = await live.pool.start(live.redis.url, env, {
      dashboardDir: dashboard.dir,
      ...deps,
    });
    return {
      base: url.replace(/\/graphql$/, ''),
      url,
      gateway,
      gql: dataCaller(url, env.SWITCHYARD_ADMIN_KEY),
    };
  }

  /** Opens the dashboard at `view`, with `key` in the tab's storage as if typed in. */
  async function open(
    base: string,
    view: string,
    options: { key?: string; before?: (page: Page) => Promise<void> } = {},
  ): Promise<{ page: Page; problems: string[] }> {
    const context = await browser.newContext();
    contexts.push(context);
    context.setDefaultTimeout(10_000);
    if (options.key) {
      await context.addInitScript(
        (key: string) => sessionStorage.setItem('switchyard.apiKey', key),
        options.key,
      );
    }
    const page = await context.newPage();
    const problems = pageProblems(page);
    await options.before?.(page);
    await page.goto(`${base}/dashboard/#${view}`);
    return { page, problems };
  }

  return { ...live, startGateway, open, newContext: () => browser.newContext() };
}

export async function consumerQueue(gql: Gql, topic: string, queue: string, kind = 'FANOUT') {
  await gql(`mutation { createTopic(input: { name: "${topic}", kind: ${kind} }) { name } }`).catch(
    (error: unknown) => {
      if (!String(error).includes('CONFLICT')) throw error;
    },
  );
  await gql(
    `mutation { createQueue(input: { topic: "${topic}", name: "${queue}", target: CONSUMER, retry: { maxAttempts: 1 } }) { name } }`,
  );
}

export async function publish(
  gql: Gql,
  topic: string,
  payload: unknown,
  extra: Omit<PublishInput, 'topic' | 'payload'> = {},
): Promise<string> {
  const data = await gql(TestWebPublishDocument, { input: { topic, payload, ...extra } });
  return data.publish.messageId;
}

/** Receives one message of `queue` and nacks it as REJECTED with `error`: a dead letter at once. */
export async function deadLetter(gql: Gql, topic: string, queue: string, error: string): Promise<void> {
  const { receive } = await gql(TestWebReceiveOneDocument, { topic, queue });
  const [delivery] = receive;
  if (!delivery) throw new Error('nothing to receive');
  await gql('mutation($id: ID!, $error: String) { nack(deliveryId: $id, reason: REJECTED, error: $error) }', {
    id: delivery.id,
    error,
  });
}

export type Received = TestWebReceiveAllMutation['receive'][number]['message'];

/** Takes what `queue` holds now (up to 10), acking each. */
export async function receiveAll(gql: Gql, topic: string, queue: string): Promise<Received[]> {
  const { receive } = await gql(TestWebReceiveAllDocument, { topic, queue });
  for (const delivery of receive)
    await gql('mutation($id: ID!) { ack(deliveryId: $id) }', { id: delivery.id });
  return receive.map((delivery) => delivery.message);
}

/** Fails the test with axe-core's serious and critical findings on the page as it is now. */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  expect(await accessibilityViolations(page), `accessibility of ${what}`).toEqual([]);
}
