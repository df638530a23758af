import {
  type DocumentNode,
  type ExecutionResult,
  type FieldNode,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { MiB } from '../queues/core/index.js';
import { createLiveBuffer, type LiveBuffer } from '../queues/live/index.js';

/** Root subscription fields whose events do not depend on who subscribed, beyond their credentials. */
export const SHAREABLE_FIELDS: ReadonlySet<string> = new Set(['messages', 'deliveryEvents', 'stats']);

/** The field each shareable subscription reports its own losses in (`droppedBefore`). */
const DROP_FIELD = 'droppedBefore';

export interface SharedSubscriptionsOptions {
  /**
   * Results held per subscriber that reads slower than events arrive; beyond it the oldest are dropped
   * and the next result's `droppedBefore` says how many.
   * @default 1000
   */
  maxBufferedResults?: number;
  /**
   * Bytes of (serialized) results held per subscriber, the same way.
   * @default 4 MiB
   */
  maxBufferedBytes?: number;
  /** Called for each result dropped for a subscriber that read too slowly, for counting. @default none */
  onDrop?: (plan: ShareablePlan) => void;
}

/** What makes two subscriptions the same: document, operation, variables and the caller's credentials. */
export interface ShareablePlan {
  /** Equal for subscriptions that may share one execution. */
  key: string;
  /** The root field's response key (its alias, if any). */
  rootKey: string;
  /** The root field's name: `messages`, `deliveryEvents`, ... */
  rootField: string;
  /** Response keys (aliases) under which the root field's `droppedBefore` is selected. */
  dropKeys: string[];
}

/** One result of a group, serialized once for all its subscribers. */
interface Entry {
  json: string;
}

/**
 * Writes one serialized result to one subscriber. Answers true when the next may be written at once
 * (`resume` is then never called), false when the writer must wait for `resume`, which comes once
 * the socket has room again, or with an error when it is gone.
 */
export type WriteResult = (json: string, resume: (error?: Error) => void) => boolean;

interface Listener {
  deliver(entry: Entry): void;
  end(error?: Error): void;
  /** Bytes of results held for this subscriber, not yet written to its socket. */
  readonly heldBytes: number;
}

interface Group {
  upstream: AsyncIterator<ExecutionResult>;
  listeners: Set<Listener>;
}

/**
 * Decides whether an operation can share its execution: a subscription with exactly one root field
 * from {@link SHAREABLE_FIELDS}. Answers null otherwise (consume, for one, pushes each subscriber its
 * own deliveries).
 */
export function planSharing(
  document: DocumentNode,
  operationName: string | null | undefined,
  identity: string,
  variables: unknown,
  query: string,
): ShareablePlan | null {
  const operations = document.definitions.filter(
    (definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION,
  );
  const operation = operationName
    ? operations.find((candidate) => candidate.name?.value === operationName)
    : operations.length === 1
      ? operations[0]
      : undefined;
  if (operation?.operation !== 'subscription') return null;
  const roots = operation.selectionSet.selections;
  const root = roots[0];
  if (roots.length !== 1 || root?.kind !== Kind.FIELD || !SHAREABLE_FIELDS.has(root.name.value)) return null;
  // Directives could make the selection depend on more than the document and variables; do not share.
  if (root.directives?.length) return null;
  const dropKeys = root.selectionSet ? responseKeysOf(root.selectionSet, document, DROP_FIELD) : [];
  return {
    key: JSON.stringify([query, operationName ?? null, variables ?? null, identity]),
    rootKey: root.alias?.value ?? root.name.value,
    rootField: root.name.value,
    dropKeys,
  };
}

/** The response keys under which `field` is selected at the top of a selection set, fragments included. */
function responseKeysOf(selectionSet: SelectionSetNode, document: DocumentNode, field: string): string[] {
  const keys = new Set<string>();
  const visit = (set: SelectionSetNode, depth: number) => {
    if (depth > 10) return;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value === field) keys.add((selection as FieldNode).alias?.value ?? field);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        visit(selection.selectionSet, depth + 1);
      } else {
        const fragment = document.definitions.find(
          (definition) =>
            definition.kind === Kind.FRAGMENT_DEFINITION && definition.name.value === selection.name.value,
        );
        if (fragment?.kind === Kind.FRAGMENT_DEFINITION) visit(fragment.selectionSet, depth + 1);
      }
    }
  };
  visit(selectionSet, 0);
  return [...keys];
}

/** The result with this subscriber's own losses added to every `droppedBefore` it selected. */
function withDrops(json: string, plan: ShareablePlan, dropped: number): string {
  if (plan.dropKeys.length === 0) return json;
  const result = JSON.parse(json) as ExecutionResult;
  const root = result.data?.[plan.rootKey];
  if (typeof root !== 'object' || root === null) return json;
  const patched: Record<string, unknown> = { ...(root as Record<string, unknown>) };
  for (const key of plan.dropKeys) {
    const before = patched[key];
    patched[key] = (typeof before === 'number' ? before : 0) + dropped;
  }
  return JSON.stringify({ ...result, data: { ...result.data, [plan.rootKey]: patched } });
}

const DONE: IteratorResult<ExecutionResult> = { value: undefined, done: true };

type Groups = Map<string, Group>;

/** Reads the group's upstream once and hands each result, serialized once, to every listener. */
async function pump(groups: Groups, key: string, group: Group): Promise<void> {
  let failure: Error | undefined;
  try {
    for (;;) {
      const next = await group.upstream.next();
      if (next.done) break;
      const entry: Entry = { json: JSON.stringify(next.value) };
      for (const listener of group.listeners) listener.deliver(entry);
      if (group.listeners.size === 0) break;
    }
  } catch (error) {
    failure = error instanceof Error ? error : new Error(String(error));
  }
  if (groups.get(key) === group) groups.delete(key);
  for (const listener of [...group.listeners]) listener.end(failure);
  group.listeners.clear();
}

/** The running group of `key`, with `candidate` closed; or a new one with `candidate` as its upstream. */
function groupFor(groups: Groups, key: string, candidate: AsyncIterable<ExecutionResult>): Group {
  const running = groups.get(key);
  if (running) {
    void candidate[Symbol.asyncIterator]().return?.();
    return running;
  }
  const group: Group = { upstream: candidate[Symbol.asyncIterator](), listeners: new Set() };
  groups.set(key, group);
  void pump(groups, key, group);
  return group;
}

/** Takes `listener` out of its group; the last one out closes the upstream. */
function leave(groups: Groups, key: string, group: Group, listener: Listener): void {
  group.listeners.delete(listener);
  if (group.listeners.size > 0) return;
  if (groups.get(key) === group) groups.delete(key);
  void group.upstream.return?.();
}

interface BufferLimits {
  maxItems: number;
  maxBytes: number;
  onDrop: () => void;
}

/**
 * One subscriber of a group: its own bounded buffer, its writes through `write`, and the stream
 * graphql-ws iterates, which yields nothing and settles when the subscriber is done.
 */
class Subscriber implements Listener {
  private writing = false;
  private ending = false;
  /** Set once the buffer closes (the subscriber left or failed): nothing more is written. */
  private closed = false;
  private settle: (result: IteratorResult<ExecutionResult>) => void = () => {};
  private fail: (error: Error) => void = () => {};
  private readonly settled = new Promise<IteratorResult<ExecutionResult>>((resolve, reject) => {
    this.settle = resolve;
    this.fail = reject;
  });
  private readonly buffer: LiveBuffer<Entry>;

  constructor(
    private readonly plan: ShareablePlan,
    private readonly write: WriteResult,
    limits: BufferLimits,
    onClose: (subscriber: Subscriber) => void,
  ) {
    this.buffer = createLiveBuffer<Entry>({
      maxItems: limits.maxItems,
      maxBytes: limits.maxBytes,
      sizeOf: (entry) => entry.json.length,
      onDrop: limits.onDrop,
      onClose: () => {
        this.closed = true;
        onClose(this);
      },
    });
  }

  get heldBytes(): number {
    return this.buffer.bytes;
  }

  deliver(entry: Entry): void {
    if (this.writing || this.closed) {
      this.buffer.push(entry);
      this.writeNext();
      return;
    }
    // Not writing means the buffer is empty (writeNext only stops early while a write is pending), and
    // an empty buffer has no drops left to report: the result goes out as it is, without passing
    // through the buffer. This is every delivery to a subscriber that keeps up, and it touches only
    // this object and the transport's, not the buffer's slot and state (at 1,000 subscribers per
    // message those are cold in the CPU cache).
    this.writing = true;
    if (this.write(entry.json, this.resume)) this.writing = false;
  }

  end(error?: Error): void {
    if (error) {
      void this.buffer.return();
      this.fail(error);
      return;
    }
    this.ending = true;
    this.writeNext();
  }

  // Results go out while the socket has room; once it has not, the next ones wait in the buffer
  // (where the oldest are dropped) until the socket drains, so a slow reader costs bounded memory.
  private readonly resume = (error?: Error): void => {
    this.writing = false;
    if (error) {
      void this.buffer.return();
      this.fail(error);
    } else this.writeNext();
  };

  private writeNext(): void {
    const { buffer, plan } = this;
    while (!this.writing && !buffer.closed) {
      const next = buffer.shift();
      if (!next) {
        if (this.ending) {
          void buffer.return();
          this.settle(DONE);
        }
        return;
      }
      const json =
        next.droppedBefore > 0 ? withDrops(next.item.json, plan, next.droppedBefore) : next.item.json;
      this.writing = true;
      if (this.write(json, this.resume)) this.writing = false;
    }
  }

  /** What graphql-ws iterates: its `return()` (the client's `complete`, the socket's close) leaves. */
  stream(): AsyncIterableIterator<ExecutionResult> {
    const { buffer } = this;
    const stream: AsyncIterableIterator<ExecutionResult> = {
      next: () => this.settled,
      return: async () => {
        await buffer.return();
        this.settle(DONE);
        return DONE;
      },
      throw: async (error?: unknown) => {
        await buffer.return();
        this.settle(DONE);
        throw error instanceof Error ? error : new Error(String(error));
      },
      [Symbol.asyncIterator]: () => stream,
    };
    return stream;
  }
}

/**
 * Executes each distinct live subscription once per instance and fans the results out. A thousand
 * dashboards tailing one topic with the same query cost one GraphQL execution and one JSON
 * serialization per message instead of a thousand. Every subscriber still goes through the whole
 * subscribe pipeline (auth, limits, validation) before it joins; only the per-event work is shared.
 *
 * Results are written to each subscriber by the transport's `write`, not handed back through
 * graphql-ws's per-subscription loop: graphql-ws gets a stream that yields nothing and ends when the
 * group does, while each result costs one string and one socket write per subscriber. Each subscriber
 * has its own bounded buffer, so one slow reader neither holds the others back nor grows memory.
 */
export function createSharedSubscriptions(options: SharedSubscriptionsOptions = {}) {
  const maxItems = options.maxBufferedResults ?? 1000;
  const maxBytes = options.maxBufferedBytes ?? 4 * MiB;
  const groups: Groups = new Map();

  return {
    /**
     * Joins the group of `plan.key` with `candidate`, the subscriber's own result stream: the first one
     * becomes the group's upstream, later ones are closed at once and fed from it instead. Results go
     * to `write`; the answer is what graphql-ws iterates: it yields nothing, ends when the group ends
     * (or fails with it), and its `return()` (the client's `complete`, the socket's close) leaves.
     */
    join(
      plan: ShareablePlan,
      candidate: AsyncIterable<ExecutionResult>,
      write: WriteResult,
    ): AsyncIterableIterator<ExecutionResult> {
      const group = groupFor(groups, plan.key, candidate);
      const limits = { maxItems, maxBytes, onDrop: () => options.onDrop?.(plan) };
      const subscriber = new Subscriber(plan, write, limits, (self) => leave(groups, plan.key, group, self));
      group.listeners.add(subscriber);
      return subscriber.stream();
    },
    /** Bytes of results held for subscribers that read slower than results come (each bounded by maxBytes). */
    get heldBytes() {
      let bytes = 0;
      for (const group of groups.values())
        for (const listener of group.listeners) bytes += listener.heldBytes;
      return bytes;
    },
    /** Distinct executions running, and subscribers fed by them. */
    get size() {
      let listeners = 0;
      for (const group of groups.values()) listeners += group.listeners.size;
      return { groups: groups.size, listeners };
    },
  };
}

export type SharedSubscriptions = ReturnType<typeof createSharedSubscriptions>;
