/**
 * The console's request mode (issue 21) and its live alerts (issue 23), driven in chromium against a
 * live gateway: a request answered by a real consumer and by a real webhook, a request that times
 * out, and an alert that fires and resolves on screen with no reload and no polling.
 */
import { describe, expect, it } from 'vitest';
import { TestWebReceiveWaitingDocument, TestWebReplyDocument } from '../generated/graphql.js';
import { startReceiver } from '../helpers/receiver.js';
import { waitFor } from '../helpers/redis.js';
import { consumerQueue, expectAccessible, publish, receiveAll, useDashboardHarness } from './harness.js';

const { startGateway, open, receivers } = useDashboardHarness();
const SUBMIT = 'form[aria-label="Publish a message"] button[type="submit"]';

describe('request mode', () => {
  it("shows a consumer's reply, and the TIMEOUT of a request nobody answers", async () => {
    const { base, gql } = await startGateway();
    await consumerQueue(gql, 'quotes', 'pricing');
    const { page, problems } = await open(base, 'publish');
    await page.locator('select[name="topic"] option[value="quotes"]').waitFor({ state: 'attached' });
    expect(await page.locator('input[name="timeoutMs"]').isVisible()).toBe(false);
    await page.check('input[name="mode"][value="request"]');
    expect(await page.locator(SUBMIT).textContent()).toBe('Send request');
    await page.fill('input[name="timeoutMs"]', '10000');
    await page.fill('[data-json="payload"]', '{"sku": "A-1"}');
    await page.click(SUBMIT);

    // The consumer: receives the request the page sent, and answers it.
    const { receive } = await gql(TestWebReceiveWaitingDocument, { topic: 'quotes', queue: 'pricing' });
    const [delivery] = receive;
    if (!delivery) throw new Error('the request never reached the queue');
    expect(delivery.message.payload).toEqual({ sku: 'A-1' });
    await gql(TestWebReplyDocument, {
      deliveryId: delivery.id,
      payload: { price: 42, sku: 'A-1' },
      headers: { 'x-priced-by': 'test' },
    });
    const reply = page.locator('section.reply[data-reply-from="pricing"]');
    await reply.waitFor();
    expect(JSON.parse((await reply.locator('[data-reply="payload"]').textContent()) ?? '')).toEqual({
      price: 42,
      sku: 'A-1',
    });
    expect(JSON.parse((await reply.locator('[data-reply="headers"]').textContent()) ?? '')).toEqual({
      'x-priced-by': 'test',
    });
    expect(await reply.locator('code[data-message-id]').getAttribute('data-message-id')).toBe(
      delivery.message.id,
    );
    await expectAccessible(page, 'a reply');

    // Nobody answers this one: the page shows the code and what to do about it.
    await page.fill('input[name="timeoutMs"]', '300');
    await page.click(SUBMIT);
    await page.locator('#status', { hasText: /^TIMEOUT: / }).waitFor();
    await page.locator('[data-error-code="TIMEOUT"]', { hasText: 'No reply within 300 ms' }).waitFor();
    expect(await page.locator('section.reply').count()).toBe(0);
    await expectAccessible(page, 'a request that timed out');
    expect(await receiveAll(gql, 'quotes', 'pricing')).toHaveLength(1);

    // Back in publish mode, the form publishes and waits for nothing.
    await page.check('input[name="mode"][value="publish"]');
    await page.click(SUBMIT);
    await page.locator('#status', { hasText: /^Published / }).waitFor();
    expect(problems).toEqual([]);
  });

  it("shows a webhook's JSON answer as the reply, and NOT_FOUND when no queue matches", async () => {
    const receiver = await startReceiver();
    receivers.push(receiver);
    receiver.respond = (_index, request) => ({
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ echoed: JSON.parse(request.body) }),
    });
    const { base, gql } = await startGateway();
    await gql('mutation { createTopic(input: { name: "rpc", kind: DIRECT }) { name } }');
    await gql(
      'mutation($url: String!) { createQueue(input: { topic: "rpc", name: "hook", target: WEBHOOK, url: $url, bindingKey: "echo" }) { name } }',
      { url: `${receiver.url}/echo` },
    );
    const { page, problems } = await open(base, 'publish');
    await page.locator('select[name="topic"] option[value="rpc"]').waitFor({ state: 'attached' });
    await page.check('input[name="mode"][value="request"]');
    await page.fill('input[name="routingKey"]', 'echo');
    await page.fill('[data-json="payload"]', '{"n": 7}');
    await page.click(SUBMIT);
    const reply = page.locator('section.reply[data-reply-from="hook"]');
    await reply.waitFor();
    const answered = JSON.parse((await reply.locator('[data-reply="payload"]').textContent()) ?? '') as {
      echoed: { payload: unknown };
    };
    expect(answered.echoed.payload).toEqual({ n: 7 });

    await page.fill('input[name="routingKey"]', 'nobody-binds-this');
    await page.click(SUBMIT);
    await page.locator('#status', { hasText: /^NOT_FOUND: / }).waitFor();
    await page
      .locator('[data-error-code="NOT_FOUND"]', { hasText: 'No queue of the topic matched' })
      .waitFor();
    expect(receiver.requests).toHaveLength(1);
    expect(problems).toEqual([]);
  });
});

describe('live alerts', () => {
  it('shows an alert firing and then resolved, pushed over the websocket with no reload', async () => {
    const { base, gql } = await startGateway({
      SWITCHYARD_ALERT_DEPTH: '2',
      SWITCHYARD_ALERT_INTERVAL_MS: '100',
    });
    await consumerQueue(gql, 'orders', 'audit');
    const reads: string[] = [];
    const { page, problems } = await open(base, 'events', {
      before: async (page) => {
        page.on('request', (request) => {
          if (request.postData()?.includes('query DashboardAlerts')) reads.push(request.url());
        });
      },
    });
    await page.locator('form.filter').waitFor();
    await waitFor(() => reads.length === 1, { message: 'the alerts firing as the page opened' });
    await page.evaluate(() => {
      (window as unknown as { loadedOnce: boolean }).loadedOnce = true;
    });
    expect(await page.locator('#alerts').isHidden()).toBe(true);

    await publish(gql, 'orders', { n: 1 });
    await publish(gql, 'orders', { n: 2 });
    const alert = page.locator('#alerts li[data-alert="QUEUE_DEPTH:orders/audit"]');
    await alert.and(page.locator('[data-state="firing"]')).waitFor();
    expect(await alert.textContent()).toContain('QUEUE_DEPTH orders/audit: 2 messages waiting (alert at 2)');
    await expectAccessible(page, 'a firing alert');

    await receiveAll(gql, 'orders', 'audit');
    await alert.and(page.locator('[data-state="resolved"]')).waitFor();
    expect(await alert.textContent()).toMatch(/^RESOLVED QUEUE_DEPTH .*, resolved /);
    expect(await page.evaluate(() => (window as unknown as { loadedOnce?: boolean }).loadedOnce)).toBe(true);
    // Both came over the subscription: the page read Query.alerts only as it opened.
    expect(reads).toHaveLength(1);
    await expectAccessible(page, 'a resolved alert');
    expect(problems).toEqual([]);
  });
});
