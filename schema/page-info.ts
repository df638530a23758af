import type { DeadLetterPage } from '../queues/dead-letters.js';
import { builder } from './builder.js';

/** A page's place in its list, as Relay's cursor connections spell it; shared by every connection. */
export const PageInfo = builder.objectRef<DeadLetterPage['pageInfo']>('PageInfo').implement({
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage'),
    endCursor: t.exposeString('endCursor', { nullable: true }),
  }),
});
