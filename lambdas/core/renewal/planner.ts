import { AcmeClient } from '../acme/client.js';
import { chooseRenewalTime } from '../acme/renewal-info.js';
import type { AcmeDirectory } from '../acme/types.js';
import type { CertificateRecord, CertificateRecordChanges } from '../ports.js';
import type { StepDeps } from '../workflow/deps.js';
import { type RenewalReason, renewalDecision } from './due.js';
import { forecastAcmImports } from './quota.js';

/** Seconds to wait before asking a CA's renewal information again when it sends no Retry-After. */
const DEFAULT_ARI_RECHECK_SECONDS = 6 * 60 * 60;
const MIN_ARI_RECHECK_SECONDS = 60 * 60;
const MAX_ARI_RECHECK_SECONDS = 24 * 60 * 60;
const DAY_MS = 24 * 60 * 60 * 1000;

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
}

export type PlannerDeps = Pick<
  StepDeps,
  'registry' | 'transport' | 'signer' | 'clock' | 'config' | 'log' | 'metrics'
> & {
  /** Uniform in [0, 1): where in the CA's window each certificate renews. */
  readonly random: () => number;
};

/**
 * The renewal planner: reads one page of the registry, refreshes each certificate's renewal time
 * from the CA's renewal information (RFC 9773) when it is time to ask again, and lists the
 * certificates that are due. It also reports days to expiry, failure streaks and the ACM import
 * forecast, so a renewal that keeps failing is visible long before the certificate expires.
 */
export async function planRenewals(input: PlannerInput, deps: PlannerDeps): Promise<PlannerOutput> {
  const now = deps.clock.now();
  const pageSize = input.pageSize ?? 200;
  const page = await deps.registry.list({
    limit: pageSize,
    ...(input.cursor ? { cursor: input.cursor } : {}),
  });
  const directories = new Map<string, Promise<AcmeDirectory | undefined>>();
  const due: PlannedRenewal[] = [];
  const runKey = now.toISOString().slice(0, 10).replaceAll('-', '');
  let minDaysToExpiry = Number.POSITIVE_INFINITY;
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
    maxFailures = Math.max(maxFailures, record.consecutiveFailures ?? 0);
    const decision = renewalDecision(record, now);
    if (!decision.due) continue;
    due.push({
      certificateId: record.certificateId,
      reason: decision.reason,
      executionName: `${record.certificateId}-${runKey}`.slice(0, 80),
      input: { action: 'renew', certificateId: record.certificateId, force: false },
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
    ...(page.cursor ? { cursor: page.cursor } : {}),
  };
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
  const directoryUrl = record.config.directoryUrl ?? deps.config.defaultDirectoryUrl;
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
