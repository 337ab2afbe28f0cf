import { AwsTransientError } from '../errors.js';

/**
 * Runs `attempt`, and again after each `AwsTransientError` (throttling, a 5xx, a lost answer),
 * pausing `pausesMs[i]` before the next try; the last error surfaces. For work that must not be
 * left to the state machine's retry of the whole step, because that retry would cost more than
 * the call (an order placed twice, say, or a cleanup nobody else will run).
 */
export async function retryTransient<T>(
  attempt: () => Promise<T>,
  pausesMs: readonly number[],
  onRetry?: (error: AwsTransientError, pauseMs: number) => void,
): Promise<T> {
  for (const pauseMs of pausesMs) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof AwsTransientError)) throw error;
      onRetry?.(error, pauseMs);
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }
  return attempt();
}
