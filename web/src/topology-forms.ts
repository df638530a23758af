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

let fieldIds = 0;

/**
 * A labelled input with its error line under it, tied with aria-describedby so a screen reader reads
 * the error with the field; `setError` shows what the browser or the gateway found wrong with it.
 */
function textInput(
  name: string,
  label: string,
  value = '',
  attributes: Record<string, string | number | boolean> = {},
) {
  fieldIds += 1;
  const errorId = `field-error-${fieldIds}`;
  const field = h('input', { name, autocomplete: 'off', 'aria-describedby': errorId, ...attributes });
  field.value = value;
  // Outside the label, which would otherwise take the error into the field's name.
  const error = h('p', { id: errorId, class: 'field-error', 'data-error-for': name, hidden: true });
  const setError = (message: string | null) => {
    error.textContent = message ?? '';
    error.hidden = !message;
    if (message) field.setAttribute('aria-invalid', 'true');
    else field.removeAttribute('aria-invalid');
  };
  return { field, element: h('div', { class: 'field' }, h('label', {}, label, field), error), setError };
}

type TextInput = ReturnType<typeof textInput>;

function select<T extends string>(name: string, label: string, values: readonly T[], value?: T) {
  const field = h('select', { name }, ...values.map((one) => h('option', { value: one }, one)));
  if (value) field.value = value;
  return { field, element: h('label', {}, label, field) };
}

/**
 * An optional whole number from a field; otherwise a BAD_USER_INPUT naming the field, shown under it
 * like the gateway's own.
 */
function intOf(field: HTMLInputElement, label: string, apiField: string): number | undefined {
  const text = field.value.trim();
  if (text === '') return undefined;
  const value = Number(text);
  if (!Number.isInteger(value))
    throw new GatewayError(`${label} must be a whole number`, 'BAD_USER_INPUT', { field: apiField });
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
  const number = (name: string, label: string, value: number | null | undefined, min: number, max?: number) =>
    textInput(name, label, String(value ?? ''), { type: 'number', min, ...(max ? { max } : {}) });
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
    concurrency: number('concurrency', 'concurrency', queue?.concurrency, 1, MAX_CONCURRENCY),
    minConcurrency: number('minConcurrency', 'scale from', queue?.minConcurrency, 1, MAX_CONCURRENCY),
    maxConcurrency: number('maxConcurrency', 'scale up to', queue?.maxConcurrency, 1, MAX_CONCURRENCY),
  };
}

/** The gateway's bound on a concurrency and either end of a range (docs/DELIVERY.md). */
const MAX_CONCURRENCY = 1000;

type QueueFields = ReturnType<typeof queueFields>;

/** Where a refusal naming a field (BAD_USER_INPUT's `field`, as the API spells it) is shown. */
function errorLines(fields: QueueFields): Record<string, Pick<TextInput, 'setError'>> {
  return {
    name: fields.name,
    url: fields.url,
    bindingKey: fields.binding,
    headers: fields.headers,
    'retry.maxAttempts': fields.attempts,
    'retry.delayMs': fields.delay,
    'retry.maxDelayMs': fields.maxDelay,
    concurrency: fields.concurrency,
    minConcurrency: fields.minConcurrency,
    maxConcurrency: fields.maxConcurrency,
  };
}

/**
 * The range as the fields hold it. An end emptied on a queue that has a range is sent as null, so both
 * emptied make the concurrency fixed again and one emptied is refused by the gateway, naming it.
 */
function readRange(fields: QueueFields, queue: TopologyQueue | null): UpdateQueueInput {
  const hadRange = queue?.minConcurrency != null;
  const end = (input: TextInput, apiField: string) =>
    intOf(input.field, apiField, apiField) ?? (hadRange ? null : undefined);
  return {
    minConcurrency: end(fields.minConcurrency, 'minConcurrency'),
    maxConcurrency: end(fields.maxConcurrency, 'maxConcurrency'),
  };
}

/** The settings the fields hold, as updateQueue takes them (createQueue takes them too). */
function readSettings(
  topic: TopologyTopic,
  queue: TopologyQueue | null,
  fields: QueueFields,
  webhook: boolean,
  headers: unknown,
) {
  const concurrency = intOf(fields.concurrency.field, 'concurrency', 'concurrency');
  const settings: UpdateQueueInput = {
    url: webhook ? fields.url.field.value.trim() || undefined : undefined,
    retry: {
      maxAttempts: intOf(fields.attempts.field, 'max attempts', 'retry.maxAttempts'),
      backoff: (fields.backoff.field.value as Backoff) || undefined,
      delayMs: intOf(fields.delay.field, 'first retry after', 'retry.delayMs'),
      maxDelayMs: intOf(fields.maxDelay.field, 'longest wait', 'retry.maxDelayMs'),
    },
    // Sent only when changed: a range moved on its own pulls the start into it, where the old start
    // sent back would be refused as outside the new range.
    concurrency: queue && concurrency === queue.concurrency ? undefined : concurrency,
    ...(webhook ? readRange(fields, queue) : {}),
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
    minConcurrency: settings.minConcurrency ?? undefined,
    maxConcurrency: settings.maxConcurrency ?? undefined,
  };
  const { createQueue } = await request(DashboardCreateQueueDocument, { input });
  return `Created queue ${topic.name}/${createQueue.name}`;
}

/** Concurrency, and for WEBHOOK queues the range each instance's worker scales its concurrency in. */
function concurrencyFieldset(fields: QueueFields): { element: HTMLElement; range: HTMLElement } {
  // The wrapper has no display rule of its own, so `hidden` hides it (`.filter` would override it).
  const range = h(
    'div',
    { 'data-range': '' },
    h('div', { class: 'filter' }, fields.minConcurrency.element, fields.maxConcurrency.element),
    h(
      'p',
      { class: 'muted' },
      'Both ends to scale by backlog and lag, concurrency then being where each instance starts; both empty for a fixed concurrency.',
    ),
  );
  const element = h(
    'fieldset',
    {},
    h('legend', {}, 'concurrency'),
    h('div', { class: 'filter' }, fields.concurrency.element),
    range,
  );
  return { element, range };
}

/** The queue form: a new queue of `topic`, or the settings of `queue` to change. */
export function queueForm(
  topic: TopologyTopic,
  queue: TopologyQueue | null,
  changes: Changes,
): HTMLFormElement {
  const fields = queueFields(topic, queue);
  const concurrency = concurrencyFieldset(fields);
  const isWebhook = () => (queue?.target ?? fields.target.field.value) === TargetKind.Webhook;
  // CONSUMER queues take no URL and no range (their consumers pace them): hidden, and never sent.
  const showWebhookFields = () => {
    fields.url.element.hidden = !isWebhook();
    concurrency.range.hidden = !isWebhook();
  };
  fields.target.field.addEventListener('change', showWebhookFields);
  showWebhookFields();
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
    ),
    topic.kind === TopicKind.Headers ? fields.headers.element : null,
    concurrency.element,
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
    void changes.change(() => submitQueue(topic, queue, fields, isWebhook(), matched.value, changes));
  });
  return form;
}

/**
 * Saves the form. A refusal naming one of its fields is shown under that field too, where the person
 * fixes it (the status line keeps it as well); each try starts with every error line clear.
 */
async function submitQueue(
  topic: TopologyTopic,
  queue: TopologyQueue | null,
  fields: QueueFields,
  webhook: boolean,
  headers: unknown,
  changes: Changes,
): Promise<string> {
  const lines = errorLines(fields);
  for (const line of Object.values(lines)) line.setError(null);
  try {
    const done = await saveQueue(topic, queue, fields, readSettings(topic, queue, fields, webhook, headers));
    changes.close();
    return done;
  } catch (error) {
    const field = error instanceof GatewayError ? error.details.field : undefined;
    if (error instanceof GatewayError && typeof field === 'string') lines[field]?.setError(error.message);
    throw error;
  }
}
