/**
 * API key scopes: what a key may do, and on which topics. Pure functions only, so the auth layer,
 * the schema and the tests share one definition of "allowed".
 *
 * Grammar (one scope per string):
 *
 *   scope   = "admin" | "stats" | action ":" pattern
 *   action  = "publish" | "consume" | "subscribe" | "deadletters:read" | "deadletters:write"
 *   pattern = a topic pattern, matched against topic NAMES with the AMQP rules of TOPIC routing
 *             (queues/registry/router.ts): words split on ".", "*" is exactly one word, "#" is zero or more.
 *
 * `admin` grants everything (topology, keys, every action on every topic). `stats` reads the counters.
 * `publish:orders.*` lets a key publish to `orders.eu` and `orders.us` but not to `orders` or
 * `orders.eu.returns`; `publish:orders.#` covers all three; `publish:#` covers every topic.
 * An action asked for without a topic (a query across all topics) needs a pattern that matches every
 * topic name, i.e. `#`.
 */
import { badInput, LIMITS } from '../core/index.js';
import { type CompiledPattern, compileTopicPattern, matchCompiled } from '../registry/index.js';

/** The actions that take a topic pattern, longest first so `deadletters:read` is not read as a prefix. */
export const TOPIC_ACTIONS = [
  'deadletters:write',
  'deadletters:read',
  'subscribe',
  'consume',
  'publish',
] as const;
export type TopicAction = (typeof TOPIC_ACTIONS)[number];

/** Everything `can` answers for. */
export type ScopeAction = TopicAction | 'admin' | 'stats';

/** The most scopes one key may hold, and the longest scope string. */
export const MAX_SCOPES = 64;
export const MAX_SCOPE_LENGTH = 300;

const PATTERN_CHARS = /^[A-Za-z0-9._*#-]+$/;

export type ParsedScope =
  | { kind: 'admin' }
  | { kind: 'stats' }
  | { kind: 'topic'; action: TopicAction; pattern: CompiledPattern };

/** Why a string is not a scope, or null when it is one. Never throws. */
export function scopeError(scope: string): string | null {
  if (scope.length === 0) return 'is empty';
  if (scope.length > MAX_SCOPE_LENGTH) return `is longer than ${MAX_SCOPE_LENGTH} characters`;
  if (scope === 'admin' || scope === 'stats') return null;
  const action = TOPIC_ACTIONS.find((candidate) => scope.startsWith(`${candidate}:`));
  if (!action) {
    return (
      'is not a scope: expected admin, stats, or one of ' +
      `${[...TOPIC_ACTIONS].reverse().join(', ')} followed by :<topic pattern>`
    );
  }
  const pattern = scope.slice(action.length + 1);
  if (pattern.length === 0) return `has no topic pattern after ${action}: (use # for every topic)`;
  if (pattern.length > LIMITS.routingKeyLength) {
    return `has a topic pattern longer than ${LIMITS.routingKeyLength} characters`;
  }
  if (!PATTERN_CHARS.test(pattern)) {
    return 'has a topic pattern with characters other than A-Z a-z 0-9 . _ - * #';
  }
  const bad = pattern.split('.').find((word) => word !== '*' && word !== '#' && /[*#]/.test(word));
  if (bad !== undefined) return `has the pattern word '${bad}': '*' and '#' must stand alone as a whole word`;
  return null;
}

/** The scope as data, or null when the string is not a scope. */
export function parseScope(scope: string): ParsedScope | null {
  if (scopeError(scope) !== null) return null;
  if (scope === 'admin') return { kind: 'admin' };
  if (scope === 'stats') return { kind: 'stats' };
  const action = TOPIC_ACTIONS.find((candidate) => scope.startsWith(`${candidate}:`)) as TopicAction;
  return { kind: 'topic', action, pattern: compileTopicPattern(scope.slice(action.length + 1)) };
}

/**
 * Checks a key's scopes as a client gave them; throws BAD_USER_INPUT naming the first bad one.
 * Answers them without duplicates, in the order given.
 */
export function validateScopes(scopes: readonly string[]): string[] {
  if (scopes.length === 0) throw badInput('scopes must name at least one scope', { field: 'scopes' });
  const unique = [...new Set(scopes)];
  if (unique.length > MAX_SCOPES) {
    throw badInput(`scopes may hold at most ${MAX_SCOPES} scopes, got ${unique.length}`, { field: 'scopes' });
  }
  scopes.forEach((scope, index) => {
    const error = scopeError(scope);
    // Quoted with JSON.stringify so control characters cannot forge a second line in a log.
    if (error)
      throw badInput(`scopes[${index}] ${JSON.stringify(scope)} ${error}`, { field: 'scopes', index });
  });
  return unique;
}

/** A set of scopes parsed once, to answer many questions during one request. */
export interface ScopeSet {
  readonly admin: boolean;
  /** Whether the action is allowed on `topic`, or on every topic when `topic` is omitted. */
  can(action: ScopeAction, topic?: string): boolean;
  /** A predicate over topic names for the action: what to filter a cross-topic listing with. */
  topics(action: TopicAction): (topic: string) => boolean;
}

/** A pattern that matches every topic name: `#` (with adjacent `#`s already collapsed). */
const matchesEverything = (pattern: CompiledPattern) =>
  pattern.words.length === 1 && pattern.words[0] === '#';

/** Parses scopes once. Strings that are not scopes grant nothing (they cannot be stored, but fail closed). */
export function compileScopes(scopes: readonly string[]): ScopeSet {
  const parsed = scopes.map(parseScope).filter((scope): scope is ParsedScope => scope !== null);
  const admin = parsed.some((scope) => scope.kind === 'admin');
  const stats = parsed.some((scope) => scope.kind === 'stats');
  const patterns = (action: TopicAction): CompiledPattern[] =>
    parsed.flatMap((scope) => (scope.kind === 'topic' && scope.action === action ? [scope.pattern] : []));
  const byAction = new Map(TOPIC_ACTIONS.map((action) => [action, patterns(action)] as const));

  const topics = (action: TopicAction) => {
    if (admin) return () => true;
    const own = byAction.get(action) ?? [];
    return (topic: string) => {
      const words = topic.split('.');
      return own.some((pattern) => matchCompiled(pattern, words));
    };
  };
  return {
    admin,
    can(action, topic) {
      if (admin) return true;
      if (action === 'admin') return false;
      if (action === 'stats') return stats;
      if (topic === undefined) return (byAction.get(action) ?? []).some(matchesEverything);
      return topics(action)(topic);
    },
    topics,
  };
}

/** One-off form of {@link compileScopes}: may a key with `scopes` do `action` (on `topic`)? */
export function can(scopes: readonly string[], action: ScopeAction, topic?: string): boolean {
  return compileScopes(scopes).can(action, topic);
}
