import { describe, expect, it } from 'vitest';
import { useEngineHarness } from '../engine/harness.js';
import { openStream, refusal, SCOPED_ADMIN_KEY, startScopedApp } from '../security/scoped-app.js';

const harness = useEngineHarness();

const THRESHOLDS = '{ maxWaiting maxLagMs maxDeliveryLatencyMs maxFailureRate maxAttempts }';

describe('alerts over GraphQL', () => {
  it('stores per-queue thresholds from createQueue and updateQueue, shows them on Queue, and refuses bad ones', async () => {
    const app = await startScopedApp(harness);
    const created = await app.ask(
      `mutation { createQueue(input: { topic: "invoices", name: "q", target: CONSUMER, alerts: { maxWaiting: 5, maxFailureRate: 0.25 } }) { alertThresholds ${THRESHOLDS} } }`,
      undefined,
      SCOPED_ADMIN_KEY,
    );
    expect(created).toEqual({
      data: {
        createQueue: {
          alertThresholds: {
            maxWaiting: 5,
            maxLagMs: null,
            maxDeliveryLatencyMs: null,
            maxFailureRate: 0.25,
            maxAttempts: null,
          },
        },
      },
    });

    const updated = await app.ask(
      `mutation { updateQueue(topic: "invoices", name: "q", input: { alerts: { maxWaiting: null, maxAttempts: 4 } }) { alertThresholds ${THRESHOLDS} } }`,
      undefined,
      SCOPED_ADMIN_KEY,
    );
    expect(updated.data?.updateQueue).toEqual({
      alertThresholds: {
        maxWaiting: null,
        maxLagMs: null,
        maxDeliveryLatencyMs: null,
        maxFailureRate: 0.25,
        maxAttempts: 4,
      },
    });

    const before = await app.state();
    for (const alerts of ['{ maxLagMs: -1 }', '{ maxFailureRate: 1.5 }', '{ maxDeliveryLatencyMs: -5 }']) {
      const refused = await app.ask(
        `mutation { updateQueue(topic: "invoices", name: "q", input: { concurrency: 3, alerts: ${alerts} }) { name } }`,
        undefined,
        SCOPED_ADMIN_KEY,
      );
      expect(refusal(refused).code, alerts).toBe('BAD_USER_INPUT');
      const refusedCreate = await app.ask(
        `mutation { createQueue(input: { topic: "invoices", name: "bad", target: CONSUMER, alerts: ${alerts} }) { name } }`,
        undefined,
        SCOPED_ADMIN_KEY,
      );
      expect(refusal(refusedCreate).code, alerts).toBe('BAD_USER_INPUT');
    }
    expect(await app.state()).toEqual(before);
    const stored = await app.ask(
      `{ queue(topic: "invoices", name: "q") { concurrency alertThresholds { maxLagMs maxAttempts } } }`,
      undefined,
      SCOPED_ADMIN_KEY,
    );
    expect(stored.data?.queue).toEqual({
      concurrency: 10,
      alertThresholds: { maxLagMs: null, maxAttempts: 4 },
    });

    // A key without the stats scope sees the queue, not its thresholds.
    const consumer = await app.keyWith(['consume:invoices']);
    const hidden = await app.ask(
      '{ queue(topic: "invoices", name: "q") { alertThresholds { maxWaiting } } }',
      undefined,
      consumer,
    );
    expect(refusal(hidden).message).toContain('Queue.alertThresholds needs');
  });

  it('streams FIRING then RESOLVED to an alerts subscription', async () => {
    const app = await startScopedApp(harness);
    // The fixture's dead letter fires DEAD_LETTERS first, before anyone listens.
    await app.engine.evaluateAlerts();
    const key = await app.keyWith(['stats']);
    const stream = await openStream(
      app.yoga,
      'subscription { alerts { transition at alert { id kind value threshold } } }',
      key,
    );
    try {
      await app.engine.createQueue({
        topic: 'invoices',
        name: 'q',
        target: 'CONSUMER',
        alerts: { maxWaiting: 1 },
      });
      await app.engine.publish({ topic: 'invoices', payload: 1 });
      expect((await app.engine.evaluateAlerts()).map(({ state }) => state)).toEqual(['FIRING']);
      const fired = await stream.next();
      expect(fired?.data?.alerts).toMatchObject({
        transition: 'FIRING',
        alert: { id: 'QUEUE_DEPTH:invoices/q', kind: 'QUEUE_DEPTH', value: 1, threshold: 1 },
      });

      await app.engine.updateQueue('invoices', 'q', { alerts: { maxWaiting: 2 } });
      expect((await app.engine.evaluateAlerts()).map(({ state }) => state)).toEqual(['RESOLVED']);
      const resolved = await stream.next();
      expect(resolved?.data?.alerts).toMatchObject({
        transition: 'RESOLVED',
        alert: { id: 'QUEUE_DEPTH:invoices/q' },
      });
    } finally {
      stream.close();
    }
  });
});
