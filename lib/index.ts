/** The public surface of the construct library. */
export {
  AcmeCertificates,
  type AcmeCertificatesProps,
  type CertificateKeyType,
  type CertificateProps,
  MANAGED_BY_TAG,
} from './acme-certificates.js';
export { AcmeStack, type AcmeStackProps } from './acme-stack.js';
export { EVENT_SOURCE, METRICS_NAMESPACE, Monitoring, type MonitoringProps } from './monitoring.js';
export { RenewalSchedule, type RenewalScheduleProps } from './renewal-schedule.js';
export { LETS_ENCRYPT_PRODUCTION, LETS_ENCRYPT_STAGING } from './steps.js';
