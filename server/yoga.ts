import {
  createYoga,
  type LogLevel,
  type Plugin,
  type YogaLogger,
  type YogaServerInstance,
} from 'graphql-yoga';
import packageJson from '../package.json' with { type: 'json' };
import type { Engine } from '../queues/engine/index.js';
import type { Context } from '../schema/builder.js';
import { maskError, useInputErrorCodes } from '../schema/errors.js';
import { schema } from '../schema/index.js';
import { isLoopbackHost } from './auth.js';
import { mergeExecuteHooks } from './merge-execute-hooks.js';
import { type Executor, useExecutor } from './use-compiled-execute.js';
import { renderLocalGraphiQL, useGraphiQLHeaders } from './use-graphiql.js';
import { type RequestLimits, useRequestLimits } from './use-limits.js';
import { useValidationCache } from './use-validation-cache.js';

export interface YogaAppOptions {
  /** The engine every resolver calls; the caller opens it and closes it. */
  engine: Engine;
  /**
   * Serve GraphiQL on GET /graphql, preloaded with example operations. Its scripts, styles and fonts
   * are served by the gateway itself (server/use-graphiql.ts), so it works without internet access.
   * @default true
   */
  graphiql?: boolean;
  /**
   * Yoga/envelop plugins to add (auth, readiness, metrics...), in order.
   * @default []
   */
  plugins?: Plugin[];
  /**
   * What `health.version` answers.
   * @default the version in package.json
   */
  version?: string;
  /**
   * When the process started, in epoch ms; `health.uptimeSeconds` counts from it.
   * @default the time createYogaApp is called
   */
  startedAt?: number;
  /**
   * Where yoga logs: a logger (pino fits), a level for its console logger, or false for none.
   * Unexpected errors are logged at `error` before they are masked; refused requests are not logged.
   * @default true (yoga's console logger at `info`)
   */
  logging?: boolean | LogLevel | YogaLogger;
  /**
   * Depth, cost, alias, directive, token and body size limits and the introspection switch
   * (server/use-limits.ts). The gateway always passes them from its config.
   * @default none: no query limits, yoga's own 25 MB body limit, introspection on
   */
  limits?: RequestLimits;
  /**
   * Browser origins allowed to read answers cross-origin, besides loopback origins (which always are);
   * `*` allows any. Answers carry no credentials: keys travel in the Authorization header.
   * @default [] (loopback origins only)
   */
  corsOrigins?: readonly string[];
  /**
   * Serve every request as admin without authentication: for tests and for embedding behind your own
   * auth. Off, a request that no auth plugin (server/use-auth.ts) authenticated is granted nothing:
   * every field answers UNAUTHENTICATED. The gateway never sets it.
   * @default false
   */
  authDisabled?: boolean;
  /**
   * What runs queries and mutations: graphql-jit's compiled operations (server/use-compiled-execute.ts),
   * or graphql-js's `execute`, the reference test/graphql/executor-parity.test.ts compares them to.
   * @default 'compiled'
   */
  executor?: Executor;
}

/** GraphiQL's first page: a walk through the core path, one named operation per step. */
export const GRAPHIQL_EXAMPLES = `# Switchyard: run these in order; the run button asks which operation.

mutation CreateTopic {
  createTopic(input: { name: "orders", kind: TOPIC, description: "Order events" }) {
    name
    kind
    maxMessageBytes
  }
}

mutation CreateWebhookQueue {
  createQueue(
    input: {
      topic: "orders"
      name: "billing"
      bindingKey: "order.*.created"
      target: WEBHOOK
      url: "https://example.com/hooks/orders"
      retry: { maxAttempts: 5, backoff: EXPONENTIAL }
    }
  ) {
    name
    url
    signingSecret
  }
}

mutation CreateConsumerQueue {
  createQueue(input: { topic: "orders", name: "audit", bindingKey: "#", target: CONSUMER }) {
    name
    ackTimeoutMs
  }
}

mutation Publish {
  publish(
    input: {
      topic: "orders"
      routingKey: "order.eu.created"
      payload: { id: 42, total: 19.9, currency: "EUR" }
      idempotencyKey: "order-42"
    }
  ) {
    messageId
    duplicate
    routedTo
  }
}

mutation Receive {
  receive(topic: "orders", queue: "audit", max: 10, waitMs: 1000) {
    id
    attempt
    deliverBy
    message {
      id
      routingKey
      payload
    }
  }
}

# Paste a delivery id from Receive into the variables below: {"deliveryId": "..."}
mutation Ack($deliveryId: ID!) {
  ack(deliveryId: $deliveryId)
}

query Topology {
  topics {
    name
    kind
    stats {
      published
      unrouted
    }
    queues {
      name
      target
      paused
      stats {
        waiting
        active
        deadLettered
      }
    }
  }
  health {
    ok
    version
  }
}
`;

const GRAPHQL_ENDPOINT = '/graphql';

export type YogaApp = YogaServerInstance<Record<string, unknown>, Context>;

/**
 * The GraphQL endpoint at /graphql, with no listener of its own: serve it with node:http (it is a
 * request listener), test it with `yoga.fetch`, and give graphql-ws `yoga.getEnveloped` so websocket
 * operations get the same context, plugins and error mapping.
 */
export function createYogaApp(options: YogaAppOptions): YogaApp {
  const graphiql =
    options.graphiql === false ? null : { title: 'Switchyard', defaultQuery: GRAPHIQL_EXAMPLES };
  const context: Context = {
    engine: options.engine,
    version: options.version ?? packageJson.version,
    startedAt: options.startedAt ?? Date.now(),
    authDisabled: options.authDisabled === true,
  };
  // The shared context goes onto every operation's context as it is enveloped (HTTP and websockets
  // alike), rather than through yoga's `context` option: that option is an onContextBuilding hook,
  // which envelop runs as a promise-helpers chain on every request (docs/PERFORMANCE.md).
  const withContext: Plugin<Partial<Context>> = {
    onEnveloped({ extendContext }) {
      extendContext(context);
    },
  };
  return createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: GRAPHQL_ENDPOINT,
    // Yoga's built-in check (always 200) would answer /health before any plugin; keep it as the
    // liveness probe and leave /health to server/use-health.ts, which reports Redis and draining.
    healthCheckEndpoint: '/live',
    landingPage: false,
    graphiql: graphiql ?? false,
    // Yoga's default page loads GraphiQL from a CDN; this one has every asset inline.
    renderGraphiQL: renderLocalGraphiQL,
    // Engine refusals keep their message and code; everything else becomes "Unexpected error.".
    maskedErrors: { maskError },
    cors: corsFor(options.corsOrigins ?? []),
    ...(options.limits ? { maxRequestBodySize: options.limits.maxRequestBytes } : {}),
    // yoga's parse cache, and our validation cache in place of its own (server/use-validation-cache.ts).
    parserAndValidationCache: { validationCache: false },
    // Our plugins' onExecute hooks (executor, error codes, auth, audit log…) run as one envelop hook.
    plugins: mergeExecuteHooks([
      withContext,
      useExecutor(options.executor ?? 'compiled'),
      useInputErrorCodes(),
      ...(graphiql ? [useGraphiQLHeaders({ endpoint: GRAPHQL_ENDPOINT, graphiql })] : []),
      ...(options.limits ? [useRequestLimits(options.limits)] : []),
      ...(options.plugins ?? []),
      // Last: after every plugin that adds a validation rule, where yoga's own cache would be.
      useValidationCache(),
    ]),
    logging: options.logging ?? true,
  });
}

/** yoga's default CORS reflects every origin with credentials; we allow loopback and listed origins only. */
function corsFor(origins: readonly string[]) {
  const any = origins.includes('*');
  return (request: Request) => {
    const origin = request.headers.get('origin');
    if (origin === null) return false;
    const loopback = URL.canParse(origin) && isLoopbackHost(new URL(origin).host);
    if (!any && !loopback && !origins.includes(origin)) return false;
    return { origin: [origin], credentials: false, methods: ['GET', 'POST'] };
  };
}
