import { describe, expect, it } from 'vitest';
import {
  bucketValue,
  createStatsWindow,
  histogramPercentile,
  latencyBucket,
} from '../../queues/live/stats-window.js';

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('latency histogram', () => {
  it('should answer every percentile to within 1 % of the exact value', () => {
    const latencies = Array.from({ length: 10_000 }, (_, n) => 0.5 + ((n * 7919) % 5000) / 10);
    const histogram = new Map<number, number>();
    for (const ms of latencies) histogram.set(latencyBucket(ms), (histogram.get(latencyBucket(ms)) ?? 0) + 1);
    const sorted = [...latencies].sort((a, b) => a - b);
    for (const p of [50, 90, 95, 99, 99.9]) {
      const exact = sorted[Math.ceil((p / 100) * sorted.length) - 1] ?? Number.NaN;
      expect(Math.abs(histogramPercentile(histogram, p) - exact) / exact).toBeLessThan(0.01);
    }
  });

  it('should put sub-microsecond latencies in bucket 0 and answer 0 for an empty histogram', () => {
    expect(latencyBucket(0)).toBe(0);
    expect(bucketValue(0)).toBe(0);
    expect(histogramPercentile(new Map(), 99)).toBe(0);
  });
});

describe('createStatsWindow', () => {
  it('should answer rates over the time covered since start, then over the window', () => {
    const time = clock();
    const window = createStatsWindow({ windowMs: 10_000, bucketMs: 1000, now: time.now });
    time.advance(2000);
    for (let n = 0; n < 20; n++) window.record('published');
    // 2 s since start: 20 in 2 s.
    expect(window.figures().publishedPerSecond).toBeCloseTo(10, 5);

    time.advance(20_000);
    for (let n = 0; n < 50; n++) window.record('delivered', 12);
    const figures = window.figures();
    // The 20 publishes left the window; the 50 deliveries count over the window's span.
    expect(figures.publishedPerSecond).toBe(0);
    expect(figures.deliveredPerSecond).toBeCloseTo((50 * 1000) / figures.windowMs, 5);
    expect(figures.windowMs).toBeGreaterThanOrEqual(9000);
    expect(figures.windowMs).toBeLessThanOrEqual(10_000);
    expect(figures.latencyP50Ms).toBeCloseTo(12, 0);
  });

  it('should add summaries from other instances and hand out only its own counts', () => {
    const time = clock();
    const window = createStatsWindow({ now: time.now });
    time.advance(10_000);
    window.record('published');
    window.record('delivered', 5);
    window.merge({ published: 9, delivered: 3, failed: 2, latency: [[latencyBucket(100), 3]] });

    const own = window.drainOwn();
    expect(own).toEqual({ published: 1, delivered: 1, failed: 0, latency: [[latencyBucket(5), 1]] });
    expect(window.drainOwn()).toBeNull();
    const figures = window.figures();
    expect(figures.publishedPerSecond * (figures.windowMs / 1000)).toBeCloseTo(10, 5);
    expect(figures.failedPerSecond * (figures.windowMs / 1000)).toBeCloseTo(2, 5);
    // Four deliveries: one at 5 ms, three at 100 ms.
    expect(figures.latencyP50Ms).toBeCloseTo(100, -1);
  });
});
