import { describe, expect, it } from 'vitest';
import { useEngineHarness } from '../engine/harness.js';
import { waitFor } from '../helpers/redis.js';
import { type ChainEntry, firstBreak } from '../helpers/trail-chain.js';
import { SCOPED_ADMIN_KEY, startScopedApp } from './scoped-app.js';

const harness = useEngineHarness();

const TRAIL = `query ($id: ID!) { message(topic: "invoices", id: $id) { id trail { action at by queue sha256 prevHash hash } } }`;

describe('Message.trail over GraphQL', () => {
  it("should record the caller's key name as by, and answer the chain oldest first", async () => {
    const app = await startScopedApp(harness);
    await app.engine.createQueue({
      topic: 'invoices',
      name: 'q',
      target: 'CONSUMER',
      retry: { maxAttempts: 1 },
    });
    const publisher = await app.keyWith(['publish:invoices']);
    const published = await app.ask(
      'mutation { publish(input: { topic: "invoices", payload: { total: 3 } }) { messageId } }',
      {},
      publisher,
    );
    const id = (published.data?.publish as { messageId: string } | undefined)?.messageId ?? '';
    const [delivery] = await app.engine.receive('invoices', 'q', 1, 2_000);
    await app.engine.nack(delivery?.id ?? '', 'REJECTED', 'no');
    const deadLetterId = `invoices/q/${id}`;
    await waitFor(async () => (await app.engine.deadLetters.get(deadLetterId)) !== null);
    const replayer = await app.keyWith(['deadletters:write:invoices']);
    const replayed = await app.ask(
      'mutation ($id: ID!) { replayDeadLetter(id: $id) { replayed } }',
      { id: deadLetterId },
      replayer,
    );
    expect(replayed.errors).toBeUndefined();

    const answer = await app.ask(TRAIL, { id }, SCOPED_ADMIN_KEY);
    const trail = (answer.data?.message as { trail: ChainEntry[] } | undefined)?.trail ?? [];
    expect(trail.map((entry) => [entry.action, entry.by, entry.queue])).toEqual([
      ['PUBLISHED', 'key publish:invoices', null],
      ['REPLAYED', 'key deadletters:write:invoices', 'q'],
    ]);
    expect(firstBreak(id, trail)).toBe(-1);
  });

  it('should name the admin key by its variable, SWITCHYARD_ADMIN_KEY', async () => {
    const app = await startScopedApp(harness);
    // A message is kept (and its PUBLISHED entry derived) only where a queue or the history holds it.
    await app.engine.createQueue({ topic: 'invoices', name: 'q', target: 'CONSUMER' });
    const published = await app.ask(
      'mutation { publish(input: { topic: "invoices", payload: 1 }) { messageId } }',
      {},
      SCOPED_ADMIN_KEY,
    );
    const id = (published.data?.publish as { messageId: string } | undefined)?.messageId ?? '';
    const trail = await app.engine.messageTrail('invoices', id);
    expect(trail.map((entry) => entry.by)).toEqual(['SWITCHYARD_ADMIN_KEY']);
  });
});
