/**
 * What `RateLimitedError` and `RetryLaterError` messages say about when to come back (see the ACME
 * client and `RetryLaterError`).
 */
const RETRY_AFTER = /retry after (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z)/;

/**
 * The errors whose message names the instant the CA said to come back: a rate limit, and a
 * `Retry-After` longer than the run could wait.
 */
const COME_BACK_ERRORS: ReadonlySet<string> = new Set(['RateLimitedError', 'RetryLaterError']);

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
  return errorName === 'RateLimitedError' ? retryAfterIn(cause) : undefined;
}

/**
 * When the CA said to come back, for an error that says so: a `RateLimitedError` (when the limit
 * lifts) or a `RetryLaterError` (a `Retry-After` this run could not wait out). The next attempt
 * is scheduled no earlier. `undefined` for any other error or when no time is given; never throws.
 */
export function comeBackAt(errorName: string, cause: string | undefined): Date | undefined {
  return COME_BACK_ERRORS.has(errorName) ? retryAfterIn(cause) : undefined;
}

function retryAfterIn(cause: string | undefined): Date | undefined {
  if (cause === undefined) return undefined;
  const match = RETRY_AFTER.exec(cause);
  if (!match?.[1]) return undefined;
  const at = new Date(match[1]);
  return Number.isNaN(at.getTime()) ? undefined : at;
}
