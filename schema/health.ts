import { health } from '../resolvers/health.js';
import { builder } from './builder.js';

interface HealthShape {
  ok: boolean;
  redis: boolean;
  version: string;
  uptimeSeconds: number;
}

const Health = builder.objectRef<HealthShape>('Health').implement({
  fields: (t) => ({
    ok: t.exposeBoolean('ok', { description: 'False while Redis does not answer: then nothing works.' }),
    redis: t.exposeBoolean('redis'),
    version: t.exposeString('version'),
    uptimeSeconds: t.exposeFloat('uptimeSeconds'),
  }),
});

builder.queryField('health', (t) =>
  t.withAuth({ caller: true }).field({ type: Health, resolve: (_root, args, ctx) => health(args, ctx) }),
);
