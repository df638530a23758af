/**
 * Fix and replay one dead letter: its payload in the JSON editor, replayed (edited) into its own
 * queue or another of its topic. A payload its topic's schema refuses shows VALIDATION under it.
 */
import {
  type DashboardDeadLettersQuery,
  DashboardReplayEditedDocument,
  DashboardTopicNamesDocument,
} from '../../client/generated/graphql.js';
import { noteRefusal } from './capabilities.js';
import { button, h } from './dom.js';
import { GatewayError, request } from './gateway.js';
import { type JsonField, jsonField } from './json-field.js';
import { showError, showStatus } from './status.js';

export type DeadLetter = DashboardDeadLettersQuery['deadLetters']['edges'][number]['node'];

/** The queues of each topic, for "replay into another queue". */
async function queuesByTopic(): Promise<Map<string, string[]>> {
  const { topics } = await request(DashboardTopicNamesDocument);
  return new Map(topics.map((topic) => [topic.name, topic.queues.map((queue) => queue.name)]));
}

/** Replays the edited payload; true once it is replayed. */
async function replayEdited(
  letter: DeadLetter,
  payload: JsonField,
  toQueue: string | null,
): Promise<boolean> {
  const read = payload.read();
  if (!read.ok) return false;
  try {
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
      return false;
    }
    showStatus(`Replayed ${letter.message.id} into ${letter.topic}/${toQueue ?? letter.queue}`);
    return true;
  } catch (error) {
    if (error instanceof GatewayError && error.code === 'VALIDATION') payload.setError(error.message);
    noteRefusal(error, 'deadletters:write', letter.topic);
    showError(error);
    return false;
  }
}

/** The editor's form for `letter`; `done` runs once it is replayed, `cancel` on Cancel. */
export async function editorForm(
  letter: DeadLetter,
  done: () => Promise<void>,
  cancel: () => void,
): Promise<HTMLFormElement> {
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
      button('Cancel', cancel),
    ),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void replayEdited(letter, payload, target.value || null).then((replayed) =>
      replayed ? done() : undefined,
    );
  });
  return form;
}
