import { Duration, Names, Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { validationDomainName } from '../lambdas/core/acme/dns-persist.js';
import { CertificateAuthoritiesSchema } from '../lambdas/core/config/fields.js';
import { parseWith, pathLabel } from '../lambdas/core/config/messages.js';
import { parseRateLimitOverrides } from '../lambdas/core/renewal/ca-rate-limits.js';
import { AccountKeys } from './account-keys.js';
import type { AcmeCertificatesProps, CertificateAuthority } from './acme-certificates-props.js';
import { CertificateDelivery } from './certificate-delivery.js';
import { CertificateStore } from './certificate-store.js';
import { DeclaredCertificates, validateDeclarations, validateDirectoryUrl } from './declared-certificates.js';
import { IssuanceStateMachine } from './issuance-state-machine.js';
import { EVENT_DELIVERED, EVENT_SOURCE, Monitoring } from './monitoring.js';
import { RenewalSchedule } from './renewal-schedule.js';
import { StepFunctions } from './step-functions.js';
import { grantStepPermissions } from './step-permissions.js';
import { LETS_ENCRYPT_PRODUCTION, type StepName } from './steps.js';

export type { AcmeCertificatesProps } from './acme-certificates-props.js';
export {
  type CertificateAuthorityChoice,
  type CertificateKeyType,
  type CertificateProps,
  DECLARED_CERTIFICATES_SERVICE_TIMEOUT,
  type ParameterDeliveryProps,
  type SecretDeliveryProps,
} from './declared-certificates.js';
export { KEY_ADMIN_ACTIONS } from './key-policy.js';
export { MANAGED_BY_TAG, ROLLOVER_STEPS, SIGNING_STEPS, STORE_ACCESS } from './step-permissions.js';

/** A dns-persist-01 record that an operator creates for a certificate declared with `externalDns`. */
export interface ExternalPersistRecord {
  /** `_validation-persist.<name>`, lower-case, without the trailing dot. */
  readonly recordName: string;
  /** The certificate it validates: `acme-aws persist-record <certificateId>` prints its value. */
  readonly certificateId: string;
}

/**
 * Everything one ACME CA account needs on AWS: the KMS-held account key, the encrypted
 * certificate store, one Lambda per workflow step and the Standard state machine that sequences
 * them. Start an execution with `{ certificateId, domains }` to issue or renew into ACM. It only
 * composes the sub-constructs and wires them together; each owns its resources.
 */
export class AcmeCertificates extends Construct {
  /** The ACME account key of the current generation: ECC_NIST_P256, SIGN_VERIFY, retained on delete. */
  readonly accountKey: kms.Key;
  /** The previous generation's account key, kept while the account may still be on it. */
  readonly previousAccountKey?: kms.Key;
  /** The KMS keys of certificates declared with `kmsKey`, by certificate id. */
  readonly certificateKeys: Readonly<Record<string, kms.IKey>>;
  /**
   * The dns-persist-01 records an operator must create for the certificates declared with
   * `externalDns`, by name (`_validation-persist.<name>`) and certificate id. Their values name the
   * CA account, which exists only after the first run: `acme-aws persist-record <id>` prints them.
   */
  readonly externalPersistRecords: readonly ExternalPersistRecord[];
  /** Encrypts the certificate store. */
  readonly storeKey: kms.Key;
  /**
   * Encrypts the delivered secrets and parameters: the `deliveryKey` prop, or the key created
   * when some certificate declares a delivery. Absent when there is neither.
   */
  readonly deliveryKey?: kms.IKey;
  /**
   * The Secrets Manager secret of each certificate declared with `secret`, by certificate id:
   * created at deploy with a pending value, a new version at each issuance and renewal. Let
   * workloads read one with `grantReadSecret`, which also adds them to the delivery key's policy;
   * the secret's own `grantRead` does not.
   */
  readonly deliverySecrets: Readonly<Record<string, secretsmanager.ISecret>>;
  /** Issued chains and encrypted private keys, so an import can be retried without reissuing. */
  readonly certificateStore: s3.Bucket;
  /** Server access logs of the certificate store: who read or wrote which object, kept a year. */
  readonly accessLogs: s3.Bucket;
  /** One item per CA account and per certificate: locks, pending orders, issued and imported state. */
  readonly registry: dynamodb.Table;
  /** The issuance state machine: one execution issues, renews or revokes one certificate. */
  readonly stateMachine: sfn.StateMachine;
  /** The function behind each step of the state machine. */
  readonly functions: Readonly<Record<StepName, lambda.Function>>;
  /** Lists the certificates that are due; run by `renewals` on the schedule. */
  readonly planner: lambda.Function;
  /**
   * Cleans up after an issuance execution that ended without its Cleanup (timed out, stopped, or
   * failed past its Catch), invoked by the rule on the state machine's status changes.
   */
  readonly endedExecutionCleanup: lambda.Function;
  /** The scheduled fleet renewal. */
  readonly renewals: RenewalSchedule;
  /** Alarms, dashboard and the optional notification topic. */
  readonly monitoring: Monitoring;
  private readonly store: CertificateStore;
  private readonly declared: DeclaredCertificates;
  private readonly delivery: CertificateDelivery;

  constructor(scope: Construct, id: string, props: AcmeCertificatesProps = {}) {
    super(scope, id);
    // S3 server access logs are delivered under a bucket policy rather than the LogDeliveryWrite
    // ACL, which BUCKET_OWNER_ENFORCED forbids. Context must be set before any child exists.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
    const authorities = checkCertificateAuthorities(props);
    for (const certificate of props.certificates ?? []) {
      // A pin names one CA: the construct's list of several would have the others refused.
      if (
        certificate.pinCaa &&
        (authorities?.length ?? 1) > 1 &&
        (certificate.certificateAuthorities?.length ?? 0) !== 1
      ) {
        throw new Error(
          `AcmeCertificates: certificate "${certificate.id}" sets pinCaa, which pins its names to one CA and this account there, while certificateAuthorities lists ${authorities?.length} CAs that the pin would have refuse it. Give the certificate one CA (its own certificateAuthorities), or remove pinCaa.`,
        );
      }
    }
    const directoryUrl = authorities?.[0]?.directoryUrl ?? props.directoryUrl ?? LETS_ENCRYPT_PRODUCTION;
    validateDirectoryUrl(directoryUrl);
    const stack = Stack.of(this);
    const declarations = validateDeclarations(props.certificates ?? [], {
      region: stack.region,
      stackName: stack.stackName,
      ...(props.hostedZones ? { hostedZones: props.hostedZones } : {}),
    });
    const managedByTag = Names.uniqueId(this);

    const keys = new AccountKeys(this, 'AccountKeys', { generation: props.accountKeyGeneration });
    this.accountKey = keys.accountKey;
    if (keys.previousAccountKey) this.previousAccountKey = keys.previousAccountKey;
    this.store = new CertificateStore(this, 'Store');
    this.storeKey = this.store.storeKey;
    this.certificateStore = this.store.bucket;
    this.accessLogs = this.store.accessLogs;
    this.registry = this.store.registry;

    // Events of ended executions whose cleanup failed even after Lambda's two retries.
    const cleanupDeadLetters = new sqs.Queue(this, 'EndedExecutionCleanupDeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const isTheDeadLetterQueue =
      'This queue is itself the dead-letter queue of the ended-execution cleanup: an alarm fires on any message in it, and the next run of the certificate removes what was left.';
    Validations.of(cleanupDeadLetters).acknowledge(
      { id: 'AwsSolutions-SQS3', reason: isTheDeadLetterQueue },
      { id: 'Serverless-SQSRedrivePolicy', reason: isTheDeadLetterQueue },
    );
    const steps = new StepFunctions(this, 'Steps', {
      environment: {
        ACME_DIRECTORY_URL: directoryUrl,
        ACCOUNT_KEY_ID: this.accountKey.keyId,
        CERT_STORE_BUCKET: this.certificateStore.bucketName,
        CERT_STORE_KMS_KEY_ID: this.storeKey.keyArn,
        REGISTRY_TABLE: this.registry.tableName,
        ACM_MANAGED_BY_TAG: managedByTag,
        POWERTOOLS_SERVICE_NAME: 'acme-aws',
        POWERTOOLS_LOG_LEVEL: props.logLevel ?? 'INFO',
        ...(props.contactEmail ? { CONTACT_EMAIL: props.contactEmail } : {}),
      },
      timeout: props.functionTimeout,
      ...(props.lambdaRuntime ? { runtime: props.lambdaRuntime } : {}),
      cleanupDeadLetters,
    });
    this.functions = steps.functions;
    this.endedExecutionCleanup = steps.endedExecutionCleanup;
    this.planner = steps.planner;
    if (props.caRateLimits) {
      const overrides = JSON.stringify(props.caRateLimits);
      // Refused at synth, not on the first scheduled run.
      parseRateLimitOverrides(overrides);
      this.planner.addEnvironment('ACME_CA_RATE_LIMITS', overrides);
    }

    this.delivery = new CertificateDelivery(this, 'Delivery', {
      deliveries: declarations.deliveries,
      ...(props.deliveryKey ? { key: props.deliveryKey } : {}),
    });
    if (this.delivery.key) this.deliveryKey = this.delivery.key;
    this.deliverySecrets = this.delivery.secrets;

    const hostedZoneIds = [
      ...(props.hostedZoneIds ?? []),
      ...(props.hostedZones ?? []).map((zone) => zone.id),
    ];
    grantStepPermissions(this, {
      functions: {
        ...steps.functions,
        CleanupEndedExecution: steps.endedExecutionCleanup,
        PlanRenewals: steps.planner,
      },
      keys,
      store: this.store,
      managedByTag,
      hostedZoneIds,
      validationZoneIds: props.validationZoneIds,
      zoneRoleArns: props.zoneRoleArns,
      externalAccountBindingSecret: props.externalAccountBindingSecret,
      certificateAuthorities: authorities,
      delivery: this.delivery,
      persistRecordNames: declarations.certificates
        .filter((certificate) => certificate.challenge === 'dns-persist-01' && !certificate.externalDns)
        .flatMap((certificate) => certificate.domains.map(validationDomainName)),
      caaPinNames: declarations.certificates
        .filter((certificate) => certificate.pinCaa)
        .flatMap((certificate) => certificate.domains.map((domain) => domain.replace(/^\*\./, ''))),
      dns01:
        declarations.certificates.length === 0 ||
        declarations.certificates.some((certificate) => certificate.challenge !== 'dns-persist-01'),
    });
    this.declared = new DeclaredCertificates(this, 'DeclaredCertificates', {
      certificates: props.certificates,
      configs: declarations.certificates,
      deliveryTargets: (certificateId) => this.delivery.targets(certificateId),
      stepFunctions: steps,
      store: this.store,
    });
    this.certificateKeys = this.declared.certificateKeys;
    this.externalPersistRecords = declarations.certificates
      .filter((certificate) => certificate.externalDns)
      .flatMap((certificate) =>
        [...new Set(certificate.domains.map(validationDomainName))].map((recordName) => ({
          recordName,
          certificateId: certificate.id,
        })),
      );
    // RegisterAccount checks a certificate's key against its declared record (the custom resource
    // writes `kmsKeyArn` there), not an environment list, which would outgrow Lambda's 4 KB.
    for (const certificateId of Object.keys(this.certificateKeys)) {
      this.declared.grantCertificateKeyUse(certificateId, this.functions.Finalize);
    }

    this.stateMachine = new IssuanceStateMachine(this, 'IssuanceStateMachine', {
      functions: this.functions,
      endedExecutionCleanup: this.endedExecutionCleanup,
      cleanupDeadLetters,
    }).stateMachine;
    this.renewals = new RenewalSchedule(this, 'Renewals', {
      planner: this.planner,
      issuance: this.stateMachine,
      ...(props.renewalSchedule ? { schedule: props.renewalSchedule } : {}),
      ...(props.renewalConcurrency ? { maxConcurrency: props.renewalConcurrency } : {}),
    });
    this.monitoring = new Monitoring(this, 'Monitoring', {
      issuance: this.stateMachine,
      renewals: this.renewals.stateMachine,
      scheduleDeadLetters: this.renewals.deadLetterQueue,
      cleanupDeadLetters,
      expiryAlarmDays: props.expiryAlarmDays,
      failureAlarmThreshold: props.failureAlarmThreshold,
      scheduleIntervalDays: props.renewalIntervalDays,
      notificationEmails: props.notificationEmails,
    });
  }

  /**
   * Lets `grantee` read issued certificates and keys (for workloads outside ACM): `s3:GetObject`
   * under `certificates/`, and `kms:Decrypt` through S3 in both its identity policy and the store
   * key's policy.
   */
  grantReadCertificates(grantee: iam.IGrantable): iam.Grant {
    return this.grantCertificateObjects(grantee, 'certificates/*');
  }

  /**
   * Lets a workload use the certificate `certificateId`, declared with `kmsKey`: sign with its key
   * (`kms:Sign` with the key type's algorithm, and `kms:GetPublicKey`) and read its issued chains
   * from the certificate store (`certificates/<id>/`).
   */
  grantCertificateKeyUse(certificateId: string, grantee: iam.IGrantable): iam.Grant {
    return this.declared
      .grantCertificateKeyUse(certificateId, grantee)
      .combine(this.grantCertificateObjects(grantee, `certificates/${certificateId}/*`));
  }

  /**
   * Lets `grantee` read the Secrets Manager secret of the certificate `certificateId`, declared
   * with `secret`: `secretsmanager:GetSecretValue` and `DescribeSecret` on exactly that secret,
   * and `kms:Decrypt` on the delivery key through Secrets Manager only (in the key policy too,
   * when the construct created the key). Throws when the certificate declares no secret.
   */
  grantReadSecret(certificateId: string, grantee: iam.IGrantable): iam.Grant {
    return this.delivery.grantReadSecret(certificateId, grantee);
  }

  /**
   * Lets `grantee` read the parameters of the certificate `certificateId`, declared with
   * `parameters`: `ssm:GetParameter`, `GetParameters` and `GetParametersByPath` on its path and
   * the parameters under it, and `kms:Decrypt` on the delivery key through Parameter Store only.
   * Throws when the certificate declares no parameters.
   */
  grantReadParameters(certificateId: string, grantee: iam.IGrantable): iam.Grant {
    return this.delivery.grantReadParameters(certificateId, grantee);
  }

  /**
   * A rule on the `Certificate Delivered` events of the certificate `certificateId` (source
   * `EVENT_SOURCE`, one event per secret or parameter written, with `detail.certificateId`,
   * `target`, `secretArn` or `parameterName`, `version`, `serial` and `notAfter`, never key
   * material), for a target that reloads the workloads: a Lambda that restarts an ECS service, or
   * an SSM Run Command that reloads nginx. `options.eventPattern` is merged in, as `Rule.addEventPattern`
   * merges, and `options.target` added. Throws when
   * the certificate declares no delivery.
   */
  onCertificateDelivered(
    certificateId: string,
    id: string,
    options: events.OnEventOptions = {},
  ): events.Rule {
    if (!this.delivery.delivers(certificateId)) {
      throw new Error(
        `AcmeCertificates: onCertificateDelivered("${certificateId}"): no certificate with that id is declared with secret or parameters, so none is ever delivered. Add secret or parameters to its declaration.`,
      );
    }
    const rule = new events.Rule(this, id, {
      description:
        options.description ??
        `Runs when the certificate "${certificateId}" is delivered to its secret or parameters`,
      ...(options.ruleName ? { ruleName: options.ruleName } : {}),
      eventPattern: {
        source: [EVENT_SOURCE],
        detailType: [EVENT_DELIVERED],
        detail: { certificateId: [certificateId] },
      },
    });
    if (options.eventPattern) rule.addEventPattern(options.eventPattern);
    if (options.target) rule.addTarget(options.target);
    return rule;
  }

  private grantCertificateObjects(grantee: iam.IGrantable, prefix: string): iam.Grant {
    const grant = this.store.grantObjects(grantee, prefix, ['read']);
    if (Construct.isConstruct(grantee)) this.store.acknowledgeObjects(grantee, prefix);
    return grant;
  }
}

/**
 * The construct's `certificateAuthorities`, checked at synth with the rules an input's list
 * follows; `undefined` without one. It cannot be combined with `directoryUrl` or
 * `externalAccountBindingSecret`, which it replaces.
 */
function checkCertificateAuthorities(
  props: AcmeCertificatesProps,
): readonly CertificateAuthority[] | undefined {
  const authorities = props.certificateAuthorities;
  if (!authorities) return undefined;
  if (props.directoryUrl !== undefined || props.externalAccountBindingSecret !== undefined) {
    throw new Error(
      'AcmeCertificates: certificateAuthorities replaces directoryUrl and externalAccountBindingSecret: list the CA first in certificateAuthorities, with its externalAccountBindingSecret, and remove the other two props.',
    );
  }
  parseWith(
    CertificateAuthoritiesSchema,
    authorities.map(({ directoryUrl, profile }) => ({
      directoryUrl,
      ...(profile !== undefined ? { profile } : {}),
    })),
    pathLabel('AcmeCertificates: certificateAuthorities'),
    (message) => new Error(message),
  );
  return authorities;
}
