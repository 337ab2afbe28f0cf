/** The public surface of the construct library. */

export type {
  CaRateLimitsSetting,
  RateLimitSetting,
} from '../lambdas/core/renewal/ca-rate-limits.js';
export type { KeyType } from '../lambdas/core/state.js';
export {
  AcmeCertificates,
  type AcmeCertificatesProps,
  type CertificateAuthorityChoice,
  type CertificateKeyType,
  type CertificateProps,
  type ExternalPersistRecord,
  MANAGED_BY_TAG,
  type ParameterDeliveryProps,
  type SecretDeliveryProps,
} from './acme-certificates.js';
export type { CertificateAuthority, HostedZoneRef } from './acme-certificates-props.js';
export { AcmeStack, type AcmeStackProps } from './acme-stack.js';
export { DEFAULT_LAMBDA_RUNTIME } from './lambda-bundle.js';
export {
  EVENT_DELIVERED,
  EVENT_SOURCE,
  METRICS_NAMESPACE,
  Monitoring,
  type MonitoringProps,
  PERSIST_RECORD_ALARM_DAYS,
} from './monitoring.js';
export { RenewalSchedule, type RenewalScheduleProps } from './renewal-schedule.js';
export { LETS_ENCRYPT_PRODUCTION, LETS_ENCRYPT_STAGING, type StepName } from './steps.js';
