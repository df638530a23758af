/**
 * One message, found in its topic's history, a queue or the dead letters (Query.message), with its
 * provenance trail (Message.trail). The trail is asked for apart from the message, so a gateway that
 * cannot answer it (UNAVAILABLE while Redis is away, say) still shows the message, and says so
 * plainly where the trail would be. The page checks what it can without the hash layout: each entry's
 * prevHash must be the hash of the entry before (docs/PROVENANCE.md has the rest).
 */
import {
  DashboardMessageDocument,
  type DashboardMessageQuery,
  DashboardMessageTrailDocument,
  type DashboardMessageTrailQuery,
} from '../../client/generated/graphql.js';
import { type Child, formatTime, h, replaceChildren, table } from './dom.js';
import { GatewayError, request } from './gateway.js';

type Message = NonNullable<DashboardMessageQuery['message']>;
type TrailEntry = NonNullable<DashboardMessageTrailQuery['message']>['trail'][number];

function details(message: Message): HTMLElement {
  const rows: [string, Child][] = [
    ['id', h('code', { 'data-message-id': message.id }, message.id)],
    ['topic', message.topic],
    ['routing key', message.routingKey ?? '—'],
    ['published', formatTime(message.publishedAt)],
    ['priority', message.priority],
    ['correlation id', message.correlationId ?? '—'],
    ['reply to', message.replyTo ?? '—'],
    ['idempotency key', message.idempotencyKey ?? '—'],
    ['ordering key', message.orderingKey ?? '—'],
    ['expires', message.expiresAt ? formatTime(message.expiresAt) : 'never'],
    ['SHA-256', h('code', { 'data-sha256': '' }, message.sha256)],
    ['size', `${message.sizeBytes} bytes`],
    ['history cursor', message.cursor ?? '— (not read from the history)'],
  ];
  return h(
    'div',
    {},
    h('dl', { class: 'facts' }, ...rows.flatMap(([term, value]) => [h('dt', {}, term), h('dd', {}, value)])),
    h('h4', {}, 'headers'),
    h('pre', {}, JSON.stringify(message.headers, null, 2)),
    h('h4', {}, 'payload'),
    h('pre', { 'data-payload': '' }, JSON.stringify(message.payload, null, 2)),
  );
}

const short = (hash: string | null) => (hash ? h('code', { title: hash }, hash.slice(0, 12)) : '—');

function trailTable(trail: readonly TrailEntry[]): HTMLElement {
  return table(
    ['step', 'action', 'at', 'by', 'queue', 'payload SHA-256', 'previous hash', 'hash', 'link'],
    trail.map((entry, index) => ({ entry, index, before: trail[index - 1] })),
    ({ entry, index, before }) => {
      const linked = index === 0 ? entry.prevHash === null : entry.prevHash === before?.hash;
      return [
        index + 1,
        h('span', { 'data-trail-action': entry.action }, entry.action),
        formatTime(entry.at),
        entry.by ?? '(no key)',
        entry.queue ?? '—',
        short(entry.sha256),
        short(entry.prevHash),
        short(entry.hash),
        h('span', { 'data-linked': String(linked) }, linked ? 'linked' : 'BROKEN: not the hash before'),
      ];
    },
    'No steps recorded.',
  );
}

function failure(error: unknown): HTMLElement {
  const code = error instanceof GatewayError ? error.code : 'ERROR';
  const message = error instanceof Error ? error.message : String(error);
  const hint =
    code === 'UNAVAILABLE'
      ? ' The gateway cannot read the trail now: open the message again in a moment.'
      : '';
  return h('p', { class: 'field-error', 'data-error-code': code }, `${code}: ${message}.${hint}`);
}

async function loadTrail(into: HTMLElement, topic: string, id: string): Promise<void> {
  try {
    const { message } = await request(DashboardMessageTrailDocument, { topic, id });
    replaceChildren(
      into,
      message ? trailTable(message.trail) : h('p', { class: 'muted' }, 'The message is gone.'),
    );
  } catch (error) {
    replaceChildren(into, failure(error));
  }
}

/** A panel showing message `id` of `topic` and its trail, filled as the answers come. */
export function messagePanel(topic: string, id: string): HTMLElement {
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const trail = h('div', { 'data-trail': '' }, h('p', { class: 'muted' }, 'Loading…'));
  const panel = h(
    'section',
    { 'aria-label': `Message ${id}`, 'data-message-panel': id },
    h('h3', { tabindex: -1 }, `Message ${id}`),
    body,
    h('h4', {}, 'provenance trail'),
    trail,
  );
  request(DashboardMessageDocument, { topic, id }).then(
    ({ message }) => {
      if (!message) {
        replaceChildren(
          body,
          h('p', { 'data-error-code': 'NOT_FOUND' }, `No message ${id} in ${topic} now.`),
        );
        replaceChildren(trail);
        return;
      }
      replaceChildren(body, details(message));
      void loadTrail(trail, topic, id);
    },
    (error: unknown) => {
      replaceChildren(body, failure(error));
      replaceChildren(trail);
    },
  );
  return panel;
}
