import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const queues = join(root, 'queues');
/** queues/ folders from the bottom up (docs/ARCHITECTURE.md): a folder imports only folders before it. */
const LAYERS = [
  'core',
  'redis',
  'signing',
  'registry',
  'security',
  'publish',
  'history',
  'live',
  'delivery',
  'stats',
  'dead-letters',
  'engine',
];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Every relative import and re-export of a file, as absolute paths. */
function importsOf(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
  const found: string[] = [];
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement) && !ts.isExportDeclaration(statement)) continue;
    const specifier = statement.moduleSpecifier;
    if (specifier && ts.isStringLiteral(specifier) && specifier.text.startsWith('.')) {
      found.push(resolve(dirname(file), specifier.text));
    }
  }
  return found;
}

describe('the layout of queues/', () => {
  it('should keep every module in a folder of the layer list', () => {
    const outside = sources(queues)
      .map((file) => relative(queues, file))
      .filter((path) => !LAYERS.includes(path.split('/')[0] ?? ''));
    expect(outside).toEqual([]);
  });

  it('should import another folder only through its index.ts, and never one above it', () => {
    const problems: string[] = [];
    for (const file of sources(queues)) {
      const from = relative(queues, file).split('/')[0] ?? '';
      for (const target of importsOf(file)) {
        const path = relative(queues, target);
        const to = path.split('/')[0] ?? '';
        if (path.startsWith('..')) problems.push(`${relative(root, file)} imports ${relative(root, target)}`);
        else if (to === from) continue;
        else if (path !== `${to}/index.js`) problems.push(`${relative(root, file)} bypasses ${to}/index.ts`);
        else if (LAYERS.indexOf(to) > LAYERS.indexOf(from))
          problems.push(`${relative(root, file)} imports up: ${to}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('should let the server, the schema and the resolvers reach queues/ only through the faces', () => {
    const problems = ['server', 'schema', 'resolvers'].flatMap((dir) =>
      sources(join(root, dir)).flatMap((file) =>
        importsOf(file)
          .filter((target) => target.startsWith(`${queues}/`) && !target.endsWith('/index.js'))
          .map((target) => `${relative(root, file)} imports ${relative(root, target)}`),
      ),
    );
    expect(problems).toEqual([]);
  });
});
