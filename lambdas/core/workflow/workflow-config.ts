import type { CertificateAuthorityEntry } from '../ports.js';

/** Deployment-wide settings that do not change per execution. */
export interface WorkflowConfig {
  /** Used when the execution input names no directory. */
  readonly defaultDirectoryUrl: string;
  /** The region the workflow runs in: where certificates are imported unless told otherwise. */
  readonly defaultRegion: string;
  readonly contactEmail?: string;
  /**
   * The construct's `validationZoneIds` (`VALIDATION_ZONE_IDS`): the zones of this account where
   * IAM lets a TXT record have any name. Elsewhere only `_acme-challenge.*` names may be written.
   */
  readonly validationZoneIds?: readonly string[];
  /**
   * The construct's `hostedZones` / `hostedZoneIds` (`HOSTED_ZONE_IDS`): when set, the only zones
   * of this account besides the validation zones that IAM lets the workflow write.
   */
  readonly writableZoneIds?: readonly string[];
  /**
   * The `_validation-persist` names IAM lets PublishChallenges create (`PERSIST_RECORD_NAMES`):
   * those of the certificates the construct declares with `challenge: 'dns-persist-01'`, or the one
   * pattern `_validation-persist.*`. @default none
   */
  readonly persistRecordNames?: readonly string[];
  /**
   * `false` when IAM lets no step write dns-01 records (`DNS01_WRITES=none`): every certificate
   * the construct declares uses dns-persist-01. @default true
   */
  readonly dns01Writes?: boolean;
  /**
   * The deployment's CAs, most preferred first (`ACME_CERTIFICATE_AUTHORITIES`); the first is
   * `defaultDirectoryUrl`. @default `defaultDirectoryUrl` alone
   */
  readonly certificateAuthorities?: readonly CertificateAuthorityEntry[];
  /**
   * The names IAM lets PublishChallenges pin CAA records at (`CAA_PIN_NAMES`): those of the
   * certificates the construct declares with `pinCaa`. @default none
   */
  readonly caaPinNames?: readonly string[];
  /** Value of the `acme-aws:managed-by` tag the IAM policy lets us re-import into. */
  readonly managedByTag: string;
  /** Seconds between Route 53 GetChange polls. */
  readonly dnsPollSeconds: number;
  /** Seconds between order polls when the CA sends no Retry-After. */
  readonly orderPollSeconds: number;
  /** Polls allowed per waiting loop before the issuance fails. */
  readonly maxPolls: number;
  /** How long a certificate's lock lasts from the start of the execution that takes it: the execution timeout. */
  readonly lockTtlSeconds: number;
}
