/** A live tail of delivery events (published, delivered, failed, retrying, dead-lettered, …). */
import { formatTime, h, replaceChildren, table } from './dom.js';
import { subscribe } from './gateway.js';
import { showError } from './status.js';

const EVENTS = /* GraphQL */ `
  subscription DashboardEvents($topic: String, $queue: String) {
    deliveryEvents(topic: $topic, queue: $queue) { kind at topic queue messageId attempt reason error }
  }
`;
/** The newest events kept on screen; older ones scroll away. */
const KEEP = 200;

interface DeliveryEvent {
  kind: string;
  at: string;
  topic: string;
  queue: string | null;
  messageId: string;
  attempt: number | null;
  reason: string | null;
  error: string | null;
}

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
    stop = subscribe<{ deliveryEvents: DeliveryEvent }>(EVENTS, variables, {
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
