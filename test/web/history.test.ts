/**
 * The dashboard's topic history (issue 22): paging it, "replay from here" counted first and then
 * replayed into a queue with its progress shown, a rate-limited replay cancelled mid-way, a message
 * with its provenance trail, and a key without admin offered reading only.
 */
import { describe, expect, it } from 'vitest';
import { TestWebCreateApiKeyDocument } from '../generated/graphql.js';
import { waitFor } from '../helpers/redis.js';
import { expectAccessible, type Gql, publish, receiveAll, useDashboardHarness } from './harness.js';

const { startGateway, open } = useDashboardHarness();
const ADMIN_KEY = 'sy_history-test-admin-key-0123456789abcdefghijklmnopq';

async function historyTopic(gql: Gql, topic: string, queues: readonly string[]): Promise<void> {
  await gql(
    `mutation { createTopic(input: { name: "${topic}", kind: FANOUT, history: { maxMessages: 1000 } }) { name } }`,
  );
  for (const queue of queues)
    await gql(
      `mutation { createQueue(input: { topic: "${topic}", name: "${queue}", target: CONSUMER }) { name } }`,
    );
}

describe('topic history', () => {
  it('pages the history, counts a replay from a message, replays it and shows its progress', async () => {
    const { base, gql } = await startGateway();
    await historyTopic(gql, 'orders', ['audit', 'rebuild']);
    const ids: string[] = [];
    for (let n = 0; n < 5; n += 1) ids.push(await publish(gql, 'orders', { n }));
    await receiveAll(gql, 'orders', 'rebuild');

    const { page, problems } = await open(base, 'history');
    await page.locator('[data-history-about]', { hasText: 'Keeps at most 1000 messages: 5 now' }).waitFor();
    await page.fill('input[name="first"]', '2');
    await page.click('form[aria-label="Read a topic’s history"] button[type="submit"]');
    const shownIds = () =>
      page
        .locator('#view table button[data-action="open-message"]')
        .evaluateAll((buttons) => buttons.map((one) => one.getAttribute('data-message-id')));
    await page.locator(`button[data-message-id="${ids[0]}"]`).waitFor();
    expect(await shownIds()).toEqual(ids.slice(0, 2));
    await expectAccessible(page, 'the history');
    await page.click('button[data-action="next-page"]');
    await page.locator(`button[data-message-id="${ids[2]}"]`).waitFor();
    expect(await shownIds()).toEqual(ids.slice(2, 4));

    // Replay from the third message: counted first, then replayed into `rebuild`.
    await page.locator('tr', { hasText: ids[2] }).locator('button[data-action="replay-from"]').click();
    const replay = page.locator('section[aria-label="Replay from here"]');
    await replay.locator('select[name="queue"]').selectOption('rebuild');
    expect(await replay.locator('button[data-action="start-replay"]').isHidden()).toBe(true);
    await replay.locator('button[data-action="count-replay"]').click();
    await replay.locator('[data-count]', { hasText: /^3 messages from / }).waitFor();
    expect(await receiveAll(gql, 'orders', 'rebuild')).toEqual([]);
    await expectAccessible(page, 'the replay panel');
    // Published after the count: not in the range the replay takes.
    const later = await publish(gql, 'orders', { n: 5 });
    await replay.locator('button[data-action="start-replay"]', { hasText: 'Replay 3 messages' }).click();
    await replay
      .locator('[data-replay-progress] [data-task-state="DONE"][data-done="3"][data-total="3"]')
      .waitFor();
    // `later` reached the queue once, as published; the replay took the three counted, no more.
    const replayed = await receiveAll(gql, 'orders', 'rebuild');
    expect(replayed.map((message) => message.id).sort()).toEqual([...ids.slice(2), later].sort());
    // The task list shows the count and the replay.
    await page
      .locator('section[aria-label="Replay tasks"] [data-task-state="DONE"][data-done="3"]')
      .waitFor();
    expect(await page.locator('section[aria-label="Replay tasks"] tbody tr').count()).toBe(2);
    expect(problems).toEqual([]);
  });

  it('shows a second replay into a busy queue refused (CONFLICT), and cancels a rate-limited one mid-way', async () => {
    const { base, gql } = await startGateway();
    await historyTopic(gql, 'orders', ['rebuild']);
    for (let n = 0; n < 20; n += 1) await publish(gql, 'orders', { n });
    await receiveAll(gql, 'orders', 'rebuild');
    await receiveAll(gql, 'orders', 'rebuild');
    const { page, problems } = await open(base, 'history');
    await page.locator('tr').nth(1).locator('button[data-action="replay-from"]').click();
    const replay = page.locator('section[aria-label="Replay from here"]');
    await replay.locator('input[name="ratePerSecond"]').fill('2');
    await replay.locator('button[data-action="count-replay"]').click();
    await replay.locator('button[data-action="start-replay"]', { hasText: 'Replay 20 messages' }).click();
    await replay.locator('[data-replay-progress] [data-task-state="RUNNING"]').waitFor();
    const tasks = page.locator('section[aria-label="Replay tasks"]');
    await tasks.locator('[data-task-state="RUNNING"]').waitFor();

    // A second replay into the same queue while the first runs: the gateway's CONFLICT, shown.
    await page.locator('tr').nth(2).locator('button[data-action="replay-from"]').click();
    await replay.locator('button[data-action="count-replay"]').click();
    await replay.locator('button[data-action="start-replay"]', { hasText: 'Replay 19 messages' }).click();
    await page.locator('#status', { hasText: /^CONFLICT: / }).waitFor();
    await expectAccessible(page, 'a running replay task');

    // The first one, cancelled from the task list: it stops part-way.
    await tasks.locator('button[data-action="cancel-replay"]').click();
    await page.locator('#status', { hasText: /cancelled after \d+ of 20/ }).waitFor();
    const cancelled = tasks.locator('[data-task-state="CANCELLED"]');
    await cancelled.waitFor();
    expect(await tasks.locator('[data-task-state="RUNNING"]').count()).toBe(0);
    const done = Number(await cancelled.getAttribute('data-done'));
    expect(done).toBeLessThan(20);
    await waitFor(async () => (await receiveAll(gql, 'orders', 'rebuild')).length === 0, {
      message: 'the replayed messages taken',
    });
    expect(problems).toEqual([]);
  });

  it("shows a message and its hash-linked trail, and the gateway's plain error when it cannot answer the trail", async () => {
    const { base, gql } = await startGateway();
    await historyTopic(gql, 'orders', ['audit']);
    const id = await publish(gql, 'orders', { sku: 'A-1' }, { routingKey: 'eu' });
    const { page, problems } = await open(base, 'history');
    await page.click(`button[data-message-id="${id}"]`);
    const shown = page.locator(`section[data-message-panel="${id}"]`);
    await shown.locator('[data-payload]').waitFor();
    expect(JSON.parse((await shown.locator('[data-payload]').textContent()) ?? '')).toEqual({ sku: 'A-1' });
    expect(await shown.locator('[data-sha256]').textContent()).toMatch(/^[0-9a-f]{64}$/);

    // The trail as the gateway answers it, entry for entry, each linked to the one before.
    const { message } = (await gql(
      'query($id: ID!) { message(topic: "orders", id: $id) { trail { action hash } } }',
      { id },
    )) as { message: { trail: { action: string; hash: string }[] } };
    expect(message.trail.map((entry) => entry.action)).toEqual(['PUBLISHED']);
    const steps = shown.locator('[data-trail] [data-trail-action]');
    await steps.first().waitFor();
    expect(await steps.allTextContents()).toEqual(['PUBLISHED']);
    expect(await shown.locator('[data-trail] code[title]').last().getAttribute('title')).toBe(
      message.trail[0]?.hash,
    );
    expect(await shown.locator('[data-trail] [data-linked="true"]').count()).toBe(1);
    await expectAccessible(page, 'a message and its trail');

    // Looked up by id; an id nothing holds says so.
    await page.click('button[data-action="close-panel"]');
    await page.fill('input[name="messageId"]', 'no-such-message');
    await page.click('form[aria-label="Find a message"] button[type="submit"]');
    await page
      .locator('section[data-message-panel="no-such-message"] [data-error-code="NOT_FOUND"]')
      .waitFor();
    expect(problems).toEqual([]);
  });

  it('offers a key without admin the history to read, and no replay; a refused topic goes', async () => {
    const { base, gql } = await startGateway({ SWITCHYARD_ADMIN_KEY: ADMIN_KEY });
    await historyTopic(gql, 'orders', ['audit']);
    await historyTopic(gql, 'payments', ['ledger']);
    const id = await publish(gql, 'orders', { n: 1 });
    await publish(gql, 'payments', { n: 2 });
    const { createApiKey } = await gql(TestWebCreateApiKeyDocument, {
      name: 'reader',
      scopes: ['subscribe:orders', 'publish:payments'],
    });
    const { page, problems } = await open(base, 'history', { key: createApiKey.secret });
    await page.locator('select[name="topic"] option[value="payments"]').waitFor({ state: 'attached' });
    await page.locator('select[name="topic"]').selectOption('orders');
    await page.locator(`button[data-message-id="${id}"]`).waitFor();
    expect(await page.locator('button[data-action="replay-from"]').count()).toBe(0);
    expect(await page.locator('section[aria-label="Replay tasks"] table').count()).toBe(0);
    await expectAccessible(page, 'the history for a key without admin');

    await page.locator('select[name="topic"]').selectOption('payments');
    await page.locator('#status', { hasText: /^FORBIDDEN: .*subscribe:payments/ }).waitFor();
    expect(await page.locator('select[name="topic"] option').allTextContents()).toEqual(['orders']);
    expect(problems).toEqual([]);
  });
});
