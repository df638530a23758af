/**
 * Sliding-window rates and latency percentiles, pure and in memory. Time is cut into buckets
 * (1 s by default); the window is the last `windowMs` of them. Latencies go into a log-scale
 * histogram whose buckets are 2 % wide, so a percentile is exact to within 1 % and histograms from
 * several instances merge by adding counts.
 */

export type StatsCounter = 'published' | 'delivered' | 'failed';

/** Counts and latency histogram of some span of time, as instances exchange them. */
export interface StatsSummary {
  published: number;
  delivered: number;
  failed: number;
  /** [histogram bucket, count] pairs, see {@link latencyBucket}. */
  latency: Array<[number, number]>;
}

export interface StatsFigures {
  publishedPerSecond: number;
  deliveredPerSecond: number;
  failedPerSecond: number;
  /** Publish to delivered, over the window; 0 when nothing was delivered in it. */
  latencyP50Ms: number;
  latencyP95Ms: number;
  latencyP99Ms: number;
  /** The span the figures cover: the window, or less right after start. */
  windowMs: number;
}

export interface StatsWindowOptions {
  /**
   * How far back the figures look.
   * @default 10000
   */
  windowMs?: number;
  /**
   * Granularity of the window; it slides by this much.
   * @default 1000
   */
  bucketMs?: number;
  /**
   * The clock, for tests.
   * @default Date.now
   */
  now?: () => number;
}

const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);

/** Histogram bucket of a latency: 0 for under a microsecond, then buckets 2 % wide. */
export function latencyBucket(ms: number): number {
  const micros = ms * 1000;
  return micros < 1 ? 0 : 1 + Math.floor(Math.log(micros) / LOG_GROWTH);
}

/** The middle (geometric) of a histogram bucket, in ms. */
export function bucketValue(bucket: number): number {
  if (bucket <= 0) return 0;
  return GROWTH ** (bucket - 0.5) / 1000;
}

/** Nearest-rank percentile of a histogram given as bucket -> count. */
export function histogramPercentile(histogram: ReadonlyMap<number, number>, p: number): number {
  let total = 0;
  for (const count of histogram.values()) total += count;
  if (total === 0) return 0;
  const rank = Math.max(1, Math.ceil((p / 100) * total));
  let seen = 0;
  for (const bucket of [...histogram.keys()].sort((a, b) => a - b)) {
    seen += histogram.get(bucket) ?? 0;
    if (seen >= rank) return bucketValue(bucket);
  }
  return 0;
}

interface Bucket {
  /** Which bucket of time this is (time / bucketMs); -1 when unused. */
  slot: number;
  published: number;
  delivered: number;
  failed: number;
  latency: Map<number, number>;
}

const emptyBucket = (slot: number): Bucket => ({
  slot,
  published: 0,
  delivered: 0,
  failed: 0,
  latency: new Map(),
});

function add(target: Bucket, summary: StatsSummary): void {
  target.published += summary.published;
  target.delivered += summary.delivered;
  target.failed += summary.failed;
  for (const [bucket, count] of summary.latency) {
    target.latency.set(bucket, (target.latency.get(bucket) ?? 0) + count);
  }
}

export function createStatsWindow(options: StatsWindowOptions = {}) {
  const windowMs = options.windowMs ?? 10_000;
  const bucketMs = options.bucketMs ?? 1_000;
  const now = options.now ?? Date.now;
  const size = Math.max(1, Math.ceil(windowMs / bucketMs));
  const ring: Bucket[] = Array.from({ length: size }, () => emptyBucket(-1));
  const startedAt = now();
  /** This instance's own counts since the last `drainOwn()`, for the other instances. */
  let own = emptyBucket(0);

  function current(at: number): Bucket {
    const slot = Math.floor(at / bucketMs);
    const index = slot % size;
    let bucket = ring[index] as Bucket;
    if (bucket.slot !== slot) {
      bucket = emptyBucket(slot);
      ring[index] = bucket;
    }
    return bucket;
  }

  return {
    /** Counts one event of this instance; `latencyMs` goes with `delivered`. */
    record(counter: StatsCounter, latencyMs?: number): void {
      const bucket = current(now());
      bucket[counter]++;
      own[counter]++;
      if (latencyMs !== undefined && Number.isFinite(latencyMs)) {
        const index = latencyBucket(Math.max(0, latencyMs));
        bucket.latency.set(index, (bucket.latency.get(index) ?? 0) + 1);
        own.latency.set(index, (own.latency.get(index) ?? 0) + 1);
      }
    },
    /** Adds another instance's summary to the bucket of now (its arrival), not of its sender's clock. */
    merge(summary: StatsSummary): void {
      add(current(now()), summary);
    },
    /** This instance's counts since the last call, or null when there were none. */
    drainOwn(): StatsSummary | null {
      const taken = own;
      own = emptyBucket(0);
      if (taken.published === 0 && taken.delivered === 0 && taken.failed === 0) return null;
      return {
        published: taken.published,
        delivered: taken.delivered,
        failed: taken.failed,
        latency: [...taken.latency],
      };
    },
    figures(): StatsFigures {
      const at = now();
      const slot = Math.floor(at / bucketMs);
      const total = emptyBucket(slot);
      for (const bucket of ring) {
        if (bucket.slot > slot - size && bucket.slot <= slot) {
          add(total, { ...bucket, latency: [...bucket.latency] });
        }
      }
      // From the start of the oldest bucket in the window, but never from before this instance started.
      const coveredMs = Math.max(1, Math.min(at - (slot - size + 1) * bucketMs, at - startedAt));
      const perSecond = (count: number) => (count * 1000) / coveredMs;
      return {
        publishedPerSecond: perSecond(total.published),
        deliveredPerSecond: perSecond(total.delivered),
        failedPerSecond: perSecond(total.failed),
        latencyP50Ms: histogramPercentile(total.latency, 50),
        latencyP95Ms: histogramPercentile(total.latency, 95),
        latencyP99Ms: histogramPercentile(total.latency, 99),
        windowMs: coveredMs,
      };
    },
  };
}

export type StatsWindow = ReturnType<typeof createStatsWindow>;
