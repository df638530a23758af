/**
 * Who is calling: turns what a request presents (a key, its address, its Host and Origin headers)
 * into a Caller or a refusal. Transport-neutral: use-auth.ts feeds it HTTP requests, and the
 * websocket layer feeds it the graphql-ws connection_init payload.
 *
 * The rules (docs/SECURITY.md explains why):
 * - SWITCHYARD_ADMIN_KEY set: every request needs a key, from any address. The admin key has scope
 *   `admin`; API keys have their own scopes; an unknown or revoked key is UNAUTHENTICATED.
 * - SWITCHYARD_ADMIN_KEY unset (protected mode, like Redis's): only loopback clients are served, as
 *   admin, unless they present a key, which then decides. A browser page from another site must not
 *   borrow that trust, so a keyless request must name a loopback Host and come from no origin, a
 *   loopback origin or a configured CORS origin (CSRF and DNS rebinding against localhost).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { GraphQLError } from 'graphql';
import { ErrorCode } from '../queues/core/index.js';
import type { ApiKey, ApiKeys, Caller } from '../queues/security/index.js';

/** The id the admin key answers to in the audit log and in its rate-limit bucket. */
export const ADMIN_KEY_ID = 'admin';

export interface AuthenticatorOptions {
  /** `config.adminKey`: null runs the gateway in protected mode. */
  adminKey: string | null;
  /** Where API key secrets are looked up (the engine's `apiKeys`). */
  apiKeys: Pick<ApiKeys, 'authenticate'>;
  /**
   * `config.corsOrigins`: origins whose pages may use loopback trust. Empty means loopback origins only.
   * @default []
   */
  corsOrigins?: readonly string[];
  /**
   * When the admin key came into force, answered as its `createdAt`.
   * @default the time createAuthenticator is called
   */
  startedAt?: number;
}

/** What one request or connection presents. */
export interface Presented {
  /** The key, without `Bearer `; null when none was sent. */
  secret: string | null;
  /** Set when a credential was sent in a shape we do not accept: says what is wrong with it. */
  malformed?: string;
  /** The peer's address as the socket reports it; undefined when unknown (treated as not loopback). */
  remoteAddress: string | undefined;
  /** The Host header, or null. */
  host: string | null;
  /** The Origin header, or null. */
  origin: string | null;
}

export type AuthVerdict = { ok: true; caller: Caller } | { ok: false; error: GraphQLError };

export type AuthMode = 'protected' | 'keys';

/** 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  // The addresses loopback clients nearly always have, answered without the regex and isIP below
  // (2 % of the gateway's CPU in scenario 1's profile, every request of a protected-mode gateway).
  if (address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1') return true;
  const bare = address.replace(/^::ffff:/i, '');
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare === '::1' || bare === '0:0:0:0:0:0:0:1';
}

/** Hosts already judged: every request of a protected-mode gateway asks about the same few. */
const loopbackHosts = new Map<string, boolean>();
/** Host headers come from clients: past this many distinct ones the memo starts over. */
const MAX_REMEMBERED_HOSTS = 256;

/** A Host header naming this machine: localhost (or a name under it), 127.x or [::1], any port. */
export function isLoopbackHost(host: string | null): boolean {
  if (!host) return false;
  let answer = loopbackHosts.get(host);
  if (answer === undefined) {
    if (loopbackHosts.size >= MAX_REMEMBERED_HOSTS) loopbackHosts.clear();
    answer = judgeHost(host);
    loopbackHosts.set(host, answer);
  }
  return answer;
}

function judgeHost(host: string): boolean {
  const name = host
    .trim()
    .toLowerCase()
    .replace(/:\d+$/, '')
    .replace(/^\[|\]$/g, '');
  return name === 'localhost' || name.endsWith('.localhost') || isLoopbackAddress(name);
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/** The secret of an `Authorization: Bearer …` header, or why the header is not one. */
export function bearerSecret(header: string | null): Pick<Presented, 'secret' | 'malformed'> {
  if (header === null || header.trim() === '') return { secret: null };
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header.trim());
  if (!match?.[1]) return { secret: null, malformed: 'Authorization must be "Bearer <api key>"' };
  return { secret: match[1] };
}

/**
 * The key in a graphql-ws connection_init payload: `{ authorization: 'Bearer …' }` (what HTTP
 * clients already send) or `{ apiKey: '…' }`.
 */
export function connectionParamsSecret(params: unknown): Pick<Presented, 'secret' | 'malformed'> {
  if (params === undefined || params === null) return { secret: null };
  if (typeof params !== 'object' || Array.isArray(params)) {
    return { secret: null, malformed: 'connection_init payload must be an object' };
  }
  const { authorization, Authorization, apiKey } = params as Record<string, unknown>;
  const header = authorization ?? Authorization;
  if (apiKey !== undefined) {
    if (typeof apiKey !== 'string' || apiKey === '') {
      return { secret: null, malformed: 'connection_init payload.apiKey must be a non-empty string' };
    }
    return { secret: apiKey };
  }
  if (header !== undefined) {
    if (typeof header !== 'string') {
      return { secret: null, malformed: 'connection_init payload.authorization must be a string' };
    }
    return bearerSecret(header);
  }
  return { secret: null };
}

/** What a request presents over HTTP; `remoteAddress` comes from the node request (server context). */
export function presentedByRequest(request: Request, remoteAddress: string | undefined): Presented {
  // Named fields, not a spread: spreading bearerSecret's two answer shapes costs microseconds a request.
  const { secret, malformed } = bearerSecret(request.headers.get('authorization'));
  return {
    secret,
    malformed,
    remoteAddress,
    host: request.headers.get('host'),
    origin: request.headers.get('origin'),
  };
}

/** What a websocket connection presents: its connection_init payload and its upgrade request. */
export function presentedByConnection(params: unknown, upgrade: IncomingMessage | undefined): Presented {
  const header = (name: string) => {
    const value = upgrade?.headers[name];
    return typeof value === 'string' ? value : null;
  };
  return {
    ...connectionParamsSecret(params),
    remoteAddress: upgrade?.socket.remoteAddress,
    host: header('host'),
    origin: header('origin'),
  };
}

export function unauthenticated(message: string, http: boolean): GraphQLError {
  return new GraphQLError(message, {
    extensions: {
      code: ErrorCode.Unauthenticated,
      ...(http ? { http: { status: 401, headers: { 'WWW-Authenticate': 'Bearer' } } } : {}),
    },
  });
}

export function createAuthenticator(options: AuthenticatorOptions) {
  const mode: AuthMode = options.adminKey ? 'keys' : 'protected';
  const adminHash = options.adminKey ? sha256(options.adminKey) : null;
  const corsOrigins = options.corsOrigins ?? [];
  const adminKey: ApiKey = {
    id: ADMIN_KEY_ID,
    name: 'SWITCHYARD_ADMIN_KEY',
    scopes: ['admin'],
    createdAt: new Date(options.startedAt ?? Date.now()).toISOString(),
    lastUsedAt: null,
  };

  // Hashing both sides first gives equal lengths, which timingSafeEqual needs, and leaks no length.
  const isAdminKey = (secret: string) => adminHash !== null && timingSafeEqual(sha256(secret), adminHash);

  /** A keyless request that a browser page from another site could have sent. */
  function crossSite(presented: Presented): string | null {
    if (!isLoopbackHost(presented.host)) {
      return 'the Host header does not name this machine (localhost, 127.0.0.1 or [::1])';
    }
    const { origin } = presented;
    if (origin === null) return null;
    const allowed =
      corsOrigins.includes('*') ||
      corsOrigins.includes(origin) ||
      (URL.canParse(origin) && isLoopbackHost(new URL(origin).host));
    return allowed ? null : `the page's origin ${JSON.stringify(origin.slice(0, 100))} is not allowed`;
  }

  async function authenticate(presented: Presented, http: boolean): Promise<AuthVerdict> {
    const refuse = (message: string): AuthVerdict => ({ ok: false, error: unauthenticated(message, http) });
    const loopback = isLoopbackAddress(presented.remoteAddress);
    if (presented.malformed) return refuse(presented.malformed);
    if (mode === 'protected' && !loopback) {
      return refuse(
        'This gateway serves only loopback clients until SWITCHYARD_ADMIN_KEY is set (protected mode); ' +
          'see docs/SECURITY.md',
      );
    }
    const { secret } = presented;
    if (secret === null) {
      if (mode === 'keys') {
        return refuse(
          http
            ? 'An API key is required: send Authorization: Bearer <api key>'
            : 'An API key is required: send {"apiKey":"<api key>"} as the connection_init payload',
        );
      }
      const reason = crossSite(presented);
      if (reason) return refuse(`A request without an API key is refused: ${reason}`);
      return { ok: true, caller: { key: null, admin: true, loopback, scopes: ['admin'] } };
    }
    if (isAdminKey(secret))
      return { ok: true, caller: { key: adminKey, admin: true, loopback, scopes: ['admin'] } };
    const key = await options.apiKeys.authenticate(secret);
    if (!key) return refuse('Unknown or revoked API key');
    return { ok: true, caller: { key, admin: key.scopes.includes('admin'), loopback, scopes: key.scopes } };
  }

  return {
    /** `keys` when SWITCHYARD_ADMIN_KEY is set, else `protected`. */
    mode,
    /** Resolves the caller; the refusal carries an HTTP status (401) when `http` is true. */
    authenticate,
    /** The line the gateway logs at start, saying who it will serve. */
    describe(host: string): string {
      if (mode === 'keys')
        return 'Auth: an API key is required for every request (SWITCHYARD_ADMIN_KEY is set)';
      return (
        `Auth: protected mode, serving loopback clients only, as admin (SWITCHYARD_ADMIN_KEY is unset)` +
        (isLoopbackHost(host) ? '' : `; requests to ${host} from other machines are refused`)
      );
    },
  };
}

export type Authenticator = ReturnType<typeof createAuthenticator>;
