import { health } from '../resolvers/health.js';
import { builder } from './builder.js';

interface HealthShape {
  ok: boolean;
  redis: boolean;
  version: string;
  uptimeSeconds: number;
}

const Health = builder.objectRef<HealthShape>('Health').implement({
  description: 'Whether this gateway instance can work now.',
  fields: (t) => ({
    ok: t.exposeBoolean('ok', { description: 'False while Redis does not answer: then nothing works.' }),
    redis: t.exposeBoolean('redis', { description: 'Whether Redis answered a ping just now.' }),
    version: t.exposeString('version', { description: 'The gateway version (package.json).' }),
    uptimeSeconds: t.exposeFloat('uptimeSeconds', {
      description: 'Seconds since this gateway process started.',
    }),
  }),
});

builder.queryField('health', (t) =>
  t.withAuth({ caller: true }).field({
    type: Health,
    description: 'This instance and its Redis, as seen now. Any key (GET /health answers without one).',
    resolve: (_root, args, ctx) => health(args, ctx),
  }),
);
