/**
 * /metrics must lint clean under Prometheus' own rules (`promtool check metrics`, which runs
 * client_golang's promlint over a scrape). promtool is not on this machine, so this file parses the
 * text exposition and applies those rules itself, and shows on known-bad input that it would object.
 */
import { collectDefaultMetrics, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { TestReceiveIdsDocument } from '../generated/graphql.js';
import { startReceiver } from '../helpers/receiver.js';
import { waitFor } from '../helpers/redis.js';
import { dataCaller, useLiveGateways } from '../live/helpers.js';

const { pool, redis, receivers } = useLiveGateways();

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Family {
  name: string;
  help?: string;
  type?: string;
  samples: Sample[];
}

interface Problem {
  metric: string;
  text: string;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SAMPLE = /^([^\s{]+)(?:\{(.*)\})?\s+(\S+)(?:\s+(-?\d+))?$/;
const LABEL = /\s*([^=\s]+)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)/y;
/** Go's ParseFloat, which Prometheus' parser uses, takes NaN and Inf in any case (prom-client writes "Nan"). */
const VALUE = /^(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|[+-]?inf(?:inity)?|nan)$/i;

/** The sample names a family of `type` may hold: a histogram's `_bucket`, `_sum` and `_count`, and so on. */
function sampleNames(family: Family): string[] {
  if (family.type === 'histogram') return ['_bucket', '_sum', '_count'].map((suffix) => family.name + suffix);
  if (family.type === 'summary') return [family.name, `${family.name}_sum`, `${family.name}_count`];
  return [family.name];
}

/**
 * Parses Prometheus' text exposition format (0.0.4) into metric families. Anything the format does
 * not allow (a malformed line, a value that is no number, a sample of no declared family, a family
 * declared twice) is a problem, as it is to Prometheus.
 */
function parseExposition(text: string): { families: Family[]; problems: Problem[] } {
  const families = new Map<string, Family>();
  const problems: Problem[] = [];
  const family = (name: string) => {
    let found = families.get(name);
    if (!found) {
      found = { name, samples: [] };
      families.set(name, found);
    }
    return found;
  };
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const meta = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
    if (meta) {
      const [, keyword, name = '', rest = ''] = meta;
      const declared = family(name);
      if (keyword === 'HELP') {
        if (declared.help !== undefined) problems.push({ metric: name, text: 'second HELP line' });
        declared.help = rest;
      } else {
        if (declared.type !== undefined) problems.push({ metric: name, text: 'second TYPE line' });
        if (!TYPES.has(rest)) problems.push({ metric: name, text: `unknown type "${rest}"` });
        declared.type = rest;
      }
      continue;
    }
    if (line.startsWith('#')) continue;
    const match = SAMPLE.exec(line);
    if (!match) {
      problems.push({ metric: line, text: 'not a sample line' });
      continue;
    }
    const [, name = '', labelText = '', value = ''] = match;
    const labels: Record<string, string> = {};
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < labelText.length) {
      const label = LABEL.exec(labelText);
      if (!label) {
        problems.push({ metric: name, text: `malformed labels {${labelText}}` });
        break;
      }
      labels[label[1] ?? ''] = label[2] ?? '';
    }
    if (!VALUE.test(value)) problems.push({ metric: name, text: `value "${value}" is not a number` });
    const owner = [...families.values()].find((candidate) => sampleNames(candidate).includes(name));
    if (!owner) problems.push({ metric: name, text: 'sample of no family declared before it' });
    else owner.samples.push({ name, labels, value: Number(value) });
  }
  return { families: [...families.values()], problems };
}

/** Units promlint knows, by the base unit it wants instead. */
const NON_BASE_UNITS: Record<string, string> = {
  minutes: 'seconds',
  hours: 'seconds',
  days: 'seconds',
  weeks: 'seconds',
  milliseconds: 'seconds',
  microseconds: 'seconds',
  nanoseconds: 'seconds',
  bits: 'bytes',
  kilobytes: 'bytes',
  megabytes: 'bytes',
  gigabytes: 'bytes',
};
const UNIT_ABBREVIATIONS = ['s', 'ms', 'us', 'ns', 'sec', 'b', 'kb', 'mb', 'gb', 'tb', 'pb', 'm', 'h', 'd'];
const CAMEL_CASE = /[a-z][A-Z]/;

/** True when `word` is one of the name's `_`-separated words, the way promlint looks for them. */
function hasWord(name: string, word: string): boolean {
  return name.toLowerCase().split('_').includes(word);
}

/**
 * promtool's rules for one family (client_golang promlint: help, counter suffix, reserved names,
 * type in name, colons, camelCase, units), plus the exposition's own: a TYPE, a valid name.
 */
function lintFamily(family: Family): Problem[] {
  const problems: string[] = [];
  const { name, type } = family;
  if (!METRIC_NAME.test(name)) problems.push(`name does not match ${METRIC_NAME}`);
  if (family.help === undefined || family.help.trim() === '') problems.push('no help text');
  if (type === undefined) problems.push('no TYPE line');
  if (type === 'counter' && !name.endsWith('_total'))
    problems.push('counter metrics should have "_total" suffix');
  if (type !== undefined && type !== 'counter' && type !== 'untyped' && name.endsWith('_total'))
    problems.push('non-counter metrics should not have "_total" suffix');
  if (type !== 'histogram' && type !== 'summary') {
    for (const suffix of ['_count', '_sum', '_bucket'])
      if (name.endsWith(suffix))
        problems.push(`non-histogram and non-summary metrics should not have "${suffix}" suffix`);
  }
  const labelNames = new Set(family.samples.flatMap((sample) => Object.keys(sample.labels)));
  if (type !== 'histogram' && labelNames.has('le'))
    problems.push('non-histogram metrics should not have "le" label');
  if (type !== 'summary' && labelNames.has('quantile'))
    problems.push('non-summary metrics should not have "quantile" label');
  for (const label of labelNames) {
    if (!LABEL_NAME.test(label) || label.startsWith('__'))
      problems.push(`label name "${label}" is not allowed`);
    if (CAMEL_CASE.test(label))
      problems.push("label names should be written in 'snake_case' not 'camelCase'");
  }
  for (const typeName of ['counter', 'gauge', 'histogram', 'summary'])
    if (hasWord(name, typeName)) problems.push(`metric name should not include type '${typeName}'`);
  if (name.includes(':')) problems.push("metric names should not contain ':'");
  if (CAMEL_CASE.test(name)) problems.push("metric names should be written in 'snake_case' not 'camelCase'");
  for (const [unit, base] of Object.entries(NON_BASE_UNITS))
    if (hasWord(name, unit)) problems.push(`use base unit "${base}" instead of "${unit}"`);
  if (UNIT_ABBREVIATIONS.some((abbreviation) => hasWord(name, abbreviation)))
    problems.push('metric names should not contain abbreviated units');
  return problems.map((text) => ({ metric: name, text }));
}

/** Every problem promtool would report in a scrape, and the families it holds. */
function lintExposition(text: string): { families: Family[]; problems: Problem[] } {
  const { families, problems } = parseExposition(text);
  return { families, problems: [...problems, ...families.flatMap(lintFamily)] };
}

const family = (name: string, type: string, help = 'Some help.') =>
  `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} 1\n`;

describe('the metrics linter of this file', () => {
  it.each([
    [
      'a gauge named like a counter',
      family('foo_total', 'gauge'),
      'non-counter metrics should not have "_total" suffix',
    ],
    [
      'a counter without _total',
      family('foo_requests', 'counter'),
      'counter metrics should have "_total" suffix',
    ],
    ['a family without HELP', '# TYPE foo gauge\nfoo 1\n', 'no help text'],
    ['a family with empty HELP', '# HELP foo \n# TYPE foo gauge\nfoo 1\n', 'no help text'],
    ['a family without TYPE', '# HELP foo Foo.\nfoo 1\n', 'no TYPE line'],
    ['a sample without a family', 'foo 1\n', 'sample of no family declared before it'],
    ['a name outside the grammar', family('1foo', 'gauge'), 'name does not match'],
    ['a value that is no number', '# HELP foo Foo.\n# TYPE foo gauge\nfoo one\n', 'is not a number'],
    ['a gauge named like a histogram part', family('foo_count', 'gauge'), 'should not have "_count" suffix'],
    ['a camelCase name', family('fooBar', 'gauge'), "'snake_case' not 'camelCase'"],
    ['a name in milliseconds', family('foo_latency_milliseconds', 'gauge'), 'use base unit "seconds"'],
    ['an abbreviated unit', family('foo_latency_ms', 'gauge'), 'abbreviated units'],
  ])('should flag %s', (_case, text, problem) => {
    const { problems } = lintExposition(text);
    expect(problems.map((found) => found.text).join('\n')).toContain(problem);
  });

  it('should pass well-named families of every type', () => {
    const text = [
      family('foo_requests_total', 'counter'),
      family('foo_queue_messages', 'gauge'),
      '# HELP foo_latency_seconds Latency.\n# TYPE foo_latency_seconds histogram',
      'foo_latency_seconds_bucket{le="0.1"} 1\nfoo_latency_seconds_bucket{le="+Inf"} 2',
      'foo_latency_seconds_sum 0.3\nfoo_latency_seconds_count 2',
      '# HELP foo_size_bytes Size.\n# TYPE foo_size_bytes summary',
      'foo_size_bytes{quantile="0.5",topic="a \\"quoted\\" name"} 10\nfoo_size_bytes_sum 30\nfoo_size_bytes_count 3',
    ].join('\n');
    const { families, problems } = lintExposition(text);
    expect(problems).toEqual([]);
    expect(families.map((found) => [found.name, found.samples.length])).toEqual([
      ['foo_requests_total', 1],
      ['foo_queue_messages', 1],
      ['foo_latency_seconds', 4],
      ['foo_size_bytes', 3],
    ]);
    expect(families[3]?.samples[0]?.labels).toEqual({ quantile: '0.5', topic: 'a \\"quoted\\" name' });
  });

  it("should flag the three gauges of prom-client's own defaults that the gateway drops", async () => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const { problems } = lintExposition(await registry.metrics());
    registry.clear();
    expect(problems.sort((a, b) => a.metric.localeCompare(b.metric))).toEqual(
      ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'].map(
        (metric) => ({ metric, text: 'non-counter metrics should not have "_total" suffix' }),
      ),
    );
  });
});

describe('/metrics of a real gateway', () => {
  it('should lint clean: every family has HELP and TYPE, counters and only counters end in _total', async () => {
    const receiver = await startReceiver();
    receivers.push(receiver);
    const { url } = await pool.start(redis.url);
    const gql = dataCaller(url, null);
    // Enough traffic that every switchyard_* family has samples: a webhook queue (circuit), a
    // consumer queue (lag), publishes, a delivery (latency histogram) and a dead letter (failures).
    await gql('mutation { createTopic(input: { name: "orders", kind: FANOUT }) { name } }');
    await gql(
      'mutation($url: String!) { createQueue(input: { topic: "orders", name: "hook", target: WEBHOOK, url: $url }) { name } }',
      { url: `${receiver.url}/hook` },
    );
    await gql(
      'mutation { createQueue(input: { topic: "orders", name: "pull", target: CONSUMER, retry: { maxAttempts: 1 } }) { name } }',
    );
    for (let n = 0; n < 2; n += 1)
      await gql(
        'mutation($n: Int!) { publish(input: { topic: "orders", payload: { n: $n } }) { messageId } }',
        { n },
      );
    const { receive } = await gql(TestReceiveIdsDocument, { topic: 'orders', queue: 'pull', max: 1 });
    await gql('mutation($id: ID!) { nack(deliveryId: $id, reason: REJECTED, error: "no") }', {
      id: receive[0]?.id,
    });

    const scrape = () => fetch(`${url.replace(/\/graphql$/, '')}/metrics`);
    let text = '';
    await waitFor(
      async () => {
        text = await (await scrape()).text();
        return text.includes('switchyard_delivery_latency_seconds_count{topic="orders",queue="hook"} 2');
      },
      { message: 'both webhook deliveries to be counted' },
    );

    const { families, problems } = lintExposition(text);
    expect(problems).toEqual([]);
    const types = Object.fromEntries(families.map((found) => [found.name, found.type]));
    expect(types).toMatchObject({
      switchyard_messages_published_total: 'counter',
      switchyard_delivery_attempts_total: 'counter',
      switchyard_delivery_failures_total: 'counter',
      switchyard_delivery_latency_seconds: 'histogram',
      switchyard_queue_messages: 'gauge',
      switchyard_queue_oldest_waiting_age_seconds: 'gauge',
      switchyard_circuit_state: 'gauge',
      switchyard_redis_up: 'gauge',
      process_cpu_seconds_total: 'counter',
      // The per-type gauges stay; their sums, misnamed *_total by prom-client, are gone.
      nodejs_active_handles: 'gauge',
    });
    for (const dropped of [
      'nodejs_active_handles_total',
      'nodejs_active_requests_total',
      'nodejs_active_resources_total',
    ])
      expect(types).not.toHaveProperty(dropped);
    // A scrape with no samples would lint clean too: make sure the queue gauges were read.
    const queueMessages = families.find((found) => found.name === 'switchyard_queue_messages');
    expect(queueMessages?.samples.length).toBeGreaterThanOrEqual(8);
  });
});
