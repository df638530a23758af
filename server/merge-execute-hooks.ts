import type { Plugin } from 'graphql-yoga';

type OnExecute = NonNullable<Plugin['onExecute']>;
type ExecutePayload = Parameters<OnExecute>[0];
type ExecuteHooks = Extract<Awaited<ReturnType<OnExecute>>, object>;
type OnExecuteDone = NonNullable<ExecuteHooks['onExecuteDone']>;
type DonePayload = Parameters<OnExecuteDone>[0];
type DoneHooks = Extract<Awaited<ReturnType<OnExecuteDone>>, object>;

const isPromise = (value: unknown): value is PromiseLike<unknown> =>
  typeof (value as PromiseLike<unknown> | null | undefined)?.then === 'function';

/** Runs `step(0)`, `step(1)`, … in turn while `more()`, awaiting only the steps that return a promise. */
function inTurn(count: number, step: (index: number) => unknown, more: () => boolean): void | Promise<void> {
  for (let index = 0; index < count && more(); index++) {
    const out = step(index);
    if (isPromise(out)) {
      const next = index + 1;
      return Promise.resolve(out).then(() => inTurn(count - next, (i) => step(i + next), more));
    }
  }
}

/** The stream hooks several onExecuteDone hooks returned, as one (each in order, as envelop runs them). */
function mergedStreamHooks(all: DoneHooks[]): DoneHooks {
  const onNext = all.flatMap((hooks) => (hooks.onNext ? [hooks.onNext] : []));
  const onEnd = all.flatMap((hooks) => (hooks.onEnd ? [hooks.onEnd] : []));
  return {
    ...(onNext.length > 0 && {
      onNext(payload) {
        let { result } = payload;
        const step = (index: number) =>
          onNext[index]?.({
            ...payload,
            result,
            setResult(next) {
              result = next;
              payload.setResult(next);
            },
          });
        return inTurn(onNext.length, step, () => true);
      },
    }),
    ...(onEnd.length > 0 && {
      onEnd() {
        for (const end of onEnd) end();
      },
    }),
  };
}

/** Several onExecuteDone hooks as one: in order, each seeing the result the one before it set. */
function mergedDone(dones: OnExecuteDone[]): OnExecuteDone {
  if (dones.length === 1 && dones[0]) return dones[0];
  return (payload: DonePayload) => {
    let { result } = payload;
    const streams: DoneHooks[] = [];
    const step = (index: number) => {
      const out = dones[index]?.({
        ...payload,
        result,
        setResult(next) {
          result = next;
          payload.setResult(next);
        },
      });
      if (isPromise(out)) return Promise.resolve(out).then((hooks) => hooks && streams.push(hooks));
      if (out) streams.push(out);
      return undefined;
    };
    const ran = inTurn(dones.length, step, () => true);
    const answer = () => (streams.length > 0 ? mergedStreamHooks(streams) : undefined);
    return isPromise(ran) ? ran.then(answer) : answer();
  };
}

/**
 * The plugins' onExecute hooks as one hook, at the place of the first: every other hook stays where it
 * was. envelop runs each onExecute hook as a step of a promise-helpers chain (closures and thenables
 * per hook, ~1 KiB per hook and request, a tenth of what a publish allocated: docs/PERFORMANCE.md),
 * also when the hook returns at once, as the executor's, the auth check of an HTTP request and the
 * audit log's of a publish do. Here they run in the same order, synchronously until one returns a
 * promise, with envelop's semantics: each sees the execute function the ones before set, one that
 * stops execution ends the run (the later plugins' hooks included), and the onExecuteDone hooks of
 * those that ran run in order. Only the listed plugins are merged; one a plugin adds in onPluginInit
 * keeps its own hook, which then runs after the merged one.
 */
export function mergeExecuteHooks(plugins: readonly Plugin[]): Plugin[] {
  const hooks: OnExecute[] = plugins.flatMap((plugin) => (plugin.onExecute ? [plugin.onExecute] : []));
  if (hooks.length < 2) return [...plugins];
  const onExecute: OnExecute = (payload: ExecutePayload) => {
    let stopped = false;
    const dones: OnExecuteDone[] = [];
    const { setExecuteFn, setResultAndStopExecution } = payload;
    const shared: ExecutePayload = {
      ...payload,
      setExecuteFn(executeFn) {
        shared.executeFn = executeFn;
        setExecuteFn(executeFn);
      },
      setResultAndStopExecution(result) {
        stopped = true;
        setResultAndStopExecution(result);
      },
    };
    const collect = (out: Awaited<ReturnType<OnExecute>>) => {
      if (out?.onExecuteDone) dones.push(out.onExecuteDone);
    };
    const step = (index: number) => {
      const out = hooks[index]?.(shared);
      return isPromise(out) ? Promise.resolve(out).then(collect) : collect(out);
    };
    const answer = () => (dones.length > 0 ? { onExecuteDone: mergedDone(dones) } : undefined);
    const ran = inTurn(hooks.length, step, () => !stopped);
    return isPromise(ran) ? ran.then(answer) : answer();
  };
  let merged = false;
  return plugins.map((plugin) => {
    if (!plugin.onExecute) return plugin;
    const { onExecute: _moved, ...rest } = plugin;
    if (merged) return rest;
    merged = true;
    return { ...rest, onExecute };
  });
}
