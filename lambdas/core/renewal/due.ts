import { deliveryPending } from '../delivery/delivery-parts.js';
import type { CertificateRecord } from '../ports.js';

export type RenewalReason =
  | 'never-issued'
  | 'configuration-changed'
  | 'not-imported'
  | 'not-delivered'
  | 'renewal-time'
  | 'forced';

export type NotDueReason = 'not-managed' | 'backing-off' | 'not-due';

export type RenewalDecision =
  | { readonly due: true; readonly reason: RenewalReason }
  | { readonly due: false; readonly reason: NotDueReason; readonly nextCheckAt?: string };

/** What a certificate's configuration asks for; a different fingerprint means a reissue. */
export function configurationFingerprint(config: {
  readonly keyType: string;
  readonly domains: readonly string[];
  readonly kmsKeyArn?: string;
}): string {
  const key = config.kmsKeyArn ? `${config.keyType}@${config.kmsKeyArn}` : config.keyType;
  return `${key}:${config.domains.join(',')}`;
}

/**
 * Whether a certificate should be renewed now. A certificate is due when it was never issued,
 * when its declared names or key type changed, when an issued certificate has not reached every
 * target region or a declared delivery target, or when its renewal time has come; a failing one waits out its backoff first.
 */
export function renewalDecision(record: CertificateRecord, now: Date): RenewalDecision {
  const config = record.config;
  if (!config) return { due: false, reason: 'not-managed' };
  if (record.nextAttemptAt && new Date(record.nextAttemptAt) > now) {
    return { due: false, reason: 'backing-off', nextCheckAt: record.nextAttemptAt };
  }
  const issued = record.issued;
  if (!issued) return { due: true, reason: 'never-issued' };
  if (issued.fingerprint !== configurationFingerprint(config))
    return { due: true, reason: 'configuration-changed' };
  const arns = record.acmArns ?? {};
  // A KMS-held key's certificate is published to the store, never imported.
  const delivered = config.kmsKeyArn
    ? issued.publishedAt !== undefined
    : config.regions.every((region) => arns[region]) && issued.importedArn !== undefined;
  if (!delivered) return { due: true, reason: 'not-imported' };
  if (deliveryPending(config.delivery, issued)) return { due: true, reason: 'not-delivered' };
  if (record.nextRenewalAt && new Date(record.nextRenewalAt) <= now)
    return { due: true, reason: 'renewal-time' };
  if (new Date(issued.notAfter) <= now) return { due: true, reason: 'renewal-time' };
  return {
    due: false,
    reason: 'not-due',
    ...(record.nextRenewalAt ? { nextCheckAt: record.nextRenewalAt } : {}),
  };
}
