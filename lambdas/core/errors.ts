import { txtZoneFileLine } from './dns/zone-file.js';

/**
 * Typed errors. Every error carries a stable `name` that the state machine's Retry and Catch
 * match, and a literal `code` that narrows in a `switch`.
 */

const ACME_ERROR_PREFIX = 'urn:ietf:params:acme:error:';

/** One entry of an RFC 8555 §6.7.1 `subproblems` list. */
export interface AcmeSubproblem {
  readonly type: string;
  readonly detail?: string;
  readonly identifier?: { readonly type: string; readonly value: string };
}

/** The fields of an RFC 7807 problem document as ACME servers send them. */
export interface AcmeProblem {
  readonly type: string;
  readonly detail?: string;
  readonly status?: number;
  readonly subproblems?: readonly AcmeSubproblem[];
}

/** Base class of everything this project throws on purpose. */
export abstract class AcmeAwsError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An ACME problem document (RFC 8555 §6.7). The problem *is* the error. */
export class AcmeProblemError extends AcmeAwsError {
  readonly code: string = 'ACME_PROBLEM';
  readonly type: string;
  readonly detail: string | undefined;
  readonly status: number | undefined;
  readonly subproblems: readonly AcmeSubproblem[];
  constructor(problem: AcmeProblem, options?: { cause?: unknown; url?: string }) {
    super(describeProblem(problem), options);
    this.type = problem.type;
    this.detail = problem.detail;
    this.status = problem.status;
    this.subproblems = problem.subproblems ?? [];
  }
  /** The short ACME error type without its URN prefix, e.g. `badNonce`. */
  get shortType(): string {
    return this.type.startsWith(ACME_ERROR_PREFIX) ? this.type.slice(ACME_ERROR_PREFIX.length) : this.type;
  }
}

export class BadNonceError extends AcmeProblemError {
  override readonly code = 'BAD_NONCE';
}
export class RateLimitedError extends AcmeProblemError {
  override readonly code = 'RATE_LIMITED';
  /** Seconds until the CA says the limit lifts, from `Retry-After`, when it says so. */
  retryAfterSeconds: number | undefined;
}
export class AccountDoesNotExistError extends AcmeProblemError {
  override readonly code = 'ACCOUNT_DOES_NOT_EXIST';
}
export class UnauthorizedError extends AcmeProblemError {
  override readonly code = 'UNAUTHORIZED';
}
export class RejectedIdentifierError extends AcmeProblemError {
  override readonly code = 'REJECTED_IDENTIFIER';
}
export class MalformedError extends AcmeProblemError {
  override readonly code = 'MALFORMED';
}
export class OrderNotReadyError extends AcmeProblemError {
  override readonly code = 'ORDER_NOT_READY';
}
/** RFC 9773 §5: the certificate named in `replaces` was already replaced; order without it. */
export class AlreadyReplacedError extends AcmeProblemError {
  override readonly code = 'ALREADY_REPLACED';
}
/** RFC 8555 §7.6: the certificate was revoked before; for a caller that wants it revoked, done. */
export class AlreadyRevokedError extends AcmeProblemError {
  override readonly code = 'ALREADY_REVOKED';
}
export class ExternalAccountRequiredError extends AcmeProblemError {
  override readonly code = 'EXTERNAL_ACCOUNT_REQUIRED';
}
/**
 * A key rollover (RFC 8555 §7.3.5) was refused because the new key already belongs to an account:
 * a key identifies exactly one account, so it cannot be handed to another, and retrying cannot
 * help. The old key still holds the account. The CA says so with 409 Conflict, naming the holder
 * in `Location`, or (Pebble 2.4) with a 5xx that the client explains by asking which account the
 * new key holds; either way the problem fields are the CA's own. `existingAccountUrl` is the
 * holder, when the CA named it.
 */
export class AccountKeyInUseError extends AcmeProblemError {
  override readonly code = 'ACCOUNT_KEY_IN_USE';
  readonly existingAccountUrl?: string;
  constructor(problem: AcmeProblem, options?: { cause?: unknown; existingAccountUrl?: string }) {
    super(problem, options);
    const existingAccountUrl = options?.existingAccountUrl;
    this.existingAccountUrl = existingAccountUrl;
    const holder = existingAccountUrl ? `the account ${existingAccountUrl}` : 'another account';
    this.message =
      `The new account key already belongs to ${holder}, so the CA refused to move this account to it ` +
      `(${describeProblem(problem)}). The account keeps its current key. Roll over to a freshly ` +
      `generated key that no account uses${existingAccountUrl ? `, or use ${existingAccountUrl} with that key instead` : ''}.`;
  }
}
/** The CA failed (HTTP 5xx or `serverInternal`): worth retrying with backoff. */
export class AcmeServerError extends AcmeProblemError {
  override readonly code = 'ACME_SERVER';
}
/** The order became `invalid`; `problems` names each failed identifier with the CA's detail. */
export class OrderInvalidError extends AcmeProblemError {
  override readonly code = 'ORDER_INVALID';
}

/** The CA could not be reached, timed out, or sent something that is not ACME. Transient. */
export class AcmeConnectionError extends AcmeAwsError {
  readonly code = 'ACME_CONNECTION';
}
/** The CA answered in a way RFC 8555 does not allow (bad content type, missing header, ...). */
export class AcmeProtocolError extends AcmeAwsError {
  readonly code = 'ACME_PROTOCOL';
}
/**
 * The CA handed out a URL (an order's finalize, authorization or certificate URL, a challenge, a
 * `Location` or `Link`, an account or renewalInfo URL) on another origin (scheme, host, port) than
 * its own. Following it would send our signed requests to a host the operator never chose, so
 * nothing is sent there; the message names the URL and the CA's origins. Never retried.
 */
export class CrossOriginUrlError extends AcmeAwsError {
  readonly code = 'CROSS_ORIGIN_URL';
  /** The URL refused (shortened to `MAX_URL_LENGTH` when longer). */
  readonly url: string;
  /** The origins the CA serves from: its directory's, and those of its newNonce, newAccount and newOrder. */
  readonly allowedOrigins: readonly string[];
  constructor(
    message: string,
    refused: { readonly url: string; readonly allowedOrigins: readonly string[] },
  ) {
    super(message);
    this.url = refused.url;
    this.allowedOrigins = refused.allowedOrigins;
  }
}
/**
 * The CA handed out a URL longer than `MAX_URL_LENGTH`: refused rather than shortened, since a
 * shortened URL is another URL. Nothing is sent to it. Never retried.
 */
export class UrlTooLongError extends AcmeAwsError {
  readonly code = 'URL_TOO_LONG';
}
/** Bad input from the user: names what is wrong and what to do. Never retried. */
export class InvalidInputError extends AcmeAwsError {
  readonly code = 'INVALID_INPUT';
}
/**
 * A `_acme-challenge` CNAME points at a name that the deployment's IAM policy does not let the
 * workflow write: outside `_acme-challenge.*`, in a hosted zone of this account that is not one of
 * the `validationZoneIds`. Route 53 would deny the TXT record at PublishChallenges, after the CA
 * order exists, so CreateOrder refuses it first. The message names the CNAME, its target, the
 * target's zone and the fix. Never retried.
 */
export class CnameTargetNotWritableError extends AcmeAwsError {
  readonly code = 'CNAME_TARGET_NOT_WRITABLE';
  /** The `_acme-challenge` name that is a CNAME. */
  readonly source: string;
  /** Where the CNAME chain ends, and the TXT record would be written. */
  readonly target: string;
  /** The hosted zone that holds `target`. */
  readonly zoneId: string;
  constructor(delegation: {
    readonly source: string;
    readonly target: string;
    readonly zoneId: string;
    readonly zoneName: string;
    /** The validation zones already configured, kept in the suggested `-c` value. */
    readonly validationZoneIds: readonly string[];
  }) {
    const { source, target, zoneId, zoneName, validationZoneIds } = delegation;
    const zones = [...validationZoneIds.filter((id) => id !== zoneId), zoneId].join(',');
    super(
      `${source} is a CNAME to ${target}, in hosted zone ${zoneId} (${zoneName}), which is not a validation ` +
        `zone: there the IAM policy allows TXT records named _acme-challenge.* only, so Route 53 would deny ` +
        `writing ${target}. To fix it, add ${zoneId} to validationZoneIds (-c validationZoneIds=${zones}) and ` +
        'deploy, or point the CNAME at a name that starts with _acme-challenge.',
    );
    this.source = source;
    this.target = target;
    this.zoneId = zoneId;
  }
}
/**
 * A challenge record would go in a hosted zone of this account that the deployment's IAM policy
 * does not let the workflow write (not in `hostedZones` / `hostedZoneIds`, nor a validation zone).
 * Raised before any order, so nothing is left to clean up.
 */
export class ZoneNotWritableError extends AcmeAwsError {
  readonly code = 'ZONE_NOT_WRITABLE';
  /** The TXT record that would be written. */
  readonly recordName: string;
  /** The hosted zone chosen for it. */
  readonly zoneId: string;
  constructor(placement: {
    readonly identifier: string;
    readonly recordName: string;
    readonly zoneId: string;
    readonly zoneName: string;
    /** The zones the deployment may write. */
    readonly writableZoneIds: readonly string[];
  }) {
    const { identifier, recordName, zoneId, zoneName, writableZoneIds } = placement;
    super(
      `${identifier}: its challenge record ${recordName} goes in hosted zone ${zoneId} (${zoneName}), which this ` +
        `stack may not write: its hostedZones/hostedZoneIds allow ${writableZoneIds.join(', ')} only. Add the ` +
        `zone to hostedZones (-c hostedZones=...,${zoneId}=${zoneName}) and deploy, or map the name to an allowed ` +
        `zone with the certificate's hostedZoneIds.`,
    );
    this.recordName = recordName;
    this.zoneId = zoneId;
  }
}
/** One name whose CAA records forbid the CA to issue, as {@link CaaForbidsIssuanceError} reports it. */
export interface CaaRefusal {
  /** The name ordered, `*.` included for a wildcard. */
  readonly identifier: string;
  /** Where the relevant CAA record set was found: the name itself or the closest ancestor with one. */
  readonly caaName: string;
  /** The records that decided, in presentation form, e.g. `0 issue "ca.example"`. */
  readonly records: readonly string[];
  /** Why they forbid issuance. */
  readonly reason: string;
  /** What to change in DNS. */
  readonly fix: string;
}
/** How many refusals the message spells out; the rest are counted (all are on `refusals`). */
const CAA_REFUSALS_IN_MESSAGE = 5;
/**
 * The CAA records of a name forbid this CA to issue for it, for this account, or by dns-01
 * (RFC 8659, RFC 8657). CreateOrder checks before newOrder, so the run ends without an order and
 * without a failed validation counting against the CA's limits. The message names each refused
 * identifier, the CAA record set and where it was found, and the DNS change that would allow
 * issuance. Never retried: the records have to change first.
 */
export class CaaForbidsIssuanceError extends AcmeAwsError {
  readonly code = 'CAA_FORBIDS_ISSUANCE';
  readonly refusals: readonly CaaRefusal[];
  constructor(refusals: readonly CaaRefusal[]) {
    const shown = refusals
      .slice(0, CAA_REFUSALS_IN_MESSAGE)
      .map(
        ({ identifier, caaName, records, reason, fix }) =>
          `${identifier}: the CAA records at ${caaName} (${records.join(', ')}) ${reason}. ${fix}`,
      );
    const more = refusals.length - shown.length;
    super(
      `CAA forbids issuance, so no order was placed. ${shown.join(' ')}${more > 0 ? ` (${more} more names are refused likewise.)` : ''}`,
    );
    this.refusals = refusals;
  }
}
/** One persistent record (dns-persist-01) that an operator must create, as {@link PersistRecordMissingError} lists it. */
export interface MissingPersistRecord {
  /** `_validation-persist.<name>`. */
  readonly recordName: string;
  /** A TXT value that would authorize this account. */
  readonly value: string;
  /** What the authoritative servers returned instead, e.g. `ns1.example.net: no value for this account`. */
  readonly found: string;
}

/**
 * A certificate whose DNS the stack does not write (`externalDns`) lacks a persistent record that
 * authorizes this account at some authoritative server (draft-ietf-acme-dns-persist-02 §4.2).
 * Raised before newOrder, so no order is placed and no failed validation counts against the CA's
 * limits. The message gives each record to create, as a zone file line. Never retried: an operator
 * has to create the records first.
 */
export class PersistRecordMissingError extends AcmeAwsError {
  readonly code = 'PERSIST_RECORD_MISSING';
  readonly missing: readonly MissingPersistRecord[];
  constructor(missing: readonly MissingPersistRecord[]) {
    const shown = missing
      .slice(0, CAA_REFUSALS_IN_MESSAGE)
      .map(({ recordName, value, found }) => `${txtZoneFileLine(recordName, value)} (${found})`);
    const more = missing.length - shown.length;
    super(
      `The persistent dns-persist-01 records are not in place, so no order was placed. Create: ${shown.join('; ')}` +
        `${more > 0 ? ` (and ${more} more; acme-aws persist-record <id> lists them all)` : ''}. ` +
        'The stack writes none of these names (externalDns), so an operator must add them, once.',
    );
    this.missing = missing;
  }
}

/**
 * The CA cannot serve this run for a reason that is not the certificate's fault: it rate-limits
 * new orders until after the certificate's renewal window, say. Raised only when the certificate
 * lists another CA, which the state machine then tries (see `workflow/ca-fallback.ts`).
 */
export class CaUnavailableError extends AcmeAwsError {
  readonly code = 'CA_UNAVAILABLE';
}

/** The certificate the CA returned does not match what we asked for. Never imported. */
export class CertificateMismatchError extends AcmeAwsError {
  readonly code = 'CERTIFICATE_MISMATCH';
}
/**
 * The order the CA returned does not match what was asked for: its identifiers are not the
 * requested names, or an authorization is for a name that is not in the order (or a name has none,
 * or two). Raised when CreateOrder reads the authorizations, before any TXT record is written, so
 * no record goes into a zone for a name nobody ordered. Never retried.
 */
export class OrderMismatchError extends AcmeAwsError {
  readonly code = 'ORDER_MISMATCH';
}
/**
 * A part of the certificate is larger than its Parameter Store tier holds (4 KB on Standard, 8 KB
 * on Advanced). Raised before any parameter is written, so no part is left newer than the others;
 * the certificate stays in the store and the next run delivers it once the tier is raised. Never
 * retried.
 */
export class DeliveryTooLargeError extends AcmeAwsError {
  readonly code = 'DELIVERY_TOO_LARGE';
}
/** A polling loop ran out of attempts (DNS sync, authorizations, certificate). */
export class PollingTimeoutError extends AcmeAwsError {
  readonly code = 'POLLING_TIMEOUT';
}
/** An AWS API throttled or failed transiently; the state machine retries it with backoff. */
export class AwsTransientError extends AcmeAwsError {
  readonly code = 'AWS_TRANSIENT';
}
/** An AWS API refused the request for a reason that retrying will not fix. */
export class AwsRequestError extends AcmeAwsError {
  readonly code = 'AWS_REQUEST';
}

/** Error names that are worth retrying with backoff; the state machine's Retry matches these. */
export const TRANSIENT_ERROR_NAMES = [
  'AcmeServerError',
  'AcmeConnectionError',
  'BadNonceError',
  'AwsTransientError',
] as const;

const PROBLEM_CLASSES: Record<string, new (problem: AcmeProblem) => AcmeProblemError> = {
  badNonce: BadNonceError,
  rateLimited: RateLimitedError,
  accountDoesNotExist: AccountDoesNotExistError,
  unauthorized: UnauthorizedError,
  rejectedIdentifier: RejectedIdentifierError,
  malformed: MalformedError,
  orderNotReady: OrderNotReadyError,
  externalAccountRequired: ExternalAccountRequiredError,
  alreadyReplaced: AlreadyReplacedError,
  alreadyRevoked: AlreadyRevokedError,
  serverInternal: AcmeServerError,
};

/** Builds the typed error for a problem document; 5xx without a known type is `AcmeServerError`. */
export function problemToError(problem: AcmeProblem): AcmeProblemError {
  const shortType = problem.type.startsWith(ACME_ERROR_PREFIX)
    ? problem.type.slice(ACME_ERROR_PREFIX.length)
    : undefined;
  const ErrorClass = shortType ? PROBLEM_CLASSES[shortType] : undefined;
  if (ErrorClass) return new ErrorClass(problem);
  if (problem.status !== undefined && problem.status >= 500) return new AcmeServerError(problem);
  return new AcmeProblemError(problem);
}

function describeProblem(problem: AcmeProblem): string {
  const head = `${problem.type}${problem.status ? ` (HTTP ${problem.status})` : ''}: ${problem.detail ?? 'no detail given'}`;
  const subs = (problem.subproblems ?? []).map((sub) =>
    `${sub.identifier ? `${sub.identifier.value}: ` : ''}${sub.type}: ${sub.detail ?? ''}`.trim(),
  );
  return subs.length > 0 ? `${head} [${subs.join('; ')}]` : head;
}

/**
 * A DNS query outside AWS failed (SERVFAIL, REFUSED, timeout, unreachable server). `rcode` is the
 * resolver's code for it (e.g. `ESERVFAIL`), so callers can report it without parsing the message.
 * The dns-01 steps treat it as "not visible yet" rather than failing on it.
 */
export class DnsQueryError extends AcmeAwsError {
  readonly code = 'DNS_QUERY';
  readonly rcode: string;
  constructor(message: string, rcode: string, options?: { cause?: unknown }) {
    super(message, options);
    this.rcode = rcode;
  }
}

/**
 * The deployment's ACME account was deactivated (RFC 8555 §7.3.6), which is permanent: the CA
 * refuses every request from it. Raised before any CA call, naming the way out (a new account
 * key generation), and never retried.
 */
export class AccountDeactivatedError extends AcmeAwsError {
  readonly code = 'ACCOUNT_DEACTIVATED';
}

/**
 * The CA asked to be polled again later than this run can wait: a `Retry-After` longer than one
 * pause may last, or one that would end past the time the execution has left. The run ends here
 * (Cleanup removes the TXT records, records the failure and releases the lock) instead of
 * sleeping past the state machine's timeout. `retryAt` is when the CA said to come back; the
 * message carries it as `retry after <ISO 8601>`, which is what survives the state machine, so
 * Cleanup schedules the next attempt no earlier. Never retried within the run.
 */
export class RetryLaterError extends AcmeAwsError {
  readonly code = 'RETRY_LATER';
  readonly retryAt: Date;
  constructor(message: string, retryAt: Date, options?: { cause?: unknown }) {
    super(`${message}; retry after ${retryAt.toISOString()}`, options);
    this.retryAt = retryAt;
  }
}
