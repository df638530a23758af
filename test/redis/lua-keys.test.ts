import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * "Lua scripts receive their keys in KEYS, never build them" (docs/ARCHITECTURE.md): a key a script
 * builds is named outside queues/redis/keys.ts, and on a Redis Cluster it is a key the client did not
 * route the call by. A static check, over every .lua file of queues/redis/commands:
 *
 * - the key a Redis call names first is `KEYS[…]`, `unpack(KEYS, …)`, a local the script assigned
 *   from KEYS, or a local function that returns `KEYS[…]`;
 * - commands whose every argument is a key (DEL, EXISTS, …) name only such keys;
 * - no string starting with ':' (a key's separator) is concatenated with anything.
 */
const commandsDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../queues/redis/commands');

/** Commands that take no key. */
const KEYLESS = new Set(['TIME', 'PING']);
/** Commands whose every argument is a key. */
const ALL_KEYS = new Set(['DEL', 'UNLINK', 'EXISTS', 'TOUCH', 'MGET', 'SINTER', 'SUNION', 'SDIFF']);

/** The script without its comments (block comments `--[[ … ]]` and line comments). */
function code(lua: string): string {
  return lua.replace(/--\[\[[\s\S]*?\]\]/g, '').replace(/--[^\n]*/g, '');
}

/** The top-level, comma-separated arguments of the call whose '(' is at `open`. */
function callArgs(text: string, open: number): string[] {
  const args: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let current = '';
  for (let at = open + 1; at < text.length; at++) {
    const char = text[at] as string;
    if (quote) {
      if (char === quote && text[at - 1] !== '\\') quote = null;
      current += char;
      continue;
    }
    if (char === "'" || char === '"') quote = char;
    else if ('([{'.includes(char)) depth++;
    else if (')]}'.includes(char)) {
      if (depth === 0) break;
      depth--;
    } else if (char === ',' && depth === 0) {
      args.push(current.trim());
      current = '';
      continue;
    }
    current += char;
  }
  if (current.trim() !== '') args.push(current.trim());
  return args;
}

/** Names the script binds to KEYS: locals assigned `KEYS[…]` and local functions returning `KEYS[…]`. */
function keyNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const [, left = '', right = ''] of text.matchAll(/local\s+([\w\s,]+?)\s*=\s*([^\n]+)/g)) {
    const values = right.split(/,(?![^[]*\])/).map((value) => value.trim());
    left.split(',').forEach((name, index) => {
      if (values[index]?.startsWith('KEYS[')) names.add(name.trim());
    });
  }
  for (const [, name = ''] of text.matchAll(/local\s+function\s+(\w+)\s*\([^)]*\)\s*return\s+KEYS\[/g)) {
    names.add(name);
  }
  return names;
}

function isKey(expression: string, names: Set<string>): boolean {
  if (/^KEYS\[.+\]$/.test(expression) || /^unpack\(\s*KEYS\s*,/.test(expression)) return true;
  const call = /^(\w+)\(.*\)$/s.exec(expression);
  return names.has(call ? (call[1] as string) : expression);
}

/** What a script does against the rule, one line each; none when it keeps it. */
function keyProblems(lua: string): string[] {
  const text = code(lua);
  const names = keyNames(text);
  const problems: string[] = [];
  for (const match of text.matchAll(/(?:redis\.call|redis\.pcall|rcall)\s*\(/g)) {
    const [command = '', ...args] = callArgs(text, (match.index ?? 0) + match[0].length - 1);
    const name = command.replace(/^['"]|['"]$/g, '').toUpperCase();
    if (KEYLESS.has(name)) continue;
    const keyArgs = ALL_KEYS.has(name) ? args : args.slice(0, 1);
    if (keyArgs.length === 0) problems.push(`${name} names no key`);
    for (const arg of keyArgs)
      if (!isKey(arg, names)) problems.push(`${name} on a key not from KEYS: ${arg}`);
  }
  for (const [joined] of text.matchAll(/\.\.\s*(['"]):[^'"]*\1|(['"]):[^'"]*\2\s*\.\./g)) {
    problems.push(`builds a key: ${joined}`);
  }
  return problems;
}

describe('Lua keys', () => {
  const files = readdirSync(commandsDir).filter((file) => file.endsWith('.lua'));

  it('should find the scripts', () => {
    expect(files.length).toBeGreaterThan(10);
  });

  it('should have every .lua script of queues/redis/commands take every key it touches from KEYS', () => {
    const problems = files.flatMap((file) =>
      keyProblems(readFileSync(join(commandsDir, file), 'utf8')).map((problem) => `${file}: ${problem}`),
    );
    expect(problems).toEqual([]);
  });

  it('should flag a key built from a prefix, a suffix or a separator, and pass keys taken from KEYS', () => {
    expect(keyProblems("local prefix = ARGV[1]\nredis.call('HGET', prefix .. ARGV[2], 'data')")).toEqual([
      'HGET on a key not from KEYS: prefix .. ARGV[2]',
    ]);
    expect(keyProblems("local jobKey = KEYS[2]\nrcall('DEL', jobKey, jobKey .. ':logs')")).toEqual([
      "DEL on a key not from KEYS: jobKey .. ':logs'",
      "builds a key: .. ':logs'",
    ]);
    expect(keyProblems("rcall('ZADD', ARGV[1] .. ':q:' .. queue, 1, 'm')")).toEqual([
      "ZADD on a key not from KEYS: ARGV[1] .. ':q:' .. queue",
      "builds a key: .. ':q:'",
    ]);
    expect(keyProblems("-- rcall('GET', base .. ':x')\nlocal key = ARGV[1]\nrcall('GET', key)")).toEqual([
      'GET on a key not from KEYS: key',
    ]);
    const kept = `
      local a, b = KEYS[1], KEYS[2]
      local function reasonKey(n)
        return KEYS[2 + n]
      end
      redis.call('TIME')
      rcall('ZADD', a, 1, 'q/' .. ARGV[1])
      rcall('ZREM', reasonKey(1), 'member')
      rcall('DEL', b, KEYS[3], unpack(KEYS, 4, 9))
      rcall('RPUSH', KEYS[4 + 1], '{"replay":' .. ARGV[2] .. '}')`;
    expect(keyProblems(kept)).toEqual([]);
  });
});
