import { RetryLaterError } from '../errors.js';
import type { IssuanceState } from '../state.js';

/**
 * How long an issuance may pause for the CA. Every pause is a Wait state of the issuance state
 * machine, whose executions time out after {@link ISSUANCE_TIMEOUT_SECONDS}; a run that sleeps
 * past it never reaches Cleanup, leaving its TXT records, its lock and an `issuing` record behind.
 * So a pause the CA asks for (`Retry-After`) is bounded twice:
 *
 * - each pause lasts at most {@link MAX_WAIT_SECONDS};
 * - every pause must end {@link RESERVED_SECONDS} before the execution times out, which leaves the
 *   steps after the last pause (WaitForCertificate, ImportToAcm into each region, Cleanup, with
 *   the state machine's retries of each) their time. Together with the DNS loop's own budget this
 *   bounds the sum of all pauses and polls of a run.
 *
 * A CA that asks for more is not refused: the run ends there with `RetryLaterError`, naming the
 * time the CA gave, and the next attempt is scheduled no earlier (the registry's `nextAttemptAt`).
 */

/** The issuance state machine's timeout (2 hours), which `lib/acme-certificates.ts` sets from this. */
export const ISSUANCE_TIMEOUT_SECONDS = 2 * 60 * 60;
/** The longest one pause for the CA may last: 5 minutes. */
export const MAX_WAIT_SECONDS = 5 * 60;
/**
 * Kept for what follows the last pause: 30 minutes, the worst case of WaitForCertificate,
 * ImportToAcm and Cleanup each failing transiently until their last retry at a 60-second
 * function timeout, and more.
 */
export const RESERVED_SECONDS = 30 * 60;
/** The shortest pause: a `Retry-After` of 0, or a date already past, still spaces the polls. */
export const MIN_WAIT_SECONDS = 1;

/**
 * The seconds to pause before asking the CA about `what` again, from the CA's `Retry-After`
 * (`requested`) or, without one, the configured interval (`fallback`). Throws `RetryLaterError`
 * when the pause would last longer than {@link MAX_WAIT_SECONDS}, or end later than the run's
 * budget allows (measured from the execution's start, when the state knows it).
 */
export function pauseForCa(
  what: string,
  requested: number | undefined,
  fallback: number,
  state: Pick<IssuanceState, 'execution'>,
  now: Date,
): number {
  const asked = requested ?? fallback;
  const seconds = Math.max(MIN_WAIT_SECONDS, Number.isFinite(asked) ? Math.ceil(asked) : MIN_WAIT_SECONDS);
  const until = new Date(now.getTime() + seconds * 1000);
  const source =
    requested === undefined ? 'The next poll' : `The CA asked (Retry-After) to wait ${seconds} s`;
  if (seconds > MAX_WAIT_SECONDS) {
    throw new RetryLaterError(
      `${source} before asking about ${what} again, longer than the ${MAX_WAIT_SECONDS} s one pause of an issuance may last. The run ends here, cleaned up, and the next attempt waits for the CA`,
      until,
    );
  }
  const startedAt = state.execution?.startedAt ? Date.parse(state.execution.startedAt) : Number.NaN;
  if (Number.isFinite(startedAt)) {
    const deadline = new Date(startedAt + (ISSUANCE_TIMEOUT_SECONDS - RESERVED_SECONDS) * 1000);
    if (until > deadline) {
      throw new RetryLaterError(
        `${source} before asking about ${what} again, past ${deadline.toISOString()}, the last moment this run may still pause (${(ISSUANCE_TIMEOUT_SECONDS - RESERVED_SECONDS) / 60} minutes after it started, leaving ${RESERVED_SECONDS / 60} minutes of its ${ISSUANCE_TIMEOUT_SECONDS / 3600}-hour timeout for the steps that follow). The run ends here, cleaned up, and the next attempt waits for the CA`,
        until,
      );
    }
  }
  return seconds;
}
