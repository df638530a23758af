/**
 * GraphiQL in a real chromium that can resolve no host but loopback, as on a machine without internet
 * access: the page must come whole from the gateway (server/use-graphiql.ts), render its editor with
 * the example operations, and run one of them against the gateway.
 */
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/redis.js';
import { dataCaller, useLiveGateways } from '../live/helpers.js';
import { launchChromium, pageProblems } from './browser.js';

const { pool, redis } = useLiveGateways();
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  // Every name but the loopback address fails to resolve: a CDN asset cannot load.
  browser = await launchChromium(['--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1']);
}, 60_000);
afterEach(async () => {
  await Promise.all(contexts.splice(0).map((context) => context.close()));
});
afterAll(async () => {
  await browser?.close();
});

/** The host of a request URL; a blob: URL counts as its origin's. */
function hostOf(url: string): string {
  return new URL(url.replace(/^blob:/, '')).hostname;
}

describe('GraphiQL without internet access', () => {
  it('renders the editor with the examples and runs one against the gateway', async () => {
    const { url } = await pool.start(redis.url);
    const gql = dataCaller(url, null);
    await gql('mutation { createTopic(input: { name: "offline-orders", kind: FANOUT }) { name } }');

    const context = await browser.newContext();
    contexts.push(context);
    // A locator that never matches fails the test in seconds, not at the test timeout.
    context.setDefaultTimeout(15_000);
    const requests: string[] = [];
    context.on('request', (request) => requests.push(request.url()));
    const page = await context.newPage();
    page.on('websocket', (socket) => requests.push(socket.url()));
    const problems = pageProblems(page);

    const response = await page.goto(url);
    expect(response?.status()).toBe(200);
    expect(await page.title()).toBe('Switchyard');

    // The editor is up with the example operations in it, and no unfilled title placeholder is left.
    const editor = page.locator('.graphiql-query-editor');
    await editor.getByText('mutation CreateTopic').first().waitFor();
    expect(await page.locator('body').textContent()).not.toContain('__TITLE__');

    // Several operations: the run button asks which one.
    await page.locator('.graphiql-execute-button').click();
    await page.getByRole('menuitem', { name: 'Topology' }).click();
    const result = page.locator('.graphiql-response');
    const text = await waitFor(
      async () => {
        const shown = ((await result.textContent()) ?? '').replace(/\s+/g, ' ');
        return shown.includes('"health"') ? shown : null;
      },
      { timeoutMs: 15_000, message: 'the result pane never showed the Topology answer' },
    );
    expect(text).toContain('"name": "offline-orders"');
    expect(text).toMatch(/"ok": true/);

    expect(requests.length).toBeGreaterThan(0);
    expect(requests.filter((request) => hostOf(request) !== '127.0.0.1')).toEqual([]);
    expect(problems).toEqual([]);
  });

  it('is sent with a Content-Security-Policy that names no other host', async () => {
    const { url } = await pool.start(redis.url);
    const response = await fetch(url, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/]+={0,2}';/);
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/https?:|\*|'unsafe-eval'/);
    const html = await response.text();
    expect(html).not.toMatch(/<(?:script|link|img)\b[^>]*\b(?:src|href)=["']?https?:/);
  });
});
