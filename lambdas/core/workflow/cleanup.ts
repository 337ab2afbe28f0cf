import { fallbackRenewalTime } from '../acme/renewal-info.js';
import { revocationReasonName } from '../acme/revocation-reasons.js';
import type { CertificateRecord } from '../ports.js';
import { certificateLifetimeMs, nextAttemptAfterFailure } from '../renewal/backoff.js';
import { comeBackAt } from '../renewal/rate-limit.js';
import type { IssuanceState } from '../state.js';
import type { StepDeps } from './deps.js';
import { failureMessage } from './failure.js';
import { leaseHolder } from './publish-challenges.js';
import { forgetPublishedTxt, NO_EXECUTION, removeTxtValues, txtValuesOf } from './published-txt.js';

/** EventBridge detail types, which rules and alerting match on. */
export const EVENT_ISSUED = 'Certificate Issued';
export const EVENT_RENEWED = 'Certificate Renewed';
export const EVENT_FAILED = 'Certificate Renewal Failed';
/**
 * Put when a run revoked a certificate, besides the Issued/Renewed or Failed event of its
 * replacement: security alerting matches on it, while automation that follows new certificates
 * keeps matching Renewed. `replacement` is null when the replacement failed.
 */
export const EVENT_REVOKED = 'Certificate Revoked';

/**
 * Cleanup: removes exactly the TXT values this execution published, each record set under its
 * lease so concurrent executions sharing it keep their values, on success and after any failure;
 * then, if this execution held the certificate's lock, records the outcome (the next renewal time,
 * or the failure with its backoff), announces it as an EventBridge event and a metric (and, after
 * a revocation, a Revoked event), and releases the lock. Safe to repeat, and a no-op for DNS when
 * nothing was published.
 *
 * The outcome is what happened, not what the last step reported:
 * - a failure is counted once per execution: the record names the execution it counted, so a
 *   Cleanup the state machine retries (after a failed PutEvents, say) does not count it again;
 * - a run whose certificate was delivered (imported, or published) before a later failure, such as
 *   its ImportToAcm Lambda crashing after the import, is recorded and announced as issued or
 *   renewed, since the certificate is in ACM; the execution keeps its error;
 * - after a failure whose error says when to come back (a rate limit, a Retry-After longer than
 *   the run could wait), the next attempt is no earlier than that.
 */
export async function cleanup(
  state: IssuanceState,
  deps: Pick<StepDeps, 'dns' | 'leases' | 'registry' | 'events' | 'metrics' | 'clock' | 'log'>,
): Promise<IssuanceState> {
  const holder = leaseHolder(state);
  const executionId = state.execution?.id;
  const certificateId = typeof state.certificateId === 'string' ? state.certificateId : undefined;
  // The lock may have been taken even when the step that took it failed afterwards, so ask the
  // registry who holds it rather than trusting the state.
  const record = certificateId ? await deps.registry.get(certificateId) : undefined;
  const holdsLock = executionId !== undefined && record?.lock?.executionId === executionId;
  // With the lock, no other run of this certificate is live: values that earlier runs noted and
  // never removed (they were killed before their Cleanup) go too, so a resumed order, whose
  // authorizations are already valid and publish nothing, still leaves no value behind.
  const noted = (record?.publishedTxt ?? []).filter(
    (value) => holdsLock || value.executionId === (executionId ?? NO_EXECUTION),
  );
  const leftovers = noted.filter((value) => value.executionId !== executionId);
  if (leftovers.length > 0) {
    deps.log.warn('Removing TXT values that earlier executions left behind', {
      executions: [...new Set(leftovers.map((value) => value.executionId))],
      values: leftovers.length,
    });
  }
  await removeTxtValues([...txtValuesOf(state), ...noted], holder, deps);
  if (certificateId && noted.length > 0) await forgetPublishedTxt(certificateId, record, noted, deps);
  if (!executionId || !certificateId || !record || !holdsLock) return state;

  const now = deps.clock.now();
  const startedAt = state.execution?.startedAt ? new Date(state.execution.startedAt) : undefined;
  if (startedAt)
    deps.metrics.add('IssuanceDuration', 'Seconds', (now.getTime() - startedAt.getTime()) / 1000);
  const outcome = state.error ? deliveredDespite(state, record, executionId, deps) : succeeded(state);
  if (state.error && !outcome) {
    await recordFailure(state, state.error, record, executionId, now, deps);
  } else if (outcome) {
    const notBefore = record.issued?.notBefore ? new Date(record.issued.notBefore) : now;
    const nextRenewalAt = fallbackRenewalTime(
      notBefore,
      new Date(outcome.certificate.notAfter),
    ).toISOString();
    await deps.registry.update(state.certificateId, {
      lastError: null,
      consecutiveFailures: 0,
      nextAttemptAt: null,
      nextRenewalAt,
      // The CA's renewal information, where offered, refines this on the planner's next run.
      ariCheckAfter: now.toISOString(),
    });
    deps.metrics.add('IssuanceSucceeded', 'Count', 1);
    await deps.events.publish({
      detailType: outcome.renewal ? EVENT_RENEWED : EVENT_ISSUED,
      detail: {
        certificateId: state.certificateId,
        domains: state.domains,
        serial: outcome.certificate.serial,
        notAfter: outcome.certificate.notAfter,
        nextRenewalAt,
        acmArns: outcome.acmArns,
        // The registry says who issued it: a run that only imported may not have ordered.
        issuedBy: record.issued?.directoryUrl ?? state.directoryUrl,
        ...((state.caFallback?.index ?? 0) > 0 ? { fallbackUsed: true } : {}),
        ...(outcome.arnReplaced ? { arnReplaced: outcome.arnReplaced } : {}),
        ...(state.kmsKeyArn
          ? { kmsKeyArn: state.kmsKeyArn, fullchainStoreKey: `${outcome.certificate.storeKey}/fullchain.pem` }
          : {}),
        executionId,
      },
    });
    if (state.revoked) {
      await publishRevoked(state, deps, executionId, {
        serial: outcome.certificate.serial,
        notAfter: outcome.certificate.notAfter,
        acmArns: outcome.acmArns,
      });
    }
  }
  await deps.registry.releaseLock(state.certificateId, executionId);
  return state;
}

/** A certificate a run delivered, with what its outcome event says. */
interface Delivered {
  readonly certificate: NonNullable<IssuanceState['certificate']>;
  readonly acmArns: Readonly<Record<string, string>>;
  readonly renewal: boolean;
  readonly arnReplaced?: IssuanceState['arnReplaced'];
}

/** The outcome of a run that got to Cleanup without an error, if it got a certificate. */
function succeeded(state: IssuanceState): Delivered | undefined {
  if (!state.certificate) return undefined;
  return {
    certificate: state.certificate,
    acmArns: state.certificateArns ?? {},
    renewal: state.renewal === true,
    ...(state.arnReplaced ? { arnReplaced: state.arnReplaced } : {}),
  };
}

/**
 * The certificate this execution delivered before the step that failed, as the registry records
 * the delivery (ImportToAcm writes `issued.deliveredBy` with the import): a step whose Lambda
 * crashed after its work was done leaves no output, but the registry knows.
 */
function deliveredDespite(
  state: IssuanceState,
  record: CertificateRecord,
  executionId: string,
  deps: Pick<StepDeps, 'log'>,
): Delivered | undefined {
  const issued = record.issued;
  const delivery = issued?.deliveredBy;
  if (!issued || delivery?.executionId !== executionId) return undefined;
  deps.log.warn('A step failed after this execution delivered the certificate; recording the delivery', {
    error: state.error?.Error,
    serial: issued.serial,
  });
  return {
    certificate: { storeKey: issued.storeKey, serial: issued.serial, notAfter: issued.notAfter },
    acmArns: state.kmsKeyArn ? {} : (record.acmArns ?? {}),
    renewal: delivery.renewal,
    ...(delivery.arnReplaced && record.arnReplaced ? { arnReplaced: record.arnReplaced } : {}),
  };
}

/**
 * Records a failed run and puts its event. Counted once per execution: when the record already
 * holds this execution's failure (a retried Cleanup), its count and next attempt are kept.
 */
async function recordFailure(
  state: IssuanceState,
  error: NonNullable<IssuanceState['error']>,
  record: CertificateRecord,
  executionId: string,
  now: Date,
  deps: Pick<StepDeps, 'registry' | 'events' | 'metrics'>,
): Promise<void> {
  const counted = record.lastError?.executionId === executionId ? record.lastError : undefined;
  const message = counted?.message ?? failureMessage(error.Cause);
  const consecutiveFailures = counted
    ? Math.max(1, record.consecutiveFailures ?? 1)
    : (record.consecutiveFailures ?? 0) + 1;
  let nextAttemptAt = counted ? record.nextAttemptAt : undefined;
  if (!nextAttemptAt) {
    // A rate limit or a long Retry-After says when to come back: waiting less would only hit it again.
    const backoff = nextAttemptAfterFailure(consecutiveFailures, now, certificateLifetimeMs(record.issued));
    const comeBack = comeBackAt(error.Error, message);
    nextAttemptAt = (comeBack && comeBack > backoff ? comeBack : backoff).toISOString();
  }
  await deps.registry.update(state.certificateId, {
    status: 'failed',
    consecutiveFailures,
    nextAttemptAt,
    lastError: counted ?? { name: error.Error, message, at: now.toISOString(), executionId },
  });
  if (!counted) deps.metrics.add('IssuanceFailed', 'Count', 1);
  await deps.events.publish({
    detailType: EVENT_FAILED,
    detail: {
      certificateId: state.certificateId,
      domains: state.domains ?? record.config?.domains ?? [],
      error: error.Error,
      problem: message,
      ...(typeof state.directoryUrl === 'string' ? { directoryUrl: state.directoryUrl } : {}),
      consecutiveFailures,
      nextAttemptAt,
      currentCertificate: record.issued
        ? { serial: record.issued.serial, notAfter: record.issued.notAfter, acmArns: record.acmArns ?? {} }
        : null,
      executionId,
    },
  });
  if (state.revoked) await publishRevoked(state, deps, executionId, null);
}

async function publishRevoked(
  state: IssuanceState,
  deps: Pick<StepDeps, 'events'>,
  executionId: string,
  replacement: { serial: string; notAfter: string; acmArns: Readonly<Record<string, string>> } | null,
): Promise<void> {
  if (!state.revoked) return;
  await deps.events.publish({
    detailType: EVENT_REVOKED,
    detail: {
      certificateId: state.certificateId,
      serial: state.revoked.serial,
      reason: revocationReasonName(state.revoked.reason),
      reasonCode: state.revoked.reason,
      replacement,
      executionId,
    },
  });
}
