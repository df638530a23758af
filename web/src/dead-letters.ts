/**
 * Dead letters: a filtered, paged list with each one's attempts; replay (as it was, or with an edited
 * payload, or into another queue of its topic) or discard; and the same in bulk for a filter, after
 * counting what it selects.
 */

import {
  DashboardDeadLetterCountDocument,
  DashboardDeadLettersDocument,
  type DashboardDeadLettersQuery,
  DashboardDiscardAllDocument,
  DashboardDiscardDocument,
  DashboardReplayAllDocument,
  DashboardReplayDocument,
  DashboardReplayEditedDocument,
  DashboardTopicNamesDocument,
  type DeadLetterFilter,
} from '../../client/generated/graphql.js';
import { FailureReason } from '../../client/generated/schema.js';
import { mayDo, noteRefusal } from './capabilities.js';
import { button, formatTime, h, replaceChildren, table } from './dom.js';
import { GatewayError, request } from './gateway.js';
import { jsonField } from './json-field.js';
import { reported, showError, showStatus } from './status.js';

/** Every failure reason, in the schema's order: the filter offers them all. */
const FAILURE_REASONS: readonly FailureReason[] = Object.values(FailureReason);
const PAGE = 50;
/** replayDeadLetters' own ceiling. */
const MAX_BULK = 100_000;

type Page = DashboardDeadLettersQuery['deadLetters'];
type DeadLetter = Page['edges'][number]['node'];

/** The filter form's fields: the text ones, and the reason picked from the schema's list. */
type Filter = Pick<DeadLetterFilter, 'topic' | 'queue' | 'search' | 'reason'>;
type TextField = 'topic' | 'queue' | 'search';

function isFailureReason(value: string): value is FailureReason {
  return (FAILURE_REASONS as readonly string[]).includes(value);
}

function field(name: TextField, label: string): HTMLLabelElement {
  return h('label', {}, label, h('input', { name, type: 'search' }));
}

function details(letter: DeadLetter): HTMLElement {
  return h(
    'details',
    {},
    h('summary', {}, `${letter.attempts} attempt${letter.attempts === 1 ? '' : 's'}`),
    h('h3', {}, 'Payload'),
    h('pre', {}, JSON.stringify(letter.message.payload, null, 2)),
    h('h3', {}, 'Headers'),
    h('pre', {}, JSON.stringify(letter.message.headers, null, 2)),
    h('h3', {}, 'Attempts'),
    table(
      ['#', 'at', 'reason', 'error', 'ms'],
      letter.history,
      (attempt) => [
        attempt.attempt,
        formatTime(attempt.at),
        attempt.reason,
        attempt.error,
        attempt.durationMs ?? '—',
      ],
      'No attempts recorded.',
    ),
  );
}

/** The queues of each topic, for "replay into another queue". */
async function queuesByTopic(): Promise<Map<string, string[]>> {
  const { topics } = await request(DashboardTopicNamesDocument);
  return new Map(topics.map((topic) => [topic.name, topic.queues.map((queue) => queue.name)]));
}

/** The filter as a person reads it, for the bulk confirmation. */
function describeFilter(filter: Filter): string {
  const parts = [
    filter.topic && `topic ${filter.topic}`,
    filter.queue && `queue ${filter.queue}`,
    filter.reason && `reason ${filter.reason}`,
    filter.search && `matching "${filter.search}"`,
  ].filter(Boolean);
  return parts.length ? `with ${parts.join(', ')}` : 'in every topic';
}

export function mountDeadLetters(root: HTMLElement): () => void {
  const editor = h('section', { class: 'editor', 'aria-label': 'Fix and replay', hidden: true });
  const form = h(
    'form',
    { class: 'filter' },
    field('topic', 'topic'),
    field('queue', 'queue'),
    h(
      'label',
      {},
      'reason',
      h(
        'select',
        { name: 'reason' },
        h('option', { value: '' }, 'any'),
        ...FAILURE_REASONS.map((reason) => h('option', { value: reason }, reason)),
      ),
    ),
    field('search', 'error or message id'),
    h('button', { type: 'submit' }, 'Search'),
  );
  const summary = h('p', { class: 'muted' });
  const list = h('div');
  const more = h('div');
  let letters: DeadLetter[] = [];
  let total = 0;
  let filter: Filter = {};

  function readFilter(): Filter {
    const values: Filter = {};
    for (const [name, value] of new FormData(form)) {
      if (typeof value !== 'string' || value.trim() === '') continue;
      if (name === 'reason') {
        if (isFailureReason(value)) values.reason = value;
      } else values[name as TextField] = value.trim();
    }
    return values;
  }

  async function load(after: string | null): Promise<void> {
    const { deadLetters } = await request(DashboardDeadLettersDocument, {
      filter,
      first: PAGE,
      after,
    });
    letters =
      after === null
        ? deadLetters.edges.map((edge) => edge.node)
        : [...letters, ...deadLetters.edges.map((edge) => edge.node)];
    total = deadLetters.totalCount;
    render(deadLetters.pageInfo);
  }

  const reload = () => reported(() => load(null));

  /** Opens the editor on one dead letter: its payload as JSON, and the queue to replay it into. */
  async function openEditor(letter: DeadLetter): Promise<void> {
    const payload = jsonField('payload', 'payload (JSON)', {
      value: letter.message.payload,
      required: true,
      rows: 12,
    });
    const queues = (await queuesByTopic().catch(() => new Map<string, string[]>())).get(letter.topic) ?? [];
    const target = h(
      'select',
      { name: 'toQueue' },
      h('option', { value: '' }, `${letter.queue} (its own queue)`),
      ...queues.filter((name) => name !== letter.queue).map((name) => h('option', { value: name }, name)),
    );
    const form = h(
      'form',
      { class: 'stack' },
      h('h2', { tabindex: -1 }, `Fix and replay ${letter.message.id}`),
      h('p', { class: 'muted' }, `${letter.topic} / ${letter.queue}: ${letter.reason} ${letter.error}`),
      payload.element,
      h('label', {}, 'replay into', target),
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'submit', 'data-action': 'replay-edited' }, 'Replay'),
        button('Cancel', () => closeEditor()),
      ),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const read = payload.read();
      if (!read.ok) return;
      void (async () => {
        try {
          const toQueue = target.value || null;
          const { replayDeadLetter } = await request(DashboardReplayEditedDocument, {
            id: letter.id,
            payload: read.value,
            toQueue,
          });
          if (!replayDeadLetter.replayed) {
            showStatus(
              `Could not replay ${letter.message.id}: it is gone (replayed or discarded meanwhile)`,
              'error',
            );
            return;
          }
          showStatus(`Replayed ${letter.message.id} into ${letter.topic}/${toQueue ?? letter.queue}`);
          closeEditor();
          await load(null);
        } catch (error) {
          if (error instanceof GatewayError && error.code === 'VALIDATION') payload.setError(error.message);
          noteRefusal(error, 'deadletters:write', letter.topic);
          showError(error);
        }
      })();
    });
    replaceChildren(editor, form);
    editor.hidden = false;
    form.querySelector('h2')?.focus();
  }

  function closeEditor(): void {
    editor.hidden = true;
    replaceChildren(editor);
  }

  /** Runs a write; a FORBIDDEN answer takes the write buttons off for that topic (the list is redrawn). */
  function writing(topic: string, action: () => Promise<void>): Promise<void> {
    return reported(async () => {
      try {
        await action();
      } catch (error) {
        if (noteRefusal(error, 'deadletters:write', topic)) await load(null).catch(() => {});
        throw error;
      }
    });
  }

  function act(letter: DeadLetter, verb: 'Replay' | 'Discard') {
    return writing(letter.topic, async () => {
      if (verb === 'Replay') {
        const { replayDeadLetter } = await request(DashboardReplayDocument, { id: letter.id });
        showStatus(
          replayDeadLetter.replayed
            ? `Replayed ${letter.message.id} into ${letter.topic}/${letter.queue}`
            : `Could not replay ${letter.message.id}`,
          replayDeadLetter.replayed ? 'info' : 'error',
        );
      } else {
        if (!confirm(`Discard dead letter ${letter.message.id} for good?`)) return;
        await request(DashboardDiscardDocument, { id: letter.id });
        showStatus(`Discarded ${letter.message.id}`);
      }
      await load(null);
    });
  }

  function actOnAll(verb: 'Replay' | 'Discard') {
    return writing(filter.topic ?? '#', async () => {
      // Counted again now: the list on screen may be minutes old.
      const { deadLetters } = await request(DashboardDeadLetterCountDocument, { filter });
      const count = deadLetters.totalCount;
      if (count === 0) {
        showStatus('No dead letter matches this filter any more');
        await load(null);
        return;
      }
      const described = describeFilter(filter);
      if (!confirm(`${verb} all ${count} dead letter${count === 1 ? '' : 's'} ${described}?`)) return;
      if (verb === 'Replay') {
        const { replayDeadLetters } = await request(DashboardReplayAllDocument, {
          filter,
          limit: Math.min(count, MAX_BULK),
        });
        showStatus(
          `Replayed ${replayDeadLetters.replayed}, ${replayDeadLetters.failed} could not be replayed`,
        );
      } else {
        const { discardDeadLetters } = await request(DashboardDiscardAllDocument, { filter });
        showStatus(`Discarded ${discardDeadLetters}`);
      }
      await load(null);
    });
  }

  /** Whether this key may replay and discard what the filter selects (as far as it has learned). */
  function mayWrite(topic: string | null | undefined): boolean {
    return mayDo('deadletters:write', topic ?? '#');
  }

  function render(pageInfo: Page['pageInfo']): void {
    replaceChildren(
      summary,
      `${total} dead letter${total === 1 ? '' : 's'} match, ${letters.length} shown `,
      total > 0 &&
        mayWrite(filter.topic) &&
        button('Replay all…', () => actOnAll('Replay'), { 'data-action': 'replay-all' }),
      total > 0 &&
        mayWrite(filter.topic) &&
        button('Discard all…', () => actOnAll('Discard'), { 'data-action': 'discard-all' }),
    );
    replaceChildren(
      list,
      table(
        ['failed at', 'topic / queue', 'reason', 'error', 'message', 'attempts', ''],
        letters,
        (letter) => [
          formatTime(letter.failedAt),
          `${letter.topic} / ${letter.queue}`,
          h('span', { class: 'reason' }, letter.reason),
          h('span', { class: 'error' }, letter.error),
          h('code', { 'data-message-id': letter.message.id }, letter.message.id),
          details(letter),
          mayWrite(letter.topic)
            ? h(
                'span',
                { class: 'actions' },
                button('Replay', () => act(letter, 'Replay'), { 'data-action': 'replay' }),
                button('Edit…', () => openEditor(letter), {
                  'data-action': 'edit',
                  'aria-label': `Edit and replay ${letter.message.id}`,
                }),
                button('Discard', () => act(letter, 'Discard'), { 'data-action': 'discard' }),
              )
            : '',
        ],
        'No dead letters match.',
      ),
    );
    const cursor = pageInfo.endCursor;
    replaceChildren(
      more,
      pageInfo.hasNextPage && cursor !== null && button('Load more', () => reported(() => load(cursor))),
    );
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    filter = readFilter();
    void reload();
  });
  replaceChildren(root, h('h2', {}, 'Dead letters'), form, editor, summary, list, more);
  void reload();
  return () => {};
}
