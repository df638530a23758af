import { type FieldNode, type GraphQLResolveInfo, Kind } from 'graphql';
import { decodeDeliveryId } from '../queues/delivery/index.js';
import type { Context } from './context.js';

/** An ack of the same request run ahead of its turn: its delivery id and its outcome. */
interface Ahead {
  deliveryId: string;
  outcome: Promise<true | Error>;
}

/**
 * The acks run ahead, by response key, per execution: by its context and its variables object (one
 * per execution, so two executions could not share an entry even were a context shared).
 */
const aheadOf = new WeakMap<Context, WeakMap<object, Map<string, Ahead>>>();

function aheadIn(ctx: Context, info: GraphQLResolveInfo, create: boolean): Map<string, Ahead> | undefined {
  let byExecution = aheadOf.get(ctx);
  if (!byExecution) {
    if (!create) return undefined;
    byExecution = new WeakMap();
    aheadOf.set(ctx, byExecution);
  }
  let ahead = byExecution.get(info.variableValues);
  if (!ahead && create) {
    ahead = new Map();
    byExecution.set(info.variableValues, ahead);
  }
  return ahead;
}

const settle = (outcome: true | Error): true => {
  if (outcome instanceof Error) throw outcome;
  return outcome;
};

/** The delivery id an `ack` field names, or null when it is no plain string argument or variable. */
function deliveryIdOf(field: FieldNode, variables: Record<string, unknown>): string | null {
  const value = field.arguments?.find((argument) => argument.name.value === 'deliveryId')?.value;
  if (value?.kind === Kind.STRING) return value.value;
  if (value?.kind !== Kind.VARIABLE) return null;
  const named = variables[value.name.value];
  return typeof named === 'string' ? named : null;
}

/**
 * The `ack` fields that follow this one in the request's mutation, in order, up to the first field that
 * is not such an ack: a plain `ack` (no directive) of another delivery of the same topic. Same topic,
 * because a field's authorization is `consume:` on its delivery's topic (schema/delivery.ts), so the
 * one this field passed holds for them. Empty when the operation is not that simple: fragments, or a
 * response key used twice (fields merged), leave every ack to its own turn.
 */
function acksAfter(info: GraphQLResolveInfo, deliveryId: string): { key: string; deliveryId: string }[] {
  const topic = decodeDeliveryId(deliveryId)?.topic;
  if (topic === undefined || info.path.prev !== undefined || info.operation.operation !== 'mutation')
    return [];
  const fields: FieldNode[] = [];
  for (const selection of info.operation.selectionSet.selections) {
    if (selection.kind !== Kind.FIELD) return [];
    fields.push(selection);
  }
  const keys = new Set<string>();
  let at = -1;
  fields.forEach((field, index) => {
    const key = field.alias?.value ?? field.name.value;
    if (keys.has(key)) at = Number.NaN;
    keys.add(key);
    if (key === info.path.key && at === -1) at = index;
  });
  if (!(at >= 0)) return [];
  const seen = new Set([deliveryId]);
  const after: { key: string; deliveryId: string }[] = [];
  for (const field of fields.slice(at + 1)) {
    if (field.name.value !== 'ack' || (field.directives?.length ?? 0) > 0) break;
    const id = deliveryIdOf(field, info.variableValues);
    if (id === null || seen.has(id) || decodeDeliveryId(id)?.topic !== topic) break;
    seen.add(id);
    after.push({ key: field.alias?.value ?? field.name.value, deliveryId: id });
  }
  return after;
}

/**
 * GraphQL runs a mutation's fields one after another, so the acks of a batch sent as aliases of one
 * request would each wait for the one before (a round trip to Redis each). The first of them acks the
 * ones that follow it too, in one write to Redis and in their order (engine.ackMany), and each later
 * field answers its own outcome when its turn comes. Every ack the request names is run either way:
 * the compiled executor runs every root field even after one fails (as graphql-jit does).
 */
export const ack = async (
  args: { deliveryId: string },
  ctx: Context,
  info?: GraphQLResolveInfo,
): Promise<boolean> => {
  if (!info) return ctx.engine.ack(args.deliveryId);
  const key = String(info.path.key);
  const pending = aheadIn(ctx, info, false);
  const ahead = pending?.get(key);
  if (ahead) {
    pending?.delete(key);
    if (ahead.deliveryId === args.deliveryId) return settle(await ahead.outcome);
  }
  const after = acksAfter(info, args.deliveryId);
  if (after.length === 0) return ctx.engine.ack(args.deliveryId);
  const ids = [args.deliveryId, ...after.map((field) => field.deliveryId)];
  // Never rejects: a field whose turn never comes leaves no unhandled rejection behind.
  const outcomes = ctx.engine
    .ackMany(ids)
    .catch((error: unknown) => ids.map(() => (error instanceof Error ? error : new Error(String(error)))));
  const running = aheadIn(ctx, info, true);
  after.forEach((field, index) => {
    running?.set(field.key, {
      deliveryId: field.deliveryId,
      outcome: outcomes.then((all) => all[index + 1] ?? new Error('no outcome')),
    });
  });
  return settle((await outcomes)[0] ?? new Error('no outcome'));
};
