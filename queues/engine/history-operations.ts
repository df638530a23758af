import type { MessageRecord, TopicRecord } from '../core/index.js';
import { assertName, notFound } from '../core/index.js';
import type { HistoryStart, ReplayTopicInput } from '../history/index.js';
import { readWholeTrails, type TrailEntry } from '../publish/index.js';
import type { Parts } from './parts.js';

/** Topic history: pages of it, a topic's history settings and length, and one message by id. */
export function historyOperations(parts: Parts) {
  const { registry, history, client, keys, replayTasks } = parts;

  async function requireTopic(name: string): Promise<TopicRecord> {
    assertName('topic', name);
    const topic = (await registry.tableKnowing([{ topic: name }])).topic(name);
    if (!topic) throw notFound(`Topic ${name} does not exist`);
    return topic;
  }

  /** The message as a job of one of the topic's queues holds it (waiting, active, delayed, failed). */
  async function fromQueues(topic: string, id: string): Promise<MessageRecord | null> {
    const queues = (await registry.table()).queues(topic);
    if (queues.length === 0) return null;
    const pipeline = client.pipeline();
    for (const queue of queues) pipeline.hget(keys.bull(topic, queue.name).job(id), 'data');
    for (const [error, data] of (await pipeline.exec()) ?? []) {
      if (!error && typeof data === 'string') return JSON.parse(data) as MessageRecord;
    }
    return null;
  }

  return {
    /** A page of a topic's history, oldest first; BAD_USER_INPUT when it keeps none. */
    async topicHistory(topicName: string, start: HistoryStart, first?: number) {
      return history.page(await requireTopic(topicName), start, first);
    },
    /** Topic.history; null when the topic keeps none. */
    topicHistoryInfo: (topic: TopicRecord) => history.info(topic),
    /**
     * One message of a topic, from its history (with its cursor), else from a job of one of its queues
     * (dead letters are failed jobs); null when none holds it any more.
     */
    async message(topicName: string, id: string): Promise<MessageRecord | null> {
      const topic = await requireTopic(topicName);
      return (await history.find(topic, id)) ?? (await fromQueues(topic.name, id));
    },
    /**
     * A message's provenance trail, oldest first (docs/PROVENANCE.md): its PUBLISHED entry derived
     * from the record the gateway keeps of it (its history entry, else a job of one of its queues),
     * then the entries its later steps stored. Empty for a message of which nothing is kept.
     */
    async messageTrail(topicName: string, id: string): Promise<TrailEntry[]> {
      const topic = await requireTopic(topicName);
      const record = (await history.find(topic, id)) ?? (await fromQueues(topic.name, id));
      const [trail] = await readWholeTrails(client, [keys.trail(topic.name, id)], [record]);
      return trail ?? [];
    },
    /** The trail of a message record in hand (Message.trail): PUBLISHED derived from it, then the stored entries. */
    async trailOf(message: MessageRecord): Promise<TrailEntry[]> {
      const [trail] = await readWholeTrails(client, [keys.trail(message.topic, message.id)], [message]);
      return trail ?? [];
    },
    /** A tracked replay of a span of a topic's history into one of its queues (replay-tasks.ts). */
    replayTopic: (input: ReplayTopicInput) => replayTasks.replayTopic(input),
    /** One replay task; null when there is none. */
    replayTask: (id: string) => replayTasks.get(id),
    /** Every replay task, oldest first. */
    replayTasks: () => replayTasks.list(),
    /** Stops a running replay task; NOT_FOUND when there is none. */
    cancelReplayTask: (id: string) => replayTasks.cancel(id),
    /** Resolves once this instance's replay tasks are idle (tests). */
    replayTasksIdle: () => replayTasks.idle(),
  };
}
