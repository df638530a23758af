/** Dead letters: a filtered, paged list with each one's attempts, and replay or discard. */

import {
  DashboardDeadLettersDocument,
  type DashboardDeadLettersQuery,
  DashboardDiscardAllDocument,
  DashboardDiscardDocument,
  DashboardReplayAllDocument,
  DashboardReplayDocument,
  type DeadLetterFilter,
} from '../../client/generated/graphql.js';
import { button, formatTime, h, replaceChildren, table } from './dom.js';
import { request } from './gateway.js';
import { reported, showStatus } from './status.js';
import { FAILURE_REASONS, type FailureReason } from './types.js';

const PAGE = 50;

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

export function mountDeadLetters(root: HTMLElement): () => void {
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

  function act(letter: DeadLetter, verb: 'Replay' | 'Discard') {
    return reported(async () => {
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
    return reported(async () => {
      if (!confirm(`${verb} all ${total} dead letters that match this filter?`)) return;
      if (verb === 'Replay') {
        const { replayDeadLetters } = await request(DashboardReplayAllDocument, { filter });
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

  function render(pageInfo: Page['pageInfo']): void {
    replaceChildren(
      summary,
      `${total} dead letter${total === 1 ? '' : 's'} match, ${letters.length} shown `,
      total > 0 && button('Replay all', () => actOnAll('Replay'), { 'data-action': 'replay-all' }),
      total > 0 && button('Discard all', () => actOnAll('Discard'), { 'data-action': 'discard-all' }),
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
          h(
            'span',
            { class: 'actions' },
            button('Replay', () => act(letter, 'Replay'), { 'data-action': 'replay' }),
            button('Discard', () => act(letter, 'Discard'), { 'data-action': 'discard' }),
          ),
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
  replaceChildren(root, form, summary, list, more);
  void reload();
  return () => {};
}
