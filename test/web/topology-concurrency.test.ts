/**
 * A WEBHOOK queue's concurrency range in the dashboard's queue editor, driven in chromium against a
 * live gateway: created with a range, edited, refused (the gateway's BAD_USER_INPUT shown under the
 * field it names), cleared back to fixed; the live concurrency beside the queue; no range offered for
 * a CONSUMER queue. axe-core must find no serious or critical violation, and the page log no error.
 */
import { describe, expect, it } from 'vitest';
import { TestWebQueueSettingsDocument } from '../generated/graphql.js';
import { startReceiver } from '../helpers/receiver.js';
import { waitFor } from '../helpers/redis.js';
import { consumerQueue, expectAccessible, type Gql, useDashboardHarness } from './harness.js';

const { startGateway, open, receivers } = useDashboardHarness();

async function settings(gql: Gql, name: string) {
  const { queue } = await gql(TestWebQueueSettingsDocument, { topic: 'billing', name });
  if (!queue) throw new Error(`the queue billing/${name} is gone`);
  return queue;
}

describe('the queue editor', () => {
  it('creates a webhook queue with a range, edits it, shows a refused range under its field and clears it', async () => {
    const receiver = await startReceiver();
    receivers.push(receiver);
    const { base, gql } = await startGateway();
    await consumerQueue(gql, 'billing', 'audit');
    const { page, problems } = await open(base, 'topology');
    const topic = page.locator('section[data-topic="billing"]');
    const editor = page.locator('section.editor');
    const field = (name: string) => editor.locator(`input[name="${name}"]`);
    const errorUnder = (name: string) => editor.locator(`[data-error-for="${name}"]`);
    const save = () => editor.locator('button[type="submit"]').click();

    await topic.locator('button[data-action="add-queue"]').click();
    // A CONSUMER queue is paced by its consumers: no range offered.
    await editor.locator('select[name="target"]').selectOption('CONSUMER');
    expect(await field('minConcurrency').isHidden()).toBe(true);
    expect(await field('maxConcurrency').isHidden()).toBe(true);
    await editor.locator('select[name="target"]').selectOption('WEBHOOK');
    await field('name').fill('hook');
    await field('url').fill(`${receiver.url}/hook`);
    await field('minConcurrency').fill('2');
    await field('maxConcurrency').fill('8');
    await expectAccessible(page, 'the new queue form with a range');
    await save();
    await page.locator('#status', { hasText: 'Created queue billing/hook' }).waitFor();
    expect(await settings(gql, 'hook')).toMatchObject({
      minConcurrency: 2,
      maxConcurrency: 8,
      concurrency: 2,
    });

    // Beside the queue: where this gateway's worker stands now (it starts at the bottom), then the range.
    const concurrency = (queue: string) =>
      topic.locator('tr', { has: page.locator(`[data-queue="${queue}"]`) }).locator('[data-concurrency]');
    await waitFor(async () => (await concurrency('hook').textContent()) === '2 (range 2–8)', {
      message: 'the live concurrency and the range beside the queue',
      timeoutMs: 15_000,
    });
    expect(await concurrency('hook').getAttribute('data-concurrency')).toBe('2');
    expect(await concurrency('audit').count()).toBe(0);

    await topic.locator('button[data-key="billing/audit/edit"]').click();
    expect(await field('minConcurrency').isHidden()).toBe(true);
    expect(await field('concurrency').isVisible()).toBe(true);

    await topic.locator('button[data-key="billing/hook/edit"]').click();
    expect(await field('minConcurrency').inputValue()).toBe('2');
    expect(await field('maxConcurrency').inputValue()).toBe('8');
    await field('maxConcurrency').fill('16');
    await save();
    await page.locator('#status', { hasText: 'Saved billing/hook' }).waitFor();
    expect(await settings(gql, 'hook')).toMatchObject({
      minConcurrency: 2,
      maxConcurrency: 16,
      concurrency: 2,
    });

    // Refused by the gateway: its message under the field it names, and nothing changed.
    await topic.locator('button[data-key="billing/hook/edit"]').click();
    await field('minConcurrency').fill('20');
    await save();
    const refused = 'minConcurrency (20) must be at most maxConcurrency (16)';
    await errorUnder('minConcurrency').filter({ hasText: refused }).waitFor();
    expect(await field('minConcurrency').getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('#status').textContent()).toBe(`BAD_USER_INPUT: ${refused}`);
    await expectAccessible(page, 'the queue form showing a refused range');
    // One end emptied: the error moves to that field, and the other one's is gone.
    await field('minConcurrency').fill('4');
    await field('maxConcurrency').fill('');
    await save();
    await errorUnder('maxConcurrency')
      .filter({
        hasText:
          'A concurrency range needs both minConcurrency and maxConcurrency; maxConcurrency is missing',
      })
      .waitFor();
    expect(await errorUnder('minConcurrency').isHidden()).toBe(true);
    expect(await field('minConcurrency').getAttribute('aria-invalid')).toBeNull();
    expect(await settings(gql, 'hook')).toMatchObject({ minConcurrency: 2, maxConcurrency: 16 });

    // Both ends emptied: fixed again, at the concurrency the worker started at.
    await field('minConcurrency').fill('');
    await save();
    await page.locator('#status', { hasText: 'Saved billing/hook' }).waitFor();
    expect(await settings(gql, 'hook')).toMatchObject({
      minConcurrency: null,
      maxConcurrency: null,
      concurrency: 2,
    });
    await waitFor(async () => (await concurrency('hook').textContent()) === '2', {
      message: 'the fixed concurrency beside the queue',
    });
    await topic.locator('button[data-key="billing/hook/edit"]').click();
    expect(await field('minConcurrency').inputValue()).toBe('');
    await expectAccessible(page, 'the queue form of a fixed webhook queue');
    expect(problems).toEqual([]);
  });
});
