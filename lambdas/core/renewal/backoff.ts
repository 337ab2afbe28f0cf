const HOUR_MS = 60 * 60 * 1000;
const MAX_BACKOFF_MS = 24 * HOUR_MS;

/**
 * When a failed certificate may be tried again: doubling from one hour, capped at a day, so a
 * broken renewal is retried on later runs and never in a tight loop against the CA. For a short
 * lifetime the cap is a 24th of it (6 h 40 min for Let's Encrypt's 160-hour certificates), so the
 * third of the lifetime left at the renewal time still holds about ten attempts; a 45-day or
 * longer certificate keeps the one-day cap.
 */
export function nextAttemptAfterFailure(consecutiveFailures: number, now: Date, lifetimeMs?: number): Date {
  const cap =
    lifetimeMs !== undefined && Number.isFinite(lifetimeMs) && lifetimeMs > 0
      ? Math.min(Math.max(lifetimeMs / 24, HOUR_MS), MAX_BACKOFF_MS)
      : MAX_BACKOFF_MS;
  const delay = Math.min(2 ** Math.max(0, consecutiveFailures - 1) * HOUR_MS, cap);
  return new Date(now.getTime() + delay);
}

/** The lifetime of the current certificate, when it is known: the backoff's measure. */
export function certificateLifetimeMs(
  issued: { readonly notBefore?: string; readonly notAfter: string } | undefined,
): number | undefined {
  if (!issued?.notBefore) return undefined;
  const lifetime = Date.parse(issued.notAfter) - Date.parse(issued.notBefore);
  return Number.isFinite(lifetime) && lifetime > 0 ? lifetime : undefined;
}
