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
  type DeadLetterFilter,
} from '../../client/generated/graphql.js';
import { FailureReason } from '../../client/generated/schema.js';
import { mayDo, noteRefusal } from './capabilities.js';
import { type DeadLetter, editorForm } from './dead-letter-editor.js';
import { button, formatTime, h, replaceChildren, table } from './dom.js';
import { request } from './gateway.js';
import { reported, showStatus } from './status.js';

/** Every failure reason, in the schema's order: the filter offers them all. */
const FAILURE_REASONS: readonly FailureReason[] = Object.values(FailureReason);
const PAGE = 50;
/** replayDeadLetters' own ceiling. */
const MAX_BULK = 100_000;

type Page = DashboardDeadLettersQuery['deadLetters'];

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

function filterForm(): HTMLFormElement {
  return h(
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
}

function readFilter(form: HTMLFormElement): Filter {
  const values: Filter = {};
  for (const [name, value] of new FormData(form)) {
    if (typeof value !== 'string' || value.trim() === '') continue;
    if (name === 'reason') {
      if (isFailureReason(value)) values.reason = value;
    } else values[name as TextField] = value.trim();
  }
  return values;
}

/** Whether this key may replay and discard what the filter selects (as far as it has learned). */
function mayWrite(topic: string | null | undefined): boolean {
  return mayDo('deadletters:write', topic ?? '#');
}

/** Replays or discards everything `filter` selects now, after counting it and asking; the status line says what. */
async function actOnAll(filter: Filter, verb: 'Replay' | 'Discard'): Promise<boolean> {
  // Counted again now: the list on screen may be minutes old.
  const { deadLetters } = await request(DashboardDeadLetterCountDocument, { filter });
  const count = deadLetters.totalCount;
  if (count === 0) {
    showStatus('No dead letter matches this filter any more');
    return true;
  }
  const described = describeFilter(filter);
  if (!confirm(`${verb} all ${count} dead letter${count === 1 ? '' : 's'} ${described}?`)) return false;
  if (verb === 'Replay') {
    const { replayDeadLetters } = await request(DashboardReplayAllDocument, {
      filter,
      limit: Math.min(count, MAX_BULK),
    });
    showStatus(`Replayed ${replayDeadLetters.replayed}, ${replayDeadLetters.failed} could not be replayed`);
  } else {
    const { discardDeadLetters } = await request(DashboardDiscardAllDocument, { filter });
    showStatus(`Discarded ${discardDeadLetters}`);
  }
  return true;
}

/** Replays or discards one dead letter; the status line says what. */
async function actOnOne(letter: DeadLetter, verb: 'Replay' | 'Discard'): Promise<boolean> {
  if (verb === 'Replay') {
    const { replayDeadLetter } = await request(DashboardReplayDocument, { id: letter.id });
    showStatus(
      replayDeadLetter.replayed
        ? `Replayed ${letter.message.id} into ${letter.topic}/${letter.queue}`
        : `Could not replay ${letter.message.id}`,
      replayDeadLetter.replayed ? 'info' : 'error',
    );
    return true;
  }
  if (!confirm(`Discard dead letter ${letter.message.id} for good?`)) return false;
  await request(DashboardDiscardDocument, { id: letter.id });
  showStatus(`Discarded ${letter.message.id}`);
  return true;
}

class DeadLetterView {
  readonly editor = h('section', { class: 'editor', 'aria-label': 'Fix and replay', hidden: true });
  readonly form = filterForm();
  readonly summary = h('p', { class: 'muted' });
  readonly list = h('div');
  readonly more = h('div');
  private letters: DeadLetter[] = [];
  private total = 0;
  filter: Filter = {};

  async load(after: string | null): Promise<void> {
    const { deadLetters } = await request(DashboardDeadLettersDocument, {
      filter: this.filter,
      first: PAGE,
      after,
    });
    const nodes = deadLetters.edges.map((edge) => edge.node);
    this.letters = after === null ? nodes : [...this.letters, ...nodes];
    this.total = deadLetters.totalCount;
    this.render(deadLetters.pageInfo);
  }

  readonly reload = () => reported(() => this.load(null));

  /** Opens the editor on one dead letter: its payload as JSON, and the queue to replay it into. */
  private async openEditor(letter: DeadLetter): Promise<void> {
    const form = await editorForm(
      letter,
      async () => {
        this.closeEditor();
        await this.load(null);
      },
      () => this.closeEditor(),
    );
    replaceChildren(this.editor, form);
    this.editor.hidden = false;
    form.querySelector('h2')?.focus();
  }

  private closeEditor(): void {
    this.editor.hidden = true;
    replaceChildren(this.editor);
  }

  /**
   * Runs a write, then reloads unless it did nothing (a dismissed confirmation); a FORBIDDEN answer
   * takes the write buttons off for that topic (the list is redrawn).
   */
  private writing(topic: string, action: () => Promise<boolean>): Promise<void> {
    return reported(async () => {
      let changed: boolean;
      try {
        changed = await action();
      } catch (error) {
        if (noteRefusal(error, 'deadletters:write', topic)) await this.load(null).catch(() => {});
        throw error;
      }
      if (changed) await this.load(null);
    });
  }

  private row(letter: DeadLetter) {
    return [
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
            button('Replay', () => this.writing(letter.topic, () => actOnOne(letter, 'Replay')), {
              'data-action': 'replay',
            }),
            button('Edit…', () => this.openEditor(letter), {
              'data-action': 'edit',
              'aria-label': `Edit and replay ${letter.message.id}`,
            }),
            button('Discard', () => this.writing(letter.topic, () => actOnOne(letter, 'Discard')), {
              'data-action': 'discard',
            }),
          )
        : '',
    ];
  }

  private render(pageInfo: Page['pageInfo']): void {
    const { total, filter } = this;
    const bulk = (verb: 'Replay' | 'Discard') =>
      total > 0 &&
      mayWrite(filter.topic) &&
      button(`${verb} all…`, () => this.writing(filter.topic ?? '#', () => actOnAll(filter, verb)), {
        'data-action': `${verb.toLowerCase()}-all`,
      });
    replaceChildren(
      this.summary,
      `${total} dead letter${total === 1 ? '' : 's'} match, ${this.letters.length} shown `,
      bulk('Replay'),
      bulk('Discard'),
    );
    replaceChildren(
      this.list,
      table(
        ['failed at', 'topic / queue', 'reason', 'error', 'message', 'attempts', ''],
        this.letters,
        (letter) => this.row(letter),
        'No dead letters match.',
      ),
    );
    const cursor = pageInfo.endCursor;
    replaceChildren(
      this.more,
      pageInfo.hasNextPage && cursor !== null && button('Load more', () => reported(() => this.load(cursor))),
    );
  }
}

export function mountDeadLetters(root: HTMLElement): () => void {
  const view = new DeadLetterView();
  view.form.addEventListener('submit', (event) => {
    event.preventDefault();
    view.filter = readFilter(view.form);
    void view.reload();
  });
  replaceChildren(
    root,
    h('h2', {}, 'Dead letters'),
    view.form,
    view.editor,
    view.summary,
    view.list,
    view.more,
  );
  void view.reload();
  return () => {};
}
