/**
 * A tiny request/answer protocol over the IPC channel of a forked child, so each load generator,
 * receiver and gateway runs in a process of its own (its CPU and RSS measurable by pid) and the
 * harness can drive it step by step.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** What a child offers: methods taking at most one structured-clone-able argument. */
export type RpcHandlers = { [method: string]: (arg: never) => unknown };

type Request = { id: number; method: string; arg: unknown };
type Answer = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };
type Ready = { ready: true };

const EXIT_METHOD = '__exit';

/**
 * Child side: answers requests with `handlers` until the parent asks it to exit or goes away.
 * `close` runs before a requested exit (so a --cpu-prof profile is written on the way out).
 */
export function serveRpc(handlers: RpcHandlers, close: () => Promise<void> = async () => {}): void {
  const send = process.send?.bind(process);
  if (!send) throw new Error('serveRpc: this process was not started with an IPC channel');
  let exiting = false;
  const exit = async (code: number) => {
    if (exiting) return;
    exiting = true;
    try {
      await close();
    } catch (error) {
      console.error(error);
      code = 1;
    }
    process.exit(code);
  };
  process.on('message', async (message: Request) => {
    if (message.method === EXIT_METHOD) {
      await exit(0);
      return;
    }
    const handler = handlers[message.method] as ((arg: unknown) => unknown) | undefined;
    try {
      if (!handler) throw new Error(`unknown method ${message.method}`);
      const value = await handler(message.arg);
      send({ id: message.id, ok: true, value } satisfies Answer);
    } catch (error) {
      const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
      send({ id: message.id, ok: false, error: text } satisfies Answer);
    }
  });
  // The harness died: nobody will ever ask us to stop, so stop now.
  process.once('disconnect', () => void exit(1));
  send({ ready: true } satisfies Ready);
}

/** Parent side handle of a child started by {@link startChild}. */
export interface Child<Api extends RpcHandlers> {
  readonly pid: number;
  readonly name: string;
  /** Calls a method in the child; rejects if it throws, exits, or takes longer than the call timeout. */
  call<K extends keyof Api & string>(
    method: K,
    ...args: Parameters<Api[K]>
  ): Promise<Awaited<ReturnType<Api[K]>>>;
  /** Asks the child to exit, SIGKILL after 15 s. Idempotent. */
  stop(): Promise<void>;
}

export interface StartChildOptions {
  /** Extra environment on top of the parent's. @default {} */
  env?: Record<string, string>;
  /** Extra node flags, e.g. --cpu-prof. @default [] */
  nodeFlags?: string[];
  /** Longest any one call may take. @default 600000 (10 minutes) */
  callTimeoutMs?: number;
  /** How long the child may take to say it is ready. @default 30000 */
  readyTimeoutMs?: number;
}

const STOP_GRACE_MS = 15_000;

/** Forks `bench/<script>` under tsx and waits until it serves requests. */
export async function startChild<Api extends RpcHandlers>(
  script: string,
  options: StartChildOptions = {},
): Promise<Child<Api>> {
  const path = fileURLToPath(new URL(script, import.meta.url));
  const proc = fork(path, [], {
    execArgv: ['--import', 'tsx', ...(options.nodeFlags ?? [])],
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  await waitReady(proc, script, options.readyTimeoutMs ?? 30_000);
  return wrap<Api>(proc, script, exited, options.callTimeoutMs ?? 600_000);
}

function waitReady(proc: ChildProcess, script: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${script} was not ready within ${timeoutMs} ms`));
    }, timeoutMs);
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited during startup (code ${code})`));
    };
    proc.once('exit', onExit);
    proc.on('message', function onMessage(message: Ready | Answer) {
      if (!('ready' in message)) return;
      clearTimeout(timer);
      proc.off('exit', onExit);
      proc.off('message', onMessage);
      resolve();
    });
  });
}

function wrap<Api extends RpcHandlers>(
  proc: ChildProcess,
  script: string,
  exited: Promise<void>,
  callTimeoutMs: number,
): Child<Api> {
  let nextId = 1;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  proc.on('message', (message: Answer | Ready) => {
    if ('ready' in message) return;
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.ok) waiter.resolve(message.value);
    else waiter.reject(new Error(`${script}: ${message.error}`));
  });
  proc.once('exit', (code, signal) => {
    for (const waiter of pending.values())
      waiter.reject(new Error(`${script} exited (code ${code}, signal ${signal})`));
    pending.clear();
  });
  let stopping: Promise<void> | undefined;
  return {
    pid: proc.pid ?? -1,
    name: script,
    call<K extends keyof Api & string>(method: K, ...args: Parameters<Api[K]>) {
      const id = nextId++;
      return new Promise<Awaited<ReturnType<Api[K]>>>((resolve, reject) => {
        if (proc.exitCode !== null || proc.signalCode !== null) {
          reject(new Error(`${script} has exited; cannot call ${method}`));
          return;
        }
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${script}.${method} took longer than ${callTimeoutMs} ms`));
        }, callTimeoutMs);
        pending.set(id, {
          resolve: (value) => {
            clearTimeout(timer);
            resolve(value as Awaited<ReturnType<Api[K]>>);
          },
          reject: (error) => {
            clearTimeout(timer);
            reject(error);
          },
        });
        proc.send({ id, method, arg: args[0] } satisfies Request);
      });
    },
    stop() {
      stopping ??= (async () => {
        if (proc.exitCode !== null || proc.signalCode !== null) return;
        if (proc.connected) proc.send({ id: 0, method: EXIT_METHOD, arg: null } satisfies Request);
        else proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}
