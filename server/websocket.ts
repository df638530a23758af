import type { Server } from 'node:http';
import {
  type DocumentNode,
  type ExecutionArgs,
  type execute,
  GraphQLError,
  type GraphQLSchema,
  type subscribe,
} from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { ErrorCode } from '../queues/errors.js';
import type { InFlight } from './in-flight.js';
import { DRAINING_MESSAGE } from './use-drain.js';

/** Options for {@link attachWebSocket}. */
export interface WebSocketOptions {
  /** The HTTP server whose port and path the websocket shares. */
  server: Server;
  /** The yoga app; only its envelop is used, so websocket operations run through the same plugins. */
  yoga: Enveloping;
  /**
   * Path upgrades are accepted on; the same as yoga's GraphQL endpoint so clients need one URL.
   * @default '/graphql'
   */
  path?: string;
  /** Counts queries and mutations while they execute, so a drain can wait for them. */
  inFlight: InFlight;
  /** True once shutdown began: new operations are refused with UNAVAILABLE. */
  isDraining: () => boolean;
  /** Hide internal error messages in close reasons (graphql-ws would read NODE_ENV otherwise). */
  production: boolean;
}

/** The part of a yoga instance this module uses (yoga's `getEnveloped` satisfies it). */
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

/** The functions yoga's envelop built for one operation, carried to `execute`/`subscribe` in rootValue. */
interface EnvelopedRoot {
  execute: typeof execute;
  subscribe: typeof subscribe;
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

/**
 * graphql-ws on the HTTP server's port and GraphQL path. Every operation goes through
 * `yoga.getEnveloped`, as graphql-yoga documents for graphql-ws, so a websocket operation gets the same
 * context and the same plugins (masking, limits, auth) as the same operation over HTTP.
 */
export function attachWebSocket(options: WebSocketOptions) {
  const { yoga, inFlight } = options;
  const wss = new WebSocketServer({ server: options.server, path: options.path ?? '/graphql' });
  const disposable = useServer(
    {
      isProd: options.production,
      execute: (args) => inFlight.track(envelopedRoot(args).execute(args)),
      // A subscription runs until the socket closes; a drain ends it with 1001 instead of waiting for it.
      subscribe: (args) => envelopedRoot(args).subscribe(args),
      onSubscribe: async (ctx, _id, params) => {
        if (options.isDraining()) {
          return [new GraphQLError(DRAINING_MESSAGE, { extensions: { code: ErrorCode.Unavailable } })];
        }
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
        });
        let document: DocumentNode;
        try {
          document = parse(params.query);
        } catch (error) {
          // A syntax error is the client's; anything else is ours and closes the socket as graphql-ws decides.
          // By name, not instanceof: yoga's parser may come from graphql's CommonJS build (dual package).
          if (error instanceof Error && error.name === 'GraphQLError') return [error as GraphQLError];
          throw error;
        }
        const errors = validate(schema as GraphQLSchema, document);
        if (errors.length > 0) return errors;
        const root: EnvelopedRoot = { execute, subscribe };
        return {
          schema: schema as GraphQLSchema,
          operationName: params.operationName ?? null,
          document,
          variableValues: params.variables ?? null,
          contextValue: await contextFactory(),
          rootValue: root,
        };
      },
    },
    wss,
  );
  return {
    wss,
    /** Closes every socket with 1001 (going away) and stops accepting upgrades. */
    dispose: () => disposable.dispose(),
    /** Drops sockets that did not finish their close handshake in time. */
    terminate(): void {
      for (const socket of wss.clients) socket.terminate();
    },
  };
}

export type AttachedWebSocket = ReturnType<typeof attachWebSocket>;
