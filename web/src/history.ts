/**
 * A topic's history (topicHistory), oldest first, a page at a time from a time or from the start;
 * each message opens with its provenance trail (message-view.ts), and admins get "Replay from
 * here" (history-replay.ts) and the list of replay tasks. A message can also be looked up by id,
 * in any topic the key may read, history or not. Reading needs subscribe:<topic>: a topic the
 * gateway refuses is taken off the list.
 */
import {
  DashboardHistoryTopicsDocument,
  type DashboardHistoryTopicsQuery,
  DashboardTopicHistoryDocument,
  type DashboardTopicHistoryQuery,
} from '../../client/generated/graphql.js';
import { type Capabilities, mayDo, noteRefusal } from './capabilities.js';
import { button, type Child, formatDuration, formatTime, h, replaceChildren, table } from './dom.js';
import { request } from './gateway.js';
import { replayPanel, replayTaskList } from './history-replay.js';
import { messagePanel } from './message-view.js';
import { reported, showError, showStatus } from './status.js';

type Topic = DashboardHistoryTopicsQuery['topics'][number];
type Page = DashboardTopicHistoryQuery['topicHistory'];
type Edge = Page['edges'][number];

const PAGE_SIZE = 50;
const PREVIEW_CHARS = 80;
const TASKS_EVERY_MS = 1_000;

function describeHistory(topic: Topic | undefined): string {
  const history = topic?.history;
  if (!topic || !history)
    return 'This topic keeps no history (createTopic with history: { maxAgeMs, maxMessages }). A message can still be found by id below while a queue holds it.';
  const limits = [
    history.maxMessages === null ? null : `at most ${history.maxMessages} messages`,
    history.maxAgeMs === null ? null : `for ${formatDuration(history.maxAgeMs)}`,
  ].filter(Boolean);
  return `Keeps ${limits.join(', ')}: ${history.length} now${history.oldestAt ? `, the oldest from ${formatTime(history.oldestAt)}` : ''}.`;
}

function preview(payload: unknown): string {
  const text = JSON.stringify(payload);
  return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
}

function filterForm() {
  const topic = h('select', { name: 'topic' });
  const from = h('input', { name: 'from', type: 'datetime-local', step: 1 });
  const first = h('input', { name: 'first', type: 'number', min: 1, max: 1000, step: 1, value: PAGE_SIZE });
  const form = h(
    'form',
    { class: 'filter', 'aria-label': 'Read a topic’s history' },
    h('label', {}, 'topic', topic),
    h('label', {}, 'from (optional)', from),
    h('label', {}, 'per page', first),
    h('button', { type: 'submit' }, 'Show'),
  );
  return { form, topic, from, first };
}

function findForm() {
  const id = h('input', {
    name: 'messageId',
    autocomplete: 'off',
    required: true,
    placeholder: 'message id',
  });
  const form = h(
    'form',
    { class: 'filter', 'aria-label': 'Find a message' },
    h('label', {}, 'message id (in the topic chosen above)', id),
    h('button', { type: 'submit' }, 'Find'),
  );
  return { form, id };
}

/** The details panel: one message, or one replay, at a time; `stop` runs when it closes. */
function detailsPanel() {
  const panel = h('section', { class: 'editor', 'aria-label': 'Details', hidden: true });
  let stopShown: () => void = () => {};
  const close = () => {
    stopShown();
    stopShown = () => {};
    panel.hidden = true;
    replaceChildren(panel);
  };
  const open = (content: HTMLElement, stop: () => void = () => {}) => {
    stopShown();
    stopShown = stop;
    replaceChildren(panel, content, button('Close', close, { 'data-action': 'close-panel' }));
    panel.hidden = false;
    panel.querySelector<HTMLElement>('h3')?.focus();
  };
  return { panel, open, close };
}

interface RowActions {
  admin: boolean;
  openMessage(topic: string, id: string): void;
  openReplay(topic: Topic, edge: Edge): void;
}

function historyRow(topic: Topic, edge: Edge, actions: RowActions): Child[] {
  const { node } = edge;
  return [
    formatTime(node.publishedAt),
    button(node.id, () => actions.openMessage(topic.name, node.id), {
      class: 'link',
      'data-action': 'open-message',
      'data-message-id': node.id,
      'aria-label': `Message ${node.id}`,
    }),
    node.routingKey ?? '—',
    `${node.sizeBytes} B`,
    h('code', { class: 'payload' }, preview(node.payload)),
    actions.admin && topic.queues.length > 0
      ? button('Replay from here…', () => actions.openReplay(topic, edge), {
          'data-action': 'replay-from',
          'aria-label': `Replay from here… (message ${node.id})`,
        })
      : '',
  ];
}

/** Offers the topics the key has not been refused; keeps the one chosen, else the first with a history. */
function offerTopics(select: HTMLSelectElement, topics: readonly Topic[]): number {
  const offered = topics.filter((topic) => mayDo('subscribe', topic.name));
  const before = select.value;
  replaceChildren(
    select,
    ...offered.map((topic) =>
      h('option', { value: topic.name }, topic.history ? topic.name : `${topic.name} (no history)`),
    ),
  );
  const keep =
    offered.find((topic) => topic.name === before) ?? offered.find((topic) => topic.history) ?? offered[0];
  if (keep) select.value = keep.name;
  return offered.length;
}

/** The replay tasks, read again every second while one runs; the answer stops reading. */
function taskList(tasks: HTMLElement, can: Capabilities) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const load = async (): Promise<void> => {
    clearTimeout(timer);
    if (!can.stats || stopped) return;
    await reported(async () => {
      const shown = await replayTaskList(can.admin, () => void load());
      if (stopped) return;
      replaceChildren(tasks, h('h3', {}, 'Replay tasks'), shown.element);
      if (shown.running) timer = setTimeout(() => void load(), TASKS_EVERY_MS);
    });
  };
  const stop = () => {
    stopped = true;
    clearTimeout(timer);
  };
  return { load, stop };
}

export function mountHistory(root: HTMLElement, can: Capabilities): () => void {
  let topics: Topic[] = [];
  const filter = filterForm();
  const find = findForm();
  const about = h('p', { class: 'muted', 'data-history-about': '' });
  const list = h('div');
  const details = detailsPanel();
  const tasks = h('section', { 'aria-label': 'Replay tasks' });
  const replayTasks = taskList(tasks, can);
  let after: string | null = null;
  let stopped = false;

  const actions: RowActions = {
    admin: can.admin,
    openMessage: (topic, id) => details.open(messagePanel(topic, id)),
    openReplay: (topic, edge) => {
      const queues = topic.queues.map((queue) => queue.name);
      const replay = replayPanel(topic.name, queues, edge.cursor, () => void replayTasks.load());
      details.open(replay.element, replay.stop);
    },
  };

  function renderPage(topic: Topic, page: Page): void {
    after = page.pageInfo.endCursor ?? after;
    const next = page.pageInfo.hasNextPage;
    replaceChildren(
      list,
      table(
        ['published', 'message', 'routing key', 'size', 'payload', ''],
        page.edges,
        (edge) => historyRow(topic, edge, actions),
        'No messages in this part of the history.',
      ),
      h(
        'p',
        { class: 'actions' },
        button('From the start', () => load(null), { 'data-action': 'first-page' }),
        next ? button('Next page', () => load(after), { 'data-action': 'next-page' }) : null,
      ),
    );
  }

  function renderTopics(): void {
    if (offerTopics(filter.topic, topics) === 0)
      replaceChildren(list, h('p', { class: 'muted' }, 'This key can read no topic (or there is none yet).'));
  }

  async function load(cursor: string | null): Promise<void> {
    const topic = topics.find((candidate) => candidate.name === filter.topic.value);
    replaceChildren(about, describeHistory(topic));
    replaceChildren(list);
    if (!topic?.history) return;
    try {
      const fromText = filter.from.value;
      const { topicHistory } = await request(DashboardTopicHistoryDocument, {
        topic: topic.name,
        after: cursor,
        from: cursor || !fromText ? null : new Date(fromText).toISOString(),
        first: Number(filter.first.value) || PAGE_SIZE,
      });
      if (!stopped) renderPage(topic, topicHistory);
    } catch (error) {
      showError(error);
      if (!noteRefusal(error, 'subscribe', topic.name)) return;
      renderTopics();
      // Another topic is chosen now: show it, the refusal staying on the status line.
      if (filter.topic.value) await load(null);
    }
  }

  filter.form.addEventListener('submit', (event) => {
    event.preventDefault();
    void load(null);
  });
  filter.topic.addEventListener('change', () => void load(null));
  find.form.addEventListener('submit', (event) => {
    event.preventDefault();
    const id = find.id.value.trim();
    if (!filter.topic.value) return showStatus('Choose a topic first', 'error');
    if (id) actions.openMessage(filter.topic.value, id);
  });
  replaceChildren(root, h('h2', {}, 'History'), filter.form, about, details.panel, list, find.form, tasks);
  request(DashboardHistoryTopicsDocument).then(
    (data) => {
      topics = data.topics;
      renderTopics();
      void load(null);
      void replayTasks.load();
    },
    (error: unknown) => showError(error),
  );
  return () => {
    stopped = true;
    replayTasks.stop();
    details.close();
  };
}
