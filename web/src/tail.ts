/**
 * Live tail of one topic's messages (Subscription.messages), filtered by a binding key the way a
 * queue's binding is. At-most-once: a reader that falls behind loses messages, and the gateway says
 * how many on the next one (`droppedBefore`); the page adds them up. Pausing keeps the stream open
 * and holds what arrives (up to {@link KEEP}) until it resumes.
 */
import {
  DashboardTailDocument,
  type DashboardTailSubscription,
  DashboardTopicNamesDocument,
} from '../../client/generated/graphql.js';
import { mayDo, noteRefusal } from './capabilities.js';
import { button, formatTime, h, replaceChildren, table } from './dom.js';
import { request, subscribe } from './gateway.js';
import { showError, showStatus } from './status.js';

/** The newest messages kept, on screen or held while paused. */
const KEEP = 200;

type TailMessage = DashboardTailSubscription['messages'];

export function mountTail(root: HTMLElement): () => void {
  const topic = h('select', { name: 'topic' });
  const bindingKey = h('input', { name: 'bindingKey', type: 'search', placeholder: 'orders.*.eu, #' });
  const form = h(
    'form',
    { class: 'filter', 'aria-label': 'Follow a topic' },
    h('label', {}, 'topic', topic),
    h('label', {}, 'binding key', bindingKey),
    h('button', { type: 'submit' }, 'Follow'),
  );
  const state = h('p', { class: 'muted', 'data-tail-state': '' });
  const list = h('div');
  let shown: TailMessage[] = [];
  let held: TailMessage[] = [];
  let dropped = 0;
  let paused = false;
  let following: string | null = null;
  let stop: () => void = () => {};

  const pause = button('Pause', () => setPaused(!paused), {
    'data-action': 'pause-tail',
    'aria-pressed': 'false',
  });

  function setPaused(value: boolean): void {
    paused = value;
    pause.textContent = paused ? 'Resume' : 'Pause';
    pause.setAttribute('aria-pressed', String(paused));
    if (!paused) {
      shown = [...held, ...shown].slice(0, KEEP);
      held = [];
      render();
    }
    renderState();
  }

  function renderState(): void {
    replaceChildren(
      state,
      following === null ? 'Not following.' : `Following ${following}. `,
      h('span', { 'data-dropped': dropped }, `${dropped} dropped`),
      paused ? h('span', { 'data-held': held.length }, ` · paused, ${held.length} held`) : null,
      ' ',
      following !== null && pause,
    );
  }

  function render(): void {
    replaceChildren(
      list,
      table(
        ['published', 'message', 'routing key', 'headers', 'payload'],
        shown,
        (message) => [
          formatTime(message.publishedAt),
          h('code', { 'data-message-id': message.id }, message.id),
          message.routingKey ?? '—',
          h('code', {}, JSON.stringify(message.headers)),
          h('code', { class: 'payload' }, JSON.stringify(message.payload)),
        ],
        following === null ? 'Pick a topic to follow.' : 'Waiting for messages…',
      ),
    );
  }

  function follow(): void {
    stop();
    shown = [];
    held = [];
    dropped = 0;
    const name = topic.value;
    if (!name) return;
    following = name;
    const key = bindingKey.value.trim() || null;
    setPaused(false);
    render();
    stop = subscribe(
      DashboardTailDocument,
      { topic: name, bindingKey: key },
      {
        next({ messages }) {
          dropped += messages.droppedBefore ?? 0;
          if (paused) held = [messages, ...held].slice(0, KEEP);
          else {
            shown = [messages, ...shown].slice(0, KEEP);
            render();
          }
          renderState();
        },
        error(error) {
          if (noteRefusal(error, 'subscribe', name)) {
            following = null;
            void loadTopics();
            renderState();
          }
          showError(error);
        },
      },
    );
    showStatus(`Following ${name}${key ? ` where the binding key ${key} matches` : ''}`);
  }

  async function loadTopics(): Promise<void> {
    const { topics } = await request(DashboardTopicNamesDocument);
    const offered = topics.filter((candidate) => mayDo('subscribe', candidate.name));
    replaceChildren(
      topic,
      ...offered.map((candidate) => h('option', { value: candidate.name }, candidate.name)),
    );
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    follow();
  });
  replaceChildren(root, h('h2', {}, 'Live tail'), form, state, list);
  render();
  renderState();
  loadTopics().catch(showError);
  return () => stop();
}
