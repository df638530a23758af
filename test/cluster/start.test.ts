import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

/** The start command (server/index.ts) with REDIS_CLUSTER_NODES that cannot work: it must exit, not hang. */
const children: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function run(env: Record<string, string>) {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-cluster-start-'));
  dirs.push(dir);
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/index.ts'], {
    cwd: process.cwd(),
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? tmpdir(),
      SWITCHYARD_DATA_DIR: dir,
      PORT: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  const started = Date.now();
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => resolve(null), 20_000);
    child.once('close', (exitCode) => {
      clearTimeout(timer);
      resolve(exitCode);
    });
  });
  return { code, output, ms: Date.now() - started };
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

describe('starting on REDIS_CLUSTER_NODES', () => {
  it('should exit with 2 naming the variable when the value is not host:port', async () => {
    const { code, output } = await run({ REDIS_CLUSTER_NODES: 'redis://10.0.0.1:7000' });
    expect(code).toBe(2);
    expect(output).toMatch(
      /^REDIS_CLUSTER_NODES: got "redis:\/\/10\.0\.0\.1:7000", expected a comma-separated list/m,
    );
  });

  it('should exit non-zero, saying which cluster, when no seed node answers', async () => {
    const port = await closedPort();
    const { code, output, ms } = await run({
      REDIS_CLUSTER_NODES: `127.0.0.1:${port}`,
      REDIS_PASSWORD: 'hunter2-secret',
    });
    expect(code).toBe(1);
    expect(output).toContain(`Cannot connect to Redis at the Redis Cluster at 127.0.0.1:${port}`);
    expect(output).not.toContain('hunter2-secret');
    expect(ms).toBeLessThan(20_000);
  });
});
