import { TRAIL_ACTIONS } from '../queues/publish/index.js';
import { builder } from './builder.js';
import { describeValues } from './enums.js';

/** One step of a message's provenance, as Message.trail answers it. */
interface TrailEntryShape {
  action: (typeof TRAIL_ACTIONS)[number];
  at: Date;
  by: string | null;
  queue: string | null;
  sha256: string;
  prevHash: string | null;
  hash: string;
}

const TrailAction = builder.enumType('TrailAction', {
  description: 'What a step of the provenance trail did to the message.',
  values: describeValues(TRAIL_ACTIONS, {
    PUBLISHED: 'Published.',
    REPLAYED: 'Replayed from the dead letters into its own queue.',
    EDITED: 'Replayed from the dead letters with an edited payload (the previous entry keeps the old hash).',
    REPLAYED_TO_QUEUE:
      'Replayed into another queue: a dead letter into another queue of its topic, or a replayTopic task.',
  }),
});

export const TrailEntry = builder.objectRef<TrailEntryShape>('TrailEntry').implement({
  description:
    "One step of a message's provenance trail, hash-chained to the one before: `hash` is SHA-256 over " +
    "the message id, prevHash and this entry's fields in the byte layout docs/PROVENANCE.md gives.",
  fields: (t) => ({
    action: t.expose('action', { type: TrailAction, description: 'What this step did.' }),
    at: t.expose('at', { type: 'DateTime', description: 'When.' }),
    by: t.exposeString('by', { nullable: true, description: "The API key's name; null when keyless." }),
    queue: t.exposeString('queue', {
      nullable: true,
      description: 'Where it went: the queue replayed into; null for PUBLISHED (it went to its topic).',
    }),
    sha256: t.exposeString('sha256', {
      description: 'Hex SHA-256 of the canonical payload after this step.',
    }),
    prevHash: t.exposeString('prevHash', {
      nullable: true,
      description: "The previous entry's hash; null on the first entry.",
    }),
    hash: t.exposeString('hash', {
      description: "Hex SHA-256 of the message id, prevHash and this entry's fields: the chain link.",
    }),
  }),
});
