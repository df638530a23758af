import { readFile } from 'node:fs/promises';
import {
  BACKOFFS,
  DELIVERY_MODES,
  HEADER_MATCHES,
  type RetryPolicy,
  TARGET_KINDS,
  TOPIC_KINDS,
} from '../queues/core/index.js';
import { concurrencyRangeProblems } from './topology-concurrency.js';

/** One queue as a topology file declares it; what it leaves out keeps its default (or current) value. */
export interface QueueDeclaration {
  name: string;
  target: (typeof TARGET_KINDS)[number];
  url?: string | null;
  bindingKey?: string | null;
  headers?: Record<string, string> | null;
  headerMatch?: (typeof HEADER_MATCHES)[number] | null;
  deliveryMode?: (typeof DELIVERY_MODES)[number];
  retry?: Partial<RetryPolicy>;
  concurrency?: number;
  /** WEBHOOK: a concurrency range, both or neither; both null make the concurrency fixed again. */
  minConcurrency?: number | null;
  maxConcurrency?: number | null;
  ackTimeoutMs?: number;
  maxPriority?: number;
}

/** One topic as a topology file declares it. */
export interface TopicDeclaration {
  name: string;
  kind: (typeof TOPIC_KINDS)[number];
  description?: string | null;
  maxMessageBytes?: number;
  payloadSchema?: unknown;
  queues: QueueDeclaration[];
}

/** A whole topology file: `{ "topics": [...] }`, in the spirit of RabbitMQ's definitions file. */
export interface Topology {
  topics: TopicDeclaration[];
}

/** The file cannot be used; `problems` holds one line per bad entry, each naming its path in the file. */
export class TopologyError extends Error {
  override readonly name = 'TopologyError';
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(`Topology file ${file} is not valid:\n${problems.map((problem) => `  ${problem}`).join('\n')}`);
  }
}

/** Reads and checks a topology file as a whole, so that a bad file is refused before anything is applied. */
export async function readTopologyFile(file: string): Promise<Topology> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new TopologyError(file, [`cannot be read: ${(error as Error).message}`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new TopologyError(file, [`is not JSON: ${(error as Error).message}`]);
  }
  const problems: string[] = [];
  const topology = validateTopology(json, problems);
  if (problems.length > 0 || !topology) throw new TopologyError(file, problems);
  return topology;
}

/** What a value looks like in a message: short, one line, type visible. */
function received(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  const shown = JSON.stringify(value);
  return shown.length > 60 ? `${shown.slice(0, 57)}...` : shown;
}

type Fields = Record<string, unknown>;

function isObject(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Collects problems instead of throwing, so one run of the gateway reports every mistake in the file. */
class Checker {
  constructor(private readonly problems: string[]) {}

  /** Problems found by a rule of its own, each already naming its path. */
  add(problems: readonly string[]): void {
    this.problems.push(...problems);
  }

  fail(path: string, expected: string, value: unknown): undefined {
    this.problems.push(`${path}: expected ${expected}, got ${received(value)}`);
    return undefined;
  }

  object(path: string, value: unknown, allowed: readonly string[]): Fields | undefined {
    if (!isObject(value)) return this.fail(path, 'an object', value);
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key))
        this.problems.push(`${path}.${key}: unknown field (allowed: ${allowed.join(', ')})`);
    }
    return value;
  }

  string(path: string, value: unknown): string | undefined {
    return typeof value === 'string' && value !== '' ? value : this.fail(path, 'a non-empty string', value);
  }

  integer(path: string, value: unknown): number | undefined {
    return Number.isSafeInteger(value) ? (value as number) : this.fail(path, 'an integer', value);
  }

  boolean(path: string, value: unknown): boolean | undefined {
    return typeof value === 'boolean' ? value : this.fail(path, 'true or false', value);
  }

  oneOf<const T extends string>(path: string, value: unknown, values: readonly T[]): T | undefined {
    const found = values.find((candidate) => candidate === value);
    return found ?? this.fail(path, `one of ${values.join(', ')}`, value);
  }

  stringMap(path: string, value: unknown): Record<string, string> | undefined {
    if (!isObject(value)) return this.fail(path, 'an object of string values', value);
    const bad = Object.entries(value).find(([, entry]) => typeof entry !== 'string');
    if (bad) return this.fail(`${path}.${bad[0]}`, 'a string', bad[1]);
    return value as Record<string, string>;
  }

  /** Absent stays absent; null is kept where the engine reads it as "none". */
  optional<T>(fields: Fields, key: string, read: (value: unknown) => T | undefined): T | null | undefined {
    const value = fields[key];
    if (value === undefined) return undefined;
    if (value === null) return null;
    return read(value);
  }
}

const TOPIC_FIELDS = ['name', 'kind', 'description', 'maxMessageBytes', 'payloadSchema', 'queues'] as const;
const QUEUE_FIELDS = [
  'name',
  'target',
  'url',
  'bindingKey',
  'headers',
  'headerMatch',
  'deliveryMode',
  'retry',
  'concurrency',
  'minConcurrency',
  'maxConcurrency',
  'ackTimeoutMs',
  'maxPriority',
] as const;
const RETRY_FIELDS = ['maxAttempts', 'backoff', 'delayMs', 'maxDelayMs', 'jitter'] as const;

function validateTopology(json: unknown, problems: string[]): Topology | undefined {
  const check = new Checker(problems);
  const root = check.object('(root)', json, ['topics']);
  if (!root) return undefined;
  if (!Array.isArray(root.topics)) return check.fail('topics', 'an array', root.topics);
  const seen = new Set<string>();
  const topics: TopicDeclaration[] = [];
  root.topics.forEach((entry: unknown, index) => {
    const topic = validateTopic(check, `topics[${index}]`, entry);
    if (!topic) return;
    if (seen.has(topic.name)) problems.push(`topics[${index}].name: topic ${topic.name} is declared twice`);
    seen.add(topic.name);
    topics.push(topic);
  });
  return { topics };
}

function validateTopic(check: Checker, path: string, entry: unknown): TopicDeclaration | undefined {
  const fields = check.object(path, entry, TOPIC_FIELDS);
  if (!fields) return undefined;
  const name = check.string(`${path}.name`, fields.name);
  const kind = check.oneOf(`${path}.kind`, fields.kind, TOPIC_KINDS);
  const description = check.optional(fields, 'description', (v) => check.string(`${path}.description`, v));
  const maxMessageBytes = check.optional(fields, 'maxMessageBytes', (v) =>
    check.integer(`${path}.maxMessageBytes`, v),
  );
  const queuesValue = fields.queues ?? [];
  if (!Array.isArray(queuesValue)) return check.fail(`${path}.queues`, 'an array', queuesValue);
  const where = name ? `${path} (${name})` : path;
  const seen = new Set<string>();
  const queues: QueueDeclaration[] = [];
  queuesValue.forEach((queueEntry: unknown, index) => {
    const queue = validateQueue(check, `${where}.queues[${index}]`, queueEntry);
    if (!queue) return;
    if (seen.has(queue.name))
      check.fail(`${where}.queues[${index}].name`, 'a name not used twice', queue.name);
    seen.add(queue.name);
    queues.push(queue);
  });
  if (!name || !kind) return undefined;
  const topic: TopicDeclaration = { name, kind, queues };
  if (description !== undefined) topic.description = description;
  if (maxMessageBytes != null) topic.maxMessageBytes = maxMessageBytes;
  if (fields.payloadSchema !== undefined) topic.payloadSchema = fields.payloadSchema;
  return topic;
}

function validateQueue(check: Checker, path: string, entry: unknown): QueueDeclaration | undefined {
  const fields = check.object(path, entry, QUEUE_FIELDS);
  if (!fields) return undefined;
  const name = check.string(`${path}.name`, fields.name);
  const target = check.oneOf(`${path}.target`, fields.target, TARGET_KINDS);
  const at = name ? `${path} (${name})` : path;
  const queue: Partial<QueueDeclaration> = {};
  const url = check.optional(fields, 'url', (v) => check.string(`${at}.url`, v));
  const bindingKey = check.optional(fields, 'bindingKey', (v) => check.string(`${at}.bindingKey`, v));
  const headers = check.optional(fields, 'headers', (v) => check.stringMap(`${at}.headers`, v));
  const headerMatch = check.optional(fields, 'headerMatch', (v) =>
    check.oneOf(`${at}.headerMatch`, v, HEADER_MATCHES),
  );
  const deliveryMode = check.optional(fields, 'deliveryMode', (v) =>
    check.oneOf(`${at}.deliveryMode`, v, DELIVERY_MODES),
  );
  const concurrency = check.optional(fields, 'concurrency', (v) => check.integer(`${at}.concurrency`, v));
  const minConcurrency = check.optional(fields, 'minConcurrency', (v) =>
    check.integer(`${at}.minConcurrency`, v),
  );
  const maxConcurrency = check.optional(fields, 'maxConcurrency', (v) =>
    check.integer(`${at}.maxConcurrency`, v),
  );
  const ackTimeoutMs = check.optional(fields, 'ackTimeoutMs', (v) => check.integer(`${at}.ackTimeoutMs`, v));
  const maxPriority = check.optional(fields, 'maxPriority', (v) => check.integer(`${at}.maxPriority`, v));
  const retry = check.optional(fields, 'retry', (v) => validateRetry(check, `${at}.retry`, v));
  if (url !== undefined) queue.url = url;
  if (bindingKey !== undefined) queue.bindingKey = bindingKey;
  if (headers !== undefined) queue.headers = headers;
  if (headerMatch !== undefined) queue.headerMatch = headerMatch;
  if (deliveryMode != null) queue.deliveryMode = deliveryMode;
  if (concurrency != null) queue.concurrency = concurrency;
  if (minConcurrency !== undefined) queue.minConcurrency = minConcurrency;
  if (maxConcurrency !== undefined) queue.maxConcurrency = maxConcurrency;
  if (ackTimeoutMs != null) queue.ackTimeoutMs = ackTimeoutMs;
  if (maxPriority != null) queue.maxPriority = maxPriority;
  if (retry != null) queue.retry = retry;
  if (!name || !target) return undefined;
  // A value of the wrong type is reported above already; the range rules would only echo it.
  const typed = ['concurrency', 'minConcurrency', 'maxConcurrency'].every(
    (key) => fields[key] == null || Number.isSafeInteger(fields[key]),
  );
  if (typed) check.add(concurrencyRangeProblems(at, { ...queue, target }));
  return { ...queue, name, target };
}

function validateRetry(check: Checker, path: string, value: unknown): Partial<RetryPolicy> | undefined {
  const fields = check.object(path, value, RETRY_FIELDS);
  if (!fields) return undefined;
  const retry: Partial<RetryPolicy> = {};
  const maxAttempts = check.optional(fields, 'maxAttempts', (v) => check.integer(`${path}.maxAttempts`, v));
  const backoff = check.optional(fields, 'backoff', (v) => check.oneOf(`${path}.backoff`, v, BACKOFFS));
  const delayMs = check.optional(fields, 'delayMs', (v) => check.integer(`${path}.delayMs`, v));
  const maxDelayMs = check.optional(fields, 'maxDelayMs', (v) => check.integer(`${path}.maxDelayMs`, v));
  const jitter = check.optional(fields, 'jitter', (v) => check.boolean(`${path}.jitter`, v));
  if (maxAttempts != null) retry.maxAttempts = maxAttempts;
  if (backoff != null) retry.backoff = backoff;
  if (delayMs != null) retry.delayMs = delayMs;
  if (maxDelayMs != null) retry.maxDelayMs = maxDelayMs;
  if (jitter != null) retry.jitter = jitter;
  return retry;
}
