/**
 * The routing rules: which queues of a topic receive a message. Pure functions only, so the engine,
 * the GraphQL validation and the tests all share one definition of "matches".
 */
import type { HeaderMatch, Headers, QueueRecord, TopicKind, TopicRecord } from '../core/index.js';

export const MAX_BINDING_KEY_LENGTH = 255;
export const MAX_BINDING_HEADERS = 64;
export const MAX_HEADER_NAME_LENGTH = 128;

// ---------------------------------------------------------------------------------------------
// Topic patterns

/** A topic pattern split once, so routing a message never re-parses a binding key. */
export interface CompiledPattern {
  readonly source: string;
  readonly words: readonly string[];
  /** No `*` or `#`: the pattern matches only the identical key, so a word-by-word compare suffices. */
  readonly literal: boolean;
}

/** AMQP splits on every dot, so empty words are real words ('' is one empty word, not zero words). */
const splitWords = (key: string): string[] => key.split('.');

/**
 * Adjacent `#`s are collapsed because `#.#` accepts exactly what `#` accepts; fewer states keeps
 * the matcher's work proportional to the meaningful part of the pattern.
 */
export function compileTopicPattern(pattern: string): CompiledPattern {
  const words: string[] = [];
  for (const word of splitWords(pattern)) {
    if (word === '#' && words[words.length - 1] === '#') continue;
    words.push(word);
  }
  const literal = !words.some((w) => w === '*' || w === '#');
  return { source: pattern, words, literal };
}

/**
 * Follows the free moves out of `#` states (a `#` may match zero words). Those moves only go
 * forward, so one left-to-right pass reaches the full closure.
 */
function closeOverHashes(words: readonly string[], active: Uint8Array): void {
  for (let i = 0; i < words.length; i++) {
    if (active[i] === 1 && words[i] === '#') active[i + 1] = 1;
  }
}

/**
 * Runs the pattern as an NFA whose state i means "the first i pattern words are satisfied". Tracking
 * the set of states instead of backtracking bounds the work to O(pattern words x key words), so
 * hostile patterns like `#.#.#.x` cannot blow up.
 */
export function matchCompiled(compiled: CompiledPattern, keyWords: readonly string[]): boolean {
  const { words } = compiled;
  if (compiled.literal) return words.length === keyWords.length && words.every((w, i) => w === keyWords[i]);
  let active = new Uint8Array(words.length + 1);
  active[0] = 1;
  closeOverHashes(words, active);
  for (const keyWord of keyWords) {
    const next = new Uint8Array(words.length + 1);
    let alive = false;
    for (let i = 0; i < words.length; i++) {
      if (active[i] !== 1) continue;
      const word = words[i];
      if (word === '#') {
        next[i] = 1;
        alive = true;
      } else if (word === '*' || word === keyWord) {
        next[i + 1] = 1;
        alive = true;
      }
    }
    // No state survived this word, so no later word can revive one.
    if (!alive) return false;
    closeOverHashes(words, next);
    active = next;
  }
  return active[words.length] === 1;
}

/** AMQP topic-exchange matching: `*` is exactly one word (possibly empty), `#` is zero or more. */
export function topicPatternMatches(pattern: string, routingKey: string): boolean {
  return matchCompiled(compileTopicPattern(pattern), splitWords(routingKey));
}

// ---------------------------------------------------------------------------------------------
// Headers

/**
 * Message headers keyed by lower-cased name. A name can appear in several casings in one message,
 * so each keeps every value it was sent with rather than letting the last casing win.
 */
type HeaderIndex = ReadonlyMap<string, readonly string[]>;

function indexHeaders(headers: Headers): HeaderIndex {
  const index = new Map<string, string[]>();
  // Object.entries, never obj[name], so names like `__proto__` or `constructor` are plain data.
  for (const [name, value] of Object.entries(headers)) {
    const key = name.toLowerCase();
    const values = index.get(key);
    if (values) values.push(value);
    else index.set(key, [value]);
  }
  return index;
}

type BindingPairs = ReadonlyArray<readonly [name: string, value: string]>;

const bindingPairs = (headers: Headers): BindingPairs =>
  Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value] as const);

function pairsMatch(pairs: BindingPairs, match: HeaderMatch, index: HeaderIndex): boolean {
  const present = ([name, value]: readonly [string, string]) => index.get(name)?.includes(value) === true;
  // ANY over no pairs is false, as in RabbitMQ: x-match=any with no other arguments binds nothing,
  // since "at least one of nothing" can never hold. ALL over no pairs is vacuously true.
  return match === 'ALL' ? pairs.every(present) : pairs.some(present);
}

/**
 * Header-exchange matching. Names compare case-insensitively, as HTTP header names do, because
 * publishers often come through HTTP stacks that re-case them; values compare exactly.
 */
export function headersMatch(bindingHeaders: Headers, match: HeaderMatch, messageHeaders: Headers): boolean {
  return pairsMatch(bindingPairs(bindingHeaders), match, indexHeaders(messageHeaders));
}

// ---------------------------------------------------------------------------------------------
// One queue

export type QueueBinding = Pick<QueueRecord, 'bindingKey' | 'headers' | 'headerMatch'>;

/**
 * Whether one queue's binding accepts a message. A DIRECT or TOPIC queue without a binding key is
 * malformed (validateBinding refuses it); it matches nothing rather than guessing what was meant.
 */
export function queueMatches(
  kind: TopicKind,
  queue: QueueBinding,
  routingKey: string | null,
  headers: Headers,
): boolean {
  switch (kind) {
    case 'FANOUT':
      return true;
    case 'DIRECT':
      return routingKey !== null && routingKey === queue.bindingKey;
    case 'TOPIC':
      return queue.bindingKey !== null && topicPatternMatches(queue.bindingKey, routingKey ?? '');
    case 'HEADERS':
      return headersMatch(queue.headers ?? {}, queue.headerMatch ?? 'ALL', headers);
  }
}

// ---------------------------------------------------------------------------------------------
// Validation

export interface BindingInput {
  bindingKey?: string | null;
  headers?: unknown;
  headerMatch?: HeaderMatch | null;
}

const isAbsent = (value: unknown): value is null | undefined => value === null || value === undefined;

function validateKeyLength(kind: TopicKind, bindingKey: string | null | undefined): string | null {
  if (isAbsent(bindingKey)) return `bindingKey is required for ${kind} topics`;
  if (bindingKey.length < 1 || bindingKey.length > MAX_BINDING_KEY_LENGTH) {
    return `bindingKey must be 1 to ${MAX_BINDING_KEY_LENGTH} characters long`;
  }
  return null;
}

function validateTopicPattern(bindingKey: string): string | null {
  const bad = splitWords(bindingKey).find((w) => w !== '*' && w !== '#' && /[*#]/.test(w));
  if (bad === undefined) return null;
  return `bindingKey word '${bad}' is invalid: '*' and '#' must stand alone as a whole word`;
}

/** Only plain objects: a Map, Date or class instance would pass `typeof` but carry no entries. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function validateBindingHeaders(headers: unknown): string | null {
  if (isAbsent(headers)) return 'headers are required for HEADERS topics';
  if (!isPlainObject(headers)) return 'headers must be an object of string values';
  const entries = Object.entries(headers);
  if (entries.length < 1 || entries.length > MAX_BINDING_HEADERS) {
    return `headers must have 1 to ${MAX_BINDING_HEADERS} entries`;
  }
  const seen = new Set<string>();
  for (const [name, value] of entries) {
    if (name.length < 1 || name.length > MAX_HEADER_NAME_LENGTH) {
      return `headers names must be 1 to ${MAX_HEADER_NAME_LENGTH} characters long`;
    }
    if (typeof value !== 'string') return `headers['${name}'] must be a string`;
    // Names match case-insensitively, so two casings of one name would be one ambiguous condition.
    const folded = name.toLowerCase();
    if (seen.has(folded)) return `headers name '${name}' appears twice (names are case-insensitive)`;
    seen.add(folded);
  }
  return null;
}

function refuseExtras(
  kind: TopicKind,
  binding: BindingInput,
  allowed: 'none' | 'key' | 'headers',
): string | null {
  if (allowed !== 'key' && !isAbsent(binding.bindingKey))
    return `bindingKey is not allowed for ${kind} topics`;
  if (allowed !== 'headers' && !isAbsent(binding.headers))
    return `headers are not allowed for ${kind} topics`;
  // headerMatch only qualifies headers, so anywhere headers are refused it would be silently ignored.
  if (allowed !== 'headers' && !isAbsent(binding.headerMatch)) {
    return `headerMatch is not allowed for ${kind} topics`;
  }
  return null;
}

/** Null when the binding fits the topic kind, else a message naming the offending field. */
export function validateBinding(kind: TopicKind, binding: BindingInput): string | null {
  switch (kind) {
    case 'FANOUT':
      return refuseExtras(kind, binding, 'none');
    case 'DIRECT':
      return refuseExtras(kind, binding, 'key') ?? validateKeyLength(kind, binding.bindingKey);
    case 'TOPIC':
      return (
        refuseExtras(kind, binding, 'key') ??
        validateKeyLength(kind, binding.bindingKey) ??
        validateTopicPattern(binding.bindingKey ?? '')
      );
    case 'HEADERS':
      return refuseExtras(kind, binding, 'headers') ?? validateBindingHeaders(binding.headers);
  }
}

// ---------------------------------------------------------------------------------------------
// Routing table

export interface RoutingTable {
  /** The queues of `topic` that accept the message, ordered by queue name; [] for an unknown topic. */
  route(topic: string, routingKey: string | null, headers: Headers): QueueRecord[];
  topic(name: string): TopicRecord | undefined;
  /** Every topic, ordered by name. */
  topics(): TopicRecord[];
  /** Every queue bound to `topic`, ordered by queue name. */
  queues(topic: string): QueueRecord[];
}

/** Code-unit order rather than localeCompare, so the order never depends on the server's locale. */
const byName = (a: QueueRecord, b: QueueRecord): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

type Router = (routingKey: string | null, headers: Headers) => readonly QueueRecord[];

function fanoutRouter(queues: readonly QueueRecord[]): Router {
  return () => queues;
}

function directRouter(queues: readonly QueueRecord[]): Router {
  const byKey = new Map<string, QueueRecord[]>();
  // Queues arrive sorted, so every bucket is sorted too.
  for (const queue of queues) {
    if (queue.bindingKey === null) continue;
    const bucket = byKey.get(queue.bindingKey);
    if (bucket) bucket.push(queue);
    else byKey.set(queue.bindingKey, [queue]);
  }
  return (routingKey) => (routingKey === null ? [] : (byKey.get(routingKey) ?? []));
}

function topicRouter(queues: readonly QueueRecord[]): Router {
  const compiled = queues.flatMap((queue) =>
    queue.bindingKey === null ? [] : [{ queue, pattern: compileTopicPattern(queue.bindingKey) }],
  );
  return (routingKey) => {
    const keyWords = splitWords(routingKey ?? '');
    return compiled.filter(({ pattern }) => matchCompiled(pattern, keyWords)).map(({ queue }) => queue);
  };
}

function headersRouter(queues: readonly QueueRecord[]): Router {
  const compiled = queues.map((queue) => ({
    queue,
    pairs: bindingPairs(queue.headers ?? {}),
    match: queue.headerMatch ?? 'ALL',
  }));
  return (_routingKey, headers) => {
    const index = indexHeaders(headers);
    return compiled.filter(({ pairs, match }) => pairsMatch(pairs, match, index)).map(({ queue }) => queue);
  };
}

const ROUTERS: Record<TopicKind, (queues: readonly QueueRecord[]) => Router> = {
  FANOUT: fanoutRouter,
  DIRECT: directRouter,
  TOPIC: topicRouter,
  HEADERS: headersRouter,
};

interface TopicEntry {
  readonly record: TopicRecord;
  readonly queues: readonly QueueRecord[];
  readonly route: Router;
}

/**
 * Precomputes each topic's router once, so publishing does no per-message parsing of bindings.
 * Queues naming an unknown topic are ignored. Paused queues are kept: a paused queue still
 * accumulates messages and only stops delivering them.
 */
export function createRoutingTable(
  topics: readonly TopicRecord[],
  queues: readonly QueueRecord[],
): RoutingTable {
  const entries = new Map<string, TopicEntry>();
  for (const record of topics) {
    const own = queues.filter((q) => q.topic === record.name).sort(byName);
    entries.set(record.name, { record, queues: own, route: ROUTERS[record.kind](own) });
  }
  // Callers get copies, so mutating a result can never corrupt the precomputed table.
  return {
    route: (topic, routingKey, headers) => [...(entries.get(topic)?.route(routingKey, headers) ?? [])],
    topic: (name) => entries.get(name)?.record,
    topics: () =>
      [...entries.values()]
        .map((entry) => entry.record)
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    queues: (topic) => [...(entries.get(topic)?.queues ?? [])],
  };
}
