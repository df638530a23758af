/**
 * A load generator in a process of its own, so that its CPU is never the gateway's: one per side
 * of a scenario, driven by the harness over IPC.
 */
import { addBulkClosed, addClosed, addOpen, closeBull, obliterate, pullRaw } from './load/bull-load.js';
import {
  closeGraphqlClients,
  publishBatchClosed,
  publishClosed,
  publishOpen,
  pullGraphql,
} from './load/graphql-load.js';
import { addAndWaitOpen, closeRequestLoad, requestOpen } from './load/request-load.js';
import { serveRpc } from './rpc.js';

const api = {
  publishClosed,
  publishBatchClosed,
  publishOpen,
  pullGraphql,
  addClosed,
  addBulkClosed,
  addOpen,
  pullRaw,
  obliterate,
  requestOpen,
  addAndWaitOpen,
};
export type LoadgenApi = typeof api;

serveRpc(api, async () => {
  await Promise.allSettled([closeGraphqlClients(), closeBull(), closeRequestLoad()]);
});
