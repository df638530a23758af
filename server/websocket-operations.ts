/**
 * The graphql-ws operation hooks of the websocket (websocket.ts): refuse what may not start, parse and
 * validate through yoga's envelop, then execute or subscribe with the functions that envelop built,
 * sharing identical live subscriptions (shared-subscriptions.ts).
 */
import type { IncomingMessage } from 'node:http';
import {
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type execute,
  GraphQLError,
  type GraphQLSchema,
  type subscribe,
} from 'graphql';
import type { Context, ServerOptions, SubscribePayload } from 'graphql-ws';
import type { WebSocket } from 'ws';
import { ErrorCode } from '../queues/core/index.js';
import type { InFlight } from './in-flight.js';
import { planSharing, type ShareablePlan, type SharedSubscriptions } from './shared-subscriptions.js';
import { DRAINING_MESSAGE } from './use-drain.js';
import type { WebSocketAuth } from './websocket-auth.js';

/** Shared subscriptions write without waiting while a socket holds less than this unsent. */
const SEND_LOW_WATER_BYTES = 64 * 1024;

/** The part of a yoga instance the websocket uses (yoga's `getEnveloped` satisfies it). */
export interface Enveloping {
  getEnveloped(initialContext: Record<string, unknown>): {
    schema: unknown;
    parse: (source: string) => DocumentNode;
    validate: (schema: GraphQLSchema, document: DocumentNode) => readonly GraphQLError[];
    contextFactory: () => unknown;
    execute: typeof execute;
    subscribe: typeof subscribe;
  };
}

/** What graphql-ws's context carries as `extra` for each socket. */
export interface Extra {
  socket: WebSocket;
  request: IncomingMessage;
}

type SocketContext = Context<Record<string, unknown> | undefined, Extra>;

/** Sends one frame; `done` once it is written out (or with an error when it cannot be). */
export type SendFrame = (socket: WebSocket, data: string, done: (error?: Error) => void) => void;

/** What the operation hooks need, fixed once per websocket server. */
export interface OperationSettings {
  yoga: Enveloping;
  inFlight: InFlight;
  isDraining: () => boolean;
  maxOperations: number;
  auth: WebSocketAuth | undefined;
  /** Null when identical subscriptions are not shared. */
  shared: SharedSubscriptions | null;
  sendFrame: SendFrame;
}

/** The functions yoga's envelop built for one operation, carried to `execute`/`subscribe` in rootValue. */
interface EnvelopedRoot {
  execute: typeof execute;
  subscribe: typeof subscribe;
  /** Set when the operation may share its execution with identical ones. */
  sharing: ShareablePlan | null;
  /** Where a shared subscription's results are written: this operation's socket and id. */
  socket: WebSocket;
  operationId: string;
}

function envelopedRoot(args: ExecutionArgs): EnvelopedRoot {
  const root = args.rootValue;
  if (
    typeof root === 'object' &&
    root !== null &&
    'execute' in root &&
    typeof root.execute === 'function' &&
    'subscribe' in root &&
    typeof root.subscribe === 'function'
  ) {
    return root as EnvelopedRoot;
  }
  throw new Error('A websocket operation reached execution without going through yoga.getEnveloped');
}

/** By name, not instanceof: yoga's parser may come from graphql's CommonJS build (dual package). */
const isGraphQLError = (error: unknown): error is GraphQLError =>
  error instanceof Error && error.name === 'GraphQLError';

const isAsyncIterable = (value: unknown): value is AsyncIterable<ExecutionResult> =>
  typeof value === 'object' && value !== null && Symbol.asyncIterator in value;

/** Who is asking, as far as authentication can tell: only identical callers share an execution. */
function identityOf(params: unknown, request: IncomingMessage): string {
  const { authorization, cookie, host, origin } = request.headers;
  return JSON.stringify([params ?? null, request.socket.remoteAddress, authorization, cookie, host, origin]);
}

/** Why an operation may not start on this socket now, or null when it may. */
function refusal(settings: OperationSettings, ctx: SocketContext): GraphQLError[] | null {
  if (settings.isDraining()) {
    return [new GraphQLError(DRAINING_MESSAGE, { extensions: { code: ErrorCode.Unavailable } })];
  }
  // A socket being closed (its key revoked, say) starts nothing more, even if frames still arrive.
  if (ctx.extra.socket.readyState !== ctx.extra.socket.OPEN) {
    return [new GraphQLError('The websocket is closing', { extensions: { code: ErrorCode.Unavailable } })];
  }
  // graphql-ws registers the operation before this hook, so it counts itself.
  const { maxOperations } = settings;
  if (Object.keys(ctx.subscriptions).length > maxOperations) {
    return [
      new GraphQLError(`At most ${maxOperations} operations may run at once on one websocket`, {
        extensions: { code: ErrorCode.RateLimited, maxOperationsPerSocket: maxOperations },
      }),
    ];
  }
  return null;
}

type Enveloped = ReturnType<Enveloping['getEnveloped']>;

/** The parsed document, or the client's errors; anything else thrown is ours and closes the socket. */
function parseAndValidate(
  enveloped: Enveloped,
  query: string,
): { document: DocumentNode } | { errors: readonly GraphQLError[] } {
  let document: DocumentNode;
  try {
    document = enveloped.parse(query);
  } catch (error) {
    // A syntax error is the client's; anything else is ours and closes the socket as graphql-ws decides.
    if (isGraphQLError(error)) return { errors: [error] };
    throw error;
  }
  let errors: readonly GraphQLError[];
  try {
    errors = enveloped.validate(enveloped.schema as GraphQLSchema, document);
  } catch (error) {
    // graphql-armor's limits throw their refusal from inside validation (propagateOnRejection).
    if (isGraphQLError(error)) return { errors: [error] };
    throw error;
  }
  return errors.length > 0 ? { errors } : { document };
}

/** graphql-ws's `onSubscribe`: the execution arguments of one operation, or why it is refused. */
async function prepareOperation(
  settings: OperationSettings,
  ctx: SocketContext,
  id: string,
  params: SubscribePayload,
): Promise<ExecutionArgs | readonly GraphQLError[]> {
  const refused = refusal(settings, ctx);
  if (refused) return refused;
  // The caller acknowledged at ConnectionInit: use-auth.ts takes it as it is and only charges its
  // rate limit, so an operation costs no Redis lookup of the key.
  const caller = settings.auth?.callerOf(ctx.extra.socket);
  const enveloped = settings.yoga.getEnveloped({
    ...ctx,
    req: ctx.extra.request,
    socket: ctx.extra.socket,
    params,
    ...(caller ? { auth: caller } : {}),
  });
  const parsed = parseAndValidate(enveloped, params.query);
  if ('errors' in parsed) return parsed.errors;
  const { document } = parsed;
  const sharing = settings.shared
    ? planSharing(
        document,
        params.operationName,
        identityOf(ctx.connectionParams, ctx.extra.request),
        params.variables,
        params.query,
      )
    : null;
  const { execute, subscribe } = enveloped;
  const root: EnvelopedRoot = { execute, subscribe, sharing, socket: ctx.extra.socket, operationId: id };
  return {
    schema: enveloped.schema as GraphQLSchema,
    operationName: params.operationName ?? null,
    document,
    variableValues: params.variables ?? null,
    contextValue: await enveloped.contextFactory(),
    rootValue: root,
  };
}

/** graphql-ws's `subscribe`: runs until the socket closes; a drain ends it with 1001 instead of waiting for it. */
async function subscribeOperation(settings: OperationSettings, args: ExecutionArgs) {
  const root = envelopedRoot(args);
  const result = await root.subscribe(args);
  const { shared, sendFrame } = settings;
  // Refusals (auth, NOT_FOUND...) and unshareable streams go to this subscriber alone.
  if (!shared || !root.sharing || !isAsyncIterable(result)) return result;
  // The frame graphql-ws would send for a `next` of this operation, around the shared serialized result.
  const head = `{"id":${JSON.stringify(root.operationId)},"type":"next","payload":`;
  const { socket } = root;
  return shared.join(root.sharing, result, (json, resume) => {
    const frame = `${head}${json}}`;
    // Below the low-water mark the frame is queued and the next may follow at once, with no callback
    // per delivery; above it, the writer waits until this frame is written out.
    if (socket.readyState === socket.OPEN && socket.bufferedAmount < SEND_LOW_WATER_BYTES) {
      socket.send(frame);
      return true;
    }
    sendFrame(socket, frame, resume);
    return false;
  });
}

/** graphql-ws's operation hooks, every operation going through yoga's envelop. */
export function operationHooks(
  settings: OperationSettings,
): Pick<ServerOptions<Record<string, unknown> | undefined, Extra>, 'execute' | 'subscribe' | 'onSubscribe'> {
  return {
    execute: (args) => settings.inFlight.track(envelopedRoot(args).execute(args)),
    subscribe: (args) => subscribeOperation(settings, args),
    onSubscribe: (ctx, id, params) => prepareOperation(settings, ctx, id, params),
  };
}
