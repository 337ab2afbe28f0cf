import { AcmeAwsError, AwsRequestError, AwsTransientError } from '../core/errors.js';

/**
 * Turns whatever an AWS SDK call threw into one of the two errors the state machine knows:
 * `AwsTransientError` (its Retry backs off and tries again) or `AwsRequestError` (it fails the
 * issuance). The original error is always kept as `cause`; nothing is swallowed.
 */

/** Error names that mean "slow down or try again" on the services we call, modeled or not. */
const TRANSIENT_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'SlowDown',
  'KMSInternalException',
  'RequestInProgressException',
  'InternalFailure',
  'InternalError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  // DynamoDB's "slow down" errors carry no `$retryable` once the SDK's own retries give up.
  'ProvisionedThroughputExceededException',
  'TransactionConflictException',
  // Parameter Store: its 5xx, and concurrent updates of one parameter.
  'InternalServerError',
  'TooManyUpdates',
]);

/** What an SDK v3 error looks like at runtime; every field is optional because anything can be thrown. */
interface SdkErrorShape {
  readonly name?: unknown;
  readonly message?: unknown;
  readonly $retryable?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: unknown };
}

/** True when retrying the same call later may succeed (throttling, 5xx, timeouts). */
export function isTransientAwsError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const shape = error as SdkErrorShape;
  if (typeof shape.name === 'string' && TRANSIENT_NAMES.has(shape.name)) return true;
  if (shape.$retryable) return true;
  const status = shape.$metadata?.httpStatusCode;
  return typeof status === 'number' && status >= 500;
}

/**
 * The project error for a failed AWS call. `operation` names the service call and what it was
 * about (e.g. `KMS Sign on key 1234abcd-...`), so the message alone says where to look. Errors
 * that are already project errors are returned unchanged.
 */
export function wrapAwsError(error: unknown, operation: string): AcmeAwsError {
  if (error instanceof AcmeAwsError) return error;
  const shape = (typeof error === 'object' && error !== null ? error : {}) as SdkErrorShape;
  const name = typeof shape.name === 'string' ? shape.name : 'UnknownError';
  const detail = typeof shape.message === 'string' && shape.message ? `: ${shape.message}` : '';
  const message = `${operation} failed with ${name}${detail}`;
  return isTransientAwsError(error)
    ? new AwsTransientError(message, { cause: error })
    : new AwsRequestError(message, { cause: error });
}
