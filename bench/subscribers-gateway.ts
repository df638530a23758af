/**
 * The gateway under test for bench/subscribers.ts, in a process of its own so that its CPU and RSS
 * are its own. Configured by the environment like the start command; SHARE_SUBSCRIPTIONS=false turns
 * shared execution of identical subscriptions off, to measure what it saves.
 */
import { importBuiltGateway } from './built-gateway.js';

const { createGateway, loadConfig } = await importBuiltGateway();
const gateway = await createGateway(loadConfig(process.env), {
  websocket: { shareSubscriptions: process.env.SHARE_SUBSCRIPTIONS !== 'false' },
});
const { url } = await gateway.start();
await gateway.engine.createTopic({ name: 'ticker', kind: 'TOPIC' }).catch(() => {});
process.on('message', () => {
  void gateway.stop().finally(() => process.disconnect());
});
process.send?.({ url });
