/**
 * The gateway as `npm start` runs it: tsc's build in dist/, not tsx's transform of the sources. tsx
 * (esbuild with keepNames) wraps every function it creates in a helper that sets its name, which
 * cost the gateway ~1.4 % of its CPU in a profile of scenario 3: a cost the shipped build does not
 * have. The bench processes' own code still runs under tsx; only the gateway is loaded from dist/.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type * as Config from '../server/config.js';
import type * as Gateway from '../server/gateway.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** Runs `npm run build`, so dist/ is the code of this working tree; its output goes to stderr. */
export function buildGateway(): void {
  const result = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 2, 2] });
  if (result.status !== 0) throw new Error(`npm run build failed (exit code ${result.status})`);
}

/** createGateway and loadConfig from dist/, typed by their sources; `buildGateway` must have run. */
export async function importBuiltGateway(): Promise<{
  createGateway: typeof Gateway.createGateway;
  loadConfig: typeof Config.loadConfig;
}> {
  // Paths held in variables, so neither tsc nor tsx resolves them to the sources.
  const gatewayUrl = new URL('../dist/server/gateway.js', import.meta.url).href;
  const configUrl = new URL('../dist/server/config.js', import.meta.url).href;
  const [gateway, config] = await Promise.all([
    import(gatewayUrl) as Promise<typeof Gateway>,
    import(configUrl) as Promise<typeof Config>,
  ]);
  return { createGateway: gateway.createGateway, loadConfig: config.loadConfig };
}
