import type { AcmeAwsError } from '../errors.js';
import { AcmeConnectionError, AcmeServerError, type RateLimitedError } from '../errors.js';
import type { CertificateAuthorityEntry, CertificateConfig } from '../ports.js';
import type { IssuanceState } from '../state.js';
import type { WorkflowConfig } from './workflow-config.js';

/**
 * CA fallback: a certificate (or the deployment) lists CAs most preferred first. Every run starts
 * with the first, so a CA that is back serves the next renewal. Within a run, the next CA is taken
 * when the current one cannot serve it for reasons that are not the certificate's fault, before
 * any order exists at the next one:
 *
 * - RegisterAccount moves on at once when the CA's directory or account endpoints are unreachable
 *   or answer 5xx (`AcmeConnectionError`, `AcmeServerError`);
 * - CreateOrder's failures reach the state machine, which retries the transient ones, then hands
 *   the run to RegisterAccount at the next CA when the error is one of
 *   {@link CA_FALLBACK_ERROR_NAMES}: still unreachable, `rateLimited` until after the renewal
 *   window (`CaUnavailableError`), or refused by this CA's CAA records.
 *
 * A failure after the order was placed (validation, finalization) is not a reason to switch: the
 * run fails as before, and the next planned run starts from the first CA again.
 */

/** The errors CreateOrder raises that send the run to the next CA, for the state machine's Catch. */
export const CA_FALLBACK_ERROR_NAMES = [
  'CaUnavailableError',
  'CaaForbidsIssuanceError',
  'AcmeServerError',
  'AcmeConnectionError',
] as const;

/**
 * How close to expiry a renewal may wait for a CA's rate limit to lift: as long as the renewed
 * certificate would still be in place this long before the old one expires.
 */
const RENEWAL_MARGIN_MS = 14 * 24 * 60 * 60 * 1000;

/**
 * The CAs a certificate tries, most preferred first: its own list, else the `directoryUrl` it names
 * alone, else the deployment's list, else the deployment's CA.
 */
export function certificateAuthoritiesFor(
  config: Pick<CertificateConfig, 'certificateAuthorities' | 'directoryUrl'>,
  deployment: Pick<WorkflowConfig, 'certificateAuthorities' | 'defaultDirectoryUrl'>,
): readonly CertificateAuthorityEntry[] {
  if (config.certificateAuthorities && config.certificateAuthorities.length > 0)
    return config.certificateAuthorities;
  if (config.directoryUrl) return [{ directoryUrl: config.directoryUrl }];
  if (deployment.certificateAuthorities && deployment.certificateAuthorities.length > 0) {
    return deployment.certificateAuthorities;
  }
  return [{ directoryUrl: deployment.defaultDirectoryUrl }];
}

/** Whether RegisterAccount should leave this CA for the next: it could not be reached, or failed. */
export function caUnreachable(error: unknown): error is AcmeAwsError {
  return error instanceof AcmeConnectionError || error instanceof AcmeServerError;
}

/**
 * Whether a `rateLimited` answer to newOrder is worth leaving the CA for: it lifts (by
 * `Retry-After`, or at an unknown time) after the renewal would still leave a margin before the
 * current certificate expires. A first issuance has no certificate to keep serving, so any wait is.
 */
export function rateLimitOutlastsWindow(
  error: RateLimitedError,
  now: Date,
  issued: { readonly notAfter: string } | undefined,
): boolean {
  if (error.retryAfterSeconds === undefined || !issued) return true;
  const liftsAt = now.getTime() + error.retryAfterSeconds * 1000;
  return liftsAt > new Date(issued.notAfter).getTime() - RENEWAL_MARGIN_MS;
}

/**
 * What the state carries so the state machine can hand the run to the next CA: this CA's position,
 * the list's length, and the input RegisterAccount takes to start at the next one (merged over the
 * execution's input by the state machine). Absent for a single CA.
 */
export function caFallbackState(
  index: number,
  count: number,
  execution: IssuanceState['execution'],
): IssuanceState['caFallback'] {
  if (count < 2) return undefined;
  return {
    index,
    count,
    ...(index + 1 < count ? { next: { caIndex: index + 1, ...(execution ? { execution } : {}) } } : {}),
  };
}
