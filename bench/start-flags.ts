import packageJson from '../package.json' with { type: 'json' };

/**
 * The node flags `npm start` runs the gateway with (package.json's start script), so every bench
 * gateway runs as a deployment does.
 */
export const START_FLAGS: readonly string[] = startFlags(packageJson.scripts.start);

function startFlags(script: string): string[] {
  const words = script.trim().split(/\s+/);
  if (words[0] !== 'node')
    throw new Error(`package.json's start script must begin with node, got: ${script}`);
  return words.slice(1).filter((word) => word.startsWith('--'));
}
