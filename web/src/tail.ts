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

function followForm(topic: HTMLSelectElement, bindingKey: HTMLInputElement): HTMLFormElement {
  return h(
    'form',
    { class: 'filter', 'aria-label': 'Follow a topic' },
    h('label', {}, 'topic', topic),
    h('label', {}, 'binding key', bindingKey),
    h('button', { type: 'submit' }, 'Follow'),
  );
}

function messageTable(shown: readonly TailMessage[], following: string | null): HTMLTableElement {
  return table(
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
  );
}

/** The topics this key may follow, as the picker's options. */
async function loadTopics(topic: HTMLSelectElement): Promise<void> {
  const { topics } = await request(DashboardTopicNamesDocument);
  const offered = topics.filter((candidate) => mayDo('subscribe', candidate.name));
  replaceChildren(
    topic,
    ...offered.map((candidate) => h('option', { value: candidate.name }, candidate.name)),
  );
}

class TailView {
  readonly topic = h('select', { name: 'topic' });
  readonly bindingKey = h('input', { name: 'bindingKey', type: 'search', placeholder: 'orders.*.eu, #' });
  readonly form = followForm(this.topic, this.bindingKey);
  readonly state = h('p', { class: 'muted', 'data-tail-state': '' });
  readonly list = h('div');
  private shown: TailMessage[] = [];
  private held: TailMessage[] = [];
  private dropped = 0;
  private paused = false;
  private following: string | null = null;
  stop: () => void = () => {};

  private readonly pause = button('Pause', () => this.setPaused(!this.paused), {
    'data-action': 'pause-tail',
    'aria-pressed': 'false',
  });

  private setPaused(value: boolean): void {
    this.paused = value;
    this.pause.textContent = value ? 'Resume' : 'Pause';
    this.pause.setAttribute('aria-pressed', String(value));
    if (!value) {
      this.shown = [...this.held, ...this.shown].slice(0, KEEP);
      this.held = [];
      this.render();
    }
    this.renderState();
  }

  renderState(): void {
    const { held, dropped, following } = this;
    replaceChildren(
      this.state,
      following === null ? 'Not following.' : `Following ${following}. `,
      h('span', { 'data-dropped': dropped }, `${dropped} dropped`),
      this.paused ? h('span', { 'data-held': held.length }, ` · paused, ${held.length} held`) : null,
      ' ',
      following !== null && this.pause,
    );
  }

  render(): void {
    replaceChildren(this.list, messageTable(this.shown, this.following));
  }

  readonly loadTopics = () => loadTopics(this.topic);

  private receive(messages: TailMessage): void {
    this.dropped += messages.droppedBefore ?? 0;
    if (this.paused) this.held = [messages, ...this.held].slice(0, KEEP);
    else {
      this.shown = [messages, ...this.shown].slice(0, KEEP);
      this.render();
    }
    this.renderState();
  }

  private refused(error: unknown, name: string): void {
    if (noteRefusal(error, 'subscribe', name)) {
      this.following = null;
      void this.loadTopics();
      this.renderState();
    }
    showError(error);
  }

  follow(): void {
    this.stop();
    this.shown = [];
    this.held = [];
    this.dropped = 0;
    const name = this.topic.value;
    if (!name) return;
    this.following = name;
    const key = this.bindingKey.value.trim() || null;
    this.setPaused(false);
    this.render();
    this.stop = subscribe(
      DashboardTailDocument,
      { topic: name, bindingKey: key },
      { next: ({ messages }) => this.receive(messages), error: (error) => this.refused(error, name) },
    );
    showStatus(`Following ${name}${key ? ` where the binding key ${key} matches` : ''}`);
  }
}

export function mountTail(root: HTMLElement): () => void {
  const view = new TailView();
  view.form.addEventListener('submit', (event) => {
    event.preventDefault();
    view.follow();
  });
  replaceChildren(root, h('h2', {}, 'Live tail'), view.form, view.state, view.list);
  view.render();
  view.renderState();
  view.loadTopics().catch(showError);
  return () => view.stop();
}
