import type { Duration } from 'aws-cdk-lib';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { CaRateLimitsSetting } from '../lambdas/core/renewal/ca-rate-limits.js';
import type { CertificateProps } from './declared-certificates.js';

/** A Route 53 hosted zone, by id and domain name. */
export interface HostedZoneRef {
  /** The hosted zone's id, e.g. `Z0123456789ABCDEFGHIJ`. */
  readonly id: string;
  /** The zone's domain name, e.g. `example.org`. */
  readonly name: string;
}

/**
 * The props of `AcmeCertificates`: the CA, the hosted zones the workflow may write, the
 * certificates it manages, and how it renews and reports. Every one is optional.
 */
// In a file of their own so that the construct's file holds only the composition; each prop is
// read by the sub-construct it configures.
export interface AcmeCertificatesProps {
  /**
   * The ACME directory of the CA. Must be HTTPS.
   * @default Let's Encrypt production (`LETS_ENCRYPT_PRODUCTION`); use `LETS_ENCRYPT_STAGING` first.
   */
  readonly directoryUrl?: string;
  /**
   * CAs to fall back on, most preferred first, for example Let's Encrypt, then Google Trust
   * Services. Every run starts with the first; when it cannot serve the run for reasons that are
   * not the certificate's (unreachable or failing with 5xx after the retries, rate-limiting new
   * orders past the renewal window, refused by that CA's CAA records) the same execution takes
   * the next, before any order exists there. Each CA has its own account under the KMS key, and
   * the registry and events say which one issued (`issuedBy`). Replaces `directoryUrl` and
   * `externalAccountBindingSecret`; a certificate may give its own list (of directory URLs listed
   * here, or without binding).
   * @default `directoryUrl` alone
   */
  readonly certificateAuthorities?: readonly CertificateAuthority[];
  /**
   * Contact email registered with the CA account, for expiry and policy notices.
   * @default no contact
   */
  readonly contactEmail?: string;
  /**
   * Route 53 hosted zone ids the workflow may write `_acme-challenge` TXT records into.
   * Writes are limited to these zones, to TXT records, and to names under `_acme-challenge.`.
   * @default every hosted zone in the account (with the same record-type and name limits)
   */
  readonly hostedZoneIds?: readonly string[];
  /**
   * Hosted zones by id and name: like `hostedZoneIds`, and synth also checks that a zone covers
   * every declared certificate's domains, so a typo fails the deploy instead of a renewal.
   * @default no synth-time check of domains against zones
   */
  readonly hostedZones?: readonly HostedZoneRef[];
  /**
   * Dedicated validation zones that `_acme-challenge` CNAMEs delegate to: TXT records may be
   * written at any name there (the CNAME target), still TXT only.
   * @default none
   */
  readonly validationZoneIds?: readonly string[];
  /**
   * Roles in other accounts that hold hosted zones (`zoneRoles` in a certificate or the input):
   * the DNS steps may assume exactly these.
   * @default none
   */
  readonly zoneRoleArns?: readonly string[];
  /**
   * Log level of the Lambda functions. Logs never contain keys.
   * @default 'INFO'
   */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /**
   * How long the Lambdas wait for one ACME or AWS call before giving up.
   * @default Duration.seconds(60)
   */
  readonly functionTimeout?: Duration;
  /**
   * The Lambda runtime of every function. The bundled functions are ES modules built for Node.js 22
   * and later, so a `nodejs22.x` or later Node.js runtime is accepted and anything else is refused
   * at synth. Pin one if your organisation manages runtime upgrades itself.
   * @default lambda.Runtime.NODEJS_24_X (Node.js 24 is supported into 2028; nodejs22.x leaves standard support on 2027-04-30)
   */
  readonly lambdaRuntime?: lambda.Runtime;
  /**
   * Certificates to manage. They are written to the registry at deploy and renewed on schedule;
   * changing a certificate's domains or key type reissues it on the next run.
   * @default none (certificates can still be added with an `issue` execution)
   */
  readonly certificates?: readonly CertificateProps[];
  /**
   * The symmetric KMS key the delivered secrets and parameters (`secret`, `parameters` of a
   * certificate) are encrypted with. Its key policy must let this account's IAM policies use it
   * through Secrets Manager and Parameter Store: the grants add identity statements only, and
   * CloudFormation creates each secret's pending value with it at deploy.
   * @default a key the construct creates (rotation enabled, retained on delete) when some certificate declares a delivery, usable only by the roles it grants
   */
  readonly deliveryKey?: kms.IKey;
  /**
   * The issuance limits the renewal planner paces first issuances (and renewals without ARI) by,
   * per CA directory URL: `'none'`, `'letsencrypt'`, or the limits themselves, such as
   * `{ newOrdersPerAccount: { count: 100, windowSeconds: 10800 } }` (a limit left out is not
   * paced). A CA without an entry is paced by Let's Encrypt's published limits, except one on the
   * loopback interface (a local test CA), which is not paced. Checked at synth.
   * @default Let's Encrypt's limits for every CA
   */
  readonly caRateLimits?: Readonly<Record<string, CaRateLimitsSetting>>;
  /**
   * When the renewal planner runs.
   * @default every day
   */
  readonly renewalSchedule?: events.Schedule;
  /**
   * Days between planner runs, for the "renewals not running" alarm; set it with a custom schedule.
   * @default 1
   */
  readonly renewalIntervalDays?: number;
  /**
   * Renewals running at the same time.
   * @default 5
   */
  readonly renewalConcurrency?: number;
  /**
   * Alarm when a managed certificate is within this many days of expiry.
   * @default 14
   */
  readonly expiryAlarmDays?: number;
  /**
   * Alarm when a renewal has failed this many times in a row.
   * @default 3
   */
  readonly failureAlarmThreshold?: number;
  /**
   * Email addresses for renewal failures and alarms, through an SNS topic.
   * @default no topic
   */
  readonly notificationEmails?: readonly string[];
  /**
   * External account binding for CAs that require it (ZeroSSL, Google Trust Services, Sectigo):
   * a secret holding `{"kid":"…","hmacKey":"<base64url>"}`. Only RegisterAccount may read it.
   * @default no binding
   */
  readonly externalAccountBindingSecret?: secretsmanager.ISecret;
  /**
   * Generation of the ACME account key. Raising it by one creates a new KMS key and keeps the
   * previous generation's beside it; the next run (or `{"action":"rollover-account-key"}`) moves the
   * CA account to the new key with `keyChange` (RFC 8555 §7.3.5), keeping its URL, rate limits and
   * binding. The key two generations back leaves the stack but is retained in KMS: schedule its
   * deletion once the rollover succeeded.
   * @default 1
   */
  readonly accountKeyGeneration?: number;
}

/** One CA of the construct's `certificateAuthorities`. */
export interface CertificateAuthority {
  /** The CA's ACME directory URL (HTTPS). */
  readonly directoryUrl: string;
  /**
   * The CA's external account binding, as for `externalAccountBindingSecret`: a secret holding
   * `{"kid":"…","hmacKey":"<base64url>"}`, read by RegisterAccount only.
   * @default no binding
   */
  readonly externalAccountBindingSecret?: secretsmanager.ISecret;
  /**
   * The ACME profile to ask this CA for, instead of the certificate's.
   * @default the certificate's profile
   */
  readonly profile?: string;
}
