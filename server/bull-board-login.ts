/**
 * The door to bull-board (bull-board.ts): the login form at /queues/login, the cookie that carries the
 * key (HttpOnly, SameSite=Strict, Path=/queues), the check of a bearer key or that cookie on every
 * other request, and the security headers every answer under /queues carries.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Authenticator, bearerSecret, type Presented } from './auth.js';

/** Where bull-board is served. */
export const BULL_BOARD_PATH = '/queues';
/** The cookie that carries the key, sent back only to {@link BULL_BOARD_PATH}. */
export const BULL_BOARD_COOKIE = 'switchyard_queues';
/** How long a browser keeps the cookie: a working day. */
const COOKIE_MAX_AGE_S = 8 * 60 * 60;
/** The login form's body is a key and a little more. */
const MAX_LOGIN_BYTES = 4_096;

/** bull-board's own page needs inline styles (its loading screen); its scripts are files of its own. */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // Not no-referrer: with it the browser sends `Origin: null` on the login form's post, and the
  // form could not tell its own page from another site's.
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
};
/** Cookie values by name, from a Cookie header. */
function cookies(header: string | undefined): Map<string, string> {
  const found = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0) found.set(part.slice(0, at).trim(), decodeURIComponent(part.slice(at + 1).trim()));
  }
  return found;
}

export function header(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  return typeof value === 'string' ? value : null;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function loginPage(error: string | null): string {
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

export function send(
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
) {
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

type Authenticate = Pick<Authenticator, 'authenticate'>;

/** The login form's post: an admin key comes back as the cookie, with a redirect to bull-board. */
export async function login(
  req: IncomingMessage,
  res: ServerResponse,
  authenticator: Authenticate,
): Promise<void> {
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

export function logout(res: ServerResponse): void {
  res.writeHead(303, {
    ...SECURITY_HEADERS,
    location: `${BULL_BOARD_PATH}/login`,
    'set-cookie': `${BULL_BOARD_COOKIE}=; Path=${BULL_BOARD_PATH}; HttpOnly; SameSite=Strict; Max-Age=0`,
  });
  res.end();
}

/**
 * Whether the request comes from an admin, by its bearer key or its cookie. When not, it is answered
 * here: the API with 401 or 403 in JSON, a page with the login form.
 */
export async function admitted(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  authenticator: Authenticate,
): Promise<boolean> {
  const bearer = bearerSecret(header(req, 'authorization'));
  const secret = bearer.secret ?? cookies(req.headers.cookie).get(BULL_BOARD_COOKIE) ?? null;
  const verdict = await authenticator.authenticate(presented(req, secret, bearer.malformed), true);
  if (verdict.ok && verdict.caller.admin) return true;
  const why = verdict.ok ? 'bull-board needs the scope admin' : verdict.error.message;
  if (path.startsWith(`${BULL_BOARD_PATH}/api/`)) {
    res.writeHead(verdict.ok ? 403 : 401, { ...SECURITY_HEADERS, 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: why, code: verdict.ok ? 'FORBIDDEN' : 'UNAUTHENTICATED' }));
  } else send(res, 401, loginPage(secret === null ? null : why));
  return false;
}
