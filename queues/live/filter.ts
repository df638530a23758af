import type { HeaderMatch, Headers, MessageRecord, TopicRecord } from '../core/index.js';
import { badInput } from '../core/index.js';
import { compileTopicPattern, headersMatch, matchCompiled, validateBinding } from '../registry/index.js';

/** What a `messages` subscription may filter on; absent fields match everything. */
export interface LiveMessageFilter {
  /** DIRECT topics: the routing key, exactly. Any other kind: an AMQP pattern (`*`, `#`) on the routing key. */
  bindingKey?: string | null;
  /** Header values the message must carry; names compare case-insensitively, values exactly. */
  headers?: unknown;
  /** ALL (default) or ANY of `headers`. */
  headerMatch?: HeaderMatch | null;
}

/**
 * Compiles a live-tail filter with the routing rules of queues (queues/registry/router.ts), so a tail with
 * the binding of a queue sees exactly what that queue receives. Throws BAD_USER_INPUT for a filter
 * that no queue binding could have.
 */
export function compileLiveFilter(
  topic: TopicRecord,
  filter: LiveMessageFilter,
): (message: MessageRecord) => boolean {
  const bindingKey = filter.bindingKey ?? null;
  const headerMatch = filter.headerMatch ?? 'ALL';
  let matchKey: (routingKey: string | null) => boolean = () => true;
  if (bindingKey !== null) {
    // A DIRECT key is literal; everywhere else the key is checked as a TOPIC pattern.
    const problem = validateBinding(topic.kind === 'DIRECT' ? 'DIRECT' : 'TOPIC', { bindingKey });
    if (problem) throw badInput(problem, { field: 'bindingKey' });
    if (topic.kind === 'DIRECT') matchKey = (routingKey) => routingKey === bindingKey;
    else {
      const pattern = compileTopicPattern(bindingKey);
      matchKey = (routingKey) => matchCompiled(pattern, (routingKey ?? '').split('.'));
    }
  }
  let matchHeaders: (headers: Headers) => boolean = () => true;
  if (filter.headers !== null && filter.headers !== undefined) {
    const problem = validateBinding('HEADERS', { headers: filter.headers, headerMatch });
    if (problem) throw badInput(problem, { field: 'headers' });
    const wanted = filter.headers as Headers;
    matchHeaders = (headers) => headersMatch(wanted, headerMatch, headers);
  }
  return (message) => matchKey(message.routingKey) && matchHeaders(message.headers);
}
