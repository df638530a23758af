/** Dead letters: a filtered, paged list with each one's attempts, and replay or discard. */
import { button, formatTime, h, replaceChildren, table } from './dom.js';
import { request } from './gateway.js';
import { reported, showStatus } from './status.js';
import { FAILURE_REASONS } from './types.js';

const PAGE = 50;
const DEAD_LETTERS = /* GraphQL */ `
  query DashboardDeadLetters($filter: DeadLetterFilter, $first: Int, $after: String) {
    deadLetters(filter: $filter, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node {
        id topic queue reason error attempts failedAt
        message { id routingKey headers payload publishedAt }
        history { attempt at reason error durationMs }
      } }
    }
  }
`;
const REPLAY = 'mutation DashboardReplay($id: ID!) { replayDeadLetter(id: $id) { replayed failed } }';
const DISCARD = 'mutation DashboardDiscard($id: ID!) { discardDeadLetter(id: $id) }';
const REPLAY_ALL =
  'mutation DashboardReplayAll($filter: DeadLetterFilter!) { replayDeadLetters(filter: $filter) { replayed failed } }';
const DISCARD_ALL =
  'mutation DashboardDiscardAll($filter: DeadLetterFilter!) { discardDeadLetters(filter: $filter) }';

interface DeadLetter {
  id: string;
  topic: string;
  queue: string;
  reason: string;
  error: string;
  attempts: number;
  failedAt: string;
  message: { id: string; routingKey: string | null; headers: unknown; payload: unknown; publishedAt: string };
  history: { attempt: number; at: string; reason: string; error: string; durationMs: number | null }[];
}

interface Page {
  totalCount: number;
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  edges: { node: DeadLetter }[];
}

type Filter = Partial<Record<'topic' | 'queue' | 'reason' | 'search', string>>;

function field(name: keyof Filter, label: string): HTMLLabelElement {
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
      if (typeof value === 'string' && value.trim() !== '') values[name as keyof Filter] = value.trim();
    }
    return values;
  }

  async function load(after: string | null): Promise<void> {
    const { deadLetters } = await request<{ deadLetters: Page }>(DEAD_LETTERS, {
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
        const { replayDeadLetter } = await request<{
          replayDeadLetter: { replayed: number; failed: number };
        }>(REPLAY, { id: letter.id });
        showStatus(
          replayDeadLetter.replayed
            ? `Replayed ${letter.message.id} into ${letter.topic}/${letter.queue}`
            : `Could not replay ${letter.message.id}`,
          replayDeadLetter.replayed ? 'info' : 'error',
        );
      } else {
        if (!confirm(`Discard dead letter ${letter.message.id} for good?`)) return;
        await request(DISCARD, { id: letter.id });
        showStatus(`Discarded ${letter.message.id}`);
      }
      await load(null);
    });
  }

  function actOnAll(verb: 'Replay' | 'Discard') {
    return reported(async () => {
      if (!confirm(`${verb} all ${total} dead letters that match this filter?`)) return;
      if (verb === 'Replay') {
        const { replayDeadLetters } = await request<{
          replayDeadLetters: { replayed: number; failed: number };
        }>(REPLAY_ALL, { filter });
        showStatus(
          `Replayed ${replayDeadLetters.replayed}, ${replayDeadLetters.failed} could not be replayed`,
        );
      } else {
        const { discardDeadLetters } = await request<{ discardDeadLetters: number }>(DISCARD_ALL, { filter });
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
