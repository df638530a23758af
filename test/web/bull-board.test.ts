/**
 * bull-board at /queues (server/bull-board.ts): the same BullMQ queues and their failed jobs, behind
 * the gateway's auth (admins only, a login form setting an HttpOnly SameSite=Strict cookie scoped to
 * /queues, or a Bearer key), read-only, and loading nothing from elsewhere.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { TestWebCreateApiKeyDocument, TestWebQueuePausedDocument } from '../generated/graphql.js';
import { consumerQueue, deadLetter, expectAccessible, publish, useDashboardHarness } from './harness.js';

const { startGateway, open } = useDashboardHarness();

const ADMIN_KEY = 'sy_bull-board-test-admin-key-0123456789abcdefghijklm';

/**
 * Ends bull-board's fade-ins at once: axe reads colours as they are painted, and text half faded in
 * fails the contrast rule that the same text passes a moment later.
 */
async function settleAnimations(page: Page): Promise<void> {
  await page.evaluate(() => {
    for (const animation of document.getAnimations()) animation.finish();
  });
}

describe('bull-board at /queues', () => {
  it('asks for an admin key, then shows the queues of every topic and their failed jobs', async () => {
    const { base, gql } = await startGateway({ SWITCHYARD_ADMIN_KEY: ADMIN_KEY });
    await consumerQueue(gql, 'orders', 'audit');
    await consumerQueue(gql, 'payments', 'audit');
    const id = await publish(gql, 'orders', { n: 1 });
    await deadLetter(gql, 'orders', 'audit', 'customer 42 does not exist');
    const { createApiKey } = await gql(TestWebCreateApiKeyDocument, {
      name: 'publisher',
      scopes: ['publish:#', 'stats'],
    });

    const outside: string[] = [];
    const { page, problems } = await open(base, 'topology', { key: ADMIN_KEY });
    page.on('request', (request) => {
      if (!request.url().startsWith(base) && !request.url().startsWith('data:')) outside.push(request.url());
    });
    // Linked from the dashboard for admin keys.
    await page.click('nav a[href="/queues/"]');
    await page.locator('form[action="/queues/login"]').waitFor();
    await expectAccessible(page, 'the bull-board login');

    await page.fill('#key', 'sy_not-a-real-key');
    await page.click('form button[type="submit"]');
    await page.locator('[role="alert"]', { hasText: 'Unknown or revoked key' }).waitFor();
    await page.fill('#key', createApiKey.secret);
    await page.click('form button[type="submit"]');
    await page.locator('[role="alert"]', { hasText: 'does not have the scope admin' }).waitFor();
    await page.fill('#key', ADMIN_KEY);
    await page.click('form button[type="submit"]');
    await page.waitForURL(`${base}/queues/`);
    await page.getByText('orders:audit').first().waitFor();
    await page.getByText('payments:audit').first().waitFor();

    const [cookie] = await page.context().cookies(`${base}/queues/`);
    expect(cookie).toMatchObject({
      name: 'switchyard_queues',
      path: '/queues',
      httpOnly: true,
      sameSite: 'Strict',
    });
    // Scoped to /queues: the dashboard's own requests never carry it.
    expect(await page.context().cookies(`${base}/dashboard/`)).toEqual([]);

    await page.goto(`${base}/queues/queue/${encodeURIComponent('orders:audit')}?status=failed`);
    await page.getByText('customer 42 does not exist').first().waitFor();
    await page.getByText(id).first().waitFor();
    // bull-board's own UI (9.10.1) has icon buttons without a name, an unlabelled logo and small text
    // of low contrast; the gateway's fixes injected into its page (server/bull-board-a11y.ts) leave
    // axe-core nothing serious, with the job's tabs and the Redis details open too.
    await expectAccessible(page, "bull-board's failed jobs");
    await page.getByRole('button', { name: 'Redis details' }).click();
    await page.getByRole('dialog').waitFor();
    await settleAnimations(page);
    await expectAccessible(page, "bull-board's Redis details");
    await page.keyboard.press('Escape');
    await page.getByRole('tab', { name: 'Data' }).click();
    await page.getByRole('tabpanel').first().waitFor();
    await settleAnimations(page);
    await expectAccessible(page, "bull-board's job data");
    expect(outside).toEqual([]);
    // The refused logins answered 401: the browser logs those loads, and nothing else may show.
    expect(problems.filter((problem) => !problem.includes('status of 401'))).toEqual([]);
  });

  it('answers its API to a Bearer admin key only, and changes nothing (read-only)', async () => {
    const { base, gql } = await startGateway({ SWITCHYARD_ADMIN_KEY: ADMIN_KEY });
    await consumerQueue(gql, 'orders', 'audit');
    const { createApiKey } = await gql(TestWebCreateApiKeyDocument, { name: 'ops', scopes: ['admin'] });
    const get = (path: string, key?: string) =>
      fetch(`${base}${path}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });

    expect((await get('/queues/api/queues')).status).toBe(401);
    const answer = await get('/queues/api/queues', createApiKey.secret);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-security-policy')).toContain("connect-src 'self'");
    const body = (await answer.json()) as { queues: { name: string; readOnlyMode: boolean }[] };
    expect(body.queues.map((queue) => [queue.name, queue.readOnlyMode])).toEqual([['orders:audit', true]]);

    const pause = await fetch(`${base}/queues/api/queues/orders:audit/pause`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${createApiKey.secret}` },
    });
    expect(pause.status).toBeGreaterThanOrEqual(400);
    const { queue } = await gql(TestWebQueuePausedDocument, { topic: 'orders', name: 'audit' });
    expect(queue?.paused).toBe(false);

    // Revoked: refused on the next request.
    await gql('mutation($id: ID!) { revokeApiKey(id: $id) }', { id: createApiKey.key.id });
    expect((await get('/queues/api/queues', createApiKey.secret)).status).toBe(401);
  });

  it('refuses a login form posted from another site', async () => {
    const { base } = await startGateway({ SWITCHYARD_ADMIN_KEY: ADMIN_KEY });
    const answer = await fetch(`${base}/queues/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://evil.example' },
      body: new URLSearchParams({ key: ADMIN_KEY }).toString(),
      redirect: 'manual',
    });
    expect(answer.status).toBe(403);
    expect(answer.headers.get('set-cookie')).toBeNull();
  });

  it('serves a loopback browser without a key in protected mode, as /graphql does', async () => {
    const { base, gql } = await startGateway();
    await consumerQueue(gql, 'orders', 'audit');
    const { page, problems } = await open(base, 'topology');
    await page.goto(`${base}/queues/`);
    await page.getByText('orders:audit').first().waitFor();
    expect(problems).toEqual([]);
  });
});
