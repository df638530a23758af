import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { generateClientCode, SCHEMA_FILE } from '../../codegen.js';

const root = new URL('../../', import.meta.url);

describe('generated client code (codegen.ts)', () => {
  it('should match what schema.graphql and the operations generate now (else: run npm run codegen)', async () => {
    const generated = await generateClientCode();
    expect([...generated.keys()]).toEqual([
      'client/generated/schema.ts',
      'client/generated/graphql.ts',
      'test/generated/graphql.ts',
    ]);
    const stale: string[] = [];
    for (const [file, contents] of generated) {
      const committed = await readFile(new URL(file, root), 'utf8').catch(() => null);
      if (committed !== contents) stale.push(file);
    }
    expect(stale, `stale against ${SCHEMA_FILE} or the operations: run npm run codegen`).toEqual([]);
  });

  it('should refuse a schema that drops a field the dashboard, the client or a test selects', async () => {
    const sdl = await readFile(new URL(SCHEMA_FILE, root), 'utf8');
    const withoutReplayCount = sdl.replace(
      /^\s*"""How often the message was replayed\."""\s*\n\s*replayCount: Int!\n/m,
      '\n',
    );
    expect(withoutReplayCount).not.toBe(sdl);
    await expect(generateClientCode(withoutReplayCount)).rejects.toThrow(/replayCount/);
  });

  it('should follow a schema change into the generated types', async () => {
    const sdl = await readFile(new URL(SCHEMA_FILE, root), 'utf8');
    const generated = await generateClientCode(sdl.replace('  UNKNOWN\n}', '  UNKNOWN\n  BRAND_NEW\n}'));
    expect(generated.get('client/generated/schema.ts')).toContain("BrandNew: 'BRAND_NEW'");
  });
});
