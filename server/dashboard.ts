/**
 * The web dashboard (web/): a static single-page app that Vite builds into dist/web, served by the
 * gateway under /dashboard/ on its own port, so the app's GraphQL requests and websockets are
 * same-origin and need no CORS. The files hold no data and no secrets; everything the app shows
 * comes through /graphql with the caller's key, under the same scopes as any other client.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'graphql-yoga';

/** Where the dashboard is served. */
export const DASHBOARD_PATH = '/dashboard';

/** One built file, read once at start: the dashboard is small and changes only with a new build. */
export interface DashboardFile {
  body: Uint8Array<ArrayBuffer>;
  type: string;
  cacheControl: string;
}

/** The built dashboard by URL path under {@link DASHBOARD_PATH}, such as `/index.html` or `/assets/x.js`. */
export type DashboardFiles = ReadonlyMap<string, DashboardFile>;

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
  '.png': 'image/png',
};

/**
 * Sent with every dashboard answer. Only the app's own scripts run, and it connects only to its own
 * origin ('self' covers same-origin websockets); no page may frame it, so the replay and discard
 * buttons cannot be clickjacked.
 */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': contentSecurityPolicy(null),
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

/**
 * The policy of {@link SECURITY_HEADERS}. With a nonce, style elements that carry it may also apply:
 * the JSON editor (CodeMirror) writes its theme into a `<style nonce>` element, and nothing else can
 * (a new nonce per page load, so one seen once is worth nothing later). Style attributes are allowed:
 * the editor sets some on its own elements, they run no code, and the page never writes markup it
 * was sent.
 */
function contentSecurityPolicy(nonce: string | null): string {
  return (
    `default-src 'self'; script-src 'self'; style-src 'self'${nonce ? ` 'nonce-${nonce}'` : ''}; ` +
    // The editor also sets a few style attributes on its own elements; attributes run nothing.
    "style-src-attr 'unsafe-inline'; " +
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
  );
}

/** Where the page's HTML says the per-load nonce goes (web/index.html's `csp-nonce` meta). */
const NONCE_PLACEHOLDER = '__CSP_NONCE__';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The directory the built dashboard lives in: dist/web under the project root. The gateway runs both
 * from its sources (server/, in tests and tsx) and from tsc's build (dist/server/), so both layouts
 * are tried; one build serves both.
 */
export function defaultDashboardDir(): string {
  return fileURLToPath(
    new URL(import.meta.url.includes('/dist/server/') ? '../web/' : '../dist/web/', import.meta.url),
  );
}

/** Reads every file under `dir`; null when there is no built dashboard there (no index.html). */
export async function loadDashboard(dir: string): Promise<DashboardFiles | null> {
  const isBuilt = await stat(join(dir, 'index.html')).then(
    (info) => info.isFile(),
    () => false,
  );
  if (!isBuilt) return null;
  const files = new Map<string, DashboardFile>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const urlPath = `/${relative(dir, path).split(sep).join('/')}`;
    files.set(urlPath, {
      body: new Uint8Array(await readFile(path)),
      type: TYPES[extname(path)] ?? 'application/octet-stream',
      // Vite names assets by their content hash, so they never change; the page itself must be
      // fetched again to pick up a new build.
      cacheControl: urlPath.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
  }
  return files;
}

/** Options for {@link useDashboard}. */
export interface DashboardOptions {
  /** The built files, or null when the dashboard was not built (it answers 404 with how to build it). */
  files: DashboardFiles | null;
}

/**
 * Serves the dashboard's files under /dashboard/. Paths are looked up in the map of built files, never
 * on the file system, so no request can reach a file outside the build.
 */
export function useDashboard(options: DashboardOptions): Plugin {
  const { files } = options;
  return {
    onRequest({ url, request, endResponse, fetchAPI }) {
      const { pathname } = url;
      if (pathname !== DASHBOARD_PATH && !pathname.startsWith(`${DASHBOARD_PATH}/`)) return;
      const answer = (
        status: number,
        body: Uint8Array<ArrayBuffer> | string | null,
        headers: Record<string, string>,
      ) =>
        endResponse(
          new fetchAPI.Response(request.method === 'HEAD' ? null : body, {
            status,
            headers: { ...SECURITY_HEADERS, ...headers },
          }),
        );
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        answer(405, 'Method not allowed\n', {
          allow: 'GET, HEAD',
          'content-type': 'text/plain; charset=utf-8',
        });
        return;
      }
      // The app's relative asset URLs resolve against the trailing slash.
      if (pathname === DASHBOARD_PATH) {
        answer(301, null, { location: `${DASHBOARD_PATH}/${url.search}` });
        return;
      }
      if (files === null) {
        answer(404, 'The dashboard is not built. Run `npm run build` (npm start does), then restart.\n', {
          'content-type': 'text/plain; charset=utf-8',
        });
        return;
      }
      const rest = pathname.slice(DASHBOARD_PATH.length);
      const file = files.get(rest === '/' ? '/index.html' : rest);
      if (file === undefined) {
        answer(404, 'Not found\n', { 'content-type': 'text/plain; charset=utf-8' });
        return;
      }
      let { body } = file;
      const headers: Record<string, string> = {
        'content-type': file.type,
        'cache-control': file.cacheControl,
      };
      if (file.type.startsWith('text/html')) {
        const page = decoder.decode(body);
        if (page.includes(NONCE_PLACEHOLDER)) {
          const nonce = randomBytes(16).toString('base64');
          body = encoder.encode(page.replaceAll(NONCE_PLACEHOLDER, nonce)) as Uint8Array<ArrayBuffer>;
          headers['content-security-policy'] = contentSecurityPolicy(nonce);
          headers['cache-control'] = 'no-store';
        }
      }
      headers['content-length'] = String(body.byteLength);
      answer(200, body, headers);
    },
  };
}
