import type { CircuitState as CircuitStateRecord } from '../queues/delivery/index.js';
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
