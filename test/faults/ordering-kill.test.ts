/**
 * Ordering keys through a kill -9 (issue 21): a gateway process killed while its webhook worker holds
 * deliveries of several keys breaks no key's order. The held deliveries are the keys' heads: BullMQ's
 * stalled check gives them to the other gateway once their locks lapse, and the keys go on from there.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { gqlOk } from './client.js';
import { startFixture, TOPIC } from './fixture.js';

const KEYS = 20;
const PER_KEY = 15;

describe('fault: kill -9 of a gateway delivering messages with ordering keys', () => {
  it("should deliver every key's messages in publish order on the surviving gateway", async () => {
    const fixture = await startFixture({ gateways: 2 });
    try {
      const { receiver, gateways } = fixture;
      const [doomed, survivor] = gateways;
      if (!doomed || !survivor) throw new Error('two gateways expected');
      // Slow enough answers that the doomed gateway is mid-POST when it dies.
      receiver.respond = () => ({ status: 204, delayMs: 100 });
      const inputs: { topic: string; payload: { key: string; seq: number }; orderingKey: string }[] = [];
      for (let seq = 0; seq < PER_KEY; seq++) {
        for (let k = 0; k < KEYS; k++)
          inputs.push({ topic: TOPIC, payload: { key: `k${k}`, seq }, orderingKey: `k${k}` });
      }
      await gqlOk(
        survivor.url,
        'mutation ($is: [PublishInput!]!) { publishBatch(inputs: $is) { messageId } }',
        { is: inputs },
      );
      const deadline = Date.now() + 20_000;
      while (receiver.requests.length < 60 && Date.now() < deadline) await sleep(20);
      const byDoomed = receiver.requests.length;
      await doomed.kill();

      const seen = () =>
        receiver.requests.map(
          (request) => (JSON.parse(request.body) as { payload: { key: string; seq: number } }).payload,
        );
      const settleBy = Date.now() + 60_000;
      while (
        new Set(seen().map(({ key, seq }) => `${key}/${seq}`)).size < KEYS * PER_KEY &&
        Date.now() < settleBy
      ) {
        await sleep(100);
      }
      const attempts = seen();
      const last = new Map<string, number>();
      const broken: string[] = [];
      for (const { key, seq } of attempts) {
        const before = last.get(key) ?? -1;
        // The same message again (a POST the kill cut short, or answered just before it) is allowed;
        // a later message before an earlier one, or a skipped one, is not.
        if (seq < before || seq > before + 1) broken.push(`${key}: ${seq} after ${before}`);
        last.set(key, seq);
      }
      console.log(
        `ordering keys through kill -9: ${byDoomed} requests before the kill, ${attempts.length} in all ` +
          `for ${KEYS * PER_KEY} messages (${attempts.length - KEYS * PER_KEY} sent again)`,
      );
      expect(broken.slice(0, 5)).toEqual([]);
      for (let k = 0; k < KEYS; k++) expect(last.get(`k${k}`)).toBe(PER_KEY - 1);
    } finally {
      await fixture.close();
    }
  }, 180_000);
});
