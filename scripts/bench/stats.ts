/** Median with the range it came from: what every repeated figure in the results reports. */
export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

/** Summarizes `values`; the median of an even count is the mean of the middle two. */
export function summarize(values: readonly number[]): Summary | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median =
    sorted.length % 2 === 1
      ? (sorted[middle] as number)
      : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
  return { median, min: sorted[0] as number, max: sorted[sorted.length - 1] as number, n: sorted.length };
}

/** `12` when every run agreed, else `12 (11–13)`. */
export function formatCount(summary: Summary | undefined): string {
  if (!summary) return '—';
  const median = Number.isInteger(summary.median) ? String(summary.median) : summary.median.toFixed(1);
  return summary.min === summary.max ? median : `${median} (${summary.min}–${summary.max})`;
}

/** Milliseconds as `412 ms (380–455)`, in seconds from ten seconds up. */
export function formatMs(summary: Summary | undefined): string {
  if (!summary) return '—';
  const unit = (ms: number) =>
    summary.median >= 10_000 ? (ms / 1000).toFixed(1) : Math.round(ms).toString();
  const suffix = summary.median >= 10_000 ? 's' : 'ms';
  const range = `${unit(summary.min)}–${unit(summary.max)}`;
  return summary.n === 1
    ? `${unit(summary.median)} ${suffix}`
    : `${unit(summary.median)} ${suffix} (${range})`;
}

/** `0.12×` style ratio of two medians, or — when either is missing. */
export function formatRatio(ours: Summary | undefined, theirs: Summary | undefined): string {
  if (!ours || !theirs || theirs.median === 0) return '—';
  return `${(ours.median / theirs.median).toFixed(2)}×`;
}
