/**
 * GraphiQL served whole by the gateway. Yoga's default page loads GraphiQL's scripts and styles from a
 * public CDN, so on a machine without internet access it never leaves "Loading…". graphql-yoga's own
 * `@graphql-yoga/render-graphiql` bundles them instead: one page with every script, style, font,
 * icon and editor worker inline (about 9 MB), nothing fetched from anywhere but the gateway's
 * /graphql. The page is rendered once per set of options and kept, and sent with a
 * Content-Security-Policy that allows exactly that page and no other host.
 */
import { createHash } from 'node:crypto';
import type { GraphiQLOptions, Plugin } from 'graphql-yoga';

/** One rendered page and the headers it is served with. */
interface GraphiQLPage {
  body: Uint8Array<ArrayBuffer>;
  headers: Readonly<Record<string, string>>;
}

/** Pages by their options; the options come from code (yoga.ts), never from a request, so this stays tiny. */
const pages = new Map<string, Promise<GraphiQLPage>>();
const MAX_PAGES = 8;

/**
 * createYoga's `renderGraphiQL`: GraphiQL with its assets inline. The bundle is imported on the first
 * render, so a gateway nobody opens GraphiQL on never loads it.
 */
export function renderLocalGraphiQL(options: GraphiQLOptions): Promise<Uint8Array<ArrayBuffer>> {
  return graphiqlPage(options).then((page) => page.body);
}

function graphiqlPage(options: GraphiQLOptions): Promise<GraphiQLPage> {
  const key = JSON.stringify(options);
  let page = pages.get(key);
  if (page === undefined) {
    if (pages.size >= MAX_PAGES) pages.clear();
    page = render(options);
    pages.set(key, page);
    // A failed render is tried again by the next request rather than kept.
    page.catch(() => pages.delete(key));
  }
  return page;
}

async function render(options: GraphiQLOptions): Promise<GraphiQLPage> {
  const { renderGraphiQL } = await import('@graphql-yoga/render-graphiql');
  const html = renderGraphiQL(options);
  return { body: new TextEncoder().encode(html), headers: securityHeaders(html) };
}

/**
 * The page's one inline script is allowed by its hash, not by 'unsafe-inline', so nothing injected
 * into the page could run. The editor (Monaco) adds style elements and style attributes as it goes,
 * hence 'unsafe-inline' for styles; it runs its language services in workers made from blob: URLs;
 * fonts and icons are data: URLs; queries go to the page's own origin (connect-src 'self' covers the
 * same-origin websocket too). No page may frame it, so its run button cannot be clickjacked.
 */
function securityHeaders(html: string): Record<string, string> {
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)]
    .filter(([, attributes = '']) => !/\bsrc\s*=/i.test(attributes))
    // The browser hashes the script as parsed, after HTML's newline normalisation.
    .map(([, , text = '']) => sha256Source(text.replace(/\r\n?/g, '\n')));
  return {
    'content-security-policy':
      `default-src 'none'; script-src ${scripts.join(' ') || "'none'"}; style-src 'unsafe-inline'; ` +
      "img-src data:; font-src data:; worker-src blob:; connect-src 'self'; " +
      "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-cache',
  };
}

/** A CSP hash source for one inline script. */
function sha256Source(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/** Options for {@link useGraphiQLHeaders}. */
export interface GraphiQLHeadersOptions {
  /** The path GraphiQL is served on: yoga's `graphqlEndpoint`. */
  endpoint: string;
  /** The options GraphiQL is rendered with: the same object yoga's `graphiql` option gets. */
  graphiql: GraphiQLOptions;
}

/**
 * Adds the security headers of {@link renderLocalGraphiQL}'s page to yoga's GraphiQL answer, which
 * yoga sends with a content type only. GraphiQL is the only HTML answer on the endpoint. The content
 * type stays yoga's `text/html`: the page's first element declares UTF-8, and setting the header
 * again here would send it twice (@whatwg-node/fetch's Headers keeps yoga's `Content-Type` apart
 * from a lower-case `content-type`).
 */
export function useGraphiQLHeaders(options: GraphiQLHeadersOptions): Plugin {
  const { endpoint, graphiql } = options;
  return {
    async onResponse({ request, response }) {
      if (request.method !== 'GET') return;
      if (!response.headers.get('content-type')?.startsWith('text/html')) return;
      const { pathname } = new URL(request.url);
      if (pathname !== endpoint && pathname !== `${endpoint}/`) return;
      const { headers } = await graphiqlPage(graphiql);
      for (const [name, value] of Object.entries(headers)) response.headers.set(name, value);
    },
  };
}
