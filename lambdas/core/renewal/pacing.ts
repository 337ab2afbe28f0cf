import { getDomain } from 'tldts';
import type { CertificateRecord } from '../ports.js';
import { type CaRateLimits, DAY_MS, HOUR_MS, type LimitName, type RateLimit } from './ca-rate-limits.js';
/**
 * How many events the planner allows in a window: a tenth below the CA's limit (at least one
 * event), leaving room for on-demand `issue` requests, other clients of the same registered
 * domain, and the few orders the registry cannot see (an order retried inside the window).
 */
export function pacedBudget(limit: number): number {
  return Math.max(1, limit - Math.ceil(limit / 10));
}

/**
 * The registered domain Let's Encrypt counts a name against, from the ICANN section of the Public
 * Suffix List. Private suffixes (`github.io`) are ignored on purpose: a registered domain under
 * one is longer, so grouping by the ICANN one is coarser and never under-counts.
 */
export function registeredDomain(name: string): string {
  const host = name.toLowerCase().replace(/^\*\./, '').replace(/\.$/, '');
  return getDomain(host) ?? host;
}

/** The names of a certificate as the CA compares them for the exact-set limit. */
export function exactSetKey(names: readonly string[]): string {
  return [...new Set(names.map((name) => name.toLowerCase().replace(/\.$/, '')))].sort().join(',');
}

/**
 * How the CA counts the order a due certificate would create:
 * - `first`: a new set of names, subject to every limit;
 * - `renewal`: the same names as the current certificate, without `replaces`: exempt from the
 *   orders-per-account and per-registered-domain limits;
 * - `ari-renewal`: a renewal naming the certificate it replaces: exempt from every limit;
 * - `no-order`: the stored certificate is imported or delivered again, nothing is ordered.
 */
export type OrderKind = 'first' | 'renewal' | 'ari-renewal' | 'no-order';

export interface PacingCandidate {
  readonly certificateId: string;
  readonly names: readonly string[];
  readonly kind: OrderKind;
}

/** Events of the recent past that count against a CA's limits, read from the registry. */
export interface PacingHistory {
  /** Orders that counted against the account's new-orders limit. */
  readonly orders: readonly Date[];
  /** Issued certificates; `counted` when they counted against the per-registered-domain limit. */
  readonly issuances: readonly {
    readonly at: Date;
    readonly names: readonly string[];
    readonly counted: boolean;
  }[];
  readonly failedAuthorizations: readonly { readonly at: Date; readonly names: readonly string[] }[];
}

/**
 * Let's Encrypt backdates notBefore by an hour; counting an issuance from an hour after notBefore
 * keeps a window open at most an hour too long at a CA that does not backdate.
 */
const NOT_BEFORE_BACKDATE_MS = HOUR_MS;

/** The errors of an execution whose order failed because an authorization failed. */
const AUTHORIZATION_FAILURES: ReadonlySet<string> = new Set(['OrderInvalidError', 'UnauthorizedError']);

/**
 * The recent orders, issuances and failed authorizations the registry shows for certificates of
 * one CA. The registry keeps only each certificate's latest order (`lastAttemptAt`), latest
 * certificate and latest failure, so a certificate ordered twice inside a window counts once: the
 * budget's tenth of headroom covers it. An issuance counts against the registered domain unless it
 * is known to be a renewal (`issued.deliveredBy.renewal`); an order counts unless it produced such
 * a renewal.
 */
export function pacingHistory(records: readonly CertificateRecord[], now: Date): PacingHistory {
  const horizon = now.getTime() - 7 * DAY_MS - NOT_BEFORE_BACKDATE_MS;
  const orders: Date[] = [];
  const issuances: { at: Date; names: readonly string[]; counted: boolean }[] = [];
  const failedAuthorizations: { at: Date; names: readonly string[] }[] = [];
  for (const record of records) {
    const issued = record.issued;
    const issuedAt = issued?.notBefore
      ? new Date(new Date(issued.notBefore).getTime() + NOT_BEFORE_BACKDATE_MS)
      : undefined;
    const renewal = issued?.deliveredBy?.renewal === true;
    if (issued && issuedAt && issuedAt.getTime() >= horizon) {
      issuances.push({ at: issuedAt, names: issuedNames(issued.fingerprint), counted: !renewal });
    }
    if (record.lastAttemptAt) {
      const orderedAt = new Date(record.lastAttemptAt);
      const producedRenewal = renewal && issuedAt !== undefined && issuedAt >= orderedAt;
      if (orderedAt.getTime() >= horizon && !producedRenewal) orders.push(orderedAt);
    }
    const error = record.lastError;
    if (error && AUTHORIZATION_FAILURES.has(error.name) && record.config) {
      const at = new Date(error.at);
      if (at.getTime() >= horizon) failedAuthorizations.push({ at, names: record.config.domains });
    }
  }
  return { orders, issuances, failedAuthorizations };
}

/** The names in an issued certificate's fingerprint (`<key>:<names joined by ",">`). */
function issuedNames(fingerprint: string): string[] {
  return fingerprint
    .slice(fingerprint.lastIndexOf(':') + 1)
    .split(',')
    .filter(Boolean);
}

export interface DeferredRenewal {
  readonly certificateId: string;
  /** The limit that holds it back longest. */
  readonly limit: LimitName;
  /** When that limit has room again, counting only what is known now. */
  readonly notBefore: Date;
}

export interface PacingDecision {
  /** Certificate ids to start now, in the order given. */
  readonly start: readonly string[];
  readonly deferred: readonly DeferredRenewal[];
}

/**
 * Decides which due certificates to start now so that no window of the CA's limits goes past its
 * paced budget (see `pacedBudget`), and when each deferred one could go. Greedy in the order
 * given: a certificate that fits starts, and counts against the windows of those after it. ARI
 * renewals and certificates that need no order always start. Pure: same input, same answer.
 */
export function paceRenewals(input: {
  readonly candidates: readonly PacingCandidate[];
  readonly history: PacingHistory;
  readonly limits: CaRateLimits;
  readonly now: Date;
}): PacingDecision {
  const { limits, now } = input;
  const windows = new Map<string, number[]>();
  const add = (key: string, at: number) => {
    const list = windows.get(key);
    if (list) list.push(at);
    else windows.set(key, [at]);
  };
  for (const at of input.history.orders) add('orders', at.getTime());
  for (const issuance of input.history.issuances) {
    add(`set:${exactSetKey(issuance.names)}`, issuance.at.getTime());
    if (!issuance.counted) continue;
    for (const domain of new Set(issuance.names.map(registeredDomain)))
      add(`domain:${domain}`, issuance.at.getTime());
  }
  for (const failure of input.history.failedAuthorizations) {
    for (const name of new Set(failure.names.map((value) => value.toLowerCase()))) {
      add(`authz:${name}`, failure.at.getTime());
    }
  }

  /** Whether one more event fits under `key`'s window now, and if not, when it will. */
  const roomAt = (key: string, limit: RateLimit): number | undefined => {
    const since = now.getTime() - limit.windowMs;
    const inWindow = (windows.get(key) ?? []).filter((at) => at > since).sort((a, b) => a - b);
    const budget = pacedBudget(limit.count);
    if (inWindow.length < budget) return undefined;
    return (inWindow[inWindow.length - budget] as number) + limit.windowMs;
  };

  const start: string[] = [];
  const deferred: DeferredRenewal[] = [];
  for (const candidate of input.candidates) {
    if (candidate.kind === 'ari-renewal' || candidate.kind === 'no-order') {
      start.push(candidate.certificateId);
      continue;
    }
    const first = candidate.kind === 'first';
    const checks: [LimitName, string][] = [];
    if (first) checks.push(['newOrdersPerAccount', 'orders']);
    const domains = [...new Set(candidate.names.map(registeredDomain))];
    if (first)
      for (const domain of domains) checks.push(['certificatesPerRegisteredDomain', `domain:${domain}`]);
    const setKey = `set:${exactSetKey(candidate.names)}`;
    checks.push(['certificatesPerExactSet', setKey]);
    for (const name of new Set(candidate.names.map((value) => value.toLowerCase()))) {
      checks.push(['failedAuthorizationsPerIdentifier', `authz:${name}`]);
    }

    let blocked: DeferredRenewal | undefined;
    for (const [limitName, key] of checks) {
      const limit = limits[limitName];
      if (!limit) continue;
      const at = roomAt(key, limit);
      if (at === undefined) continue;
      if (!blocked || at > blocked.notBefore.getTime()) {
        blocked = { certificateId: candidate.certificateId, limit: limitName, notBefore: new Date(at) };
      }
    }
    if (blocked) {
      deferred.push(blocked);
      continue;
    }
    start.push(candidate.certificateId);
    const at = now.getTime();
    if (first) {
      add('orders', at);
      for (const domain of domains) add(`domain:${domain}`, at);
    }
    add(setKey, at);
  }
  return { start, deferred };
}
