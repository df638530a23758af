/**
 * Topics and their queues, with counters and circuit breakers; for admin keys also the topology's
 * changes: create and delete topics and queues, edit a queue, pause and resume it, rotate a webhook's
 * signing secret (shown once) and reset its circuit breaker. Keys without `admin` see no such button,
 * and keys without `stats` see no counters (the query leaves them out, as they would be refused).
 */
import {
  type CreateQueueInput,
  DashboardCreateQueueDocument,
  DashboardCreateTopicDocument,
  DashboardDeleteQueueDocument,
  DashboardDeleteTopicDocument,
  DashboardPauseDocument,
  DashboardResetCircuitDocument,
  DashboardResumeDocument,
  DashboardRotateSecretDocument,
  DashboardTopologyDocument,
  type DashboardTopologyQuery,
  DashboardUpdateQueueDocument,
  type UpdateQueueInput,
} from '../../client/generated/graphql.js';
import { Backoff, CircuitState, TargetKind, TopicKind } from '../../client/generated/schema.js';
import type { Capabilities } from './capabilities.js';
import {
  button,
  type Child,
  formatDuration,
  formatNumber,
  formatTime,
  h,
  replaceChildren,
  table,
} from './dom.js';
import { GatewayError, request } from './gateway.js';
import { jsonField } from './json-field.js';
import { reported, showStatus } from './status.js';

const REFRESH_MS = 5_000;

type TopologyTopic = DashboardTopologyQuery['topics'][number];
type TopologyQueue = TopologyTopic['queues'][number];

function circuitText(circuit: NonNullable<TopologyQueue['circuit']>): string {
  if (circuit.state === CircuitState.Closed)
    return circuit.consecutiveFailures ? `closed (${circuit.consecutiveFailures} failing)` : 'closed';
  return circuit.openUntil
    ? `${circuit.state.toLowerCase()} until ${formatTime(circuit.openUntil)}`
    : circuit.state.toLowerCase();
}

const count = (value: number | undefined) => (value === undefined ? '—' : formatNumber(value));

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

export function mountTopology(root: HTMLElement, can: Capabilities): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** Forms and one-time secrets: outside the list, so the refresh never wipes what is typed. */
  const editor = h('section', { class: 'editor', 'aria-label': 'Edit the topology', hidden: true });
  const list = h('div');
  let topics: TopologyTopic[] = [];

  async function load(): Promise<void> {
    clearTimeout(timer);
    await reported(async () => {
      const data = await request(DashboardTopologyDocument, { stats: can.stats });
      topics = data.topics;
      if (!stopped) render();
    });
    if (!stopped) timer = setTimeout(load, REFRESH_MS);
  }

  function openEditor(...children: Child[]): void {
    replaceChildren(
      editor,
      ...children,
      ' ',
      button('Close', closeEditor, { 'data-action': 'close-editor' }),
    );
    editor.hidden = false;
    const first = editor.querySelector<HTMLElement>('input, select, textarea, [tabindex="-1"]');
    first?.focus();
  }

  function closeEditor(): void {
    editor.hidden = true;
    replaceChildren(editor);
  }

  /** Runs a change, reports it, reloads the list; errors stay on the status line. */
  function change(action: () => Promise<string | null>) {
    return reported(async () => {
      const done = await action();
      if (done === null) return;
      showStatus(done);
      await load();
    });
  }

  function topicForm(): HTMLFormElement {
    const name = textInput('name', 'name', '', { required: true, pattern: '[A-Za-z0-9._\\-]{1,128}' });
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
      void change(async () => {
        const { createTopic } = await request(DashboardCreateTopicDocument, {
          input: {
            name: name.field.value.trim(),
            kind: kind.field.value as TopicKind,
            description: description.field.value.trim() || undefined,
            payloadSchema: payloadSchema.value,
          },
        });
        closeEditor();
        return `Created topic ${createTopic.name}`;
      });
    });
    return form;
  }

  /** The queue form: a new queue of `topic`, or the settings of `queue` to change. */
  function queueForm(topic: TopologyTopic, queue: TopologyQueue | null): HTMLFormElement {
    const name = textInput('name', 'name', '', { required: true, pattern: '[A-Za-z0-9._\\-]{1,128}' });
    const target = select('target', 'target', Object.values(TargetKind), queue?.target ?? TargetKind.Webhook);
    const url = textInput('url', 'webhook URL', queue?.url ?? '', { type: 'url', placeholder: 'https://…' });
    const binding = textInput(
      'bindingKey',
      topic.kind === TopicKind.Direct ? 'routing key' : 'binding key',
      queue?.bindingKey ?? '',
      {
        placeholder: topic.kind === TopicKind.Direct ? 'orders.eu' : 'orders.*.eu',
      },
    );
    const headers = jsonField('headers', 'headers to match (JSON object)', {
      kind: 'object',
      rows: 3,
      value: queue?.headers ?? undefined,
    });
    const attempts = textInput('maxAttempts', 'max attempts', String(queue?.retry.maxAttempts ?? ''), {
      type: 'number',
      min: 1,
    });
    const backoff = select('backoff', 'backoff', Object.values(Backoff), queue?.retry.backoff);
    const delay = textInput('delayMs', 'first retry after (ms)', String(queue?.retry.delayMs ?? ''), {
      type: 'number',
      min: 0,
    });
    const maxDelay = textInput('maxDelayMs', 'longest wait (ms)', String(queue?.retry.maxDelayMs ?? ''), {
      type: 'number',
      min: 0,
    });
    const concurrency = textInput('concurrency', 'concurrency', String(queue?.concurrency ?? ''), {
      type: 'number',
      min: 1,
    });
    const isWebhook = () => (queue?.target ?? target.field.value) === TargetKind.Webhook;
    const urlRow = url.element;
    const showUrl = () => {
      urlRow.hidden = !isWebhook();
    };
    target.field.addEventListener('change', showUrl);
    showUrl();
    const title = queue ? `Edit ${topic.name}/${queue.name}` : `New queue on ${topic.name}`;
    const form = h(
      'form',
      { class: 'stack', 'aria-label': title, 'data-form': queue ? 'edit-queue' : 'queue' },
      h('h2', {}, title),
      h(
        'div',
        { class: 'filter' },
        queue ? null : name.element,
        queue ? null : target.element,
        urlRow,
        topic.kind === TopicKind.Direct || topic.kind === TopicKind.Topic ? binding.element : null,
        concurrency.element,
      ),
      topic.kind === TopicKind.Headers ? headers.element : null,
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
      const matched = headers.read();
      if (!matched.ok) return;
      void change(async () => {
        const retry = {
          maxAttempts: intOf(attempts.field, 'max attempts'),
          backoff: (backoff.field.value as Backoff) || undefined,
          delayMs: intOf(delay.field, 'first retry after'),
          maxDelayMs: intOf(maxDelay.field, 'longest wait'),
        };
        const settings: UpdateQueueInput = {
          url: isWebhook() ? url.field.value.trim() || undefined : undefined,
          retry,
          concurrency: intOf(concurrency.field, 'concurrency'),
        };
        if (topic.kind === TopicKind.Direct || topic.kind === TopicKind.Topic)
          settings.bindingKey = binding.field.value.trim() || null;
        if (topic.kind === TopicKind.Headers) settings.headers = matched.value;
        if (queue) {
          await request(DashboardUpdateQueueDocument, {
            topic: topic.name,
            name: queue.name,
            input: settings,
          });
          closeEditor();
          return `Saved ${topic.name}/${queue.name}`;
        }
        const input: CreateQueueInput = {
          ...settings,
          topic: topic.name,
          name: name.field.value.trim(),
          target: target.field.value as TargetKind,
          bindingKey: settings.bindingKey ?? undefined,
        };
        const { createQueue } = await request(DashboardCreateQueueDocument, { input });
        closeEditor();
        return `Created queue ${topic.name}/${createQueue.name}`;
      });
    });
    return form;
  }

  function setPaused(topic: string, queue: TopologyQueue, paused: boolean) {
    return change(async () => {
      const variables = { topic, name: queue.name };
      if (paused) await request(DashboardPauseDocument, variables);
      else await request(DashboardResumeDocument, variables);
      return `${topic}/${queue.name} ${paused ? 'paused' : 'resumed'}`;
    });
  }

  function deleteQueue(topic: string, queue: TopologyQueue) {
    return change(async () => {
      if (!confirm(`Delete the queue ${topic}/${queue.name} and every message in it?`)) return null;
      await request(DashboardDeleteQueueDocument, { topic, name: queue.name });
      return `Deleted ${topic}/${queue.name}`;
    });
  }

  function deleteTopic(topic: TopologyTopic) {
    return change(async () => {
      if (!confirm(`Delete the topic ${topic.name}?`)) return null;
      await request(DashboardDeleteTopicDocument, { name: topic.name });
      return `Deleted topic ${topic.name}`;
    });
  }

  function rotate(topic: string, queue: TopologyQueue) {
    return change(async () => {
      if (
        !confirm(
          `Rotate the signing secret of ${topic}/${queue.name}? The old one keeps signing for a grace period.`,
        )
      )
        return null;
      const { rotateSigningSecret } = await request(DashboardRotateSecretDocument, {
        topic,
        name: queue.name,
      });
      openEditor(
        h(
          'div',
          { class: 'once', role: 'alert' },
          h(
            'strong',
            { tabindex: -1 },
            `The new signing secret of ${topic}/${queue.name}, shown this once: `,
          ),
          h('code', { 'data-new-secret': '' }, rotateSigningSecret.signingSecret ?? '(not answered)'),
          h('p', {}, 'Give it to the receiver now; the old secret keeps signing for the grace period.'),
        ),
      );
      return `Rotated the signing secret of ${topic}/${queue.name}`;
    });
  }

  function resetCircuit(topic: string, queue: TopologyQueue) {
    return change(async () => {
      const { resetCircuit } = await request(DashboardResetCircuitDocument, { topic, name: queue.name });
      return `Circuit of ${topic}/${queue.name} reset: ${resetCircuit.circuit.state.toLowerCase()}`;
    });
  }

  /** Buttons carry a stable key, so focus survives the periodic refresh. */
  const act = (label: string, run: () => unknown, key: string, name: string) =>
    button(label, () => void run(), {
      'data-action': key.split('/').pop(),
      'data-key': key,
      'aria-label': `${label.replace('…', '')} ${name}`,
    });

  function actions(topic: string, queue: TopologyQueue): Child {
    if (!can.admin) return null;
    const id = `${topic}/${queue.name}`;
    const found = topics.find((candidate) => candidate.name === topic);
    return h(
      'span',
      { class: 'actions' },
      queue.paused
        ? act('Resume', () => setPaused(topic, queue, false), `${id}/resume`, id)
        : act('Pause', () => setPaused(topic, queue, true), `${id}/pause`, id),
      found ? act('Edit…', () => openEditor(queueForm(found, queue)), `${id}/edit`, id) : null,
      queue.target === TargetKind.Webhook
        ? act('Rotate secret', () => rotate(topic, queue), `${id}/rotate`, id)
        : null,
      queue.target === TargetKind.Webhook && queue.circuit && queue.circuit.state !== CircuitState.Closed
        ? act('Reset circuit', () => resetCircuit(topic, queue), `${id}/reset-circuit`, id)
        : null,
      act('Delete', () => deleteQueue(topic, queue), `${id}/delete`, id),
    );
  }

  /**
   * Each column's header beside its cell, so the two cannot drift apart: a lag cell once went in
   * without its header and shifted every later value one column to the left (issue 17).
   */
  const columns: ReadonlyArray<
    readonly [header: string, cell: (topic: string, queue: TopologyQueue) => Child]
  > = [
    ['queue', (_topic, queue) => h('span', { 'data-queue': queue.name }, queue.name)],
    ['binding', (_topic, queue) => queue.bindingKey ?? '—'],
    [
      'target',
      (_topic, queue) => (queue.target === TargetKind.Webhook ? `webhook ${queue.url ?? ''}` : 'consumer'),
    ],
    ['mode', (_topic, queue) => queue.deliveryMode.toLowerCase().replaceAll('_', '-')],
    ['waiting', (_topic, queue) => count(queue.stats?.waiting)],
    [
      'lag',
      (_topic, queue) =>
        queue.stats?.oldestWaitingAgeMs == null ? '—' : formatDuration(queue.stats.oldestWaitingAgeMs),
    ],
    ['active', (_topic, queue) => count(queue.stats?.active)],
    ['delayed', (_topic, queue) => count(queue.stats?.delayed)],
    ['dead letters', (_topic, queue) => count(queue.stats?.deadLettered)],
    [
      'circuit',
      (_topic, queue) =>
        queue.target === TargetKind.Webhook && queue.circuit
          ? h('span', { 'data-circuit': queue.circuit.state }, circuitText(queue.circuit))
          : '—',
    ],
    ['', actions],
  ];

  function render(): void {
    const focused =
      document.activeElement instanceof HTMLElement ? document.activeElement.dataset.key : undefined;
    replaceChildren(
      list,
      topics.length === 0
        ? h(
            'p',
            { class: 'muted' },
            can.admin ? 'No topics yet: create one above.' : 'No topics this key can see.',
          )
        : null,
      ...topics.map((topic) =>
        h(
          'section',
          { class: 'topic', 'data-topic': topic.name },
          h('h2', {}, topic.name, ' ', h('span', { class: 'kind' }, topic.kind)),
          topic.description ? h('p', { class: 'muted' }, topic.description) : null,
          h(
            'p',
            { class: 'muted' },
            topic.stats
              ? `published ${formatNumber(topic.stats.published)} · unrouted ${formatNumber(topic.stats.unrouted)} · dead letters ${formatNumber(topic.stats.deadLettered)} · `
              : '',
            `created ${formatTime(topic.createdAt)}`,
          ),
          can.admin &&
            h(
              'p',
              { class: 'actions' },
              act(
                'Add queue…',
                () => openEditor(queueForm(topic, null)),
                `${topic.name}/add-queue`,
                topic.name,
              ),
              act('Delete topic', () => deleteTopic(topic), `${topic.name}/delete-topic`, topic.name),
            ),
          table(
            columns.map(([header]) => header),
            topic.queues,
            (queue) => columns.map(([, cell]) => cell(topic.name, queue)),
            'No queues bound.',
          ),
        ),
      ),
    );
    if (focused) list.querySelector<HTMLElement>(`[data-key="${CSS.escape(focused)}"]`)?.focus();
  }

  replaceChildren(
    root,
    can.admin &&
      h(
        'p',
        {},
        button('New topic…', () => openEditor(topicForm()), { 'data-action': 'new-topic' }),
      ),
    editor,
    list,
  );
  replaceChildren(list, h('p', { class: 'muted' }, 'Loading…'));
  void load();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
