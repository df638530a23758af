/**
 * Publish from a form: every PublishInput field, ordering key included. In request mode the form
 * calls `request` instead and shows the first reply, or why none came (TIMEOUT, or NOT_FOUND when no
 * queue of the topic matches). A payload that fails its topic's JSON Schema is refused with
 * VALIDATION naming the failing path, shown under the payload.
 */
import {
  DashboardPublishDocument,
  type DashboardPublishMutation,
  DashboardRequestDocument,
  type DashboardRequestMutation,
  DashboardTopicNamesDocument,
  type DashboardTopicNamesQuery,
  type PublishInput,
} from '../../client/generated/graphql.js';
import { mayDo, noteRefusal } from './capabilities.js';
import { formatTime, h, replaceChildren } from './dom.js';
import { GatewayError, request } from './gateway.js';
import { type JsonField, jsonField } from './json-field.js';
import { showError, showStatus } from './status.js';

type Topic = DashboardTopicNamesQuery['topics'][number];
/** The gateway's own default wait for a reply (Mutation.request). */
const DEFAULT_TIMEOUT_MS = 5_000;

function input(name: string, label: string, attributes: Record<string, string | number> = {}) {
  const field = h('input', { name, ...attributes });
  return { field, element: h('label', {}, label, field) };
}

/** An optional whole number from a field, or an error naming the field. */
function readInt(field: HTMLInputElement, label: string): number | undefined {
  const text = field.value.trim();
  if (text === '') return undefined;
  const value = Number(text);
  if (!Number.isInteger(value)) throw new GatewayError(`${label} must be a whole number`, 'BAD_USER_INPUT');
  return value;
}

/** The fields of a PublishInput, and how to read them back. */
function publishFields() {
  const fields = {
    topic: h('select', { name: 'topic', required: true }),
    routingKey: input('routingKey', 'routing key', { autocomplete: 'off' }),
    headers: jsonField('headers', 'headers (JSON object of strings)', { kind: 'object', rows: 3 }),
    payload: jsonField('payload', 'payload (JSON)', { required: true, value: {}, rows: 10 }),
    priority: input('priority', 'priority (0–9)', { type: 'number', min: 0, max: 9, step: 1 }),
    delay: input('delayMs', 'delay (ms)', { type: 'number', min: 0, step: 1 }),
    ttl: input('ttlMs', 'TTL (ms)', { type: 'number', min: 1, step: 1 }),
    correlationId: input('correlationId', 'correlation id', { autocomplete: 'off' }),
    idempotencyKey: input('idempotencyKey', 'idempotency key', { autocomplete: 'off' }),
    orderingKey: input('orderingKey', 'ordering key', { autocomplete: 'off' }),
  };
  /** The input, or null (the errors shown in the form) when a JSON field does not read. */
  function read(): PublishInput | null {
    const headers = fields.headers.read();
    const payload = fields.payload.read();
    if (!headers.ok || !payload.ok) return null;
    const text = (field: { field: HTMLInputElement }) => field.field.value.trim() || undefined;
    return {
      topic: fields.topic.value,
      payload: payload.value,
      routingKey: text(fields.routingKey),
      headers: headers.value,
      priority: readInt(fields.priority.field, 'priority'),
      delayMs: readInt(fields.delay.field, 'delay'),
      ttlMs: readInt(fields.ttl.field, 'TTL'),
      correlationId: text(fields.correlationId),
      idempotencyKey: text(fields.idempotencyKey),
      orderingKey: text(fields.orderingKey),
    };
  }
  return { ...fields, read };
}

type Fields = ReturnType<typeof publishFields>;

/** Publish, or request and wait for a reply; the wait is only offered in request mode. */
function modeFields() {
  const radio = (value: string, label: string, checked: boolean) =>
    h('label', { class: 'inline' }, h('input', { type: 'radio', name: 'mode', value, checked }), label);
  const timeout = input('timeoutMs', 'wait for a reply (ms, at most 60000)', {
    type: 'number',
    min: 1,
    max: 60_000,
    step: 1,
    placeholder: String(DEFAULT_TIMEOUT_MS),
  });
  const element = h(
    'fieldset',
    {},
    h('legend', {}, 'mode'),
    radio('publish', 'publish', true),
    radio('request', 'request (wait for a reply)', false),
    timeout.element,
  );
  const isRequest = () => element.querySelector<HTMLInputElement>('input[value="request"]')?.checked === true;
  return { element, timeout, isRequest };
}

function form(fields: Fields, mode: ReturnType<typeof modeFields>, schema: HTMLElement, submit: HTMLElement) {
  return h(
    'form',
    { class: 'stack', 'aria-label': 'Publish a message' },
    h('label', {}, 'topic', fields.topic),
    schema,
    fields.routingKey.element,
    fields.headers.element,
    fields.payload.element,
    h(
      'div',
      { class: 'filter' },
      fields.priority.element,
      fields.delay.element,
      fields.ttl.element,
      fields.correlationId.element,
      fields.idempotencyKey.element,
      fields.orderingKey.element,
    ),
    mode.element,
    submit,
    h(
      'p',
      { class: 'muted' },
      'Messages with the same ordering key are delivered one at a time, in publish order, in each queue. ' +
        'A request waits for the first reply of a consumer (reply mutation) or of a webhook (the JSON body ' +
        'of its 2xx answer), up to the wait given (docs/PATTERNS.md).',
    ),
  );
}

function showPublished(result: HTMLElement, topic: string, publish: DashboardPublishMutation['publish']) {
  const routed = publish.routedTo.length ? publish.routedTo.join(', ') : 'no queue (unrouted)';
  showStatus(
    publish.duplicate
      ? `Not published again: the idempotency key was already used (message ${publish.messageId})`
      : `Published ${publish.messageId} to ${topic}, routed to ${routed}`,
  );
  replaceChildren(
    result,
    'Message id ',
    h('code', { 'data-message-id': publish.messageId }, publish.messageId),
    ` · routed to ${routed}${publish.duplicate ? ' · duplicate' : ''}`,
  );
}

function showReply(result: HTMLElement, reply: DashboardRequestMutation['request']) {
  showStatus(`Reply to ${reply.messageId} from ${reply.queue}`);
  replaceChildren(
    result,
    h(
      'section',
      { class: 'reply', 'aria-label': 'Reply', 'data-reply-from': reply.queue },
      h('h3', {}, `Reply from ${reply.queue} at ${formatTime(reply.repliedAt)}`),
      h('p', {}, 'Request id ', h('code', { 'data-message-id': reply.messageId }, reply.messageId)),
      h('h4', {}, 'payload'),
      h('pre', { 'data-reply': 'payload' }, JSON.stringify(reply.payload, null, 2)),
      h('h4', {}, 'headers'),
      h('pre', { 'data-reply': 'headers' }, JSON.stringify(reply.headers, null, 2)),
    ),
  );
}

/** What a request that got no reply can be told, beside the status line's code and message. */
function noReplyHint(error: GatewayError, waitedMs: number): string | null {
  switch (error.code) {
    case 'TIMEOUT':
      return `No reply within ${waitedMs} ms: is a consumer receiving from a matching queue and answering with reply, or a webhook answering with a JSON body? Try again with a longer wait.`;
    case 'NOT_FOUND':
      return 'No queue of the topic matched: nothing could answer. Check the routing key, or add a queue.';
    case 'UNAVAILABLE':
      return 'The gateway stopped while waiting: send it again.';
    default:
      return null;
  }
}

function showPayloadError(payload: JsonField, error: unknown): void {
  if (!(error instanceof GatewayError) || error.code !== 'VALIDATION') return;
  const path = typeof error.details.path === 'string' ? error.details.path : 'payload';
  payload.setError(`${error.message}${path.startsWith('payload') ? '' : ` (at ${path})`}`);
  payload.focus();
}

async function send(fields: Fields, mode: ReturnType<typeof modeFields>, result: HTMLElement) {
  const publishInput = fields.read();
  if (!publishInput) {
    showStatus('Fix the fields marked in the form', 'error');
    return;
  }
  if (!mode.isRequest()) {
    const { publish } = await request(DashboardPublishDocument, { input: publishInput });
    showPublished(result, publishInput.topic, publish);
    return;
  }
  const timeoutMs = readInt(mode.timeout.field, 'wait for a reply');
  showStatus(`Waiting for a reply to the request on ${publishInput.topic}…`);
  try {
    const { request: reply } = await request(DashboardRequestDocument, { input: publishInput, timeoutMs });
    showReply(result, reply);
  } catch (error) {
    const hint = error instanceof GatewayError ? noReplyHint(error, timeoutMs ?? DEFAULT_TIMEOUT_MS) : null;
    if (hint && error instanceof GatewayError)
      replaceChildren(result, h('p', { class: 'field-error', 'data-error-code': error.code }, hint));
    throw error;
  }
}

export function mountPublish(root: HTMLElement): () => void {
  let topics: Topic[] = [];
  const fields = publishFields();
  const mode = modeFields();
  const schema = h('details', { class: 'schema' });
  const submitButton = h('button', { type: 'submit' }, 'Publish');
  const result = h('div', { role: 'status', class: 'result' });
  const publishForm = form(fields, mode, schema, submitButton);

  function showMode(): void {
    mode.timeout.element.hidden = !mode.isRequest();
    submitButton.textContent = mode.isRequest() ? 'Send request' : 'Publish';
  }

  function showSchema(): void {
    const chosen = topics.find((candidate) => candidate.name === fields.topic.value);
    replaceChildren(
      schema,
      h(
        'summary',
        {},
        chosen?.payloadSchema ? "The topic's payload schema" : 'This topic takes any JSON payload',
      ),
      chosen?.payloadSchema ? h('pre', {}, JSON.stringify(chosen.payloadSchema, null, 2)) : null,
    );
  }

  function renderTopics(): void {
    const offered = topics.filter((candidate) => mayDo('publish', candidate.name));
    const before = fields.topic.value;
    replaceChildren(
      fields.topic,
      ...offered.map((candidate) => h('option', { value: candidate.name }, candidate.name)),
    );
    if (offered.some((candidate) => candidate.name === before)) fields.topic.value = before;
    if (offered.length === 0) {
      replaceChildren(
        root,
        h('p', { class: 'muted' }, 'This key can publish to no topic (or there is none yet).'),
      );
      return;
    }
    showSchema();
  }

  async function submit(): Promise<void> {
    replaceChildren(result);
    const chosen = fields.topic.value;
    submitButton.disabled = true;
    try {
      await send(fields, mode, result);
    } catch (error) {
      showPayloadError(fields.payload, error);
      if (noteRefusal(error, 'publish', chosen)) renderTopics();
      showError(error);
    } finally {
      submitButton.disabled = false;
    }
  }

  fields.topic.addEventListener('change', showSchema);
  mode.element.addEventListener('change', showMode);
  showMode();
  publishForm.addEventListener('submit', (event) => {
    event.preventDefault();
    void submit();
  });
  replaceChildren(root, h('p', { class: 'muted' }, 'Loading…'));
  request(DashboardTopicNamesDocument).then(
    (data) => {
      topics = data.topics;
      replaceChildren(root, h('h2', {}, 'Publish'), publishForm, result);
      renderTopics();
    },
    (error: unknown) => showError(error),
  );
  return () => {};
}
