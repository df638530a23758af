/** Median, min and max of one figure over the measured rounds. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  /** Every round's value, in the order they ran. */
  values: number[];
}

export function summarize(values: number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    median: percentile(sorted, 50),
    min: sorted[0] ?? Number.NaN,
    max: sorted[sorted.length - 1] ?? Number.NaN,
    values,
  };
}

/** Percentile of an ascending array, linear interpolation between the closest ranks. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  const a = sorted[low] as number;
  const b = sorted[high] as number;
  return a + (b - a) * (rank - low);
}

/** Per second, from a count and a duration in ms. */
export const perSecond = (count: number, ms: number) => (ms > 0 ? (count * 1000) / ms : 0);
