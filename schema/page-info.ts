import type { DeadLetterPage } from '../queues/dead-letters/index.js';
import { builder } from './builder.js';

/** What every connection answers about its page; the dead-letter query computes all four fields. */
export type PageInfoShape = DeadLetterPage['pageInfo'];

/** A page's place in its list, as Relay's cursor connections spell it; shared by every connection. */
export const PageInfo = builder.objectRef<PageInfoShape>('PageInfo').implement({
  description:
    "Where a page sits in its list (Relay's cursor connections). Pages go forward: pass `endCursor` as " +
    '`after` to get the next one.',
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage', {
      description: 'Whether more items follow this page (asking with `after: endCursor` answers them).',
    }),
    hasPreviousPage: t.exposeBoolean('hasPreviousPage', {
      description:
        'Whether items come before this page, at or before the `after` cursor: false when the page was ' +
        'asked without `after`.',
    }),
    startCursor: t.exposeString('startCursor', {
      nullable: true,
      description: 'The cursor of the first item of this page; null when the page is empty.',
    }),
    endCursor: t.exposeString('endCursor', {
      nullable: true,
      description:
        'The cursor of the last item of this page, to pass as `after` for the next page; null when the page is empty.',
    }),
  }),
});
