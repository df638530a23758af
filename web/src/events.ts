/** A live tail of delivery events (published, delivered, failed, retrying, dead-lettered, …). */
import { DashboardEventsDocument, type DashboardEventsSubscription } from '../../client/generated/graphql.js';
import { formatTime, h, replaceChildren, table } from './dom.js';
import { subscribe } from './gateway.js';
import { showError } from './status.js';

/** The newest events kept on screen; older ones scroll away. */
const KEEP = 200;

type DeliveryEvent = DashboardEventsSubscription['deliveryEvents'];

export function mountEvents(root: HTMLElement): () => void {
  const topic = h('input', { name: 'topic', type: 'search' });
  const queue = h('input', { name: 'queue', type: 'search' });
  const form = h(
    'form',
    { class: 'filter' },
    h('label', {}, 'topic', topic),
    h('label', {}, 'queue', queue),
    h('button', { type: 'submit' }, 'Follow'),
  );
  const list = h('div');
  let events: DeliveryEvent[] = [];
  let stop: () => void = () => {};

  function render(): void {
    replaceChildren(
      list,
      table(
        ['at', 'event', 'topic', 'queue', 'message', 'attempt', 'reason', 'error'],
        events,
        (event) => [
          formatTime(event.at),
          h('span', { class: `event ${event.kind.toLowerCase()}` }, event.kind),
          event.topic,
          event.queue ?? '—',
          h('code', {}, event.messageId),
          event.attempt ?? '—',
          event.reason ?? '—',
          event.error ?? '',
        ],
        'Waiting for events…',
      ),
    );
  }

  function follow(): void {
    stop();
    events = [];
    render();
    const variables = { topic: topic.value.trim() || null, queue: queue.value.trim() || null };
    stop = subscribe(DashboardEventsDocument, variables, {
      next({ deliveryEvents }) {
        events = [deliveryEvents, ...events.slice(0, KEEP - 1)];
        render();
      },
      error: showError,
    });
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    follow();
  });
  replaceChildren(root, form, list);
  follow();
  return () => stop();
}
