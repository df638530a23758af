import type { CircuitState as CircuitStateRecord } from '../queues/delivery/index.js';
import { queueCircuit } from '../resolvers/queue-circuit.js';
import { resetCircuit } from '../resolvers/reset-circuit.js';
import { builder } from './builder.js';
import { describeValues } from './enums.js';
import { Queue } from './queue.js';

const CircuitStateName = builder.enumType('CircuitState', {
  description: "The state of a webhook queue's circuit breaker (docs/DELIVERY.md#circuit-breaker).",
  values: describeValues(['CLOSED', 'OPEN', 'HALF_OPEN'] as const, {
    CLOSED: 'Deliveries go out.',
    OPEN: 'Deliveries are held back after SWITCHYARD_CIRCUIT_FAILURES (default 10) endpoint failures in a row, until openUntil.',
    HALF_OPEN:
      'Cooled down: one delivery goes out as a probe; it succeeding closes the circuit, failing reopens it.',
  }),
});

const Circuit = builder.objectRef<CircuitStateRecord>('Circuit').implement({
  description:
    "A webhook queue's circuit breaker, shared by every gateway instance (docs/DELIVERY.md#circuit-breaker).",
  fields: (t) => ({
    state: t.expose('state', { type: CircuitStateName, description: 'Whether deliveries go out.' }),
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
    description:
      'The circuit breaker of a WEBHOOK queue; a CONSUMER queue is always CLOSED. Needs the stats scope (or admin).',
    resolve: (queue, _args, ctx) => queueCircuit(queue, ctx),
  }),
);

builder.mutationField('resetCircuit', (t) =>
  t.withAuth({ admin: true }).field({
    type: Queue,
    description:
      "Admin only. Closes a WEBHOOK queue's circuit breaker for every gateway instance: the failures are " +
      'forgotten and deliveries resume within a second. Answers the queue; NOT_FOUND when it does not ' +
      'exist. A CONSUMER queue has no breaker: it is answered unchanged.',
    args: {
      topic: t.arg.string({ required: true, description: 'The topic name.' }),
      name: t.arg.string({ required: true, description: 'The WEBHOOK queue within the topic.' }),
    },
    resolve: (_root, args, ctx) => resetCircuit(args, ctx),
  }),
);
