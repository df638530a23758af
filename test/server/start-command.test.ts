import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { REDIS_SERVER_MISSING_MESSAGE } from '../../server/redis-process.js';
import { type Receiver, startReceiver } from '../helpers/receiver.js';
import { waitFor } from '../helpers/redis.js';

/** The start command as the README runs it, from source (npm start runs the same file built to dist/). */
const START = [process.execPath, ['--import', 'tsx', 'server/index.ts']] as const;

interface Started {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: Started[] = [];
const dirs: string[] = [];
const receivers: Receiver[] = [];

afterEach(async () => {
  // A test that failed half way must not leave a gateway (and its redis-server) running.
  for (const started of children.splice(0)) {
    if (started.child.exitCode === null && started.child.signalCode === null) started.child.kill('SIGKILL');
    await started.exited;
  }
  await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-start-'));
  dirs.push(dir);
  return dir;
}

/** Only what the test sets: no REDIS_URL or SWITCHYARD_* leaks in from the shell running the tests. */
function start(env: Record<string, string>): Started {
  const [command, args] = START;
  const child = spawn(command, args, {
    cwd: process.cwd(),
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? tmpdir(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString('utf8');
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  const started = { child, stdout: () => out, stderr: () => err, exited };
  children.push(started);
  return started;
}

/** The JSON log lines written so far. */
function logLines(started: Started): Array<Record<string, unknown>> {
  return started
    .stdout()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Waits for the log line carrying `field` and answers its value. */
async function logged(started: Started, field: string, timeoutMs = 20_000): Promise<unknown> {
  return waitFor(
    () => {
      if (started.child.exitCode !== null) {
        throw new Error(`the start command exited early:\n${started.stdout()}\n${started.stderr()}`);
      }
      return logLines(started).find((line) => line[field] !== undefined)?.[field];
    },
    { timeoutMs, intervalMs: 50, message: `no log line with "${field}"` },
  );
}

async function graphql(url: string, query: string, variables?: Record<string, unknown>) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as {
    data?: Record<string, Record<string, unknown>>;
    errors?: unknown;
  };
  expect(body.errors).toBeUndefined();
  return body.data ?? {};
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm start', () => {
  it('should start with an embedded Redis, deliver a signed webhook, and leave nothing running after SIGTERM', async () => {
    const dataDir = await tempDir();
    const started = start({ PORT: '0', SWITCHYARD_DATA_DIR: dataDir, SWITCHYARD_LOG_LEVEL: 'info' });
    const url = String(await logged(started, 'url'));
    const redisPid = Number(logLines(started).find((line) => line.redisPid !== undefined)?.redisPid);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/graphql$/);
    expect(url).not.toMatch(/:0\//);
    expect(isRunning(redisPid)).toBe(true);
    const base = url.replace(/\/graphql$/, '');
    await waitFor(async () => (await fetch(`${base}/health`)).status === 200, {
      message: '/health never 200',
    });

    const receiver = await startReceiver();
    receivers.push(receiver);
    await graphql(url, 'mutation { createTopic(input: { name: "orders", kind: FANOUT }) { name } }');
    const created = await graphql(
      url,
      'mutation ($url: String!) { createQueue(input: { topic: "orders", name: "hook", target: WEBHOOK, url: $url }) { signingSecret } }',
      { url: receiver.url },
    );
    const secret = String(created.createQueue?.signingSecret);
    const published = await graphql(
      url,
      'mutation { publish(input: { topic: "orders", payload: { id: 42 } }) { messageId routedTo } }',
    );
    expect(published.publish?.routedTo).toEqual(['hook']);

    await waitFor(() => receiver.requests.length > 0, {
      timeoutMs: 10_000,
      message: 'the webhook delivery never arrived',
    });
    const [delivery] = receiver.requests;
    if (!delivery) throw new Error('no delivery');
    const headers = Object.fromEntries(
      Object.entries(delivery.headers).filter(
        (entry): entry is [string, string] => typeof entry[1] === 'string',
      ),
    );
    const verified = new Webhook(secret).verify(delivery.body, headers);
    expect(verified).toMatchObject({
      id: published.publish?.messageId,
      topic: 'orders',
      payload: { id: 42 },
    });

    started.child.kill('SIGTERM');
    const exit = await Promise.race([
      started.exited,
      new Promise<null>((resolve) => setTimeout(() => resolve(null), 15_000)),
    ]);
    expect(exit).toEqual({ code: 0, signal: null });
    await waitFor(() => !isRunning(redisPid), { message: `redis-server ${redisPid} is still running` });
    // The embedded Redis kept its data where the README says.
    expect(logLines(started).find((line) => line.dir !== undefined)?.dir).toBe(join(dataDir, 'redis'));
  });

  it('should print one line and exit non-zero when redis-server is not on PATH and REDIS_URL is unset', async () => {
    const started = start({ PATH: await tempDir(), SWITCHYARD_DATA_DIR: await tempDir(), PORT: '0' });
    const exit = await started.exited;
    expect(exit.code).toBe(1);
    expect(started.stderr()).toBe(`${REDIS_SERVER_MISSING_MESSAGE}\n`);
  });

  it('should exit with 2 and name the variable when a setting is invalid', async () => {
    const started = start({ PORT: 'eighty', SWITCHYARD_DATA_DIR: await tempDir() });
    const exit = await started.exited;
    expect(exit.code).toBe(2);
    expect(started.stderr()).toMatch(/^PORT: got "eighty", expected an integer from 0 to 65535/m);
  });

  it('should refuse to start on a bad topology file, naming it, and stop its embedded Redis', async () => {
    const dir = await tempDir();
    const file = join(dir, 'topology.json');
    await writeFile(file, JSON.stringify({ topics: [{ name: 'orders', kind: 'QUEUE' }] }));
    const started = start({ PORT: '0', SWITCHYARD_DATA_DIR: dir, SWITCHYARD_TOPOLOGY: file });
    const exit = await started.exited;
    expect(exit.code).toBe(1);
    expect(started.stderr()).toContain(`Topology file ${file} is not valid`);
    expect(started.stderr()).toContain(
      'topics[0].kind: expected one of FANOUT, DIRECT, TOPIC, HEADERS, got "QUEUE"',
    );
    const redisPid = Number(logLines(started).find((line) => line.redisPid !== undefined)?.redisPid);
    expect(redisPid).toBeGreaterThan(0);
    expect(isRunning(redisPid)).toBe(false);
  });
});
