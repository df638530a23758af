/**
 * Latency percentiles over millions of samples from several processes: each keeps a histogram of
 * logarithmic buckets 1 % wide and sends it, not its samples, over IPC. A percentile is then the
 * upper edge of its bucket, at most 1 % above the sample it stands for.
 */

/** The smallest latency told apart: everything at or below it falls in bucket 0. */
const BASE_MS = 0.01;
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);

export interface Histogram {
  /** Samples per bucket index (as a string key, so the histogram is plain JSON). */
  buckets: Record<string, number>;
  count: number;
  maxMs: number;
}

export const emptyHistogram = (): Histogram => ({ buckets: {}, count: 0, maxMs: 0 });

const bucketOf = (ms: number) => (ms <= BASE_MS ? 0 : Math.ceil(Math.log(ms / BASE_MS) / LOG_GROWTH));
const upperEdge = (bucket: number) => BASE_MS * GROWTH ** bucket;

/** Adds one sample; a negative one (clocks read a millisecond apart) counts as zero. */
export function record(histogram: Histogram, ms: number): void {
  const bucket = String(bucketOf(Math.max(0, ms)));
  histogram.buckets[bucket] = (histogram.buckets[bucket] ?? 0) + 1;
  histogram.count++;
  if (ms > histogram.maxMs) histogram.maxMs = ms;
}

/** Adds every sample of `from` to `into`. */
export function mergeInto(into: Histogram, from: Histogram): void {
  for (const [bucket, count] of Object.entries(from.buckets)) {
    into.buckets[bucket] = (into.buckets[bucket] ?? 0) + count;
  }
  into.count += from.count;
  into.maxMs = Math.max(into.maxMs, from.maxMs);
}

/** The p-th percentile (0-100) in ms, NaN without samples; never above the largest sample. */
export function percentileOf(histogram: Histogram, p: number): number {
  if (histogram.count === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * histogram.count));
  const ordered = Object.entries(histogram.buckets)
    .map(([bucket, count]) => [Number(bucket), count] as const)
    .sort((a, b) => a[0] - b[0]);
  let seen = 0;
  for (const [bucket, count] of ordered) {
    seen += count;
    if (seen >= rank) return Math.min(upperEdge(bucket), histogram.maxMs);
  }
  return histogram.maxMs;
}

export interface Latencies {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  samples: number;
}

export function latencies(histogram: Histogram): Latencies {
  return {
    p50: percentileOf(histogram, 50),
    p95: percentileOf(histogram, 95),
    p99: percentileOf(histogram, 99),
    max: histogram.count > 0 ? histogram.maxMs : Number.NaN,
    samples: histogram.count,
  };
}
