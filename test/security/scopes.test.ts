import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SwitchyardError } from '../../queues/core/errors.js';
import { topicPatternMatches } from '../../queues/registry/router.js';
import {
  can,
  compileScopes,
  scopeError,
  TOPIC_ACTIONS,
  validateScopes,
} from '../../queues/security/scopes.js';

const word = fc.stringMatching(/^[a-z0-9_-]{1,6}$/);
const topicName = fc.array(word, { minLength: 1, maxLength: 5 }).map((words) => words.join('.'));
const patternWord = fc.oneof(word, fc.constant('*'), fc.constant('#'));
const pattern = fc.array(patternWord, { minLength: 1, maxLength: 5 }).map((words) => words.join('.'));
const action = fc.constantFrom(...TOPIC_ACTIONS);
const PROPERTY_RUNS = { numRuns: 500, interruptAfterTimeLimit: 5_000 };

describe('scope grammar', () => {
  it.each([
    'admin',
    'stats',
    'publish:orders',
    'publish:orders.*',
    'consume:orders.eu',
    'subscribe:#',
    'deadletters:read:*',
    'deadletters:write:orders.#',
    'publish:a-b_c.*.#',
  ])('should accept %s', (scope) => {
    expect(scopeError(scope)).toBeNull();
  });

  it.each([
    ['', /is empty/],
    ['Admin', /is not a scope/],
    ['publish', /is not a scope/],
    ['publish:', /no topic pattern/],
    ['publsh:orders', /is not a scope/],
    ['deadletters:orders', /is not a scope/],
    ['publish:orders*', /must stand alone/],
    ['publish:or#ders.x', /must stand alone/],
    ['publish:orders/eu', /characters other than/],
    ['publish:orders eu', /characters other than/],
    [`publish:${'a'.repeat(256)}`, /longer than 255/],
  ])('should refuse %j', (scope, message) => {
    expect(scopeError(scope)).toMatch(message);
  });

  it('should refuse a bad list with BAD_USER_INPUT naming the index and the scope', () => {
    let error: unknown;
    try {
      validateScopes(['publish:orders.*', 'publsh:x']);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(SwitchyardError);
    expect(error).toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'scopes', index: 1 } });
    expect((error as Error).message).toMatch(/^scopes\[1\] "publsh:x" is not a scope/);
  });

  it('should refuse an empty list and drop duplicates from a good one', () => {
    expect(() => validateScopes([])).toThrow(/at least one scope/);
    expect(validateScopes(['stats', 'stats', 'publish:a'])).toEqual(['stats', 'publish:a']);
  });

  it('should refuse more than 64 scopes', () => {
    const many = Array.from({ length: 65 }, (_, index) => `publish:t${index}`);
    expect(() => validateScopes(many)).toThrow(/at most 64 scopes/);
  });
});

describe('can', () => {
  it('should let a topic pattern through only its topics, by the AMQP rules', () => {
    const scopes = ['publish:orders.*'];
    expect(can(scopes, 'publish', 'orders.eu')).toBe(true);
    expect(can(scopes, 'publish', 'orders')).toBe(false);
    expect(can(scopes, 'publish', 'orders.eu.returns')).toBe(false);
    expect(can(scopes, 'publish', 'invoices.eu')).toBe(false);
    expect(can(scopes, 'consume', 'orders.eu')).toBe(false);
    expect(can(['publish:orders.#'], 'publish', 'orders')).toBe(true);
    expect(can(['publish:orders.#'], 'publish', 'orders.eu.returns')).toBe(true);
  });

  it('should keep deadletters:read and deadletters:write apart', () => {
    expect(can(['deadletters:read:#'], 'deadletters:read', 'x')).toBe(true);
    expect(can(['deadletters:read:#'], 'deadletters:write', 'x')).toBe(false);
    expect(can(['deadletters:write:x'], 'deadletters:write', 'x')).toBe(true);
  });

  it('should grant a cross-topic action only to a pattern that matches every topic', () => {
    expect(can(['subscribe:#'], 'subscribe')).toBe(true);
    expect(can(['subscribe:#.#'], 'subscribe')).toBe(true);
    expect(can(['subscribe:*'], 'subscribe')).toBe(false);
    expect(can(['subscribe:orders.#'], 'subscribe')).toBe(false);
  });

  it('should grant stats and admin only to those scopes, and everything to admin', () => {
    expect(can(['stats'], 'stats')).toBe(true);
    expect(can(['publish:#'], 'stats')).toBe(false);
    expect(can(['publish:#', 'stats'], 'admin')).toBe(false);
    expect(can(['admin'], 'admin')).toBe(true);
    expect(can(['admin'], 'deadletters:write', 'anything')).toBe(true);
    expect(can(['admin'], 'subscribe')).toBe(true);
  });

  it('should grant nothing for strings that are not scopes', () => {
    expect(can(['publish:orders*'], 'publish', 'orders')).toBe(false);
    expect(can(['ADMIN'], 'admin')).toBe(false);
  });

  it('should filter a topic listing with topics()', () => {
    const allowed = compileScopes(['consume:orders.*', 'consume:audit']).topics('consume');
    expect(['orders.eu', 'orders', 'audit', 'billing'].filter(allowed)).toEqual(['orders.eu', 'audit']);
  });

  it('should match exactly as TOPIC routing does (property)', () => {
    fc.assert(
      fc.property(action, pattern, topicName, (act, p, topic) => {
        expect(can([`${act}:${p}`], act, topic)).toBe(topicPatternMatches(p, topic));
      }),
      PROPERTY_RUNS,
    );
  });

  it('should never grant another action than the scope names (property)', () => {
    fc.assert(
      fc.property(action, action, pattern, topicName, (granted, asked, p, topic) => {
        fc.pre(granted !== asked);
        expect(can([`${granted}:${p}`], asked, topic)).toBe(false);
        expect(can([`${granted}:${p}`], 'admin')).toBe(false);
        expect(can([`${granted}:${p}`], 'stats')).toBe(false);
      }),
      PROPERTY_RUNS,
    );
  });

  it('should grant with a list exactly when some scope of it grants (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(action, pattern), { maxLength: 5 }),
        action,
        topicName,
        (list, asked, topic) => {
          const scopes = list.map(([act, p]) => `${act}:${p}`);
          expect(can(scopes, asked, topic)).toBe(scopes.some((scope) => can([scope], asked, topic)));
        },
      ),
      PROPERTY_RUNS,
    );
  });

  it('should accept every generated scope as valid (property)', () => {
    fc.assert(
      fc.property(action, pattern, (act, p) => {
        expect(scopeError(`${act}:${p}`)).toBeNull();
      }),
      PROPERTY_RUNS,
    );
  });
});
