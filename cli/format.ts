/** Text formatting for human output: durations, dates, tables, error causes. No I/O. */

const DAY_MS = 24 * 60 * 60 * 1000;

/** `m:ss` under an hour, `h:mm:ss` from then on; negative spans count as zero. */
export function clockDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
}

/** `2025-03-01 12:00 UTC`: minutes are as precise as an operator needs. */
export function utcMinute(value: Date | string | null | undefined): string {
  if (value === undefined || value === null) return '-';
  const date = typeof value === 'string' ? new Date(value) : value;
  if (Number.isNaN(date.getTime())) return String(value);
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** Whole days from `now` until `until`, rounded down; negative once it has passed. */
export function daysUntil(until: string | Date, now: Date): number {
  return Math.floor((new Date(until).getTime() - now.getTime()) / DAY_MS);
}

/**
 * The readable part of a Step Functions cause. A Lambda's error reaches the Fail state as the
 * JSON `{"errorType","errorMessage","trace"}`; its `errorMessage` carries the ACME problem.
 */
export function readableCause(cause: string | undefined): string | undefined {
  if (cause === undefined || cause === '') return undefined;
  try {
    const parsed: unknown = JSON.parse(cause);
    if (typeof parsed === 'object' && parsed !== null) {
      const message = (parsed as { errorMessage?: unknown }).errorMessage;
      if (typeof message === 'string' && message !== '') return message;
    }
  } catch {
    // Not JSON: the cause is already text.
  }
  return cause;
}

/** Cuts `text` to `max` characters on one line, marking the cut with `…`. */
export function oneLine(text: string, max = 160): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}
