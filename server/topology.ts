import type { QueueRecord, TopicRecord } from '../queues/core/index.js';
import { ErrorCode, SwitchyardError } from '../queues/core/index.js';
import type { Engine } from '../queues/engine/index.js';
import { canonicalJson } from '../queues/publish/index.js';
import type { QueueSettingsInput } from '../queues/registry/index.js';
import { concurrencyRangeProblems } from './topology-concurrency.js';
import {
  type QueueDeclaration,
  readTopologyFile,
  type TopicDeclaration,
  TopologyError,
} from './topology-file.js';

export { TopologyError };

/** What {@link applyTopology} did; names are `topic` or `topic/queue`. */
export interface TopologyReport {
  createdTopics: string[];
  createdQueues: string[];
  updatedQueues: string[];
  /** Entries that already matched the file. */
  unchanged: string[];
  /** Differences the engine cannot change in place (a topic's description, size limit or schema); left as they are. */
  warnings: string[];
}

/**
 * Makes Redis hold at least what the file declares: creates missing topics and queues and updates
 * queues whose stated settings differ. It never deletes, and settings the file leaves out stay as they are,
 * so applying the same file twice changes nothing. The file is checked as a whole first; an entry the
 * engine refuses (a bad URL, a binding key the topic kind does not allow) stops the start with its path.
 */
export async function applyTopology(engine: Engine, file: string): Promise<TopologyReport> {
  const topology = await readTopologyFile(file);
  await checkStoredRanges(engine, file, topology.topics);
  const report: TopologyReport = {
    createdTopics: [],
    createdQueues: [],
    updatedQueues: [],
    unchanged: [],
    warnings: [],
  };
  for (const [index, topic] of topology.topics.entries()) {
    const path = `topics[${index}] (${topic.name})`;
    await inEntry(file, path, () => applyTopic(engine, topic, path, report));
    for (const [queueIndex, queue] of topic.queues.entries()) {
      const queuePath = `${path}.queues[${queueIndex}] (${queue.name})`;
      await inEntry(file, queuePath, () => applyQueue(engine, topic.name, queue, queuePath, report));
    }
  }
  return report;
}

/**
 * The one range rule that needs Redis, checked for the whole file before anything is written: a
 * concurrency the file states for a queue whose range it leaves out must lie within the range the
 * queue keeps (the file alone was checked by readTopologyFile).
 */
async function checkStoredRanges(engine: Engine, file: string, topics: TopicDeclaration[]): Promise<void> {
  const problems: string[] = [];
  for (const [index, topic] of topics.entries()) {
    for (const [queueIndex, queue] of topic.queues.entries()) {
      if (queue.concurrency === undefined || queue.minConcurrency !== undefined) continue;
      const existing = await engine.queue(topic.name, queue.name);
      if (existing?.minConcurrency === undefined) continue;
      const at = `topics[${index}] (${topic.name}).queues[${queueIndex}] (${queue.name})`;
      problems.push(
        ...concurrencyRangeProblems(at, {
          target: existing.target,
          concurrency: queue.concurrency,
          minConcurrency: existing.minConcurrency,
          maxConcurrency: existing.maxConcurrency ?? null,
        }),
      );
    }
  }
  if (problems.length > 0) throw new TopologyError(file, problems);
}

/** Names the file and the entry in any refusal, so the operator knows which line to fix. */
async function inEntry(file: string, path: string, apply: () => Promise<void>): Promise<void> {
  try {
    await apply();
  } catch (error) {
    if (error instanceof TopologyError) throw error;
    if (error instanceof SwitchyardError && error.code !== ErrorCode.Unavailable) {
      throw new TopologyError(file, [`${path}: ${error.message}`]);
    }
    throw error;
  }
}

async function applyTopic(
  engine: Engine,
  declared: TopicDeclaration,
  path: string,
  report: TopologyReport,
): Promise<void> {
  const existing = await engine.topic(declared.name);
  if (!existing) {
    const created = await createOrFind(
      () =>
        engine.createTopic({
          name: declared.name,
          kind: declared.kind,
          description: declared.description ?? null,
          maxMessageBytes: declared.maxMessageBytes ?? null,
          payloadSchema: declared.payloadSchema ?? null,
        }),
      () => engine.topic(declared.name),
    );
    if (created.fresh) {
      report.createdTopics.push(declared.name);
      return;
    }
    return compareTopic(created.record, declared, path, report);
  }
  return compareTopic(existing, declared, path, report);
}

function compareTopic(
  existing: TopicRecord,
  declared: TopicDeclaration,
  path: string,
  report: TopologyReport,
): void {
  // The kind decides how every queue binds; changing it under existing queues would silently reroute.
  if (existing.kind !== declared.kind) {
    throw new SwitchyardError(
      ErrorCode.Conflict,
      `kind is ${declared.kind} in the file but ${existing.kind} in Redis; a topic's kind cannot change (delete the topic to recreate it)`,
    );
  }
  const differs: string[] = [];
  if (declared.description !== undefined && declared.description !== existing.description)
    differs.push('description');
  if (declared.maxMessageBytes !== undefined && declared.maxMessageBytes !== existing.maxMessageBytes)
    differs.push('maxMessageBytes');
  if (
    declared.payloadSchema !== undefined &&
    canonicalJson(declared.payloadSchema) !== canonicalJson(existing.payloadSchema)
  )
    differs.push('payloadSchema');
  if (differs.length > 0) {
    const verb = differs.length === 1 ? 'differs' : 'differ';
    report.warnings.push(
      `${path}: ${differs.join(', ')} ${verb} from Redis and cannot be changed in place; kept`,
    );
  }
  report.unchanged.push(declared.name);
}

async function applyQueue(
  engine: Engine,
  topic: string,
  declared: QueueDeclaration,
  path: string,
  report: TopologyReport,
): Promise<void> {
  const id = `${topic}/${declared.name}`;
  const settings = settingsOf(declared);
  let existing = await engine.queue(topic, declared.name);
  if (!existing) {
    const { maxPriority } = declared;
    const created = await createOrFind(
      () =>
        engine.createQueue({ ...settings, topic, name: declared.name, target: declared.target, maxPriority }),
      () => engine.queue(topic, declared.name),
    );
    if (created.fresh) {
      report.createdQueues.push(id);
      return;
    }
    existing = created.record;
  }
  if (existing.target !== declared.target) {
    throw new SwitchyardError(
      ErrorCode.Conflict,
      `target is ${declared.target} in the file but ${existing.target} in Redis; a queue's target cannot change (delete the queue to recreate it)`,
    );
  }
  if (declared.maxPriority !== undefined && declared.maxPriority !== existing.maxPriority) {
    report.warnings.push(
      `${path}: maxPriority differs from Redis and cannot be changed in place (delete the queue to recreate it); kept`,
    );
  }
  if (!differs(existing, settings)) {
    report.unchanged.push(id);
    return;
  }
  await engine.updateQueue(topic, declared.name, settings);
  report.updatedQueues.push(id);
}

/**
 * Creates, or, when another gateway instance created the same entry a moment earlier (CONFLICT),
 * returns what it stored, so that instances starting together with one file do not fail each other.
 */
async function createOrFind<T>(
  create: () => Promise<T>,
  find: () => Promise<T | null>,
): Promise<{ fresh: true } | { fresh: false; record: T }> {
  try {
    await create();
    return { fresh: true };
  } catch (error) {
    if (!(error instanceof SwitchyardError) || error.code !== ErrorCode.Conflict) throw error;
    const record = await find();
    if (!record) throw error;
    return { fresh: false, record };
  }
}

function settingsOf(declared: QueueDeclaration): QueueSettingsInput {
  const { name: _name, target: _target, maxPriority: _maxPriority, ...settings } = declared;
  return settings;
}

/** True when a setting the file states is not what Redis holds; unstated settings never count. */
function differs(existing: QueueRecord, settings: QueueSettingsInput): boolean {
  const same = (declared: unknown, current: unknown) =>
    declared === undefined || canonicalJson(declared) === canonicalJson(current);
  const retry = settings.retry ?? {};
  return !(
    same(settings.bindingKey, existing.bindingKey) &&
    same(settings.headers, existing.headers) &&
    same(settings.headerMatch, existing.headerMatch) &&
    same(settings.url, existing.url) &&
    same(settings.deliveryMode, existing.deliveryMode) &&
    same(settings.concurrency, existing.concurrency) &&
    // A queue of fixed concurrency keeps no range at all; the file says so with null.
    same(settings.minConcurrency, existing.minConcurrency ?? null) &&
    same(settings.maxConcurrency, existing.maxConcurrency ?? null) &&
    same(settings.ackTimeoutMs, existing.ackTimeoutMs) &&
    same(retry.maxAttempts, existing.retry.maxAttempts) &&
    same(retry.backoff, existing.retry.backoff) &&
    same(retry.delayMs, existing.retry.delayMs) &&
    same(retry.maxDelayMs, existing.retry.maxDelayMs) &&
    same(retry.jitter, existing.retry.jitter)
  );
}
