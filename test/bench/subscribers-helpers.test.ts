/**
 * The two helpers the subscribers bench's figures stand on: the latency histogram (percentiles from
 * several processes' buckets) and the open-files limit it raises for itself. Not timed.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { openFileLimits, raiseOpenFiles } from '../../bench/fd-limit.js';
import { emptyHistogram, latencies, mergeInto, percentileOf, record } from '../../bench/latency-histogram.js';

describe('latency histogram', () => {
  it('answers percentiles within 1 % of the exact ones, never above the largest sample', () => {
    const histogram = emptyHistogram();
    const samples = Array.from({ length: 10_000 }, (_, n) => 0.5 + ((n * 37) % 5000));
    for (const ms of samples) record(histogram, ms);
    const sorted = [...samples].sort((a, b) => a - b);
    for (const p of [50, 95, 99]) {
      const exact = sorted[Math.ceil((p / 100) * sorted.length) - 1] as number;
      const answer = percentileOf(histogram, p);
      expect(answer).toBeGreaterThanOrEqual(exact);
      expect(answer).toBeLessThanOrEqual(exact * 1.01);
    }
    expect(percentileOf(histogram, 100)).toBe(Math.max(...samples));
  });

  it('merges histograms of several processes into what one would have held', () => {
    const whole = emptyHistogram();
    const parts = [emptyHistogram(), emptyHistogram(), emptyHistogram()];
    for (let n = 0; n < 3000; n++) {
      const ms = (n % 97) * 3.3;
      record(whole, ms);
      record(parts[n % 3] ?? emptyHistogram(), ms);
    }
    const merged = emptyHistogram();
    for (const part of parts) mergeInto(merged, part);
    expect(merged).toEqual(whole);
    expect(latencies(merged)).toEqual(latencies(whole));
  });

  it('counts a negative sample as zero and answers NaN without samples', () => {
    expect(latencies(emptyHistogram()).p99).toBeNaN();
    const histogram = emptyHistogram();
    record(histogram, -2);
    expect(histogram.count).toBe(1);
    expect(percentileOf(histogram, 50)).toBe(0);
  });
});

describe('open-files limit', () => {
  it('leaves a high enough limit alone', () => {
    const { soft } = openFileLimits();
    expect(raiseOpenFiles(Math.min(soft, 64), 'a test')).toMatchObject({
      how: 'unchanged',
      raisedFrom: null,
    });
  });

  it('refuses, naming the hard limit, when the hard limit is too low', () => {
    const { hard } = openFileLimits();
    expect(Number.isFinite(hard)).toBe(true);
    expect(() => raiseOpenFiles(hard + 1, '2 subscribers')).toThrow(
      new RegExp(`2 subscribers needs ${hard + 1} open files .* hard limit is ${hard}`),
    );
  });

  it('raises a low soft limit up to the hard one, in the process itself', () => {
    // Node raises its soft limit to the hard one as it starts; lower it as a stricter runtime would leave it.
    const lowered = spawnSync('prlimit', [`--pid=${process.pid}`, '--nofile=512:']);
    expect(lowered.status).toBe(0);
    expect(openFileLimits().soft).toBe(512);
    const { hard } = openFileLimits();
    const raised = raiseOpenFiles(Math.min(hard, 1024), 'a test');
    expect(raised).toMatchObject({ how: 'prlimit', raisedFrom: 512, soft: hard, hard });
    expect(openFileLimits().soft).toBe(hard);
  });
});
