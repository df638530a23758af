import type {
  ApiKey as ApiKeyRecord,
  CreatedApiKey as CreatedApiKeyRecord,
} from '../queues/security/index.js';
import { apiKeys } from '../resolvers/api-keys.js';
import { createApiKey } from '../resolvers/create-api-key.js';
import { revokeApiKey } from '../resolvers/revoke-api-key.js';
import { builder } from './builder.js';

const ApiKey = builder.objectRef<ApiKeyRecord>('ApiKey').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    scopes: t.exposeStringList('scopes', {
      description: 'e.g. "admin", "publish:orders.*", "consume:orders.eu", "deadletters:read:*", "stats".',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true }),
  }),
});

const CreatedApiKey = builder.objectRef<CreatedApiKeyRecord>('CreatedApiKey').implement({
  description: 'The secret is answered here once and never again.',
  fields: (t) => ({
    key: t.expose('key', { type: ApiKey }),
    secret: t.exposeString('secret'),
  }),
});

builder.queryField('apiKeys', (t) =>
  t.withAuth({ admin: true }).field({
    type: [ApiKey],
    description: 'Admin only. Oldest first, without secrets.',
    resolve: (_root, args, ctx) => apiKeys(args, ctx),
  }),
);

builder.mutationFields((t) => ({
  createApiKey: t.withAuth({ admin: true }).field({
    type: CreatedApiKey,
    description: 'Admin only. Scopes are checked (docs/SECURITY.md); a bad one answers BAD_USER_INPUT.',
    args: {
      name: t.arg.string({ required: true }),
      scopes: t.arg.stringList({ required: true }),
    },
    resolve: (_root, args, ctx) => createApiKey(args, ctx),
  }),
  revokeApiKey: t.withAuth({ admin: true }).boolean({
    description:
      'Admin only. False when there is no such key. Its next request fails, and its websockets are ' +
      'closed with 4403 on every instance within a second.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => revokeApiKey({ id: String(args.id) }, ctx),
  }),
}));
