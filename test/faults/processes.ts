/**
 * The processes a fault test breaks: a real `redis-server` (AOF, `appendfsync always`) and real gateway
 * processes started from the build `npm start` runs (`node dist/server/index.js`), each of which can be
 * SIGKILLed, SIGTERMed, SIGSTOPped, SIGCONTed and started again on the same port. Loopback only.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { type RedisProcess, startRedisServer } from '../../server/redis-process.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ENTRY = join(ROOT, 'dist/server/index.js');
/** The admin key every fault gateway is started with; requests carry it as a Bearer token. */
export const ADMIN_KEY = 'fault-suite-admin-key-0123456789';

const BUILD_LOCK = join(ROOT, 'dist/.fault-build.lock');
const BUILD_TIMEOUT_MS = 180_000;
const START_TIMEOUT_MS = 30_000;

/** Newest modification time under `dir` of files ending in `ext`. */
function newest(dir: string, ext: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) latest = Math.max(latest, newest(path, ext));
    else if (entry.name.endsWith(ext)) latest = Math.max(latest, statSync(path).mtimeMs);
  }
  return latest;
}

function isStale(): boolean {
  if (!existsSync(ENTRY)) return true;
  const built = statSync(ENTRY).mtimeMs;
  const sources = Math.max(
    ...['server', 'queues', 'schema', 'resolvers'].map((dir) => newest(join(ROOT, dir), '.ts')),
    newest(join(ROOT, 'queues'), '.lua'),
  );
  return sources > built;
}

/**
 * Builds dist/ (the server part of `npm run build`: tsc and the Lua commands; the dashboard is not
 * needed here) when it is missing or older than the sources. Several fault files start at once, so
 * one builds under a lock directory and the others wait for it.
 */
export async function ensureBuilt(): Promise<void> {
  const deadline = Date.now() + BUILD_TIMEOUT_MS;
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  for (;;) {
    if (!isStale()) return;
    let locked = false;
    try {
      mkdirSync(BUILD_LOCK);
      locked = true;
    } catch {
      // Somebody else builds; a lock older than the timeout was left by a killed run.
      const lockedAt = statSync(BUILD_LOCK, { throwIfNoEntry: false })?.mtimeMs ?? Date.now();
      if (Date.now() - lockedAt > BUILD_TIMEOUT_MS) rmdirSync(BUILD_LOCK);
    }
    if (locked) {
      try {
        if (!isStale()) return;
        const tsc = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, encoding: 'utf8' });
        // tsc emits despite type errors; an error in someone's half-done edit must not stop the suite,
        // but it is said, and a build that emitted nothing fails.
        if (tsc.status !== 0)
          process.stderr.write(`fault suite: tsc reported errors:\n${tsc.stdout}${tsc.stderr}`);
        if (!existsSync(ENTRY)) throw new Error(`tsc -p tsconfig.build.json emitted no ${ENTRY}`);
        // The same step as `npm run build`, so the Lua files land wherever the build puts them.
        const copy = spawnSync('npm', ['run', '--silent', 'build:lua'], { cwd: ROOT, encoding: 'utf8' });
        if (copy.status !== 0) throw new Error(`copying the Lua commands into dist/ failed: ${copy.stderr}`);
        return;
      } finally {
        rmdirSync(BUILD_LOCK);
      }
    }
    if (Date.now() > deadline) throw new Error('ensureBuilt: another build held the lock too long');
    await sleep(500);
  }
}

/** The kernel's choice of a free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

/** True while `pid` runs; a zombie (exited, not yet reaped by init) counts as gone. */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) state ..."; comm may hold spaces, the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** A redis-server with `appendfsync always` in a temp dir of its own. */
export interface FaultRedis {
  readonly url: string;
  readonly pid: number;
  readonly dir: string;
  /** SIGKILL, then start again on the same port from the same dir (so from its AOF). Answers ms down. */
  crashAndRestart(downMs?: number): Promise<void>;
  /** SIGKILL only. */
  kill(): Promise<void>;
  /** Start again after kill() or stop(). */
  start(): Promise<void>;
  /** SIGSTOP: the process keeps its sockets and answers nothing. */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  /** Graceful stop (SIGTERM), keeps the dir. */
  stop(): Promise<void>;
  /** Stops and removes the dir. Idempotent. */
  close(): Promise<void>;
}

export async function startFaultRedis(): Promise<FaultRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-faults-redis-'));
  const server: RedisProcess = await startRedisServer({ dir, appendOnly: true, appendFsync: 'always' });
  let down = false;
  let paused = false;
  let closing: Promise<void> | undefined;
  const kill = async () => {
    if (paused) server.pid && process.kill(server.pid, 'SIGCONT');
    paused = false;
    process.kill(server.pid, 'SIGKILL');
    await server.exited;
    down = true;
  };
  const start = async () => {
    // restart() waits for the (already dead) child, then launches on the same port and dir.
    await server.restart();
    down = false;
  };
  return {
    url: server.url,
    get pid() {
      return server.pid;
    },
    dir,
    kill,
    start,
    async crashAndRestart(downMs = 0) {
      await kill();
      if (downMs > 0) await sleep(downMs);
      await start();
    },
    pause() {
      process.kill(server.pid, 'SIGSTOP');
      paused = true;
    },
    resume() {
      process.kill(server.pid, 'SIGCONT');
      paused = false;
    },
    async stop() {
      await server.stop();
      down = true;
    },
    close() {
      closing ??= (async () => {
        if (paused) process.kill(server.pid, 'SIGCONT');
        if (!down) await server.stop();
        await rm(dir, { recursive: true, force: true });
      })();
      return closing;
    },
  };
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One `node dist/server/index.js` process; `restart()` starts a new one on the same port and env. */
export interface GatewayProcess {
  readonly name: string;
  readonly port: number;
  /** `http://127.0.0.1:<port>/graphql` */
  readonly url: string;
  readonly pid: number;
  /** Resolves when the current process has exited. */
  readonly exited: Promise<Exit>;
  /** Every JSON log line of the current process so far. */
  logLines(): Array<Record<string, unknown>>;
  /** Its stderr so far. */
  stderr(): string;
  signal(signal: NodeJS.Signals): void;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<Exit>;
  /** A new process on the same port with the same env; resolves once it listens. */
  restart(): Promise<void>;
  /** SIGKILL if still running. Idempotent. */
  close(): Promise<void>;
}

export interface GatewayOptions {
  name: string;
  /** Omit to have the gateway start its own embedded redis-server (the `npm start` default). */
  redisUrl?: string;
  /** More environment (SWITCHYARD_*). */
  env?: Record<string, string>;
  /** Wait for /health 200 too (default true). */
  waitHealthy?: boolean;
}

/** Starts a gateway from dist/ (call ensureBuilt first) on a free port it keeps across restarts. */
export async function startGateway(options: GatewayOptions): Promise<GatewayProcess> {
  const port = await freePort();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? tmpdir(),
    PORT: String(port),
    HOST: '127.0.0.1',
    SWITCHYARD_ADMIN_KEY: ADMIN_KEY,
    SWITCHYARD_ALLOW_PRIVATE_WEBHOOKS: 'true',
    SWITCHYARD_LOG_LEVEL: 'info',
    SWITCHYARD_GRAPHIQL: 'false',
    SWITCHYARD_DASHBOARD: 'false',
    SWITCHYARD_ALERT_INTERVAL_MS: '0',
    NODE_ENV: 'production',
    ...(options.redisUrl ? { REDIS_URL: options.redisUrl } : {}),
    ...options.env,
  };
  let child: ChildProcess;
  let out = '';
  let err = '';
  let exited: Promise<Exit>;

  const launch = async () => {
    out = '';
    err = '';
    const proc = spawn(process.execPath, [ENTRY], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    proc.stdout?.on('data', (chunk: Buffer) => {
      // Only the start lines matter; keep memory bounded under long runs.
      if (out.length < 256 * 1024) out += chunk.toString('utf8');
    });
    proc.stderr?.on('data', (chunk: Buffer) => {
      if (err.length < 64 * 1024) err += chunk.toString('utf8');
    });
    exited = new Promise<Exit>((resolve) => proc.once('close', (code, signal) => resolve({ code, signal })));
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`gateway ${options.name} exited while starting:\n${out.slice(-4000)}\n${err}`);
      }
      if (/Switchyard listening on/.test(out)) break;
      if (Date.now() > deadline)
        throw new Error(`gateway ${options.name} did not listen within ${START_TIMEOUT_MS} ms`);
      await sleep(25);
    }
    if (options.waitHealthy === false) return;
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2_000) })
        .then((response) => response.status === 200)
        .catch(() => false);
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`gateway ${options.name} never answered /health 200`);
      await sleep(50);
    }
  };
  await launch();
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    name: options.name,
    port,
    url: `http://127.0.0.1:${port}/graphql`,
    get pid() {
      return child.pid ?? -1;
    },
    get exited() {
      return exited;
    },
    logLines: () =>
      out
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .flatMap((line) => {
          try {
            return [JSON.parse(line) as Record<string, unknown>];
          } catch {
            return [];
          }
        }),
    stderr: () => err,
    signal(signal) {
      if (running()) child.kill(signal);
    },
    async kill() {
      if (running()) child.kill('SIGKILL');
      return exited;
    },
    async restart() {
      if (running()) throw new Error(`gateway ${options.name} is still running`);
      await launch();
    },
    async close() {
      if (running()) {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }
      await exited;
    },
  };
}
