/**
 * When a failed certificate may be tried again: doubling from one hour, capped at a day, so a
 * broken renewal is retried on later runs and never in a tight loop against the CA.
 */
export function nextAttemptAfterFailure(consecutiveFailures: number, now: Date): Date {
  const hours = Math.min(2 ** Math.max(0, consecutiveFailures - 1), 24);
  return new Date(now.getTime() + hours * 60 * 60 * 1000);
}
