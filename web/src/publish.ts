/**
 * Publish from a form: every PublishInput field the gateway has built (ordering keys and request
 * mode answer UNAVAILABLE today, so they are not offered). A payload that fails its topic's JSON
 * Schema is refused with VALIDATION naming the failing path, shown under the payload.
 */
import {
  DashboardPublishDocument,
  DashboardTopicNamesDocument,
  type DashboardTopicNamesQuery,
  type PublishInput,
} from '../../client/generated/graphql.js';
import { mayDo, noteRefusal } from './capabilities.js';
import { h, replaceChildren } from './dom.js';
import { GatewayError, request } from './gateway.js';
import { jsonField } from './json-field.js';
import { showError, showStatus } from './status.js';

type Topic = DashboardTopicNamesQuery['topics'][number];

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

export function mountPublish(root: HTMLElement): () => void {
  let topics: Topic[] = [];
  const topic = h('select', { name: 'topic', required: true });
  const routingKey = input('routingKey', 'routing key', { autocomplete: 'off' });
  const headers = jsonField('headers', 'headers (JSON object of strings)', { kind: 'object', rows: 3 });
  const payload = jsonField('payload', 'payload (JSON)', { required: true, value: {}, rows: 10 });
  const priority = input('priority', 'priority (0–9)', { type: 'number', min: 0, max: 9, step: 1 });
  const delay = input('delayMs', 'delay (ms)', { type: 'number', min: 0, step: 1 });
  const ttl = input('ttlMs', 'TTL (ms)', { type: 'number', min: 1, step: 1 });
  const correlationId = input('correlationId', 'correlation id', { autocomplete: 'off' });
  const idempotencyKey = input('idempotencyKey', 'idempotency key', { autocomplete: 'off' });
  const orderingKey = input('orderingKey', 'ordering key', { autocomplete: 'off' });
  const schema = h('details', { class: 'schema' });
  const result = h('div', { role: 'status', class: 'result' });
  const form = h(
    'form',
    { class: 'stack', 'aria-label': 'Publish a message' },
    h('label', {}, 'topic', topic),
    schema,
    routingKey.element,
    headers.element,
    payload.element,
    h(
      'div',
      { class: 'filter' },
      priority.element,
      delay.element,
      ttl.element,
      correlationId.element,
      idempotencyKey.element,
      orderingKey.element,
    ),
    h('button', { type: 'submit' }, 'Publish'),
    h(
      'p',
      { class: 'muted' },
      'Messages with the same ordering key are delivered one at a time, in publish order, in each queue. ' +
        'Request mode (waiting for a reply) is not offered here: use the request mutation (docs/PATTERNS.md).',
    ),
  );

  function showSchema(): void {
    const chosen = topics.find((candidate) => candidate.name === topic.value);
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
    const before = topic.value;
    replaceChildren(
      topic,
      ...offered.map((candidate) => h('option', { value: candidate.name }, candidate.name)),
    );
    if (offered.some((candidate) => candidate.name === before)) topic.value = before;
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
    const readHeaders = headers.read();
    const readPayload = payload.read();
    if (!readHeaders.ok || !readPayload.ok) {
      showStatus('Fix the fields marked in the form', 'error');
      return;
    }
    const chosen = topic.value;
    try {
      const input: PublishInput = {
        topic: chosen,
        payload: readPayload.value,
        routingKey: routingKey.field.value.trim() || undefined,
        headers: readHeaders.value,
        priority: readInt(priority.field, 'priority'),
        delayMs: readInt(delay.field, 'delay'),
        ttlMs: readInt(ttl.field, 'TTL'),
        correlationId: correlationId.field.value.trim() || undefined,
        idempotencyKey: idempotencyKey.field.value.trim() || undefined,
        orderingKey: orderingKey.field.value.trim() || undefined,
      };
      const { publish } = await request(DashboardPublishDocument, { input });
      const routed = publish.routedTo.length ? publish.routedTo.join(', ') : 'no queue (unrouted)';
      showStatus(
        publish.duplicate
          ? `Not published again: the idempotency key was already used (message ${publish.messageId})`
          : `Published ${publish.messageId} to ${chosen}, routed to ${routed}`,
      );
      replaceChildren(
        result,
        'Message id ',
        h('code', { 'data-message-id': publish.messageId }, publish.messageId),
        ` · routed to ${routed}${publish.duplicate ? ' · duplicate' : ''}`,
      );
    } catch (error) {
      if (error instanceof GatewayError && error.code === 'VALIDATION') {
        const path = typeof error.details.path === 'string' ? error.details.path : 'payload';
        payload.setError(`${error.message}${path.startsWith('payload') ? '' : ` (at ${path})`}`);
        payload.focus();
      }
      if (noteRefusal(error, 'publish', chosen)) renderTopics();
      showError(error);
    }
  }

  topic.addEventListener('change', showSchema);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void submit();
  });
  replaceChildren(root, h('p', { class: 'muted' }, 'Loading…'));
  request(DashboardTopicNamesDocument).then(
    (data) => {
      topics = data.topics;
      replaceChildren(root, h('h2', {}, 'Publish'), form, result);
      renderTopics();
    },
    (error: unknown) => showError(error),
  );
  return () => {};
}
