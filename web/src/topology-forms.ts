/**
 * The topology's forms: a new topic, and a queue (new, or the settings of one to change). Each
 * hands its change to the view, which runs it, reports it and reloads the list.
 */
import {
  type CreateQueueInput,
  DashboardCreateQueueDocument,
  DashboardCreateTopicDocument,
  type DashboardTopologyQuery,
  DashboardUpdateQueueDocument,
  type UpdateQueueInput,
} from '../../client/generated/graphql.js';
import { Backoff, TargetKind, TopicKind } from '../../client/generated/schema.js';
import { h } from './dom.js';
import { GatewayError, request } from './gateway.js';
import { jsonField } from './json-field.js';

export type TopologyTopic = DashboardTopologyQuery['topics'][number];
export type TopologyQueue = TopologyTopic['queues'][number];

/** What a form needs of the view: run a change (its answer is the status line; null: nothing done), close. */
export interface Changes {
  change(action: () => Promise<string | null>): Promise<void>;
  close(): void;
}

function textInput(
  name: string,
  label: string,
  value = '',
  attributes: Record<string, string | number | boolean> = {},
) {
  const field = h('input', { name, autocomplete: 'off', ...attributes });
  field.value = value;
  return { field, element: h('label', {}, label, field) };
}

function select<T extends string>(name: string, label: string, values: readonly T[], value?: T) {
  const field = h('select', { name }, ...values.map((one) => h('option', { value: one }, one)));
  if (value) field.value = value;
  return { field, element: h('label', {}, label, field) };
}

/** An optional whole number from a field; a clear error naming the field otherwise. */
function intOf(field: HTMLInputElement, label: string): number | undefined {
  const text = field.value.trim();
  if (text === '') return undefined;
  const value = Number(text);
  if (!Number.isInteger(value)) throw new GatewayError(`${label} must be a whole number`, 'BAD_USER_INPUT');
  return value;
}

const NAME_PATTERN = '[A-Za-z0-9._\\-]{1,128}';

export function topicForm(changes: Changes): HTMLFormElement {
  const name = textInput('name', 'name', '', { required: true, pattern: NAME_PATTERN });
  const kind = select('kind', 'kind', Object.values(TopicKind), TopicKind.Topic);
  const description = textInput('description', 'description');
  const schema = jsonField('payloadSchema', 'payload JSON Schema (optional)', { kind: 'object', rows: 5 });
  const form = h(
    'form',
    { class: 'stack', 'aria-label': 'New topic', 'data-form': 'topic' },
    h('h2', {}, 'New topic'),
    h('div', { class: 'filter' }, name.element, kind.element, description.element),
    schema.element,
    h('button', { type: 'submit' }, 'Create topic'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const payloadSchema = schema.read();
    if (!payloadSchema.ok) return;
    void changes.change(async () => {
      const { createTopic } = await request(DashboardCreateTopicDocument, {
        input: {
          name: name.field.value.trim(),
          kind: kind.field.value as TopicKind,
          description: description.field.value.trim() || undefined,
          payloadSchema: payloadSchema.value,
        },
      });
      changes.close();
      return `Created topic ${createTopic.name}`;
    });
  });
  return form;
}

const bound = (topic: TopologyTopic) => topic.kind === TopicKind.Direct || topic.kind === TopicKind.Topic;

/** The queue form's fields, filled from `queue` when it is given. */
function queueFields(topic: TopologyTopic, queue: TopologyQueue | null) {
  const number = (name: string, label: string, value: number | undefined, min: number) =>
    textInput(name, label, String(value ?? ''), { type: 'number', min });
  const direct = topic.kind === TopicKind.Direct;
  return {
    name: textInput('name', 'name', '', { required: true, pattern: NAME_PATTERN }),
    target: select('target', 'target', Object.values(TargetKind), queue?.target ?? TargetKind.Webhook),
    url: textInput('url', 'webhook URL', queue?.url ?? '', { type: 'url', placeholder: 'https://…' }),
    binding: textInput('bindingKey', direct ? 'routing key' : 'binding key', queue?.bindingKey ?? '', {
      placeholder: direct ? 'orders.eu' : 'orders.*.eu',
    }),
    headers: jsonField('headers', 'headers to match (JSON object)', {
      kind: 'object',
      rows: 3,
      value: queue?.headers ?? undefined,
    }),
    attempts: number('maxAttempts', 'max attempts', queue?.retry.maxAttempts, 1),
    backoff: select('backoff', 'backoff', Object.values(Backoff), queue?.retry.backoff),
    delay: number('delayMs', 'first retry after (ms)', queue?.retry.delayMs, 0),
    maxDelay: number('maxDelayMs', 'longest wait (ms)', queue?.retry.maxDelayMs, 0),
    concurrency: number('concurrency', 'concurrency', queue?.concurrency, 1),
  };
}

type QueueFields = ReturnType<typeof queueFields>;

/** The settings the fields hold, as updateQueue takes them (createQueue takes them too). */
function readSettings(topic: TopologyTopic, fields: QueueFields, webhook: boolean, headers: unknown) {
  const settings: UpdateQueueInput = {
    url: webhook ? fields.url.field.value.trim() || undefined : undefined,
    retry: {
      maxAttempts: intOf(fields.attempts.field, 'max attempts'),
      backoff: (fields.backoff.field.value as Backoff) || undefined,
      delayMs: intOf(fields.delay.field, 'first retry after'),
      maxDelayMs: intOf(fields.maxDelay.field, 'longest wait'),
    },
    concurrency: intOf(fields.concurrency.field, 'concurrency'),
  };
  if (bound(topic)) settings.bindingKey = fields.binding.field.value.trim() || null;
  if (topic.kind === TopicKind.Headers) settings.headers = headers;
  return settings;
}

async function saveQueue(
  topic: TopologyTopic,
  queue: TopologyQueue | null,
  fields: QueueFields,
  settings: UpdateQueueInput,
): Promise<string> {
  if (queue) {
    await request(DashboardUpdateQueueDocument, { topic: topic.name, name: queue.name, input: settings });
    return `Saved ${topic.name}/${queue.name}`;
  }
  const input: CreateQueueInput = {
    ...settings,
    topic: topic.name,
    name: fields.name.field.value.trim(),
    target: fields.target.field.value as TargetKind,
    bindingKey: settings.bindingKey ?? undefined,
  };
  const { createQueue } = await request(DashboardCreateQueueDocument, { input });
  return `Created queue ${topic.name}/${createQueue.name}`;
}

/** The queue form: a new queue of `topic`, or the settings of `queue` to change. */
export function queueForm(
  topic: TopologyTopic,
  queue: TopologyQueue | null,
  changes: Changes,
): HTMLFormElement {
  const fields = queueFields(topic, queue);
  const isWebhook = () => (queue?.target ?? fields.target.field.value) === TargetKind.Webhook;
  const showUrl = () => {
    fields.url.element.hidden = !isWebhook();
  };
  fields.target.field.addEventListener('change', showUrl);
  showUrl();
  const title = queue ? `Edit ${topic.name}/${queue.name}` : `New queue on ${topic.name}`;
  const { attempts, backoff, delay, maxDelay } = fields;
  const form = h(
    'form',
    { class: 'stack', 'aria-label': title, 'data-form': queue ? 'edit-queue' : 'queue' },
    h('h2', {}, title),
    h(
      'div',
      { class: 'filter' },
      queue ? null : fields.name.element,
      queue ? null : fields.target.element,
      fields.url.element,
      bound(topic) ? fields.binding.element : null,
      fields.concurrency.element,
    ),
    topic.kind === TopicKind.Headers ? fields.headers.element : null,
    h(
      'fieldset',
      {},
      h('legend', {}, 'retry policy'),
      h('div', { class: 'filter' }, attempts.element, backoff.element, delay.element, maxDelay.element),
    ),
    h('button', { type: 'submit' }, queue ? 'Save' : 'Create queue'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const matched = fields.headers.read();
    if (!matched.ok) return;
    void changes.change(async () => {
      const done = await saveQueue(
        topic,
        queue,
        fields,
        readSettings(topic, fields, isWebhook(), matched.value),
      );
      changes.close();
      return done;
    });
  });
  return form;
}
