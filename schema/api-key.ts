import type {
  ApiKey as ApiKeyRecord,
  CreatedApiKey as CreatedApiKeyRecord,
} from '../queues/security/index.js';
import { apiKeys } from '../resolvers/api-keys.js';
import { createApiKey } from '../resolvers/create-api-key.js';
import { revokeApiKey } from '../resolvers/revoke-api-key.js';
import { builder } from './builder.js';

const ApiKey = builder.objectRef<ApiKeyRecord>('ApiKey').implement({
  description: 'An API key, without its secret (only its SHA-256 is kept). Admin only.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'What revokeApiKey takes.' }),
    name: t.exposeString('name', { description: 'For people: who or what uses the key.' }),
    scopes: t.exposeStringList('scopes', {
      description: 'e.g. "admin", "publish:orders.*", "consume:orders.eu", "deadletters:read:*", "stats".',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the key was created.' }),
    lastUsedAt: t.expose('lastUsedAt', {
      type: 'DateTime',
      nullable: true,
      description:
        'When a request last used it, written at most once a minute per key and instance; null: never used.',
    }),
  }),
});

const CreatedApiKey = builder.objectRef<CreatedApiKeyRecord>('CreatedApiKey').implement({
  description: 'The secret is answered here once and never again.',
  fields: (t) => ({
    key: t.expose('key', { type: ApiKey, description: 'The new key.' }),
    secret: t.exposeString('secret', {
      description:
        'sy_ and 43 base64url characters: send it as `authorization: Bearer <secret>`. Keep it; it cannot be recovered.',
    }),
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
      name: t.arg.string({
        required: true,
        description: 'For people: 1 to 128 characters, not blank, no control characters.',
      }),
      scopes: t.arg.stringList({
        required: true,
        description: 'What the key may do: admin, stats, or <action>:<topic pattern> (docs/SECURITY.md).',
      }),
    },
    resolve: (_root, args, ctx) => createApiKey(args, ctx),
  }),
  revokeApiKey: t.withAuth({ admin: true }).boolean({
    description:
      'Admin only. False when there is no such key. Its next request fails, and its websockets are ' +
      'closed with 4403 on every instance within a second.',
    args: { id: t.arg.id({ required: true, description: 'ApiKey.id.' }) },
    resolve: (_root, args, ctx) => revokeApiKey({ id: String(args.id) }, ctx),
  }),
}));
