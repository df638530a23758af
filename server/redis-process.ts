import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { delimiter, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

/** Options for {@link startRedisServer}. */
export interface RedisServerOptions {
  /** Working directory of the server: its AOF and any dump live here. Created if missing. */
  dir: string;
  /**
   * TCP port to listen on. 0 or absent picks a free loopback port (and retries if another
   * process grabs it first); a fixed port is tried once.
   * @default 0
   */
  port?: number;
  /**
   * Keep an append-only file, so that data survives a restart.
   * @default true
   */
  appendOnly?: boolean;
  /**
   * How often the AOF is fsynced.
   * @default 'everysec'
   */
  appendFsync?: 'always' | 'everysec' | 'no';
  /**
   * Address(es) to bind, space separated as in redis.conf.
   * @default '127.0.0.1'
   */
  bind?: string;
  /**
   * File the server logs to. When absent the log is kept in memory (last few KiB) for error messages.
   * @default undefined
   */
  logFile?: string;
  /**
   * Have the kernel send the server SIGTERM when this process dies, even by SIGKILL (which runs no
   * exit hook), so that no orphan redis-server keeps the data folder and the next start never runs a
   * second server on the same AOF. Linux only, through util-linux `setpriv --pdeathsig` (which execs
   * redis-server, so the pid is the server's own); elsewhere, or without setpriv, only an orderly
   * exit of this process stops the server.
   * @default true
   */
  stopWithParent?: boolean;
}

/** A running `redis-server` child. `pid` and `exited` follow the current child across restarts. */
export interface RedisProcess {
  readonly port: number;
  /** `redis://host:port` for clients. */
  readonly url: string;
  readonly pid: number;
  /** Stop the server: SIGTERM (so the AOF is flushed), SIGKILL after 5 s. Idempotent. */
  stop(): Promise<void>;
  /** Stop and start again on the same port and dir, for fault tests. */
  restart(): Promise<void>;
  /** Resolves with the exit code of the current child (null when killed by a signal). */
  readonly exited: Promise<number | null>;
}

/** The redis-server could not be started; `output` holds the tail of its log. */
export class RedisStartError extends Error {
  override readonly name: string = 'RedisStartError';
  constructor(
    message: string,
    readonly output = '',
  ) {
    super(output ? `${message}\n${output}` : message);
  }
}

/** Someone else holds the port: worth retrying on another one when the port was ours to choose. */
class PortTakenError extends RedisStartError {
  override readonly name = 'PortTakenError';
}

/** The one line the start command prints when neither redis-server nor REDIS_URL is available. */
export const REDIS_SERVER_MISSING_MESSAGE =
  'redis-server not found on PATH: install it (apt-get install -y redis-server) or set REDIS_URL to an existing Redis';

const READY_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 5_000;
const PORT_ATTEMPTS = 5;
const PROBE_INTERVAL_MS = 25;
const OUTPUT_TAIL_CHARS = 8 * 1024;

/**
 * Path of `redis-server`, or null. Without `searchPath` the shell resolves it, so that this module
 * never reads process.env itself (server/config.ts is the only reader).
 */
export function findRedisServer(searchPath?: string): string | null {
  if (searchPath !== undefined) return findOnPath(searchPath);
  const found = spawnSync('/bin/sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const path = found.status === 0 ? found.stdout.trim() : '';
  return path && isExecutable(path) ? path : null;
}

function findOnPath(searchPath: string): string | null {
  for (const entry of searchPath.split(delimiter)) {
    const candidate = join(entry || '.', 'redis-server');
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

/**
 * util-linux `setpriv`, if it can set a parent-death signal here (Linux). The signal comes when the
 * thread that spawned the server exits: Node spawns from its main thread, so that is this process.
 */
function findSetpriv(): string | null {
  if (process.platform !== 'linux') return null;
  for (const candidate of ['/usr/bin/setpriv', '/bin/setpriv']) {
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

interface Settings {
  binary: string;
  /** `setpriv` when the server should die with us and can, else null. */
  deathSignalWrapper: string | null;
  dir: string;
  appendOnly: boolean;
  appendFsync: 'always' | 'everysec' | 'no';
  bindAddresses: string[];
  logFile: string | undefined;
  /** Where we connect to probe readiness and where clients go. */
  host: string;
}

export async function startRedisServer(options: RedisServerOptions): Promise<RedisProcess> {
  const binary = findRedisServer();
  if (!binary) throw new RedisStartError(REDIS_SERVER_MISSING_MESSAGE);
  const settings = resolveSettings(options, binary);
  await mkdir(settings.dir, { recursive: true });
  const { port, child } = await launch(settings, options.port ?? 0);
  return manage(settings, port, child);
}

function resolveSettings(options: RedisServerOptions, binary: string): Settings {
  const bindAddresses = (options.bind ?? '127.0.0.1').split(/\s+/).filter(Boolean);
  return {
    binary,
    deathSignalWrapper: (options.stopWithParent ?? true) ? findSetpriv() : null,
    // Absolute, because redis chdirs into `dir` while reading its config.
    dir: resolve(options.dir),
    appendOnly: options.appendOnly ?? true,
    appendFsync: options.appendFsync ?? 'everysec',
    bindAddresses,
    logFile: options.logFile === undefined ? undefined : resolve(options.logFile),
    host: connectHost(bindAddresses[0] ?? '127.0.0.1'),
  };
}

/** A wildcard bind is reachable on loopback; a leading '-' marks an optional address in redis.conf. */
function connectHost(bindAddress: string): string {
  const address = bindAddress.replace(/^-/, '');
  if (address === '0.0.0.0' || address === '*') return '127.0.0.1';
  if (address === '::' || address === '::*') return '::1';
  return address;
}

function isLoopback(address: string): boolean {
  const bare = address.replace(/^-/, '');
  return bare === 'localhost' || bare === '::1' || bare.startsWith('127.');
}

function redisArgs(settings: Settings, port: number): string[] {
  const args = [
    '--port',
    String(port),
    '--bind',
    ...settings.bindAddresses,
    '--dir',
    settings.dir,
    '--appendonly',
    settings.appendOnly ? 'yes' : 'no',
    '--appendfsync',
    settings.appendFsync,
    // RDB snapshots would duplicate the AOF and stall on fork; persistence is the AOF's job.
    '--save',
    '',
    '--daemonize',
    'no',
  ];
  // Without a password protected mode refuses non-loopback clients, which is only safe to lift on loopback.
  if (settings.bindAddresses.every(isLoopback)) args.push('--protected-mode', 'no');
  if (settings.logFile) args.push('--logfile', settings.logFile);
  return args;
}

/** Start on `requestedPort`, or on a freshly picked port with retries when it is 0. */
async function launch(settings: Settings, requestedPort: number): Promise<{ port: number; child: Child }> {
  if (requestedPort !== 0) return { port: requestedPort, child: await launchOn(settings, requestedPort) };
  for (let attempt = 1; ; attempt++) {
    const port = await pickFreePort();
    try {
      return { port, child: await launchOn(settings, port) };
    } catch (error) {
      if (!(error instanceof PortTakenError) || attempt >= PORT_ATTEMPTS) throw error;
    }
  }
}

/** The kernel's choice of an ephemeral port; racy by nature, hence the retries in {@link launch}. */
function pickFreePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolvePort(port) : reject(new Error('could not pick a free port'))));
    });
  });
}

/** Spawn and wait until this very child answers PING; on any failure the child is gone before we throw. */
async function launchOn(settings: Settings, port: number): Promise<Child> {
  const args = redisArgs(settings, port);
  const child = settings.deathSignalWrapper
    ? spawnChild(settings.deathSignalWrapper, ['--pdeathsig', 'SIGTERM', settings.binary, ...args])
    : spawnChild(settings.binary, args);
  const outcome = await waitUntilReady(child, settings.host, port);
  if (outcome === 'ready') return child;
  await child.stop();
  const output = await readOutput(child, settings.logFile);
  if (outcome === 'foreign' || /address already in use/i.test(output)) {
    throw new PortTakenError(`port ${port} is already in use`, output);
  }
  if (outcome === 'timeout') {
    throw new RedisStartError(`redis-server did not become ready within ${READY_TIMEOUT_MS} ms`, output);
  }
  throw new RedisStartError(`redis-server exited during startup (${child.describeExit()})`, output);
}

async function readOutput(child: Child, logFile: string | undefined): Promise<string> {
  if (!logFile) return child.output();
  try {
    return (await readFile(logFile, 'utf8')).slice(-OUTPUT_TAIL_CHARS);
  } catch {
    return child.output();
  }
}

type ReadyOutcome = 'ready' | 'exited' | 'foreign' | 'timeout';

async function waitUntilReady(child: Child, host: string, port: number): Promise<ReadyOutcome> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.hasExited()) return 'exited';
    // A child that dies mid-probe (bind error) should not leave us waiting on a probe's timeout.
    const pid = await Promise.race([
      probePid(host, port, deadline - Date.now()),
      child.exited.then(() => null),
    ]);
    if (child.hasExited()) return 'exited';
    // Another server answering on "our" port means we lost the port race.
    if (pid !== null) return pid === child.pid ? 'ready' : 'foreign';
    await sleep(PROBE_INTERVAL_MS);
  }
  return 'timeout';
}

/** PID of the server answering PING on host:port, or null while it is not up (or still loading the AOF). */
async function probePid(host: string, port: number, budgetMs: number): Promise<number | null> {
  const client = new Redis({
    host,
    port,
    lazyConnect: true,
    enableReadyCheck: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    // Something that accepts but never answers (not redis at all) must not stall startup.
    connectTimeout: Math.max(100, Math.min(1_000, budgetMs)),
    commandTimeout: Math.max(100, Math.min(1_000, budgetMs)),
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    const match = /^process_id:(\d+)/m.exec(await client.info('server'));
    return match?.[1] ? Number(match[1]) : null;
  } catch {
    return null;
  } finally {
    client.disconnect();
  }
}

/** One spawned redis-server and what we know about it. */
interface Child {
  readonly pid: number;
  readonly exited: Promise<number | null>;
  hasExited(): boolean;
  describeExit(): string;
  output(): string;
  /** SIGTERM, SIGKILL after the grace period; resolves once the process is gone. Idempotent. */
  stop(): Promise<void>;
}

function spawnChild(binary: string, args: string[]): Child {
  const proc = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  // Always drain the pipes: a full pipe would block redis on its next log line.
  const append = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
  };
  proc.stdout?.on('data', append);
  proc.stderr?.on('data', append);
  const exited = trackExit(proc, append);
  let stopping: Promise<void> | undefined;
  return {
    pid: proc.pid ?? -1,
    exited,
    hasExited: () => proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined,
    describeExit: () => `code ${proc.exitCode}, signal ${proc.signalCode}`,
    output: () => tail,
    stop: () => {
      stopping ??= terminate(proc, exited);
      return stopping;
    },
  };
}

const live = new Set<ChildProcess>();

/**
 * Resolves on 'close' rather than 'exit' so the last log lines (the bind error we look for) are read by
 * then; also on a spawn error, which may never be followed by either.
 */
function trackExit(proc: ChildProcess, log: (chunk: Buffer) => void): Promise<number | null> {
  if (proc.pid !== undefined) register(proc);
  return new Promise((resolveExit) => {
    proc.once('close', (code) => {
      live.delete(proc);
      resolveExit(code);
    });
    proc.once('error', (error) => {
      log(Buffer.from(`spawn error: ${error.message}\n`));
      if (proc.pid === undefined) resolveExit(null);
    });
  });
}

let exitHookInstalled = false;

/** A dying parent cannot wait, but SIGTERM lets each orphan flush its AOF and exit on its own. */
function register(proc: ChildProcess): void {
  live.add(proc);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const orphan of live) orphan.kill('SIGTERM');
  });
}

/** SIGTERM rather than SHUTDOWN NOSAVE: NOSAVE would skip the final AOF flush and lose the last second. */
async function terminate(proc: ChildProcess, exited: Promise<number | null>): Promise<void> {
  // Already dead or never spawned: still wait, so its last output is drained.
  if (proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) {
    await exited;
    return;
  }
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

function manage(settings: Settings, port: number, first: Child): RedisProcess {
  let child = first;
  const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
  return {
    port,
    url: `redis://${host}:${port}`,
    get pid() {
      return child.pid;
    },
    get exited() {
      return child.exited;
    },
    stop: () => child.stop(),
    restart: async () => {
      await child.stop();
      child = await launchOn(settings, port);
    },
  };
}
