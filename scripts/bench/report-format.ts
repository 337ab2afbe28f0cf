import type { Summary } from './stats.js';

/** A summary of no runs, for a figure a run did not record (a role it never sent). */
export const zero: Summary = { median: 0, min: 0, max: 0, n: 0 };

/** A Markdown table: the header, its rule, one line per row. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** `lines` as a Markdown list, one item each. */
export function list(lines: readonly string[]): string[] {
  return lines.map((line) => `- ${line}`);
}

/** `313.6 KB`. */
export const kb = (bytes: number) => `${(bytes / 1000).toFixed(1)} KB`;

/** `412 MB`. */
export const mb = (bytes: number) => `${Math.round(bytes / 1024 ** 2)} MB`;

/** `256 KiB` or `4 KB` as AWS names its quotas. */
export function kib(bytes: number): string {
  return bytes >= 64 * 1024 ? `${bytes / 1024} KiB` : `${bytes / 1024} KB`;
}

/** `12,345 bytes (4.7% of 256 KiB)`. */
export function ofQuota(bytes: number, quota: number): string {
  return `${bytes.toLocaleString('en-US')} bytes (${((bytes / quota) * 100).toFixed(1)}% of ${kib(quota)})`;
}

/** Dollars to three significant digits, never in exponent notation: `$0.000000220`. */
export const usd = (value: number) =>
  value === 0 ? '$0' : `$${value.toFixed(Math.min(12, Math.max(2, 2 - Math.floor(Math.log10(value)))))}`;

/** `count` per certificate: whole numbers as they are, others to two decimals. */
export function per(count: number, certificates: number): string {
  const value = count / certificates;
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}

/** `s` unless `count` is 1. */
export const plural = (count: number) => (count === 1 ? '' : 's');

/** A single measurement shown as `formatMs` shows a summary of one run. */
export const once = (ms: number): Summary => ({ median: ms, min: ms, max: ms, n: 1 });

/** A number with its sign, for differences: `+3`, `-2`, `0`. */
export const signed = (value: number) => (value > 0 ? `+${value}` : String(value));

/** One bullet per variant with failed runs, giving the first failure; nothing when all succeeded. */
export function failedRuns(
  variants: readonly { readonly label: string; readonly failures: readonly string[] }[],
): string[] {
  const failed = variants.filter((variant) => variant.failures.length > 0);
  if (failed.length === 0) return [];
  return [
    ...failed.map(
      (variant) => `- **${variant.label} failed ${variant.failures.length} runs:** ${variant.failures[0]}`,
    ),
    '',
  ];
}
