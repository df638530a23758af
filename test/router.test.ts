import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HeaderMatch, TopicKind } from '../client/generated/schema.js';
import type { QueueRecord, TopicRecord } from '../queues/core/types.js';
import {
  createRoutingTable,
  headersMatch,
  queueMatches,
  topicPatternMatches,
  validateBinding,
} from '../queues/registry/router.js';

const NUM_RUNS = 2000;

/**
 * The reference the fast matcher is checked against: a direct transcription of the AMQP rules,
 * exponential in the worst case, which is fine for the short inputs the properties generate.
 */
function referenceMatch(pattern: readonly string[], key: readonly string[]): boolean {
  if (pattern.length === 0) return key.length === 0;
  const [head, ...rest] = pattern;
  if (head === '#')
    return referenceMatch(rest, key) || (key.length > 0 && referenceMatch(pattern, key.slice(1)));
  if (key.length === 0) return false;
  return (head === '*' || head === key[0]) && referenceMatch(rest, key.slice(1));
}

// Key words include literal '*' and '#' to prove the key side is never read as a wildcard.
const keyWord = fc.constantFrom('', 'a', 'b', 'ab', '*', '#');
const patternWord = fc.constantFrom('', 'a', 'b', 'ab', '*', '#');
const keyWords = fc.array(keyWord, { minLength: 1, maxLength: 7 });
const patternWords = fc.array(patternWord, { minLength: 1, maxLength: 6 });
const literalWord = fc.constantFrom('', 'a', 'b', 'ab');

function topic(name: string, kind: TopicKind): TopicRecord {
  return {
    name,
    kind,
    description: null,
    maxMessageBytes: 1024,
    payloadSchema: null,
    createdAt: '2024-01-01T00:00:00.000Z',
  };
}

function queue(name: string, topicName: string, binding: Partial<QueueRecord> = {}): QueueRecord {
  return {
    name,
    topic: topicName,
    bindingKey: null,
    headers: null,
    headerMatch: null,
    target: 'CONSUMER',
    url: null,
    signingSecret: null,
    deliveryMode: 'AT_LEAST_ONCE',
    retry: { maxAttempts: 3, backoff: 'FIXED', delayMs: 100, maxDelayMs: 1000, jitter: false },
    concurrency: 1,
    ackTimeoutMs: 30_000,
    maxPriority: 9,
    paused: false,
    createdAt: '2024-01-01T00:00:00.000Z',
    ...binding,
  };
}

const names = (queues: QueueRecord[]) => queues.map((q) => q.name);

describe('topicPatternMatches', () => {
  it.each([
    // [pattern, key, expected]
    ['a.b', 'a.b', true],
    ['a.b', 'a.c', false],
    ['a.b', 'a.b.c', false],
    ['a.*', 'a.b', true],
    ['a.*', 'a', false],
    ['a.*', 'a.b.c', false],
    ['*', '', true],
    ['*', 'a', true],
    ['*', 'a.b', false],
    ['*.*', '.', true],
    ['*.*', '', false],
    ['#', '', true],
    ['#', 'a', true],
    ['#', 'a.b.c', true],
    ['#', '...', true],
    ['#.#', '', true],
    ['#.#', 'a.b.c', true],
    ['a.#', 'a', true],
    ['a.#', 'a.b.c', true],
    ['a.#', 'b.a', false],
    ['#.a', 'a', true],
    ['#.a', 'x.y.a', true],
    ['#.a', 'a.x', false],
    ['a.#.b', 'a.b', true],
    ['a.#.b', 'a.x.y.b', true],
    ['a.#.b', 'a.x.y.c', false],
    ['a.#.b', 'a', false],
    ['#.a.#', 'x.a.y', true],
    ['#.a.#', 'x.y', false],
    ['*.#', '', true],
    ['*.#', 'a.b', true],
    ['#.*', '', true],
    ['*.*.#', '', false],
    // Empty words are real words.
    ['a..b', 'a..b', true],
    ['a..b', 'a.b', false],
    ['a.*.b', 'a..b', true],
    ['a.#.b', 'a..b', true],
    ['', '', true],
    ['', 'a', false],
    ['a', '', false],
    // Trailing dots add an empty final word.
    ['a.', 'a.', true],
    ['a.', 'a', false],
    ['a', 'a.', false],
    ['a.*', 'a.', true],
    ['a.#', 'a.', true],
    ['.a', '.a', true],
    ['.a', 'a', false],
    // '*' and '#' in the key are plain characters.
    ['a', '*', false],
    ['a', '#', false],
    ['*', '#', true],
  ])('%j against %j is %s', (pattern, key, expected) => {
    expect(topicPatternMatches(pattern, key)).toBe(expected);
  });

  it('is fast on many hashes against a long key', () => {
    const longKey = Array.from({ length: 5000 }, () => 'a').join('.');
    const started = performance.now();
    expect(topicPatternMatches('#.#.#.#.#.x', longKey)).toBe(false);
    expect(topicPatternMatches('#.#.#.#.#.x', `${longKey}.x`)).toBe(true);
    expect(topicPatternMatches('#.a.#.a.#.a.#.a.#.b', longKey)).toBe(false);
    expect(topicPatternMatches('#.*.#.*.#.*.#.*.#.b', longKey)).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('agrees with the reference implementation', () => {
    fc.assert(
      fc.property(patternWords, keyWords, (pattern, key) => {
        expect(topicPatternMatches(pattern.join('.'), key.join('.'))).toBe(referenceMatch(pattern, key));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('matches every key generalised from it (biased towards matches)', () => {
    // Replace some words with '*' and some runs with '#', possibly inserting empty '#' runs.
    const generalised = keyWords.chain((key) =>
      fc
        .array(fc.constantFrom('keep', 'star', 'hash', 'insertHash'), {
          minLength: key.length,
          maxLength: key.length,
        })
        .map((ops) => {
          const pattern: string[] = [];
          key.forEach((word, i) => {
            const op = ops[i];
            if (op === 'hash') {
              if (pattern[pattern.length - 1] !== '#') pattern.push('#');
            } else if (op === 'star') pattern.push('*');
            else if (op === 'insertHash') pattern.push('#', word);
            else pattern.push(word);
          });
          return { key, pattern };
        }),
    );
    fc.assert(
      fc.property(generalised, ({ key, pattern }) => {
        expect(referenceMatch(pattern, key)).toBe(true);
        expect(topicPatternMatches(pattern.join('.'), key.join('.'))).toBe(true);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('# matches every key', () => {
    fc.assert(
      fc.property(fc.string(), keyWords, (raw, words) => {
        expect(topicPatternMatches('#', raw)).toBe(true);
        expect(topicPatternMatches('#', words.join('.'))).toBe(true);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('a pattern without wildcards matches exactly itself', () => {
    const literal = fc.array(literalWord, { minLength: 1, maxLength: 6 }).map((w) => w.join('.'));
    fc.assert(
      fc.property(
        literal,
        fc.oneof(
          literal,
          keyWords.map((w) => w.join('.')),
        ),
        (pattern, key) => {
          expect(topicPatternMatches(pattern, pattern)).toBe(true);
          expect(topicPatternMatches(pattern, key)).toBe(pattern === key);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });
});

describe('headersMatch', () => {
  it('ALL needs every binding header with an equal value', () => {
    expect(headersMatch({ a: '1', b: '2' }, 'ALL', { a: '1', b: '2', c: '3' })).toBe(true);
    expect(headersMatch({ a: '1', b: '2' }, 'ALL', { a: '1' })).toBe(false);
    expect(headersMatch({ a: '1', b: '2' }, 'ALL', { a: '1', b: '3' })).toBe(false);
  });

  it('ANY needs at least one binding header with an equal value', () => {
    expect(headersMatch({ a: '1', b: '2' }, 'ANY', { b: '2' })).toBe(true);
    expect(headersMatch({ a: '1', b: '2' }, 'ANY', { a: '9', b: '9' })).toBe(false);
    expect(headersMatch({ a: '1' }, 'ANY', {})).toBe(false);
  });

  it('an empty binding matches everything with ALL and nothing with ANY', () => {
    expect(headersMatch({}, 'ALL', {})).toBe(true);
    expect(headersMatch({}, 'ALL', { a: '1' })).toBe(true);
    expect(headersMatch({}, 'ANY', {})).toBe(false);
    expect(headersMatch({}, 'ANY', { a: '1' })).toBe(false);
  });

  it('compares names case-insensitively and values exactly', () => {
    expect(headersMatch({ 'Content-Type': 'json' }, 'ALL', { 'content-type': 'json' })).toBe(true);
    expect(headersMatch({ 'x-env': 'prod' }, 'ANY', { 'X-ENV': 'prod' })).toBe(true);
    expect(headersMatch({ 'x-env': 'prod' }, 'ALL', { 'x-env': 'PROD' })).toBe(false);
  });

  it('accepts any casing of a name the message sends twice', () => {
    expect(headersMatch({ 'x-a': '2' }, 'ALL', { 'X-A': '1', 'x-a': '2' })).toBe(true);
    expect(headersMatch({ 'x-a': '3' }, 'ALL', { 'X-A': '1', 'x-a': '2' })).toBe(false);
  });

  it('treats prototype-looking names as plain data', () => {
    expect(headersMatch({ constructor: 'x' }, 'ALL', {})).toBe(false);
    expect(headersMatch({ toString: 'x' }, 'ANY', { tostring: 'x' })).toBe(true);
  });
});

describe('queueMatches', () => {
  const bound = (binding: Partial<QueueRecord>) => queue('q', 't', binding);

  it('FANOUT matches always', () => {
    expect(queueMatches('FANOUT', bound({}), null, {})).toBe(true);
    expect(queueMatches('FANOUT', bound({ bindingKey: 'x' }), 'y', {})).toBe(true);
  });

  it('DIRECT needs the exact routing key', () => {
    expect(queueMatches('DIRECT', bound({ bindingKey: 'a.b' }), 'a.b', {})).toBe(true);
    expect(queueMatches('DIRECT', bound({ bindingKey: 'a.b' }), 'a.B', {})).toBe(false);
    expect(queueMatches('DIRECT', bound({ bindingKey: '*' }), 'a', {})).toBe(false);
    expect(queueMatches('DIRECT', bound({ bindingKey: 'a' }), null, {})).toBe(false);
    expect(queueMatches('DIRECT', bound({ bindingKey: null }), null, {})).toBe(false);
  });

  it('TOPIC uses the pattern, with a null routing key read as the empty key', () => {
    expect(queueMatches('TOPIC', bound({ bindingKey: 'a.*' }), 'a.b', {})).toBe(true);
    expect(queueMatches('TOPIC', bound({ bindingKey: 'a.*' }), 'b.b', {})).toBe(false);
    expect(queueMatches('TOPIC', bound({ bindingKey: '#' }), null, {})).toBe(true);
    expect(queueMatches('TOPIC', bound({ bindingKey: '*' }), null, {})).toBe(true);
    expect(queueMatches('TOPIC', bound({ bindingKey: 'a' }), null, {})).toBe(false);
  });

  it('HEADERS uses headersMatch, defaulting to ALL', () => {
    const headers = { a: '1', b: '2' };
    expect(queueMatches('HEADERS', bound({ headers }), null, { a: '1' })).toBe(false);
    expect(queueMatches('HEADERS', bound({ headers }), null, { A: '1', b: '2' })).toBe(true);
    expect(queueMatches('HEADERS', bound({ headers, headerMatch: 'ANY' }), null, { a: '1' })).toBe(true);
    expect(queueMatches('HEADERS', bound({ headers, headerMatch: 'ALL' }), null, { a: '1' })).toBe(false);
  });
});

describe('validateBinding', () => {
  const ok = (kind: TopicKind, binding: Parameters<typeof validateBinding>[1]) =>
    expect(validateBinding(kind, binding)).toBeNull();
  const refused = (kind: TopicKind, binding: Parameters<typeof validateBinding>[1], field: string) =>
    expect(validateBinding(kind, binding)).toContain(field);

  it('FANOUT takes no binding at all', () => {
    ok('FANOUT', {});
    ok('FANOUT', { bindingKey: null, headers: null, headerMatch: null });
    refused('FANOUT', { bindingKey: 'a' }, 'bindingKey');
    refused('FANOUT', { bindingKey: '' }, 'bindingKey');
    refused('FANOUT', { headers: { a: '1' } }, 'headers');
    refused('FANOUT', { headerMatch: 'ALL' }, 'headerMatch');
  });

  it('DIRECT needs a 1..255 character binding key and no headers', () => {
    ok('DIRECT', { bindingKey: 'orders.created' });
    ok('DIRECT', { bindingKey: 'a*#' });
    ok('DIRECT', { bindingKey: 'x'.repeat(255) });
    refused('DIRECT', {}, 'bindingKey');
    refused('DIRECT', { bindingKey: null }, 'bindingKey');
    refused('DIRECT', { bindingKey: '' }, 'bindingKey');
    refused('DIRECT', { bindingKey: 'x'.repeat(256) }, 'bindingKey');
    refused('DIRECT', { bindingKey: 'a', headers: { a: '1' } }, 'headers');
    refused('DIRECT', { bindingKey: 'a', headerMatch: 'ANY' }, 'headerMatch');
  });

  it('TOPIC needs a well-formed pattern and no headers', () => {
    ok('TOPIC', { bindingKey: 'a.*.b' });
    ok('TOPIC', { bindingKey: '#' });
    ok('TOPIC', { bindingKey: '#.#' });
    ok('TOPIC', { bindingKey: 'a..b.' });
    ok('TOPIC', { bindingKey: `${'a.'.repeat(127)}#` });
    refused('TOPIC', {}, 'bindingKey');
    refused('TOPIC', { bindingKey: '' }, 'bindingKey');
    refused('TOPIC', { bindingKey: 'x'.repeat(256) }, 'bindingKey');
    refused('TOPIC', { bindingKey: 'a*' }, 'bindingKey');
    refused('TOPIC', { bindingKey: 'a.#b' }, 'bindingKey');
    refused('TOPIC', { bindingKey: 'a.**' }, 'bindingKey');
    refused('TOPIC', { bindingKey: '*#' }, 'bindingKey');
    refused('TOPIC', { bindingKey: 'a', headers: { a: '1' } }, 'headers');
    refused('TOPIC', { bindingKey: 'a', headerMatch: 'ALL' }, 'headerMatch');
  });

  it('HEADERS needs a flat object of 1..64 string headers and no binding key', () => {
    ok('HEADERS', { headers: { a: '1' } });
    ok('HEADERS', { headers: { a: '' }, headerMatch: 'ANY' });
    ok('HEADERS', { headers: { a: '1' }, headerMatch: null });
    ok('HEADERS', { headers: Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`h${i}`, 'v'])) });
    ok('HEADERS', { headers: { ['n'.repeat(128)]: 'v' } });
    refused('HEADERS', {}, 'headers');
    refused('HEADERS', { headers: null }, 'headers');
    refused('HEADERS', { headers: {} }, 'headers');
    refused('HEADERS', { headers: [['a', '1']] }, 'headers');
    refused('HEADERS', { headers: 'a=1' }, 'headers');
    refused('HEADERS', { headers: new Map([['a', '1']]) }, 'headers');
    // Own string entries, so only the plain-object check can refuse it.
    refused('HEADERS', { headers: Object.assign(new (class Tags {})(), { a: '1' }) }, 'headers');
    ok('HEADERS', { headers: Object.assign(Object.create(null), { a: '1' }) });
    refused('HEADERS', { headers: { a: 1 } }, 'headers');
    refused('HEADERS', { headers: { a: { b: '1' } } }, 'headers');
    refused('HEADERS', { headers: { a: null } }, 'headers');
    refused('HEADERS', { headers: { '': '1' } }, 'headers');
    refused('HEADERS', { headers: { ['n'.repeat(129)]: 'v' } }, 'headers');
    refused(
      'HEADERS',
      { headers: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`h${i}`, 'v'])) },
      'headers',
    );
    refused('HEADERS', { headers: { 'X-A': '1', 'x-a': '2' } }, 'headers');
    refused('HEADERS', { headers: { a: '1' }, bindingKey: 'a' }, 'bindingKey');
  });
});

describe('createRoutingTable', () => {
  const topics = [
    topic('fan', 'FANOUT'),
    topic('direct', 'DIRECT'),
    topic('topic', 'TOPIC'),
    topic('headers', 'HEADERS'),
  ];
  const queues = [
    queue('fan-b', 'fan'),
    queue('fan-a', 'fan', { paused: true }),
    queue('d-z', 'direct', { bindingKey: 'k1' }),
    queue('d-a', 'direct', { bindingKey: 'k1' }),
    queue('d-m', 'direct', { bindingKey: 'k2' }),
    queue('t-all', 'topic', { bindingKey: '#' }),
    queue('t-star', 'topic', { bindingKey: 'a.*' }),
    queue('t-lit', 'topic', { bindingKey: 'a.b' }),
    queue('h-any', 'headers', { headers: { x: '1', y: '2' }, headerMatch: 'ANY' }),
    queue('h-all', 'headers', { headers: { x: '1', y: '2' } }),
    queue('orphan', 'missing', { bindingKey: 'k1' }),
  ];
  const table = createRoutingTable(topics, queues);

  it('routes FANOUT to every queue, paused ones included, ordered by name', () => {
    expect(names(table.route('fan', null, {}))).toEqual(['fan-a', 'fan-b']);
  });

  it('routes DIRECT by exact key', () => {
    expect(names(table.route('direct', 'k1', {}))).toEqual(['d-a', 'd-z']);
    expect(names(table.route('direct', 'k2', {}))).toEqual(['d-m']);
    expect(table.route('direct', 'k3', {})).toEqual([]);
    expect(table.route('direct', null, {})).toEqual([]);
  });

  it('routes TOPIC by pattern', () => {
    expect(names(table.route('topic', 'a.b', {}))).toEqual(['t-all', 't-lit', 't-star']);
    expect(names(table.route('topic', 'a.c', {}))).toEqual(['t-all', 't-star']);
    expect(names(table.route('topic', null, {}))).toEqual(['t-all']);
  });

  it('routes HEADERS by header match', () => {
    expect(names(table.route('headers', null, { X: '1', Y: '2' }))).toEqual(['h-all', 'h-any']);
    expect(names(table.route('headers', null, { x: '1' }))).toEqual(['h-any']);
    expect(table.route('headers', null, { x: '2' })).toEqual([]);
  });

  it('knows its topics and their queues, ignoring queues of unknown topics', () => {
    expect(table.topic('direct')?.kind).toBe('DIRECT');
    expect(table.topic('missing')).toBeUndefined();
    expect(names(table.queues('direct'))).toEqual(['d-a', 'd-m', 'd-z']);
    expect(table.queues('missing')).toEqual([]);
    expect(table.route('missing', 'k1', {})).toEqual([]);
  });

  it('hands out copies that cannot corrupt the table', () => {
    table.route('direct', 'k1', {}).pop();
    table.queues('fan').length = 0;
    expect(names(table.route('direct', 'k1', {}))).toEqual(['d-a', 'd-z']);
    expect(names(table.queues('fan'))).toEqual(['fan-a', 'fan-b']);
  });

  it('routes exactly the queues queueMatches accepts, sorted by name', () => {
    // Every kind and match the schema offers, from the generated enums: a new one is tested at once.
    const kind = fc.constantFrom(...Object.values(TopicKind));
    const pattern = patternWords.map((w) => w.join('.'));
    const headerSet = fc.dictionary(fc.constantFrom('a', 'A', 'b'), fc.constantFrom('1', '2'), {
      maxKeys: 3,
    });
    const binding = fc.record({
      bindingKey: fc.option(pattern, { nil: null }),
      headers: fc.option(headerSet, { nil: null }),
      headerMatch: fc.option(fc.constantFrom(...Object.values(HeaderMatch)), { nil: null }),
    });
    const queueSpecs = fc.uniqueArray(fc.record({ name: fc.string({ maxLength: 4 }), binding }), {
      selector: (q) => q.name,
      maxLength: 8,
    });
    const routingKey = fc.option(
      keyWords.map((w) => w.join('.')),
      { nil: null },
    );
    fc.assert(
      fc.property(kind, queueSpecs, routingKey, headerSet, (k, specs, key, headers) => {
        const qs = specs.map((s) => queue(s.name, 't', s.binding));
        const routed = createRoutingTable([topic('t', k)], qs).route('t', key, headers);
        const expected = qs
          .filter((q) => queueMatches(k, q, key, headers))
          .map((q) => q.name)
          .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        expect(names(routed)).toEqual(expected);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
