/** What `RateLimitedError` messages say about when the limit lifts (see the ACME client). */
const RETRY_AFTER = /retry after (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z)/;

/**
 * When the CA's rate limit lifts, read back from a failed execution's error: its name (the Fail
 * state's `Error`) and its cause (the `Cause`, which is either the error message or, from Lambda,
 * a JSON document holding it). The ACME client writes `retry after <ISO 8601>` into every
 * `RateLimitedError` whose response had a `Retry-After`, so the next attempt can be scheduled no
 * earlier than that instant instead of hammering the CA.
 *
 * Returns `undefined` for any other error, and for a rate limit whose lift time the CA did not
 * say (then the usual failure backoff applies). Never throws.
 */
export function rateLimitLiftsAt(errorName: string, cause: string | undefined): Date | undefined {
  if (errorName !== 'RateLimitedError' || cause === undefined) return undefined;
  const match = RETRY_AFTER.exec(cause);
  if (!match?.[1]) return undefined;
  const at = new Date(match[1]);
  return Number.isNaN(at.getTime()) ? undefined : at;
}
