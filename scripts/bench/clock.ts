/**
 * Moves this process's clock forward, as if time had passed: `Date` is replaced by one that runs
 * `offset` milliseconds ahead of the real clock and keeps running. The local Lambda environments
 * take their clock from this process's `Date` at every invocation, so they move with it.
 * `performance.now()`, which every timing of the bench uses, is left alone.
 */
export interface ShiftedClock {
  /** Moves the clock `ms` further ahead. */
  advance(ms: number): void;
  /** Puts the real `Date` back. */
  restore(): void;
}

export function shiftableClock(): ShiftedClock {
  const RealDate = Date;
  let offset = 0;
  // A function rather than a subclass: `Date()` called without `new` still answers a string, and
  // sharing the real prototype keeps `instanceof Date` true for dates made before the shift.
  function ShiftedDate(this: unknown, ...args: unknown[]): Date | string {
    const now = new RealDate(RealDate.now() + offset);
    if (!new.target) return now.toString();
    return args.length === 0 ? now : new RealDate(...(args as [number]));
  }
  ShiftedDate.prototype = RealDate.prototype;
  ShiftedDate.now = () => RealDate.now() + offset;
  ShiftedDate.parse = RealDate.parse;
  ShiftedDate.UTC = RealDate.UTC;
  return {
    advance(ms) {
      offset += ms;
      globalThis.Date = ShiftedDate as unknown as DateConstructor;
    },
    restore() {
      globalThis.Date = RealDate;
    },
  };
}
