import type { CircuitState as CircuitStateRecord } from '../queues/circuit-breaker.js';
import { notBuilt } from '../resolvers/not-built.js';
import { queueCircuit } from '../resolvers/queue-circuit.js';
import { builder } from './builder.js';
import { Queue } from './queue.js';

const CircuitStateName = builder.enumType('CircuitState', {
  description:
    'CLOSED: deliveries go out. OPEN: held back after failures in a row. HALF_OPEN: one probe is out.',
  values: ['CLOSED', 'OPEN', 'HALF_OPEN'] as const,
});

const Circuit = builder.objectRef<CircuitStateRecord>('Circuit').implement({
  description:
    "A webhook queue's circuit breaker, shared by every gateway instance (docs/DELIVERY.md#circuit-breaker).",
  fields: (t) => ({
    state: t.expose('state', { type: CircuitStateName }),
    consecutiveFailures: t.exposeInt('consecutiveFailures', {
      description: 'Endpoint failures (TIMEOUT, DEPENDENCY, PROCESSING) in a row so far.',
    }),
    openUntil: t.expose('openUntil', {
      type: 'DateTime',
      nullable: true,
      description: 'OPEN: when the next delivery goes out as a probe.',
    }),
  }),
});

// Endpoint health is an operator's view of the queue, like its counters: the stats scope.
builder.objectField(Queue, 'circuit', (t) =>
  t.withAuth({ stats: true }).field({
    type: Circuit,
    description: 'WEBHOOK queues; a CONSUMER queue is always CLOSED.',
    resolve: (queue, _args, ctx) => queueCircuit(queue, ctx),
  }),
);

// Issue 19 builds it; until then it answers UNAVAILABLE and changes nothing.
builder.mutationField('resetCircuit', (t) =>
  t.withAuth({ admin: true }).field({
    type: Queue,
    description:
      "Admin only. Closes the queue's circuit on every instance at once. Not built yet: answers UNAVAILABLE.",
    args: { topic: t.arg.string({ required: true }), name: t.arg.string({ required: true }) },
    resolve: () => notBuilt('Mutation.resetCircuit'),
  }),
);
