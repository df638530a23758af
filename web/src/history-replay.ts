/**
 * "Replay from here": replays a topic's history from one message on into a queue, as a tracked task
 * (replayTopic). The panel counts first (a dry run), offers the real replay of that same range only
 * then, and shows the task's progress (replayTask) until it stops, with Cancel while it runs. Admin
 * only: the view draws the button for admin keys alone.
 */
import {
  DashboardCancelReplayTaskDocument,
  DashboardReplayTaskDocument,
  type DashboardReplayTaskFieldsFragment,
  DashboardReplayTasksDocument,
  DashboardReplayTopicDocument,
} from '../../client/generated/graphql.js';
import { ReplayTaskState } from '../../client/generated/schema.js';
import { button, formatTime, h, replaceChildren, table } from './dom.js';
import { GatewayError, request } from './gateway.js';
import { reported, showStatus } from './status.js';

export type ReplayTask = DashboardReplayTaskFieldsFragment;

/** How often a running task's progress is read. */
const PROGRESS_EVERY_MS = 500;

/** A history cursor (`<ms>-<seq>`) as the time Redis stored it: the start of "from here". */
export function cursorTime(cursor: string): string {
  return new Date(Number(cursor.split('-')[0])).toISOString();
}

function optionalInt(field: HTMLInputElement, label: string): number | undefined {
  const text = field.value.trim();
  if (text === '') return undefined;
  const value = Number(text);
  if (!Number.isInteger(value)) throw new GatewayError(`${label} must be a whole number`, 'BAD_USER_INPUT');
  return value;
}

/** A task's progress for people, and as data for tests and tools. */
export function progress(task: ReplayTask): HTMLElement {
  const running = task.state === ReplayTaskState.Running;
  return h(
    'div',
    { 'data-task': task.id, 'data-task-state': task.state, 'data-done': task.done, 'data-total': task.total },
    h('progress', {
      max: Math.max(task.total, 1),
      value: task.dryRun ? 0 : task.done,
      'aria-label': 'replayed',
    }),
    ` ${task.dryRun ? 'counted' : `${task.done} of ${task.total} replayed`} into ${task.topic}/${task.queue} · ${task.state.toLowerCase()}`,
    running ? '' : task.finishedAt ? ` at ${formatTime(task.finishedAt)}` : '',
  );
}

interface Range {
  topic: string;
  queue: string;
  from: string;
  to?: string;
  ratePerSecond?: number;
}

/** Follows `task` into `into` until it stops; the answer stops following. */
function follow(into: HTMLElement, first: ReplayTask, onStop: (task: ReplayTask) => void): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const cancel = cancelButton(first, () => {});
  const show = (task: ReplayTask) => {
    const running = task.state === ReplayTaskState.Running;
    replaceChildren(into, progress(task), running ? ' ' : null, running ? cancel : null);
    if (!running) {
      stopped = true;
      onStop(task);
      return;
    }
    timer = setTimeout(read, PROGRESS_EVERY_MS);
  };
  const read = () =>
    void request(DashboardReplayTaskDocument, { id: first.id }).then(
      ({ replayTask }) => {
        if (!stopped && replayTask) show(replayTask);
      },
      () => {
        if (!stopped) timer = setTimeout(read, PROGRESS_EVERY_MS);
      },
    );
  show(first);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** The "replay from here" panel for the message stored at `cursor` of `topic`. */
export function replayPanel(
  topic: string,
  queues: readonly string[],
  cursor: string,
  onChange: () => void,
): { element: HTMLElement; stop: () => void } {
  const from = cursorTime(cursor);
  const queue = h('select', { name: 'queue' }, ...queues.map((name) => h('option', { value: name }, name)));
  const rate = h('input', { name: 'ratePerSecond', type: 'number', min: 1, max: 10_000, step: 1 });
  const counted = h('div', { role: 'status', 'data-count': '' });
  const state = h('div', { role: 'status', 'data-replay-progress': '' });
  let stopFollowing: () => void = () => {};
  let range: Range | null = null;

  const start = button(
    'Replay',
    () =>
      reported(async () => {
        if (!range) return;
        const { replayTopic } = await request(DashboardReplayTopicDocument, { ...range, dryRun: false });
        start.hidden = true;
        onChange();
        stopFollowing = follow(state, replayTopic, (task) => {
          showStatus(
            `Replay into ${task.topic}/${task.queue}: ${task.state.toLowerCase()}, ${task.done} of ${task.total}`,
          );
          onChange();
        });
      }),
    { 'data-action': 'start-replay', hidden: true },
  );

  const count = button(
    'Count',
    () =>
      reported(async () => {
        const asked: Range = { topic, queue: queue.value, from, ratePerSecond: optionalInt(rate, 'rate') };
        const { replayTopic } = await request(DashboardReplayTopicDocument, { ...asked, dryRun: true });
        // The real replay takes the range the count saw, not one that grew since.
        range = { ...asked, to: replayTopic.to ?? replayTopic.createdAt };
        replaceChildren(
          counted,
          `${replayTopic.total} messages from ${formatTime(from)} to ${formatTime(range.to ?? '')} would be replayed into ${topic}/${queue.value}.`,
        );
        start.textContent = `Replay ${replayTopic.total} messages`;
        start.hidden = replayTopic.total === 0;
        onChange();
      }),
    { 'data-action': 'count-replay' },
  );

  queue.addEventListener('change', () => {
    range = null;
    start.hidden = true;
    replaceChildren(counted);
  });
  const element = h(
    'section',
    { 'aria-label': 'Replay from here', 'data-replay-from': cursor },
    h('h3', { tabindex: -1 }, `Replay ${topic} from ${formatTime(from)}`),
    h(
      'p',
      { class: 'muted' },
      'Every message stored from this one on (and any stored in the same millisecond before it) is published again into the queue chosen, with its id, payload and headers. Count first; the replay takes the range counted.',
    ),
    h(
      'div',
      { class: 'filter' },
      h('label', {}, 'into queue', queue),
      h('label', {}, 'most per second (optional)', rate),
    ),
    h('p', { class: 'actions' }, count, start),
    counted,
    state,
  );
  return { element, stop: () => stopFollowing() };
}

function cancelButton(task: ReplayTask, onChange: () => void): HTMLButtonElement {
  return button(
    'Cancel',
    () =>
      reported(async () => {
        const { cancelReplayTask } = await request(DashboardCancelReplayTaskDocument, { id: task.id });
        showStatus(
          `Replay task ${task.id} cancelled after ${cancelReplayTask.done} of ${cancelReplayTask.total}`,
        );
        onChange();
      }),
    { 'data-action': 'cancel-replay', 'aria-label': `Cancel the replay into ${task.topic}/${task.queue}` },
  );
}

/** Every replay task, newest first, with Cancel on running ones for admins; and whether one runs. */
export async function replayTaskList(
  admin: boolean,
  onChange: () => void,
): Promise<{ element: HTMLElement; running: boolean }> {
  const { replayTasks } = await request(DashboardReplayTasksDocument);
  const element = table(
    ['created', 'topic', 'queue', 'from', 'to', 'kind', 'progress', ''],
    [...replayTasks].reverse(),
    (task) => [
      formatTime(task.createdAt),
      task.topic,
      task.queue,
      formatTime(task.from),
      task.to ? formatTime(task.to) : '—',
      task.dryRun ? 'count' : 'replay',
      progress(task),
      admin && task.state === ReplayTaskState.Running ? cancelButton(task, onChange) : '',
    ],
    'No replay tasks yet.',
  );
  return { element, running: replayTasks.some((task) => task.state === ReplayTaskState.Running) };
}
