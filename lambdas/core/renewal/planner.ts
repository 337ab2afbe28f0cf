import { AcmeClient } from '../acme/client.js';
import { chooseRenewalTime } from '../acme/renewal-info.js';
import type { AcmeDirectory } from '../acme/types.js';
import { deliveryPending } from '../delivery/delivery-parts.js';
import type { CertificateRecord, CertificateRecordChanges } from '../ports.js';
import { certificateAuthoritiesFor } from '../workflow/ca-fallback.js';
import type { StepDeps } from '../workflow/deps.js';
import { type LimitName, type RateLimitOverrides, rateLimitsFor } from './ca-rate-limits.js';
import { configurationFingerprint, type RenewalReason, renewalDecision } from './due.js';
import {
  type DeferredRenewal,
  exactSetKey,
  type OrderKind,
  type PacingCandidate,
  type PacingHistory,
  paceRenewals,
  pacingHistory,
} from './pacing.js';
import { forecastAcmImports } from './quota.js';

/** Seconds to wait before asking a CA's renewal information again when it sends no Retry-After. */
const DEFAULT_ARI_RECHECK_SECONDS = 6 * 60 * 60;
const MIN_ARI_RECHECK_SECONDS = 60 * 60;
const MAX_ARI_RECHECK_SECONDS = 24 * 60 * 60;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Records read per call when the planner reads the whole registry for the CA's rate limits. */
const HISTORY_PAGE_SIZE = 1000;

export interface PlannerInput {
  /** Where the previous page of this run stopped. */
  readonly cursor?: string;
  /** Records read per page; a page's due list must fit the state payload (256 KB). */
  readonly pageSize?: number;
  /** Imports per region per year forecast by earlier pages of this run. */
  readonly forecast?: Readonly<Record<string, number>>;
}

/** One certificate to renew, with an execution name that is the same all day long. */
export interface PlannedRenewal {
  readonly certificateId: string;
  readonly reason: RenewalReason;
  /** Step Functions refuses a second execution with this name, so a re-run starts nothing twice. */
  readonly executionName: string;
  /** The issuance state machine's input. */
  readonly input: { readonly action: 'renew'; readonly certificateId: string; readonly force: false };
}

export interface PlannerOutput {
  readonly due: readonly PlannedRenewal[];
  /** The page size this run uses, carried to the next page. */
  readonly pageSize: number;
  readonly cursor?: string;
  readonly checked: number;
  readonly forecast: Readonly<Record<string, number>>;
  /** Due certificates not started on this page to stay within the CA's rate limits, per limit. */
  readonly deferred: Readonly<Partial<Record<LimitName, number>>>;
}

export type PlannerDeps = Pick<
  StepDeps,
  'registry' | 'transport' | 'signer' | 'clock' | 'config' | 'log' | 'metrics'
> & {
  /** Uniform in [0, 1): where in the CA's window each certificate renews. */
  readonly random: () => number;
  /** The operator's rate limits per CA directory URL (see `rateLimitsFor`). @default none */
  readonly rateLimits?: RateLimitOverrides;
};

/**
 * The renewal planner: reads one page of the registry, refreshes each certificate's renewal time
 * from the CA's renewal information (RFC 9773) when it is time to ask again, and lists the
 * certificates that are due. It also reports days to expiry, failure streaks and the ACM import
 * forecast, so a renewal that keeps failing is visible long before the certificate expires.
 * Due certificates whose orders count against the CA's rate limits are paced (see
 * `paceRenewals`): those that would not fit are left for a later run, counted and logged.
 */
export async function planRenewals(input: PlannerInput, deps: PlannerDeps): Promise<PlannerOutput> {
  const now = deps.clock.now();
  const pageSize = input.pageSize ?? 200;
  const page = await deps.registry.list({
    limit: pageSize,
    ...(input.cursor ? { cursor: input.cursor } : {}),
  });
  const directories = new Map<string, Promise<AcmeDirectory | undefined>>();
  const candidates: { readonly record: CertificateRecord; readonly reason: RenewalReason }[] = [];
  const runKey = now.toISOString().slice(0, 10).replaceAll('-', '');
  let minDaysToExpiry = Number.POSITIVE_INFINITY;
  let minPersistDaysLeft = Number.POSITIVE_INFINITY;
  let maxFailures = 0;

  for (const original of page.records) {
    if (!original.config) continue;
    const record = await refreshRenewalTime(original, now, directories, deps);
    if (record.issued) {
      const daysToExpiry = (new Date(record.issued.notAfter).getTime() - now.getTime()) / DAY_MS;
      minDaysToExpiry = Math.min(minDaysToExpiry, daysToExpiry);
      deps.metrics.add('DaysToExpiry', 'None', Math.floor(daysToExpiry), {
        CertificateId: record.certificateId,
      });
    }
    if (record.persistUntil) {
      const daysLeft = (new Date(record.persistUntil).getTime() - now.getTime()) / DAY_MS;
      minPersistDaysLeft = Math.min(minPersistDaysLeft, daysLeft);
      deps.metrics.add('PersistRecordDaysLeft', 'None', Math.floor(daysLeft), {
        CertificateId: record.certificateId,
      });
    }
    maxFailures = Math.max(maxFailures, record.consecutiveFailures ?? 0);
    const decision = renewalDecision(record, now);
    if (decision.due) candidates.push({ record, reason: decision.reason });
  }

  const paced = await paceCandidates(candidates, now, directories, deps);
  const due: PlannedRenewal[] = candidates
    .filter(({ record }) => paced.start.has(record.certificateId))
    .map(({ record, reason }) => ({
      certificateId: record.certificateId,
      reason,
      executionName: executionName(record, runKey),
      input: { action: 'renew', certificateId: record.certificateId, force: false },
    }));
  const deferred: Partial<Record<LimitName, number>> = {};
  for (const entry of paced.deferred) deferred[entry.limit] = (deferred[entry.limit] ?? 0) + 1;
  deps.metrics.add('CertificatesDeferred', 'Count', paced.deferred.length);
  if (paced.deferred.length > 0) {
    for (const [limit, count] of Object.entries(deferred)) {
      deps.metrics.add('CertificatesDeferred', 'Count', count, { Limit: limit });
    }
    const earliest = Math.min(...paced.deferred.map((entry) => entry.notBefore.getTime()));
    deps.log.info('Deferred renewals to stay within the CA’s rate limits', {
      deferred: paced.deferred.length,
      byLimit: deferred,
      earliestRoomAt: new Date(earliest).toISOString(),
    });
  }

  const forecast = { ...(input.forecast ?? {}) };
  for (const entry of forecastAcmImports(
    page.records.flatMap((record) =>
      record.config && record.issued?.notBefore
        ? [
            {
              certificateId: record.certificateId,
              regions: record.config.regions,
              lifetimeDays:
                (new Date(record.issued.notAfter).getTime() - new Date(record.issued.notBefore).getTime()) /
                DAY_MS,
            },
          ]
        : [],
    ),
  )) {
    forecast[entry.region] = (forecast[entry.region] ?? 0) + entry.importsPerYear;
  }
  for (const [region, importsPerYear] of Object.entries(forecast)) {
    if (importsPerYear > 5000) {
      deps.log.warn('Planned renewals would exceed ACM’s 5,000 imports per year in a region', {
        region,
        importsPerYear,
      });
    }
  }

  if (Number.isFinite(minDaysToExpiry))
    deps.metrics.add('MinDaysToExpiry', 'None', Math.floor(minDaysToExpiry));
  if (Number.isFinite(minPersistDaysLeft))
    deps.metrics.add('MinPersistRecordDaysLeft', 'None', Math.floor(minPersistDaysLeft));
  deps.metrics.add('MaxConsecutiveFailures', 'Count', maxFailures);
  deps.metrics.add('CertificatesDue', 'Count', due.length);
  deps.log.info('Planned renewals', {
    checked: page.records.length,
    due: due.length,
    more: Boolean(page.cursor),
  });
  return {
    due,
    pageSize,
    checked: page.records.length,
    forecast,
    deferred,
    ...(page.cursor ? { cursor: page.cursor } : {}),
  };
}

/**
 * The execution name: the certificate id and the day, so a second run the same day starts nothing
 * twice, and the failure count once it failed, so a run after the backoff can try again the same
 * day (a 160-hour certificate cannot wait a day per attempt). The id is cut, never the suffix, to
 * fit Step Functions' 80 characters.
 */
function executionName(record: CertificateRecord, runKey: string): string {
  const failures = record.consecutiveFailures ?? 0;
  const suffix = failures > 0 ? `-${runKey}-f${failures}` : `-${runKey}`;
  return `${record.certificateId.slice(0, 80 - suffix.length)}${suffix}`;
}

/**
 * Paces the due certificates of this page per CA. The history of the whole registry is read only
 * when some certificate's order counts against a limit (a first issuance, or a renewal without
 * ARI), so a steady fleet of ARI renewals costs no extra reads.
 */
async function paceCandidates(
  candidates: readonly { readonly record: CertificateRecord; readonly reason: RenewalReason }[],
  now: Date,
  directories: Map<string, Promise<AcmeDirectory | undefined>>,
  deps: PlannerDeps,
): Promise<{ readonly start: ReadonlySet<string>; readonly deferred: readonly DeferredRenewal[] }> {
  const byCa = new Map<string, PacingCandidate[]>();
  for (const { record } of candidates) {
    const config = record.config;
    if (!config) continue;
    // New orders go to the certificate's first CA: its limits are the ones to pace by.
    const directoryUrl = firstCa(config, deps);
    const kind = await orderKind(record, now, () => directoryOf(directoryUrl, directories, deps));
    const list = byCa.get(directoryUrl) ?? [];
    list.push({ certificateId: record.certificateId, names: config.domains, kind });
    byCa.set(directoryUrl, list);
  }
  const start = new Set<string>();
  const deferred: DeferredRenewal[] = [];
  let records: readonly CertificateRecord[] | undefined;
  for (const [directoryUrl, list] of byCa) {
    const limits = rateLimitsFor(directoryUrl, deps.rateLimits);
    const limited =
      limits.name !== 'none' &&
      list.some((candidate) => candidate.kind === 'first' || candidate.kind === 'renewal');
    if (!limited) {
      for (const candidate of list) start.add(candidate.certificateId);
      continue;
    }
    records ??= await allRecords(deps);
    const ofCa = records.filter(
      (record) => record.config !== undefined && firstCa(record.config, deps) === directoryUrl,
    );
    const history: PacingHistory = pacingHistory(ofCa, now);
    const decision = paceRenewals({ candidates: list, history, limits, now });
    for (const id of decision.start) start.add(id);
    deferred.push(...decision.deferred);
  }
  return { start, deferred };
}

/**
 * How the CA will count the order CreateOrder places for this record: it reuses a stored,
 * unexpired certificate of the same configuration (no order), names the certificate it replaces
 * when the CA offers renewal information (RFC 9773 §5), and otherwise orders afresh.
 */
async function orderKind(
  record: CertificateRecord,
  now: Date,
  directory: () => Promise<AcmeDirectory | undefined>,
): Promise<OrderKind> {
  const issued = record.issued;
  const config = record.config;
  if (!issued || !config) return 'first';
  // CreateOrder's own test: it imports or delivers the stored certificate instead of ordering.
  if (
    issued.fingerprint === configurationFingerprint(config) &&
    ((!issued.importedArn && !issued.publishedAt) || deliveryPending(config.delivery, issued)) &&
    new Date(issued.notAfter) > now
  ) {
    return 'no-order';
  }
  const issuedSet = exactSetKey(issued.fingerprint.slice(issued.fingerprint.lastIndexOf(':') + 1).split(','));
  if (issuedSet !== exactSetKey(config.domains)) return 'first';
  if (issued.ariCertId && (await directory())?.renewalInfo) return 'ari-renewal';
  return 'renewal';
}

/** Every record of the registry, for the rate limits' history. */
async function allRecords(deps: PlannerDeps): Promise<CertificateRecord[]> {
  const records: CertificateRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await deps.registry.list({ limit: HISTORY_PAGE_SIZE, ...(cursor ? { cursor } : {}) });
    records.push(...page.records);
    cursor = page.cursor;
  } while (cursor);
  return records;
}

/** The CA's directory, read once per run and directory URL; `undefined` when it cannot be read. */
function directoryOf(
  directoryUrl: string,
  directories: Map<string, Promise<AcmeDirectory | undefined>>,
  deps: PlannerDeps,
): Promise<AcmeDirectory | undefined> {
  let directory = directories.get(directoryUrl);
  if (!directory) {
    const client = new AcmeClient({ directoryUrl, transport: deps.transport, signer: deps.signer });
    directory = client.directory().then(
      (found) => found,
      (error: unknown) => {
        deps.log.warn('Could not read the CA directory; keeping the planned renewal times', {
          directoryUrl,
          error: error instanceof Error ? error.message : String(error),
        });
        return undefined;
      },
    );
    directories.set(directoryUrl, directory);
  }
  return directory;
}

/**
 * Asks the CA's renewal information for an issued certificate when its recheck time has come,
 * and keeps the chosen renewal time while it stays inside the window, so daily runs do not keep
 * drawing new times and drift toward the start of the window.
 */
async function refreshRenewalTime(
  record: CertificateRecord,
  now: Date,
  directories: Map<string, Promise<AcmeDirectory | undefined>>,
  deps: PlannerDeps,
): Promise<CertificateRecord> {
  const certId = record.issued?.ariCertId;
  if (!certId || !record.config) return record;
  if (record.ariCheckAfter && new Date(record.ariCheckAfter) > now) return record;
  // Renewal information is the issuing CA's: no other CA knows the certificate (RFC 9773 §4).
  const directoryUrl = record.issued?.directoryUrl ?? firstCa(record.config, deps);
  const directory = directoryOf(directoryUrl, directories, deps);
  const known = await directory;
  if (!known?.renewalInfo) return record;

  const client = new AcmeClient({
    directoryUrl,
    transport: deps.transport,
    signer: deps.signer,
    directory: known,
  });
  let info: Awaited<ReturnType<AcmeClient['getRenewalInfoById']>>;
  try {
    info = await client.getRenewalInfoById(certId);
  } catch (error) {
    deps.log.warn('Renewal information unavailable; keeping the planned renewal time', {
      certificateId: record.certificateId,
      error: error instanceof Error ? error.message : String(error),
    });
    return record;
  }
  const recheckSeconds = Math.min(
    Math.max(info?.retryAfterSeconds ?? DEFAULT_ARI_RECHECK_SECONDS, MIN_ARI_RECHECK_SECONDS),
    MAX_ARI_RECHECK_SECONDS,
  );
  const changes: Record<string, unknown> = {
    ariCheckAfter: new Date(now.getTime() + recheckSeconds * 1000).toISOString(),
  };
  if (info) {
    const current = record.nextRenewalAt ? new Date(record.nextRenewalAt) : undefined;
    const insideWindow =
      current && current >= info.window.start && current < info.window.end && current > now;
    if (!insideWindow) changes.nextRenewalAt = chooseRenewalTime(info.window, deps.random, now).toISOString();
  }
  await deps.registry.update(record.certificateId, changes as CertificateRecordChanges);
  return { ...record, ...(changes as Partial<CertificateRecord>) };
}

/** The CA a certificate's runs start with (see `certificateAuthoritiesFor`). */
function firstCa(
  config: NonNullable<CertificateRecord['config']>,
  deps: Pick<PlannerDeps, 'config'>,
): string {
  return certificateAuthoritiesFor(config, deps.config)[0]?.directoryUrl ?? deps.config.defaultDirectoryUrl;
}
