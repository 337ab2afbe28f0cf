import { fallbackRenewalTime } from '../acme/renewal-info.js';
import { revocationReasonName } from '../acme/revocation-reasons.js';
import { planTxtChanges } from '../dns/plan.js';
import { roleForZone } from '../dns/zone-roles.js';
import { nextAttemptAfterFailure } from '../renewal/backoff.js';
import { rateLimitLiftsAt } from '../renewal/rate-limit.js';
import type { IssuanceState } from '../state.js';
import type { StepDeps } from './deps.js';
import { failureMessage } from './failure.js';

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
 * Cleanup: removes exactly the TXT values this execution published, on success and after any
 * failure; then, if this execution held the certificate's lock, records the outcome (the next
 * renewal time, or the failure with its backoff), announces it as an EventBridge event and a
 * metric (and, after a revocation, a Revoked event), and releases the lock. Safe to repeat, and a no-op for DNS when nothing was published.
 */
export async function cleanup(
  state: IssuanceState,
  deps: Pick<StepDeps, 'dns' | 'registry' | 'events' | 'metrics' | 'clock' | 'log'>,
): Promise<IssuanceState> {
  for (const { zoneId, records } of planTxtChanges(state.challenges ?? [])) {
    await deps.dns.removeTxt(zoneId, records, roleForZone(state.zoneRoles, zoneId));
    deps.log.info('Removed TXT records', { zoneId, records: records.map((record) => record.name) });
  }
  // The lock may have been taken even when the step that took it failed afterwards, so ask the
  // registry who holds it rather than trusting the state.
  const executionId = state.execution?.id;
  if (!executionId || typeof state.certificateId !== 'string') return state;
  const record = await deps.registry.get(state.certificateId);
  if (record?.lock?.executionId !== executionId) return state;

  const now = deps.clock.now();
  const startedAt = state.execution?.startedAt ? new Date(state.execution.startedAt) : undefined;
  if (startedAt)
    deps.metrics.add('IssuanceDuration', 'Seconds', (now.getTime() - startedAt.getTime()) / 1000);
  if (state.error) {
    const consecutiveFailures = (record.consecutiveFailures ?? 0) + 1;
    // A rate limit says when it lifts: waiting less would only hit it again.
    const backoff = nextAttemptAfterFailure(consecutiveFailures, now);
    const message = failureMessage(state.error.Cause);
    const lifts = rateLimitLiftsAt(state.error.Error, message);
    const nextAttemptAt = (lifts && lifts > backoff ? lifts : backoff).toISOString();
    await deps.registry.update(state.certificateId, {
      status: 'failed',
      consecutiveFailures,
      nextAttemptAt,
      lastError: { name: state.error.Error, message, at: now.toISOString() },
    });
    deps.metrics.add('IssuanceFailed', 'Count', 1);
    await deps.events.publish({
      detailType: EVENT_FAILED,
      detail: {
        certificateId: state.certificateId,
        domains: state.domains ?? record.config?.domains ?? [],
        error: state.error.Error,
        problem: message,
        consecutiveFailures,
        nextAttemptAt,
        currentCertificate: record.issued
          ? { serial: record.issued.serial, notAfter: record.issued.notAfter, acmArns: record.acmArns ?? {} }
          : null,
        executionId,
      },
    });
    if (state.revoked) await publishRevoked(state, deps, executionId, null);
  } else if (state.certificate) {
    const notBefore = record.issued?.notBefore ? new Date(record.issued.notBefore) : now;
    const nextRenewalAt = fallbackRenewalTime(notBefore, new Date(state.certificate.notAfter)).toISOString();
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
      detailType: state.renewal ? EVENT_RENEWED : EVENT_ISSUED,
      detail: {
        certificateId: state.certificateId,
        domains: state.domains,
        serial: state.certificate.serial,
        notAfter: state.certificate.notAfter,
        nextRenewalAt,
        acmArns: state.certificateArns ?? {},
        ...(state.arnReplaced ? { arnReplaced: state.arnReplaced } : {}),
        ...(state.kmsKeyArn
          ? { kmsKeyArn: state.kmsKeyArn, fullchainStoreKey: `${state.certificate.storeKey}/fullchain.pem` }
          : {}),
        executionId,
      },
    });
    if (state.revoked) {
      await publishRevoked(state, deps, executionId, {
        serial: state.certificate.serial,
        notAfter: state.certificate.notAfter,
        acmArns: state.certificateArns ?? {},
      });
    }
  }
  await deps.registry.releaseLock(state.certificateId, executionId);
  return state;
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
