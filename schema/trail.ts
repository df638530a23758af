import { builder } from './builder.js';
import { describeValues } from './enums.js';

const TRAIL_ACTIONS = ['PUBLISHED', 'REPLAYED', 'EDITED', 'REPLAYED_TO_QUEUE'] as const;

/** One step of a message's provenance; nothing records one until the trail is built. */
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
    EDITED: 'Replayed with an edited payload.',
    REPLAYED_TO_QUEUE: 'Replayed into another queue, from the dead letters or from topic history.',
  }),
});

export const TrailEntry = builder.objectRef<TrailEntryShape>('TrailEntry').implement({
  description:
    "One step of a message's provenance trail, hash-chained to the one before. Not built yet: " +
    'Message.trail answers UNAVAILABLE.',
  fields: (t) => ({
    action: t.expose('action', { type: TrailAction, description: 'What this step did.' }),
    at: t.expose('at', { type: 'DateTime', description: 'When.' }),
    by: t.exposeString('by', { nullable: true, description: "The API key's name; null when keyless." }),
    queue: t.exposeString('queue', {
      nullable: true,
      description: 'Where it went; null when the step names no queue.',
    }),
    sha256: t.exposeString('sha256', {
      description: 'Hex SHA-256 of the canonical payload after this step.',
    }),
    prevHash: t.exposeString('prevHash', {
      nullable: true,
      description: "The previous entry's hash; null on the first entry.",
    }),
    hash: t.exposeString('hash', {
      description: "SHA-256 of prevHash and this entry's fields: the chain link.",
    }),
  }),
});
