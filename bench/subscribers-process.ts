/**
 * The process the subscribers bench (bench/subscribers.ts) measures: the gateway, or the bare `ws`
 * fan-out floor, forked with the start flags; its CPU time and RSS read from Linux /proc.
 */
import { type ChildProcess, fork, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { START_FLAGS } from './start-flags.js';

/** What decides how the measured process starts. */
export interface ProcessOptions {
  /** Share identical subscriptions' execution (the gateway's default). */
  share: boolean;
  /** Write a V8 CPU profile into this directory. */
  profileDir: string | null;
  /** Start the bare `ws` fan-out server instead of the gateway. */
  floor: boolean;
}

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** User + system CPU seconds of a process so far (Linux /proc). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

export function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match?.[1] ? Number(match[1]) * 1024 : Number.NaN;
}

export async function startGateway(
  redisUrl: string,
  options: ProcessOptions,
): Promise<{ child: ChildProcess; url: string }> {
  const { profileDir, share } = options;
  const script = options.floor ? './subscribers-floor.ts' : './subscribers-gateway.ts';
  const child = fork(fileURLToPath(new URL(script, import.meta.url)), [], {
    execArgv: [
      '--import',
      'tsx',
      ...START_FLAGS,
      ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
    ],
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      REDIS_URL: redisUrl,
      PORT: '0',
      SWITCHYARD_LOG_LEVEL: 'warn',
      SWITCHYARD_GRAPHIQL: 'false',
      SHARE_SUBSCRIPTIONS: String(share),
      NODE_ENV: 'production',
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (message: { url: string }) => resolve(message.url));
    child.once('exit', (code) => reject(new Error(`the gateway exited with ${code}`)));
  });
  return { child, url };
}

export async function stopGateway(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.connected) child.send('stop');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}
