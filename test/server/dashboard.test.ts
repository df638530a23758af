import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useLiveGateways } from '../live/helpers.js';

const { pool, redis } = useLiveGateways();
let built: string;
let empty: string;
const SCRIPT = 'console.log("dashboard")';

beforeAll(async () => {
  built = await mkdtemp(join(tmpdir(), 'switchyard-dashboard-'));
  await mkdir(join(built, 'assets'));
  await writeFile(join(built, 'index.html'), '<!doctype html><title>Switchyard</title>');
  await writeFile(join(built, 'assets', 'index-abc123.js'), SCRIPT);
  await writeFile(join(built, 'assets', 'index-abc123.css'), 'body{}');
  empty = await mkdtemp(join(tmpdir(), 'switchyard-dashboard-empty-'));
});
afterAll(async () => {
  await rm(built, { recursive: true, force: true });
  await rm(empty, { recursive: true, force: true });
});

async function start(dashboardDir: string, env: Record<string, string> = {}): Promise<string> {
  const { url } = await pool.start(redis.url, env, { dashboardDir });
  return url.replace(/\/graphql$/, '');
}

describe('/dashboard/', () => {
  it('serves the page with headers that keep other origins and inline scripts out', async () => {
    const base = await start(built);
    const response = await fetch(`${base}/dashboard/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await response.text()).toBe('<!doctype html><title>Switchyard</title>');
  });

  it('serves hashed assets with their type, cached for good', async () => {
    const base = await start(built);
    const script = await fetch(`${base}/dashboard/assets/index-abc123.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(script.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await script.text()).toBe(SCRIPT);
    const style = await fetch(`${base}/dashboard/assets/index-abc123.css`);
    expect(style.headers.get('content-type')).toBe('text/css; charset=utf-8');
  });

  it('redirects /dashboard to /dashboard/, keeping the query', async () => {
    const base = await start(built);
    const response = await fetch(`${base}/dashboard?x=1`, { redirect: 'manual' });
    expect(response.status).toBe(301);
    expect(response.headers.get('location')).toBe('/dashboard/?x=1');
  });

  it('answers HEAD without a body and refuses other methods', async () => {
    const base = await start(built);
    const head = await fetch(`${base}/dashboard/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(
      String('<!doctype html><title>Switchyard</title>'.length),
    );
    expect(await head.text()).toBe('');
    const post = await fetch(`${base}/dashboard/`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('answers 404 for a file that is not in the build, and never reads outside it', async () => {
    const base = await start(built);
    for (const path of [
      '/dashboard/nope.js',
      '/dashboard/assets/',
      '/dashboard/assets/..%2f..%2fpackage.json',
      '/dashboard/%2e%2e/package.json',
      '/dashboard//etc/passwd',
    ]) {
      const response = await fetch(`${base}${path}`);
      expect(response.status, path).toBe(404);
      expect(await response.text(), path).not.toContain('"name": "switchyard"');
    }
  });

  it('says how to build it when it is not built', async () => {
    const base = await start(empty);
    const response = await fetch(`${base}/dashboard/`);
    expect(response.status).toBe(404);
    expect(await response.text()).toContain('npm run build');
  });

  it('is not served with SWITCHYARD_DASHBOARD=false', async () => {
    const base = await start(built, { SWITCHYARD_DASHBOARD: 'false' });
    const response = await fetch(`${base}/dashboard/`);
    expect(response.status).toBe(404);
    expect(response.headers.get('content-security-policy')).toBeNull();
  });

  it('needs no key for the files, which hold no data: the data needs one', async () => {
    const base = await start(built, {
      SWITCHYARD_ADMIN_KEY: 'sy_dashboard-files-test-admin-key-0123456789abcdefg',
    });
    expect((await fetch(`${base}/dashboard/`)).status).toBe(200);
    const refused = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ topics { name } }' }),
    });
    expect(refused.status).toBe(401);
  });
});
