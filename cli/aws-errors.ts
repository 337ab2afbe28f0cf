import { AwsCallError } from './errors.js';

/** What an SDK error (or one of the project's wrappers around it) looks like at runtime. */
interface ErrorShape {
  readonly name?: unknown;
  readonly message?: unknown;
  readonly cause?: unknown;
}

const ACCESS_DENIED = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'UnauthorizedOperation',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
]);
const EXPIRED = new Set(['ExpiredToken', 'ExpiredTokenException', 'RequestExpired', 'TokenRefreshRequired']);

/** The innermost error with a name: the SDK's, under the project's `AwsRequestError` wrappers. */
function rootError(error: unknown): ErrorShape {
  let current: unknown = error;
  for (let depth = 0; depth < 5; depth += 1) {
    const cause = (current as ErrorShape | undefined)?.cause;
    if (typeof cause !== 'object' || cause === null) break;
    current = cause;
  }
  return typeof current === 'object' && current !== null ? (current as ErrorShape) : {};
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/**
 * Turns whatever an AWS call threw into an `AwsCallError` whose message names the call, what AWS
 * said, and what the operator can do about it. `action` is the IAM action, e.g.
 * `states:StartExecution`. Errors that are already `AwsCallError`s pass through.
 */
export function explainAwsError(error: unknown, action: string, subject: string): AwsCallError {
  if (error instanceof AwsCallError) return error;
  const root = rootError(error);
  const name = text(root.name) || 'Error';
  const message = text(root.message) || text((error as ErrorShape | undefined)?.message);
  const said = `${action} on ${subject} failed: ${name}${message ? `: ${message}` : ''}`;
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    return new AwsCallError(
      `No AWS credentials found for ${action}. Set AWS_PROFILE (after \`aws sso login\` if you use SSO) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.`,
      { cause: error },
    );
  }
  if (/Region is missing/i.test(message)) {
    return new AwsCallError(
      'No AWS region is configured: pass --region REGION (the stack’s region) or set AWS_REGION.',
      { cause: error },
    );
  }
  if (ACCESS_DENIED.has(name)) {
    return new AwsCallError(
      `${said}. Use credentials whose role may call ${action} on ${subject} (check AWS_PROFILE).`,
      { cause: error },
    );
  }
  if (EXPIRED.has(name)) {
    return new AwsCallError(`${said}. Your AWS session has expired: log in again and retry.`, {
      cause: error,
    });
  }
  return new AwsCallError(said, { cause: error });
}

/** Runs one AWS call, turning its failure into an `AwsCallError` (exit code 3). */
export async function awsCall<T>(action: string, subject: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw explainAwsError(error, action, subject);
  }
}
