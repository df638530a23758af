/**
 * bull-board at /queues on the gateway's own port, for people who know it: every Switchyard queue is
 * a BullMQ queue (prefix per topic, `keys.bullPrefix`), so bull-board shows the same queues, their
 * jobs and their failed jobs (the dead letters). It is read-only: a retry or a clean done behind
 * Switchyard's back would skip its dead-letter index, history and audit log; replays go through the
 * dashboard or `replayDeadLetter`.
 *
 * Auth is the gateway's own (server/auth.ts), for admins only, since job data holds every payload:
 * - in protected mode a loopback browser is admin with no key, as for /graphql (Host and Origin
 *   checked the same way);
 * - otherwise the browser presents the admin key (or an API key with the `admin` scope) once, on the
 *   form at /queues/login; it comes back as a cookie that is HttpOnly (no script reads it),
 *   SameSite=Strict (no other site's page sends it) and scoped to Path=/queues, so the dashboard's
 *   pages and /graphql never receive it. The cookie holds the key itself and is checked on every
 *   request, so a revoked key is refused at once and no instance keeps sessions;
 * - scripts and tools may send `Authorization: Bearer <key>` instead.
 * Everything is served from the installed packages: the UI's web-font link is removed from the page,
 * which gets our accessibility fixes instead (server/bull-board-a11y.ts), and a Content-Security-Policy lets the page load and connect only to its own origin.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Queue } from 'bullmq';
import type { Engine } from '../queues/engine/index.js';
import { openRedis, type RedisClient, type RedisTarget } from '../queues/redis/index.js';
import { type Authenticator, bearerSecret, type Presented } from './auth.js';
import {
  A11Y_SCRIPT,
  A11Y_SCRIPT_PATH,
  A11Y_STYLE,
  A11Y_STYLE_PATH,
  withA11yFixes,
} from './bull-board-a11y.js';

/** Where bull-board is served. */
export const BULL_BOARD_PATH = '/queues';
/** The cookie that carries the key, sent back only to {@link BULL_BOARD_PATH}. */
export const BULL_BOARD_COOKIE = 'switchyard_queues';
/** How long a browser keeps the cookie: a working day. */
const COOKIE_MAX_AGE_S = 8 * 60 * 60;
/** The queue list is read from the registry at most this often. */
const REFRESH_MS = 1_000;
/** The login form's body is a key and a little more. */
const MAX_LOGIN_BYTES = 4_096;

/** bull-board's own page needs inline styles (its loading screen); its scripts are files of its own. */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // Not no-referrer: with it the browser sends `Origin: null` on the login form's post, and the
  // form could not tell its own page from another site's.
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
};
/** The one thing bull-board's page would load from elsewhere. */
const WEB_FONTS = /<link[^>]+href="https:\/\/fonts\.googleapis\.com[^>]*>/g;

export interface BullBoardOptions {
  /** Topics and queues to show, and their BullMQ prefixes. */
  engine: Pick<Engine, 'keys' | 'topics' | 'queues'>;
  /** bull-board reads the queues through a connection of its own, opened on first use. */
  redis: RedisTarget;
  authenticator: Pick<Authenticator, 'authenticate'>;
  /** While true, requests answer 503, as the rest of the gateway does while it drains. */
  isDraining: () => boolean;
}

type NodeHandler = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

/** Cookie values by name, from a Cookie header. */
function cookies(header: string | undefined): Map<string, string> {
  const found = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0) found.set(part.slice(0, at).trim(), decodeURIComponent(part.slice(at + 1).trim()));
  }
  return found;
}

function header(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  return typeof value === 'string' ? value : null;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(error: string | null): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>bull-board · Switchyard</title><link rel="icon" href="data:,"></head>
<body><main>
<h1>bull-board</h1>
<p>The queues as BullMQ sees them, read-only. It needs an admin key (SWITCHYARD_ADMIN_KEY, or an API key with the scope admin).</p>
${error ? `<p role="alert" id="error"><strong>${escapeHtml(error)}</strong></p>` : ''}
<form method="post" action="${BULL_BOARD_PATH}/login">
<label for="key">Admin key</label>
<input id="key" name="key" type="password" autocomplete="off" required${error ? ' aria-describedby="error"' : ''}>
<button type="submit">Open bull-board</button>
</form>
<p><a href="/dashboard/">Back to the dashboard</a></p>
</main></body></html>
`;
}

async function readBody(req: IncomingMessage): Promise<string | null> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_LOGIN_BYTES) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * bull-board behind the gateway's auth. `handle` answers the requests under {@link BULL_BOARD_PATH}
 * and returns false for every other one. `close` closes its queues and its Redis connection.
 */
export function createBullBoardMount(options: BullBoardOptions) {
  const { engine, authenticator } = options;
  let connection: RedisClient | null = null;
  const queues = new Map<string, Queue>();
  let board: { router: NodeHandler; replaceQueues: (adapters: BullMQAdapter[]) => void } | null = null;
  let refreshed = 0;
  let refreshing: Promise<void> | null = null;
  let closed = false;

  function setUp() {
    if (board) return board;
    connection = openRedis(options.redis, { maxRetriesPerRequest: 1, lazyConnect: true });
    connection.on('error', () => {});
    const serverAdapter = new ExpressAdapter();
    serverAdapter.setBasePath(BULL_BOARD_PATH);
    const api = createBullBoard({
      queues: [],
      serverAdapter,
      options: { uiConfig: { boardTitle: 'Switchyard' } },
    });
    board = { router: serverAdapter.getRouter() as NodeHandler, replaceQueues: api.replaceQueues };
    return board;
  }

  /** Mirrors the registry: one read-only adapter per queue, named `<topic>:<queue>` (':' is in no name). */
  async function refresh(): Promise<void> {
    const { replaceQueues } = setUp();
    const current = new Map<string, Queue>();
    for (const topic of await engine.topics()) {
      for (const record of await engine.queues(topic.name)) {
        const id = `${topic.name}:${record.name}`;
        let queue = queues.get(id);
        if (!queue && connection) {
          queue = new Queue(record.name, { connection, prefix: engine.keys.bullPrefix(topic.name) });
          queue.on('error', () => {});
        }
        if (queue) current.set(id, queue);
      }
    }
    for (const [id, queue] of queues) if (!current.has(id)) void queue.close();
    queues.clear();
    for (const [id, queue] of current) queues.set(id, queue);
    replaceQueues(
      [...current].map(
        ([id, queue]) =>
          new BullMQAdapter(queue, {
            readOnlyMode: true,
            allowRetries: false,
            prefix: `${id.slice(0, id.indexOf(':'))}:`,
            delimiter: ':',
          }),
      ),
    );
    refreshed = Date.now();
  }

  function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) {
    res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8', ...headers });
    res.end(body);
  }

  function presented(req: IncomingMessage, secret: string | null, malformed?: string): Presented {
    return {
      secret,
      malformed,
      remoteAddress: req.socket.remoteAddress,
      host: header(req, 'host'),
      origin: header(req, 'origin'),
    };
  }

  /** A form post must come from a page of this gateway: no other site may log a browser in. */
  function sameOrigin(req: IncomingMessage): boolean {
    const origin = header(req, 'origin');
    if (origin === null) return true;
    return URL.canParse(origin) && new URL(origin).host === header(req, 'host');
  }

  async function login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!sameOrigin(req)) {
      send(res, 403, loginPage('This form must be sent from the gateway’s own page.'));
      return;
    }
    const body = await readBody(req);
    const key = body === null ? null : new URLSearchParams(body).get('key')?.trim() || null;
    if (!key) {
      send(res, 400, loginPage('Enter a key.'));
      return;
    }
    const verdict = await authenticator.authenticate(presented(req, key), true);
    if (!verdict.ok || !verdict.caller.admin) {
      send(
        res,
        401,
        loginPage(verdict.ok ? 'This key does not have the scope admin.' : 'Unknown or revoked key.'),
      );
      return;
    }
    const secure = header(req, 'x-forwarded-proto') === 'https' || 'encrypted' in req.socket;
    res.writeHead(303, {
      ...SECURITY_HEADERS,
      location: `${BULL_BOARD_PATH}/`,
      'set-cookie':
        `${BULL_BOARD_COOKIE}=${encodeURIComponent(key)}; Path=${BULL_BOARD_PATH}; HttpOnly; SameSite=Strict; ` +
        `Max-Age=${COOKIE_MAX_AGE_S}${secure ? '; Secure' : ''}`,
    });
    res.end();
  }

  function logout(res: ServerResponse): void {
    res.writeHead(303, {
      ...SECURITY_HEADERS,
      location: `${BULL_BOARD_PATH}/login`,
      'set-cookie': `${BULL_BOARD_COOKIE}=; Path=${BULL_BOARD_PATH}; HttpOnly; SameSite=Strict; Max-Age=0`,
    });
    res.end();
  }

  async function serve(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (path === BULL_BOARD_PATH) {
      res.writeHead(301, { ...SECURITY_HEADERS, location: `${BULL_BOARD_PATH}/` });
      res.end();
      return;
    }
    if (path === `${BULL_BOARD_PATH}/login`) {
      if (req.method === 'POST') await login(req, res);
      else send(res, 200, loginPage(null));
      return;
    }
    if (path === `${BULL_BOARD_PATH}/logout` && req.method === 'POST') {
      logout(res);
      return;
    }
    const bearer = bearerSecret(header(req, 'authorization'));
    const secret = bearer.secret ?? cookies(req.headers.cookie).get(BULL_BOARD_COOKIE) ?? null;
    const verdict = await authenticator.authenticate(presented(req, secret, bearer.malformed), true);
    const api = path.startsWith(`${BULL_BOARD_PATH}/api/`);
    if (!verdict.ok || !verdict.caller.admin) {
      const why = verdict.ok ? 'bull-board needs the scope admin' : verdict.error.message;
      if (api) {
        res.writeHead(verdict.ok ? 403 : 401, { ...SECURITY_HEADERS, 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: why, code: verdict.ok ? 'FORBIDDEN' : 'UNAUTHENTICATED' }));
      } else send(res, 401, loginPage(secret === null ? null : why));
      return;
    }
    if (Date.now() - refreshed > REFRESH_MS) {
      refreshing ??= refresh().finally(() => {
        refreshing = null;
      });
      await refreshing;
    }
    if (path === `${BULL_BOARD_PATH}${A11Y_STYLE_PATH}` || path === `${BULL_BOARD_PATH}${A11Y_SCRIPT_PATH}`) {
      const style = path.endsWith('.css');
      send(res, 200, style ? A11Y_STYLE : A11Y_SCRIPT, {
        'content-type': style ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8',
      });
      return;
    }
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    rewritePage(res);
    const { router } = setUp();
    // As express's app.use(BULL_BOARD_PATH, …) would: the router's routes are relative to the mount.
    req.url = (req.url ?? '/').slice(BULL_BOARD_PATH.length) || '/';
    router(req, res, (error) => {
      if (res.headersSent) return;
      send(res, error ? 500 : 404, error ? 'bull-board failed\n' : 'Not found\n', {
        'content-type': 'text/plain; charset=utf-8',
      });
    });
  }

  return {
    /** Answers a request under /queues (true), or leaves it to the gateway (false). */
    handle(req: IncomingMessage, res: ServerResponse): boolean {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      if (path !== BULL_BOARD_PATH && !path.startsWith(`${BULL_BOARD_PATH}/`)) return false;
      if (options.isDraining() || closed) {
        send(res, 503, 'The gateway is shutting down\n', { 'content-type': 'text/plain; charset=utf-8' });
        return true;
      }
      serve(req, res, path).catch(() => {
        if (!res.headersSent)
          send(res, 503, 'bull-board is unavailable: is Redis up?\n', {
            'content-type': 'text/plain; charset=utf-8',
          });
        else res.destroy();
      });
      return true;
    },
    /** Closes the queues and the connection bull-board opened; idempotent. */
    async close(): Promise<void> {
      closed = true;
      const all = [...queues.values()];
      queues.clear();
      await Promise.allSettled(all.map((queue) => queue.close()));
      const open = connection;
      connection = null;
      if (open) await open.quit().catch(() => open.disconnect());
    },
  };
}

export type BullBoardMount = ReturnType<typeof createBullBoardMount>;

/**
 * bull-board's page links web fonts from the internet; nothing served here may load from elsewhere,
 * so the link goes (the page falls back to system fonts). It gets our accessibility fixes
 * (server/bull-board-a11y.ts). Express sets Content-Length before `end`, so it is set again.
 */
function rewritePage(res: ServerResponse): void {
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  res.end = ((...args: unknown[]) => {
    const [chunk] = args;
    const type = String(res.getHeader('content-type') ?? '');
    if (type.startsWith('text/html') && (typeof chunk === 'string' || Buffer.isBuffer(chunk))) {
      const page = withA11yFixes(chunk.toString().replace(WEB_FONTS, ''), BULL_BOARD_PATH);
      if (!res.headersSent) res.setHeader('content-length', Buffer.byteLength(page));
      return end(page, ...args.slice(1));
    }
    return end(...args);
  }) as ServerResponse['end'];
}
