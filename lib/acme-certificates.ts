import { Duration, Names, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { AccountKeys } from './account-keys.js';
import type { AcmeCertificatesProps } from './acme-certificates-props.js';
import { CertificateStore } from './certificate-store.js';
import { DeclaredCertificates, validateDirectoryUrl } from './declared-certificates.js';
import { IssuanceStateMachine } from './issuance-state-machine.js';
import { Monitoring } from './monitoring.js';
import { RenewalSchedule } from './renewal-schedule.js';
import { StepFunctions } from './step-functions.js';
import { grantStepPermissions } from './step-permissions.js';
import { LETS_ENCRYPT_PRODUCTION, type StepName } from './steps.js';

export type { AcmeCertificatesProps } from './acme-certificates-props.js';
export {
  type CertificateKeyType,
  type CertificateProps,
  DECLARED_CERTIFICATES_SERVICE_TIMEOUT,
} from './declared-certificates.js';
export { KEY_ADMIN_ACTIONS } from './key-policy.js';
export { MANAGED_BY_TAG, ROLLOVER_STEPS, SIGNING_STEPS, STORE_ACCESS } from './step-permissions.js';

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
  /** Encrypts the certificate store. */
  readonly storeKey: kms.Key;
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

  constructor(scope: Construct, id: string, props: AcmeCertificatesProps = {}) {
    super(scope, id);
    // S3 server access logs are delivered under a bucket policy rather than the LogDeliveryWrite
    // ACL, which BUCKET_OWNER_ENFORCED forbids. Context must be set before any child exists.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
    const directoryUrl = props.directoryUrl ?? LETS_ENCRYPT_PRODUCTION;
    validateDirectoryUrl(directoryUrl);
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
    });
    this.declared = new DeclaredCertificates(this, 'DeclaredCertificates', {
      certificates: props.certificates,
      hostedZones: props.hostedZones,
      stepFunctions: steps,
      store: this.store,
    });
    this.certificateKeys = this.declared.certificateKeys;
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

  private grantCertificateObjects(grantee: iam.IGrantable, prefix: string): iam.Grant {
    const grant = this.store.grantObjects(grantee, prefix, ['read']);
    if (Construct.isConstruct(grantee)) this.store.acknowledgeObjects(grantee, prefix);
    return grant;
  }
}
