import { afterEach } from 'vitest';
import type { Engine } from '../../queues/engine/engine.js';
import { createKeys } from '../../queues/redis/keys.js';
import { type PubSubHoldingProxy, pubSubHoldingProxy } from '../helpers/pubsub-proxy.js';
import { uniquePrefix } from '../helpers/redis.js';
import type { EngineHarness } from './harness.js';

/**
 * Two instances of one deployment on the harness's Redis, the second (B) hearing the registry's
 * announcements only through a proxy that can hold them back (test/helpers/pubsub-proxy.ts). Call
 * after `useEngineHarness`: hooks run last-registered first, so B and the proxies close here before
 * the harness closes the rest.
 */
export function useTwoInstances(harness: EngineHarness) {
  const proxies: PubSubHoldingProxy[] = [];
  let behindProxy: Engine | undefined;
  afterEach(async () => {
    await behindProxy?.close();
    behindProxy = undefined;
    for (const proxy of proxies.splice(0)) {
      proxy.release();
      await proxy.close();
    }
  });
  /** A proxy in front of the harness's Redis, closed after the test. */
  const proxy = async () => {
    const opened = await pubSubHoldingProxy(harness.redis.port);
    proxies.push(opened);
    return opened;
  };
  return {
    proxy,
    /** A and B on one key prefix; B behind a proxy, holding nothing yet. */
    async twoInstances() {
      const keyPrefix = uniquePrefix();
      const held = await proxy();
      const a = await harness.engine({ keyPrefix });
      const b = await harness.engine({ keyPrefix, redisUrl: held.url });
      behindProxy = b;
      return { a, b, proxy: held, keys: createKeys(keyPrefix), keyPrefix };
    },
  };
}
