import { builder } from './builder.js';

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

const TrailAction = builder.enumType('TrailAction', { values: TRAIL_ACTIONS });

export const TrailEntry = builder.objectRef<TrailEntryShape>('TrailEntry').implement({
  description:
    "One step of a message's provenance trail, hash-chained to the one before. Not built yet: " +
    'Message.trail answers UNAVAILABLE.',
  fields: (t) => ({
    action: t.expose('action', { type: TrailAction }),
    at: t.expose('at', { type: 'DateTime' }),
    by: t.exposeString('by', { nullable: true }),
    queue: t.exposeString('queue', { nullable: true }),
    sha256: t.exposeString('sha256'),
    prevHash: t.exposeString('prevHash', { nullable: true }),
    hash: t.exposeString('hash'),
  }),
});
