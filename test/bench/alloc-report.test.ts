import { describe, expect, it } from 'vitest';
import { summarizeAllocations } from '../../bench/alloc-report.js';
import type { HeapProfileNode } from '../../bench/alloc-sampling.js';

const ROOT = new URL('../../', import.meta.url).href;

const node = (
  functionName: string,
  url: string,
  selfSize: number,
  children: HeapProfileNode[] = [],
): HeapProfileNode => ({ callFrame: { functionName, url, lineNumber: 9 }, selfSize, children });

describe('summarizeAllocations', () => {
  const profile = {
    head: node('(root)', '', 0, [
      node('serve', `${ROOT}dist/server/json-post.js`, 4_000, [
        // Node's own code is charged to our caller above it.
        node('Buffer.concat', 'node:buffer', 1_000),
        node('execute', `${ROOT}node_modules/graphql-jit/dist/execution.js`, 3_000, [
          node('publish', `${ROOT}dist/queues/engine/operations.js`, 2_000),
        ]),
      ]),
      // With no library frame above it, a socket's internals are HTTP.
      node('onStreamRead', 'node:internal/stream_base_commons', 500, [node('(V8 API)', '', 500)]),
    ]),
  };

  it('should answer bytes per message by group, charging native code and Node internals to their caller', () => {
    const summary = summarizeAllocations([profile, profile], 10);
    expect(summary.messages).toBe(10);
    expect(summary.bytesPerMessage).toBe((2 * 11_000) / 10);
    const groups = Object.fromEntries(summary.groups.map((group) => [group.group, group.bytesPerMessage]));
    expect(groups).toEqual({ Switchyard: 1_400, 'HTTP + sockets': 200, GraphQL: 600 });
    const concat = summary.top.find((fn) => fn.name === 'Buffer.concat');
    expect(concat).toMatchObject({ group: 'Switchyard', chargedTo: 'serve dist/server/json-post.js:10' });
    expect(summary.top[0]).toMatchObject({ name: 'serve', bytesPerMessage: 800 });
    expect(summary.top.reduce((sum, fn) => sum + fn.share, 0)).toBeCloseTo(1, 10);
  });

  it('should answer zero per message, not a division by zero, when nothing was published', () => {
    const summary = summarizeAllocations([profile], 0);
    expect(summary.bytesPerMessage).toBe(0);
    expect(summary.groups).toEqual([]);
  });
});
