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
import type { Authenticator } from './auth.js';
import {
  A11Y_SCRIPT,
  A11Y_SCRIPT_PATH,
  A11Y_STYLE,
  A11Y_STYLE_PATH,
  withA11yFixes,
} from './bull-board-a11y.js';
import {
  admitted,
  BULL_BOARD_PATH,
  login,
  loginPage,
  logout,
  SECURITY_HEADERS,
  send,
} from './bull-board-login.js';

export { BULL_BOARD_COOKIE, BULL_BOARD_PATH } from './bull-board-login.js';

/** The queue list is read from the registry at most this often. */
const REFRESH_MS = 1_000;

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
type Board = { router: NodeHandler; replaceQueues: (adapters: BullMQAdapter[]) => void };

/** One read-only adapter per queue, named `<topic>:<queue>` (':' is in no name). */
function adapterOf(id: string, queue: Queue): BullMQAdapter {
  return new BullMQAdapter(queue, {
    readOnlyMode: true,
    allowRetries: false,
    prefix: `${id.slice(0, id.indexOf(':'))}:`,
    delimiter: ':',
  });
}

/** bull-board itself, its Redis connection and its BullMQ queues, kept in step with the registry. */
class BoardQueues {
  private connection: RedisClient | null = null;
  private readonly queues = new Map<string, Queue>();
  private board: Board | null = null;
  private refreshed = 0;
  private refreshing: Promise<void> | null = null;

  constructor(readonly options: BullBoardOptions) {}

  /** bull-board and its connection, made on first use. */
  setUp(): Board {
    if (this.board) return this.board;
    this.connection = openRedis(this.options.redis, { maxRetriesPerRequest: 1, lazyConnect: true });
    this.connection.on('error', () => {});
    const serverAdapter = new ExpressAdapter();
    serverAdapter.setBasePath(BULL_BOARD_PATH);
    const api = createBullBoard({
      queues: [],
      serverAdapter,
      options: { uiConfig: { boardTitle: 'Switchyard' } },
    });
    this.board = { router: serverAdapter.getRouter() as NodeHandler, replaceQueues: api.replaceQueues };
    return this.board;
  }

  /** Reads the registry again unless it was read within {@link REFRESH_MS}; one read at a time. */
  async fresh(): Promise<void> {
    if (Date.now() - this.refreshed <= REFRESH_MS) return;
    this.refreshing ??= this.refresh().finally(() => {
      this.refreshing = null;
    });
    await this.refreshing;
  }

  /** Mirrors the registry: one read-only adapter per queue. */
  private async refresh(): Promise<void> {
    const { replaceQueues } = this.setUp();
    const { engine } = this.options;
    const current = new Map<string, Queue>();
    for (const topic of await engine.topics()) {
      for (const record of await engine.queues(topic.name)) {
        const id = `${topic.name}:${record.name}`;
        const queue = this.queues.get(id) ?? this.openQueue(record.name, engine.keys.bullPrefix(topic.name));
        if (queue) current.set(id, queue);
      }
    }
    for (const [id, queue] of this.queues) if (!current.has(id)) void queue.close();
    this.queues.clear();
    for (const [id, queue] of current) this.queues.set(id, queue);
    replaceQueues([...current].map(([id, queue]) => adapterOf(id, queue)));
    this.refreshed = Date.now();
  }

  private openQueue(name: string, prefix: string): Queue | undefined {
    const { connection } = this;
    if (!connection) return undefined;
    // Read-only, and perhaps of a queue another instance has just deleted: BullMQ's meta write on
    // opening would leave a key of it behind (queues/redis/queue-handles.ts).
    const queue = new Queue(name, { connection, prefix, skipMetasUpdate: true });
    queue.on('error', () => {});
    return queue;
  }

  /** Closes the queues and the connection; idempotent. */
  async close(): Promise<void> {
    const all = [...this.queues.values()];
    this.queues.clear();
    await Promise.allSettled(all.map((queue) => queue.close()));
    const open = this.connection;
    this.connection = null;
    if (open) await open.quit().catch(() => open.disconnect());
  }
}

/** Our accessibility fixes, served beside bull-board's page; false for any other path. */
function serveA11y(res: ServerResponse, path: string): boolean {
  if (path !== `${BULL_BOARD_PATH}${A11Y_STYLE_PATH}` && path !== `${BULL_BOARD_PATH}${A11Y_SCRIPT_PATH}`) {
    return false;
  }
  const style = path.endsWith('.css');
  send(res, 200, style ? A11Y_STYLE : A11Y_SCRIPT, {
    'content-type': style ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8',
  });
  return true;
}

/** Hands the request to bull-board's router, its page rewritten and with our security headers. */
function serveBoard(req: IncomingMessage, res: ServerResponse, router: NodeHandler): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
  rewritePage(res);
  // As express's app.use(BULL_BOARD_PATH, …) would: the router's routes are relative to the mount.
  req.url = (req.url ?? '/').slice(BULL_BOARD_PATH.length) || '/';
  router(req, res, (error) => {
    if (res.headersSent) return;
    send(res, error ? 500 : 404, error ? 'bull-board failed\n' : 'Not found\n', {
      'content-type': 'text/plain; charset=utf-8',
    });
  });
}

/** The pages that need no key: the redirect to the trailing slash, the login form, the logout. */
async function serveDoor(req: IncomingMessage, res: ServerResponse, path: string, options: BullBoardOptions) {
  if (path === BULL_BOARD_PATH) {
    res.writeHead(301, { ...SECURITY_HEADERS, location: `${BULL_BOARD_PATH}/` });
    res.end();
    return true;
  }
  if (path === `${BULL_BOARD_PATH}/login`) {
    if (req.method === 'POST') await login(req, res, options.authenticator);
    else send(res, 200, loginPage(null));
    return true;
  }
  if (path === `${BULL_BOARD_PATH}/logout` && req.method === 'POST') {
    logout(res);
    return true;
  }
  return false;
}

async function serve(req: IncomingMessage, res: ServerResponse, path: string, board: BoardQueues) {
  const { options } = board;
  if (await serveDoor(req, res, path, options)) return;
  if (!(await admitted(req, res, path, options.authenticator))) return;
  await board.fresh();
  if (serveA11y(res, path)) return;
  serveBoard(req, res, board.setUp().router);
}

/**
 * bull-board behind the gateway's auth. `handle` answers the requests under {@link BULL_BOARD_PATH}
 * and returns false for every other one. `close` closes its queues and its Redis connection.
 */
export function createBullBoardMount(options: BullBoardOptions) {
  const board = new BoardQueues(options);
  let closed = false;
  return {
    /** Answers a request under /queues (true), or leaves it to the gateway (false). */
    handle(req: IncomingMessage, res: ServerResponse): boolean {
      const url = req.url ?? '/';
      // Every request of the gateway passes here first: those elsewhere leave without a split.
      if (!url.startsWith(BULL_BOARD_PATH)) return false;
      const path = url.split('?')[0] ?? '/';
      if (path !== BULL_BOARD_PATH && !path.startsWith(`${BULL_BOARD_PATH}/`)) return false;
      if (options.isDraining() || closed) {
        send(res, 503, 'The gateway is shutting down\n', { 'content-type': 'text/plain; charset=utf-8' });
        return true;
      }
      serve(req, res, path, board).catch(() => {
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
      await board.close();
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
