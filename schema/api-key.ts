import { notImplemented } from '../resolvers/not-implemented.js';
import { builder } from './builder.js';

// The auth issue brings the engine side; until then these shapes say what its records must hold.
interface ApiKeyShape {
  id: string;
  name: string;
  scopes: string[];
  createdAt: string;
  lastUsedAt: string | null;
}

interface CreatedApiKeyShape {
  key: ApiKeyShape;
  secret: string;
}

const ApiKey = builder.objectRef<ApiKeyShape>('ApiKey').implement({
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

const CreatedApiKey = builder.objectRef<CreatedApiKeyShape>('CreatedApiKey').implement({
  description: 'The secret is answered here once and never again.',
  fields: (t) => ({
    key: t.expose('key', { type: ApiKey }),
    secret: t.exposeString('secret'),
  }),
});

builder.queryField('apiKeys', (t) =>
  t.field({ type: [ApiKey], description: 'Admin only.', resolve: notImplemented('Query.apiKeys') }),
);

builder.mutationFields((t) => ({
  createApiKey: t.field({
    type: CreatedApiKey,
    args: {
      name: t.arg.string({ required: true }),
      scopes: t.arg.stringList({ required: true }),
    },
    resolve: notImplemented('Mutation.createApiKey'),
  }),
  revokeApiKey: t.boolean({
    args: { id: t.arg.id({ required: true }) },
    resolve: notImplemented('Mutation.revokeApiKey'),
  }),
}));
