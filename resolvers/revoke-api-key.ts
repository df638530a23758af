import type { Context } from './context.js';

/** False when there was no such key; open subscriptions of a revoked key are ended by the websocket layer. */
export const revokeApiKey = (args: { id: string }, ctx: Context) => ctx.engine.apiKeys.revoke(args.id);
