import {
  Annotations,
  CustomResource,
  Duration,
  Lazy,
  Names,
  RemovalPolicy,
  Stack,
  Token,
  Validations,
} from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct, type IConstruct } from 'constructs';
import { forecastAcmImports } from '../lambdas/core/renewal/quota.js';
import { ACCOUNT_ACTIONS } from '../lambdas/core/workflow/input.js';
import { ISSUANCE_TIMEOUT_SECONDS } from '../lambdas/core/workflow/wait-budget.js';
import { BUNDLE_HANDLER, LAMBDA_RUNTIME, stepCode } from './lambda-bundle.js';
import { Monitoring, STATE_MACHINE_LOG_PREFIX } from './monitoring.js';
import { RenewalSchedule } from './renewal-schedule.js';
import { LETS_ENCRYPT_PRODUCTION, STEP_HANDLERS, type StepName } from './steps.js';

/** Error names worth retrying with backoff; mirrors `TRANSIENT_ERROR_NAMES` in the core. */
/** The issuance state machine's timeout, which the core's wait budget plans within; the certificate's lock lasts no longer. */
const ISSUANCE_TIMEOUT = Duration.seconds(ISSUANCE_TIMEOUT_SECONDS);
/**
 * Errors Lambda reports for an invocation whose execution environment failed rather than the
 * handler ("Troubleshoot invocation issues in Lambda"): the process exited, the sandbox timed out,
 * or the error was not reported at all.
 */
const PLATFORM_ERRORS = ['Runtime.ExitError', 'Sandbox.Timedout', 'Lambda.Unknown'];
const TRANSIENT_ERRORS = ['AcmeServerError', 'AcmeConnectionError', 'BadNonceError', 'AwsTransientError'];

/** The tag key that marks ACM certificates this construct may re-import into. */
export const MANAGED_BY_TAG = 'acme-aws:managed-by';

/** The steps that send JWS to the CA, and so the only roles that may use the account key. */
export const SIGNING_STEPS: readonly StepName[] = [
  'ManageAccount',
  'RegisterAccount',
  'RevokeCertificate',
  'CreateOrder',
  'AnswerChallenges',
  'WaitForAuthorizations',
  'Finalize',
  'WaitForCertificate',
];

/** The steps that may roll the account over, and so the only roles that may use the previous account key. */
export const ROLLOVER_STEPS: readonly StepName[] = ['ManageAccount', 'RegisterAccount'];

/**
 * How long CloudFormation waits for the custom resource that records the declared certificates,
 * instead of its one-hour default: a sync that cannot answer fails the deploy in minutes.
 */
export const DECLARED_CERTIFICATES_SERVICE_TIMEOUT = Duration.minutes(5);

/** The longest the SyncDeclaredCertificates function may run: well inside the service timeout. */
const SYNC_FUNCTION_MAX_TIMEOUT = Duration.minutes(2);

/** KMS key specs and the one signing algorithm a CSR of each certificate key type uses. */
const CERTIFICATE_KEY_SPECS: Readonly<Record<CertificateKeyType, { spec: kms.KeySpec; algorithm: string }>> =
  {
    EC_P256: { spec: kms.KeySpec.ECC_NIST_P256, algorithm: 'ECDSA_SHA_256' },
    EC_P384: { spec: kms.KeySpec.ECC_NIST_P384, algorithm: 'ECDSA_SHA_384' },
    RSA_2048: { spec: kms.KeySpec.RSA_2048, algorithm: 'RSASSA_PKCS1_V1_5_SHA_256' },
    RSA_3072: { spec: kms.KeySpec.RSA_3072, algorithm: 'RSASSA_PKCS1_V1_5_SHA_256' },
    RSA_4096: { spec: kms.KeySpec.RSA_4096, algorithm: 'RSASSA_PKCS1_V1_5_SHA_256' },
  };

/**
 * Who reads and writes which prefix of the certificate store. The store key's policy is derived
 * from it: readers get `kms:Decrypt`, writers `kms:GenerateDataKey`, nobody else either.
 */
export const STORE_ACCESS: readonly {
  readonly step: StepName;
  readonly prefix: string;
  readonly access: readonly ('read' | 'write')[];
}[] = [
  { step: 'Finalize', prefix: 'orders/*', access: ['read', 'write'] },
  { step: 'WaitForCertificate', prefix: 'orders/*', access: ['read'] },
  { step: 'WaitForCertificate', prefix: 'certificates/*', access: ['write'] },
  { step: 'ImportToAcm', prefix: 'certificates/*', access: ['read'] },
  { step: 'RevokeCertificate', prefix: 'certificates/*', access: ['read'] },
];

/**
 * What the account root may do with either key: manage its life cycle, policy, aliases and tags,
 * spelled out (no `kms:*`, no `Get*`). It is not allowed to use the key (`kms:Sign`,
 * `kms:Decrypt`, `kms:GenerateDataKey`, `kms:GetPublicKey`) nor to `kms:CreateGrant`, which
 * would hand usage to anyone; each usage statement of the key policy lists, in an
 * `aws:PrincipalArn` condition, the roles that may use the key instead.
 */
export const KEY_ADMIN_ACTIONS: readonly string[] = [
  'kms:CancelKeyDeletion',
  'kms:CreateAlias',
  'kms:DeleteAlias',
  'kms:DescribeKey',
  'kms:DisableKey',
  'kms:DisableKeyRotation',
  'kms:EnableKey',
  'kms:EnableKeyRotation',
  'kms:GetKeyPolicy',
  'kms:GetKeyRotationStatus',
  'kms:ListGrants',
  'kms:ListKeyPolicies',
  'kms:ListKeyRotations',
  'kms:ListResourceTags',
  'kms:PutKeyPolicy',
  'kms:RevokeGrant',
  'kms:RotateKeyOnDemand',
  'kms:ScheduleKeyDeletion',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:UpdateAlias',
  'kms:UpdateKeyDescription',
];

export interface AcmeCertificatesProps {
  /**
   * The ACME directory of the CA. Must be HTTPS.
   * @default Let's Encrypt production (`LETS_ENCRYPT_PRODUCTION`); use `LETS_ENCRYPT_STAGING` first.
   */
  readonly directoryUrl?: string;
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
  readonly hostedZones?: readonly { readonly id: string; readonly name: string }[];
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
   * Certificates to manage. They are written to the registry at deploy and renewed on schedule;
   * changing a certificate's domains or key type reissues it on the next run.
   * @default none (certificates can still be added with an `issue` execution)
   */
  readonly certificates?: readonly CertificateProps[];
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

/** Certificate key algorithms; CloudFront accepts RSA and EC_P256. */
export type CertificateKeyType = 'EC_P256' | 'EC_P384' | 'RSA_2048' | 'RSA_3072' | 'RSA_4096';

/** One managed certificate. */
export interface CertificateProps {
  /** Stable id: 1-64 letters, digits, ".", "_" or "-". Names the ACM tag and the registry record. */
  readonly id: string;
  /** DNS names; a wildcard is a leading `*.` label. At most 100. */
  readonly domains: readonly string[];
  /**
   * Certificate key algorithm.
   * @default 'EC_P256'
   */
  readonly keyType?: CertificateKeyType;
  /**
   * ACM regions to import into, e.g. `['us-east-1']` for CloudFront plus the application region.
   * @default the stack's region
   */
  readonly regions?: readonly string[];
  /**
   * Hosted zone id per domain, overriding the longest matching public zone.
   * @default chosen by name
   */
  readonly hostedZoneIds?: Readonly<Record<string, string>>;
  /**
   * ACME profile, when the CA offers profiles (Let's Encrypt: `classic`, `tlsserver`, `shortlived`).
   * @default the CA's default
   */
  readonly profile?: string;
  /**
   * Common name of the root (topmost issuer) to prefer among the CA's alternate chains.
   * @default the CA's default chain
   */
  readonly preferredChain?: string;
  /**
   * Role to assume per hosted zone id, for zones in other accounts (list the roles in `zoneRoleArns`).
   * @default zones of this account only
   */
  readonly zoneRoles?: Readonly<Record<string, string>>;
  /**
   * Makes a KMS asymmetric key the certificate's key, instead of a key generated at each issuance:
   * `true` creates one (of `keyType`, retained on delete), or pass your own `SIGN_VERIFY` key of
   * that type (its key policy must let this account's IAM policies use it). The CSR is signed in
   * KMS and the private key never exists outside it, so ACM, which imports only keys it can read,
   * cannot take the certificate: it is published to the certificate store
   * (`certificates/<id>/<serial>/fullchain.pem`) for workloads that sign through KMS, which
   * `grantCertificateKeyUse` lets them do. The same key is reused at every renewal; rotate it by
   * declaring a new one.
   * @default a fresh key per issuance, imported into ACM
   */
  readonly kmsKey?: boolean | kms.IKey;
}

/**
 * Everything one ACME CA account needs on AWS: the KMS-held account key, the encrypted
 * certificate store, one Lambda per workflow step and the Standard state machine that sequences
 * them. Start an execution with `{ certificateId, domains }` to issue or renew into ACM.
 */
export class AcmeCertificates extends Construct {
  /** The ACME account key of the current generation: ECC_NIST_P256, SIGN_VERIFY, retained on delete. */
  readonly accountKey: kms.Key;
  /** The previous generation's account key, kept while the account may still be on it. */
  readonly previousAccountKey?: kms.Key;
  /** The KMS keys of certificates declared with `kmsKey`, by certificate id. */
  readonly certificateKeys: Readonly<Record<string, kms.IKey>>;
  /** The same keys with the key type each was declared with, which fixes its one signing algorithm. */
  private readonly kmsCertificates: Readonly<
    Record<string, { readonly key: kms.IKey; readonly keyType: CertificateKeyType }>
  >;
  /** Encrypts the certificate store. */
  readonly storeKey: kms.Key;
  /** Issued chains and encrypted private keys, so an import can be retried without reissuing. */
  readonly certificateStore: s3.Bucket;
  /** Server access logs of the certificate store: who read or wrote which object, kept a year. */
  readonly accessLogs: s3.Bucket;
  /** One item per CA account and per certificate: locks, pending orders, issued and imported state. */
  readonly registry: dynamodb.Table;
  readonly stateMachine: sfn.StateMachine;
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
  /**
   * The key policies' usage statements, by key and by what they allow (the principal's account,
   * actions and conditions): each holds the ARNs its `aws:PrincipalArn` condition lists.
   */
  private readonly keyUsage = new Map<kms.IKey, Map<string, string[]>>();

  constructor(scope: Construct, id: string, props: AcmeCertificatesProps = {}) {
    super(scope, id);
    // S3 server access logs are delivered under a bucket policy rather than the LogDeliveryWrite
    // ACL, which BUCKET_OWNER_ENFORCED forbids. Context must be set before any child exists.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
    const directoryUrl = props.directoryUrl ?? LETS_ENCRYPT_PRODUCTION;
    validateDirectoryUrl(directoryUrl);
    const managedByTag = Names.uniqueId(this);

    // An explicit policy replaces CDK's default "the account may do kms:*": the root administers,
    // and each statement that allows use lists its roles in a condition (see `allowKey`).
    const adminOnly = () =>
      new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({
            sid: 'AccountAdministersButDoesNotUse',
            principals: [new iam.AccountRootPrincipal()],
            actions: [...KEY_ADMIN_ACTIONS],
            resources: ['*'],
          }),
        ],
      });
    const generation = props.accountKeyGeneration ?? 1;
    if (!Number.isInteger(generation) || generation < 1) {
      throw new Error(
        `AcmeCertificates: accountKeyGeneration ${generation} is invalid: use a whole number from 1, raised by one to roll the account over to a new key.`,
      );
    }
    // Generation 1 keeps the original construct id, so existing deployments keep their key.
    const accountKeyOf = (keyGeneration: number) =>
      new kms.Key(this, keyGeneration === 1 ? 'AccountKey' : `AccountKey${keyGeneration}`, {
        description: `ACME account key, generation ${keyGeneration}: every JWS to the CA is signed here; the key never leaves KMS`,
        keySpec: kms.KeySpec.ECC_NIST_P256,
        keyUsage: kms.KeyUsage.SIGN_VERIFY,
        policy: adminOnly(),
        removalPolicy: RemovalPolicy.RETAIN,
      });
    this.accountKey = accountKeyOf(generation);
    if (generation > 1) this.previousAccountKey = accountKeyOf(generation - 1);
    const declared = validateCertificates(props.certificates ?? [], Stack.of(this).region);
    const kmsCertificates: Record<string, { key: kms.IKey; keyType: CertificateKeyType }> = {};
    for (const certificate of props.certificates ?? []) {
      if (!certificate.kmsKey) continue;
      const keyType = certificate.keyType ?? 'EC_P256';
      const key =
        certificate.kmsKey === true
          ? new kms.Key(this, `CertificateKey-${certificate.id}`, {
              description: `Key of the certificate "${certificate.id}": its CSR is signed here and it never leaves KMS`,
              keySpec: CERTIFICATE_KEY_SPECS[keyType].spec,
              keyUsage: kms.KeyUsage.SIGN_VERIFY,
              policy: adminOnly(),
              removalPolicy: RemovalPolicy.RETAIN,
            })
          : certificate.kmsKey;
      kmsCertificates[certificate.id] = { key, keyType };
    }
    this.kmsCertificates = kmsCertificates;
    const certificateKeys = Object.fromEntries(
      Object.entries(kmsCertificates).map(([id, { key }]) => [id, key]),
    );
    this.certificateKeys = certificateKeys;
    this.storeKey = new kms.Key(this, 'StoreKey', {
      description: 'Encrypts issued certificates and their private keys in the certificate store',
      enableKeyRotation: true,
      policy: adminOnly(),
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.accessLogs = new s3.Bucket(this, 'AccessLogs', {
      // S3 delivers server access logs only to SSE-S3 buckets, not SSE-KMS.
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(365) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.accessLogs).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'This is the access-log bucket of the certificate store; logging its own requests would need another log bucket, and so on. It is private, TLS-only and written only by the S3 logging service.',
    });
    this.certificateStore = new s3.Bucket(this, 'CertificateStore', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.storeKey,
      bucketKeyEnabled: true,
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(90) }],
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'certificate-store/',
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.certificateStore.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyObjectsNotEncryptedWithKms',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:PutObject'],
        resources: [this.certificateStore.arnForObjects('*')],
        conditions: { StringNotEquals: { 's3:x-amz-server-side-encryption': 'aws:kms' } },
      }),
    );

    this.registry = new dynamodb.Table(this, 'Registry', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // The registry holds URLs, serials and ARNs, never keys; the AWS managed key keeps the
      // store key's Decrypt away from every step that only needs the registry.
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const environment: Record<string, string> = {
      ACME_DIRECTORY_URL: directoryUrl,
      ACCOUNT_KEY_ID: this.accountKey.keyId,
      CERT_STORE_BUCKET: this.certificateStore.bucketName,
      CERT_STORE_KMS_KEY_ID: this.storeKey.keyArn,
      REGISTRY_TABLE: this.registry.tableName,
      ACM_MANAGED_BY_TAG: managedByTag,
      POWERTOOLS_SERVICE_NAME: 'acme-aws',
      POWERTOOLS_LOG_LEVEL: props.logLevel ?? 'INFO',
      ...(props.contactEmail ? { CONTACT_EMAIL: props.contactEmail } : {}),
    };
    const timeout = props.functionTimeout ?? Duration.seconds(60);
    const timeoutOf = (step: string): Duration => {
      // Following 100 CNAMEs, or asking every authoritative server when some time out, takes
      // longer than one CA call.
      if (step === 'CreateOrder' || step === 'WaitForDnsSync') {
        return Duration.seconds(Math.max(timeout.toSeconds(), 180));
      }
      // CloudFormation gives up on the custom resource after its service timeout; the function
      // must have answered (or failed) well before that.
      if (step === 'SyncDeclaredCertificates') {
        return Duration.seconds(Math.min(timeout.toSeconds(), SYNC_FUNCTION_MAX_TIMEOUT.toSeconds()));
      }
      return timeout;
    };
    const makeFunction = (step: string, folder: string, deadLetterQueue?: sqs.IQueue): lambda.Function => {
      const logGroup = new logs.LogGroup(this, `${step}Logs`, {
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      // Our own role instead of AWSLambdaBasicExecutionRole: it writes to this step's log group
      // only, and cannot create log groups anywhere.
      const role = new iam.Role(this, `${step}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `Runs ${step} of the ACME workflow`,
      });
      logGroup.grantWrite(role);
      const fn = new lambda.Function(this, `${step}Function`, {
        description: `ACME workflow: ${step}`,
        code: stepCode(folder),
        handler: BUNDLE_HANDLER,
        runtime: LAMBDA_RUNTIME,
        architecture: lambda.Architecture.ARM_64,
        memorySize: 256,
        timeout: timeoutOf(step),
        environment: { ...environment, ACME_STEP: folder },
        role,
        logGroup,
        tracing: lambda.Tracing.ACTIVE,
        ...(deadLetterQueue ? { deadLetterQueue } : {}),
      });
      acknowledgeWildcard(
        role,
        '*',
        'Active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions.',
      );
      if (!deadLetterQueue) {
        Validations.of(fn).acknowledge({
          id: 'Serverless-LambdaDLQ',
          reason:
            'Step Functions invokes every step synchronously (RequestResponse); a DLQ only receives failed asynchronous invocations. Failures reach the Catch that runs Cleanup, and the execution history.',
        });
      }
      Validations.of(fn).acknowledge(
        {
          id: 'AwsSolutions-L1',
          reason:
            'The runtime is pinned to nodejs22.x, which the bundles target and the tests run against; moving to a newer runtime is a reviewed change, not one a rule release should force.',
        },
        {
          id: 'Serverless-LambdaLatestVersion',
          reason:
            'The runtime is pinned to nodejs22.x, which the bundles target and the tests run against; moving to a newer runtime is a reviewed change, not one a rule release should force.',
        },
      );
      return fn;
    };
    const functions = Object.fromEntries(
      (Object.keys(STEP_HANDLERS) as StepName[]).map((step) => [
        step,
        makeFunction(step, STEP_HANDLERS[step]),
      ]),
    ) as Record<StepName, lambda.Function>;
    this.functions = functions;

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
    this.endedExecutionCleanup = makeFunction(
      'CleanupEndedExecution',
      'cleanup-ended-execution',
      cleanupDeadLetters,
    );
    // The lock expires when the execution that took it can no longer be running.
    functions.RegisterAccount.addEnvironment('LOCK_TTL_SECONDS', String(ISSUANCE_TIMEOUT.toSeconds()));

    const zoneIds = [...(props.hostedZoneIds ?? []), ...(props.hostedZones ?? []).map((zone) => zone.id)];
    this.grantPermissions(functions, zoneIds.length > 0 ? zoneIds : undefined, managedByTag);
    this.grantDelegatedDns(functions, props.validationZoneIds ?? [], props.zoneRoleArns ?? []);
    if (this.previousAccountKey) {
      for (const step of ROLLOVER_STEPS) {
        functions[step].addEnvironment('PREVIOUS_ACCOUNT_KEY_ID', this.previousAccountKey.keyId);
        this.allowAccountKey(this.previousAccountKey, functions[step]);
      }
    }
    // RegisterAccount checks a certificate's key against its declared record (the custom resource
    // writes `kmsKeyArn` there), not an environment list, which would outgrow Lambda's 4 KB.
    for (const certificate of Object.values(kmsCertificates)) {
      this.allowCertificateKeyUse(certificate, functions.Finalize);
    }
    if (props.externalAccountBindingSecret) {
      functions.RegisterAccount.addEnvironment(
        'EAB_SECRET_ARN',
        props.externalAccountBindingSecret.secretArn,
      );
      props.externalAccountBindingSecret.grantRead(functions.RegisterAccount);
    }
    this.stateMachine = this.buildStateMachine(functions);
    new events.Rule(this, 'EndedExecutions', {
      description:
        'Cleans up after an issuance execution that failed, timed out or was stopped: removes its TXT values, records the failure, puts its event and releases its lock',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
          stateMachineArn: [this.stateMachine.stateMachineArn],
        },
      },
      targets: [
        new targets.LambdaFunction(this.endedExecutionCleanup, {
          retryAttempts: 10,
          maxEventAge: Duration.hours(6),
          deadLetterQueue: cleanupDeadLetters,
        }),
      ],
    });

    this.planner = makeFunction('PlanRenewals', 'plan-renewals');
    this.registry.grant(this.planner, 'dynamodb:Scan', 'dynamodb:UpdateItem');
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
      ...(props.expiryAlarmDays !== undefined ? { expiryAlarmDays: props.expiryAlarmDays } : {}),
      ...(props.failureAlarmThreshold !== undefined
        ? { failureAlarmThreshold: props.failureAlarmThreshold }
        : {}),
      ...(props.renewalIntervalDays !== undefined ? { scheduleIntervalDays: props.renewalIntervalDays } : {}),
      ...(props.notificationEmails ? { notificationEmails: props.notificationEmails } : {}),
    });

    if (props.hostedZones) checkZonesCoverDomains(declared, props.hostedZones);
    if (declared.length > 0) {
      const sync = makeFunction('SyncDeclaredCertificates', 'sync-declared-certificates');
      this.registry.grant(sync, 'dynamodb:UpdateItem');
      new CustomResource(this, 'DeclaredCertificates', {
        serviceToken: sync.functionArn,
        resourceType: 'Custom::AcmeDeclaredCertificates',
        serviceTimeout: DECLARED_CERTIFICATES_SERVICE_TIMEOUT,
        properties: {
          Certificates: Stack.of(this).toJsonString(
            declared.map((certificate) =>
              certificateKeys[certificate.id]
                ? { ...certificate, kmsKeyArn: certificateKeys[certificate.id]?.keyArn }
                : certificate,
            ),
          ),
        },
      });
      this.warnAboutImportQuota(declared.filter((certificate) => !certificateKeys[certificate.id]));
    }
  }

  /** Warns at synth when the declared certificates would renew faster than ACM's import quota allows. */
  private warnAboutImportQuota(declared: readonly DeclaredCertificateConfig[]): void {
    const forecast = forecastAcmImports(
      declared.map((certificate) => ({
        certificateId: certificate.id,
        regions: certificate.regions,
        // Let's Encrypt's short-lived profile issues 6-day certificates; others are 90 days or more.
        lifetimeDays: certificate.profile === 'shortlived' ? 6 : 90,
      })),
    );
    for (const region of forecast.filter((entry) => entry.exceedsQuota)) {
      Annotations.of(this).addWarningV2(
        'acme-aws:acmImportQuota',
        `The declared certificates would be imported about ${region.importsPerYear} times a year in ${region.region}; ACM allows 5,000 imports per account and region in 365 days. Use longer-lived certificates or fewer regions, or ask AWS for a higher quota.`,
      );
    }
  }

  /**
   * Lets `grantee` read issued certificates and keys (for workloads outside ACM): `s3:GetObject`
   * under `certificates/`, and `kms:Decrypt` through S3 in both its identity policy and the store
   * key's policy.
   */
  grantReadCertificates(grantee: iam.IGrantable): void {
    this.allowStore(grantee, 'certificates/*', ['read']);
    if (Construct.isConstruct(grantee)) this.acknowledgeStorePrefix(grantee, 'certificates/*');
  }

  /** Acknowledges the one wildcard an `allowStore` grant needs: the objects under `prefix`. */
  private acknowledgeStorePrefix(scope: IConstruct, prefix: string): void {
    acknowledgeWildcard(
      scope,
      this.certificateStore.arnForObjects(prefix),
      `Objects under ${prefix.replace('/*', '/')} only: their keys carry the certificate id and serial, unknown at deploy time.`,
    );
  }

  /**
   * Grants exactly the object and key actions a step needs under one prefix of the store,
   * instead of the `s3:GetObject*`-style wildcards of `Bucket.grantRead`.
   */
  private allowStore(grantee: iam.IGrantable, prefix: string, access: readonly ('read' | 'write')[]): void {
    const objects = [this.certificateStore.arnForObjects(prefix)];
    // The store key is only ever used by S3 on the caller's behalf (SSE-KMS), never directly.
    const throughS3 = { StringEquals: { 'kms:ViaService': `s3.${Stack.of(this).region}.amazonaws.com` } };
    if (access.includes('read')) {
      grantee.grantPrincipal.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: objects }),
      );
      // Without ListBucket, S3 answers a missing object with 403 instead of 404, and a first
      // run could not tell "not there yet" from "not allowed".
      grantee.grantPrincipal.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['s3:ListBucket'],
          resources: [this.certificateStore.bucketArn],
          conditions: { StringLike: { 's3:prefix': [prefix] } },
        }),
      );
      this.allowKey(this.storeKey, grantee, ['kms:Decrypt'], throughS3);
    }
    if (access.includes('write')) {
      grantee.grantPrincipal.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: objects }),
      );
      this.allowKey(this.storeKey, grantee, ['kms:GenerateDataKey'], throughS3);
    }
  }

  /**
   * Allows `actions` on `key` twice: in the key policy (which is what lets the grantee use the key
   * at all, since the root statement carries no usage), and in the grantee's identity policy, so
   * each role's policy still lists everything it may do. IAM evaluates both: either alone denies.
   */
  private allowKey(
    key: kms.Key,
    grantee: iam.IGrantable,
    actions: string[],
    conditions?: Record<string, unknown>,
  ): void {
    this.allowInKeyPolicy(key, grantee.grantPrincipal, actions, conditions);
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions, resources: [key.keyArn], conditions }),
    );
  }

  /**
   * Adds a principal to the key policy statement that allows `actions` under `conditions`. The
   * statement's principal is the account root, narrowed to the grantees by an `aws:PrincipalArn`
   * condition: KMS rejects a key policy that names a role it cannot resolve yet
   * (MalformedPolicyDocumentException), which a role created in the same deployment may be,
   * while a condition is only compared. Grantees with the same actions and conditions share one
   * statement; a grantee of another account is listed under that account's root. A principal
   * without an ARN (a service principal, say) is named as the statement's principal itself.
   */
  private allowInKeyPolicy(
    key: kms.Key,
    principal: iam.IPrincipal,
    actions: string[],
    conditions: Record<string, unknown> = {},
  ): void {
    const fragment = principal.policyFragment;
    const arns = (fragment.principalJson.AWS ?? []) as string[];
    const others = Object.keys(fragment.principalJson).filter((type) => type !== 'AWS');
    if (arns.length === 0 || others.length > 0 || Object.keys(fragment.conditions).length > 0) {
      key.addToResourcePolicy(
        new iam.PolicyStatement({ principals: [principal], actions, resources: ['*'], conditions }),
      );
      return;
    }
    const stackAccount = Stack.of(this).account;
    const account = principal.principalAccount;
    const otherAccount =
      account !== undefined &&
      !Token.isUnresolved(account) &&
      !Token.isUnresolved(stackAccount) &&
      account !== stackAccount
        ? account
        : undefined;
    const byUsage = this.keyUsage.get(key) ?? new Map<string, string[]>();
    this.keyUsage.set(key, byUsage);
    const usage = JSON.stringify([otherAccount ?? '', [...actions].sort(), conditions]);
    const listed = byUsage.get(usage);
    if (listed) {
      for (const arn of arns) if (!listed.includes(arn)) listed.push(arn);
      return;
    }
    const principalArns = [...new Set(arns)];
    byUsage.set(usage, principalArns);
    const arnEquals = (conditions.ArnEquals ?? {}) as Record<string, unknown>;
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [otherAccount ? new iam.AccountPrincipal(otherAccount) : new iam.AccountRootPrincipal()],
        actions,
        resources: ['*'],
        conditions: {
          ...conditions,
          ArnEquals: { ...arnEquals, 'aws:PrincipalArn': Lazy.list({ produce: () => principalArns }) },
        },
      }),
    );
  }

  /** Lets a step sign with an account key: ES256 only (RFC 7518 section 3.4), and read its public half. */
  private allowAccountKey(key: kms.Key, grantee: iam.IGrantable): void {
    this.allowKey(key, grantee, ['kms:Sign'], { StringEquals: { 'kms:SigningAlgorithm': 'ECDSA_SHA_256' } });
    this.allowKey(key, grantee, ['kms:GetPublicKey']);
  }

  /**
   * Like `allowKey` for a certificate key, which may be the caller's own: a key this construct
   * does not own keeps its key policy (which must already let the account's IAM policies use
   * it), and the grantee gets the identity policy statement only.
   */
  private allowCertificateKey(
    key: kms.IKey,
    grantee: iam.IGrantable,
    actions: string[],
    conditions?: Record<string, unknown>,
  ): void {
    if (key instanceof kms.Key) {
      this.allowKey(key, grantee, actions, conditions);
      return;
    }
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions, resources: [key.keyArn], conditions }),
    );
  }

  /** Signing with a declared certificate key, with its key type's one algorithm, and reading its public half. */
  private allowCertificateKeyUse(
    certificate: { readonly key: kms.IKey; readonly keyType: CertificateKeyType },
    grantee: iam.IGrantable,
  ): void {
    this.allowCertificateKey(certificate.key, grantee, ['kms:Sign'], {
      StringEquals: { 'kms:SigningAlgorithm': CERTIFICATE_KEY_SPECS[certificate.keyType].algorithm },
    });
    this.allowCertificateKey(certificate.key, grantee, ['kms:GetPublicKey']);
  }

  /**
   * Lets a workload use the certificate `certificateId`, declared with `kmsKey`: sign with its key
   * (`kms:Sign` with the key type's algorithm, and `kms:GetPublicKey`) and read its issued chains
   * from the certificate store (`certificates/<id>/`).
   */
  grantCertificateKeyUse(certificateId: string, grantee: iam.IGrantable): void {
    const certificate = this.kmsCertificates[certificateId];
    if (!certificate) {
      throw new Error(
        `AcmeCertificates: grantCertificateKeyUse("${certificateId}"): no certificate with that id is declared with kmsKey (declared with kmsKey: ${Object.keys(this.kmsCertificates).join(', ') || 'none'}).`,
      );
    }
    this.allowCertificateKeyUse(certificate, grantee);
    this.allowStore(grantee, `certificates/${certificateId}/*`, ['read']);
    if (Construct.isConstruct(grantee))
      this.acknowledgeStorePrefix(grantee, `certificates/${certificateId}/*`);
  }

  /**
   * Validation zones (CNAME targets) may get TXT records at any name, since that is what they are
   * for, and CreateOrder learns which zones they are (`VALIDATION_ZONE_IDS`); roles in other
   * accounts may be assumed by the steps that touch DNS, and only those roles.
   */
  private grantDelegatedDns(
    fns: Record<StepName, lambda.Function>,
    validationZoneIds: readonly string[],
    zoneRoleArns: readonly string[],
  ): void {
    if (validationZoneIds.length > 0) {
      const zones = validationZoneIds.map((zoneId) => this.hostedZoneArn(zoneId));
      const change = (actions: string[]) =>
        new iam.PolicyStatement({
          actions: ['route53:ChangeResourceRecordSets'],
          resources: zones,
          conditions: {
            'ForAllValues:StringEquals': {
              'route53:ChangeResourceRecordSetsRecordTypes': ['TXT'],
              'route53:ChangeResourceRecordSetsActions': actions,
            },
          },
        });
      const list = new iam.PolicyStatement({ actions: ['route53:ListResourceRecordSets'], resources: zones });
      fns.PublishChallenges.addToRolePolicy(list);
      fns.PublishChallenges.addToRolePolicy(change(['UPSERT']));
      for (const cleaner of this.cleaners(fns)) {
        cleaner.addToRolePolicy(list);
        cleaner.addToRolePolicy(change(['UPSERT', 'DELETE']));
      }
      // CreateOrder plans the records: it refuses a CNAME target outside `_acme-challenge.*` in
      // any other zone of this account before ordering, since IAM would deny PublishChallenges.
      fns.CreateOrder.addEnvironment('VALIDATION_ZONE_IDS', validationZoneIds.map(bareZoneId).join(','));
    }
    if (zoneRoleArns.length > 0) {
      const zoneWriters = [fns.CreateOrder, fns.PublishChallenges, fns.WaitForDnsSync, ...this.cleaners(fns)];
      for (const writer of zoneWriters) {
        writer.addToRolePolicy(
          new iam.PolicyStatement({ actions: ['sts:AssumeRole'], resources: [...zoneRoleArns] }),
        );
      }
    }
  }

  /** The ARN of a hosted zone (given with or without `/hostedzone/`); Route 53 ARNs have no region or account. */
  private hostedZoneArn(zoneId: string): string {
    return Stack.of(this).formatArn({
      service: 'route53',
      region: '',
      account: '',
      resource: 'hostedzone',
      resourceName: bareZoneId(zoneId),
    });
  }

  private grantPermissions(
    fns: Record<StepName, lambda.Function>,
    hostedZoneIds: readonly string[] | undefined,
    managedByTag: string,
  ): void {
    for (const step of SIGNING_STEPS) this.allowAccountKey(this.accountKey, fns[step]);

    this.registry.grant(fns.RegisterAccount, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem');
    this.registry.grant(fns.ManageAccount, 'dynamodb:GetItem', 'dynamodb:PutItem');
    this.registry.grant(fns.RevokeCertificate, 'dynamodb:UpdateItem');
    this.registry.grant(fns.CreateOrder, 'dynamodb:GetItem', 'dynamodb:UpdateItem');
    this.registry.grant(fns.Finalize, 'dynamodb:UpdateItem');
    this.registry.grant(fns.WaitForCertificate, 'dynamodb:UpdateItem');
    this.registry.grant(fns.ImportToAcm, 'dynamodb:GetItem', 'dynamodb:UpdateItem');
    // Record set leases (`LEASE#` items), which serialize changes to a shared `_acme-challenge`
    // record set: taken with a conditional UpdateItem, given back with a conditional DeleteItem.
    // PublishChallenges reads the certificate's record to note the values it is about to write.
    this.registry.grant(
      fns.PublishChallenges,
      'dynamodb:GetItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
    );
    for (const cleaner of this.cleaners(fns)) {
      this.registry.grant(cleaner, 'dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem');
    }

    for (const { step, prefix, access } of STORE_ACCESS) {
      this.allowStore(fns[step], prefix, access);
      this.acknowledgeStorePrefix(roleOf(fns[step]), prefix);
    }

    fns.CreateOrder.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['route53:ListHostedZones'], resources: ['*'] }),
    );
    acknowledgeWildcard(
      roleOf(fns.CreateOrder),
      '*',
      'route53:ListHostedZones (to match names to zones) supports no resource-level permissions; it reads zone names only.',
    );
    const zoneArns =
      hostedZoneIds && hostedZoneIds.length > 0
        ? hostedZoneIds.map((zoneId) => this.hostedZoneArn(zoneId))
        : [this.hostedZoneArn('*')];
    if (hostedZoneIds && hostedZoneIds.length > 0) {
      // CreateOrder refuses a name whose record would go in any other zone before ordering, since
      // IAM would deny PublishChallenges.
      fns.CreateOrder.addEnvironment('HOSTED_ZONE_IDS', hostedZoneIds.map(bareZoneId).join(','));
    } else {
      Annotations.of(this).addWarningV2(
        'acme-aws:hostedZoneIds',
        'No hostedZoneIds given: the workflow may write _acme-challenge TXT records in every hosted zone of the account. Set hostedZoneIds to limit it.',
      );
    }
    const changeTxt = (actions: string[]) =>
      new iam.PolicyStatement({
        actions: ['route53:ChangeResourceRecordSets'],
        resources: zoneArns,
        conditions: {
          'ForAllValues:StringEquals': {
            'route53:ChangeResourceRecordSetsRecordTypes': ['TXT'],
            'route53:ChangeResourceRecordSetsActions': actions,
          },
          'ForAllValues:StringLike': {
            'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['_acme-challenge.*'],
          },
        },
      });
    const listRecords = new iam.PolicyStatement({
      actions: ['route53:ListResourceRecordSets'],
      resources: zoneArns,
    });
    fns.PublishChallenges.addToRolePolicy(listRecords);
    fns.PublishChallenges.addToRolePolicy(changeTxt(['UPSERT']));
    for (const cleaner of this.cleaners(fns)) {
      cleaner.addToRolePolicy(listRecords);
      cleaner.addToRolePolicy(changeTxt(['UPSERT', 'DELETE']));
    }
    // Route 53 is global: its ARNs have no region and no account.
    const changes = Stack.of(this).formatArn({
      service: 'route53',
      region: '',
      account: '',
      resource: 'change',
      resourceName: '*',
    });
    fns.WaitForDnsSync.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['route53:GetChange'], resources: [changes] }),
    );
    acknowledgeWildcard(
      roleOf(fns.WaitForDnsSync),
      changes,
      'route53:GetChange (read-only) on change ids, which Route 53 assigns per ChangeResourceRecordSets call at run time.',
    );

    const stack = Stack.of(this);
    const putEvents = new iam.PolicyStatement({
      actions: ['events:PutEvents'],
      resources: [stack.formatArn({ service: 'events', resource: 'event-bus', resourceName: 'default' })],
    });
    for (const cleaner of this.cleaners(fns)) cleaner.addToRolePolicy(putEvents);
    fns.ManageAccount.addToRolePolicy(putEvents);
    fns.ImportToAcm.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ImportNewTaggedCertificates',
        actions: ['acm:ImportCertificate', 'acm:AddTagsToCertificate'],
        resources: ['*'],
        conditions: { StringEquals: { [`aws:RequestTag/${MANAGED_BY_TAG}`]: managedByTag } },
      }),
    );
    acknowledgeWildcard(
      roleOf(fns.ImportToAcm),
      '*',
      `A first acm:ImportCertificate has no certificate ARN yet; the statement only allows it with the request tag ${MANAGED_BY_TAG} set to this construct's id.`,
    );
    // Any region: a certificate may be imported into several (us-east-1 for CloudFront, and the
    // application's region), each re-import still limited to certificates carrying our tag.
    const ownCertificates = stack.formatArn({
      service: 'acm',
      region: '*',
      resource: 'certificate',
      resourceName: '*',
    });
    fns.ImportToAcm.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReimportOwnCertificates',
        // DescribeCertificate: the Key Usages of the imported certificate, which a re-import may not drop.
        actions: ['acm:ImportCertificate', 'acm:AddTagsToCertificate', 'acm:DescribeCertificate'],
        resources: [ownCertificates],
        conditions: { StringEquals: { [`aws:ResourceTag/${MANAGED_BY_TAG}`]: managedByTag } },
      }),
    );
    acknowledgeWildcard(
      roleOf(fns.ImportToAcm),
      ownCertificates,
      `Re-import into certificates of this account (in any target region) only when they carry the tag ${MANAGED_BY_TAG} with this construct's id.`,
    );
  }

  /** The functions that remove TXT values and record outcomes: Cleanup, and the same after a killed execution. */
  private cleaners(fns: Record<StepName, lambda.Function>): lambda.Function[] {
    return [fns.Cleanup, this.endedExecutionCleanup];
  }

  private buildStateMachine(fns: Record<StepName, lambda.Function>): sfn.StateMachine {
    const failed = new sfn.Fail(this, 'IssuanceFailed', {
      comment: 'The step that failed, and the ACME problem or AWS error it raised',
      errorPath: '$.error.Error',
      causePath: '$.error.Cause',
    });
    const cleanupFailed = new sfn.Fail(this, 'CleanupFailed', {
      comment: 'TXT records could not be removed; the earlier outcome is in the execution history',
      errorPath: '$.cleanupError.Error',
      causePath: '$.cleanupError.Cause',
    });
    const succeeded = new sfn.Succeed(this, 'Issued');

    const cleanup = this.task('Cleanup', fns.Cleanup);
    // Cleanup is idempotent, and a failed Cleanup leaves TXT records and the lock behind, so it
    // is worth retrying whatever went wrong.
    cleanup.addRetry({
      errors: ['States.ALL'],
      interval: Duration.seconds(5),
      backoffRate: 2,
      maxAttempts: 3,
      jitterStrategy: sfn.JitterType.FULL,
    });
    cleanup.addCatch(cleanupFailed, { resultPath: '$.cleanupError' });
    cleanup.next(
      new sfn.Choice(this, 'Outcome').when(sfn.Condition.isPresent('$.error'), failed).otherwise(succeeded),
    );

    const step = (name: StepName): tasks.LambdaInvoke => {
      const task = this.task(name, fns[name]);
      task.addCatch(cleanup, { resultPath: '$.error' });
      return task;
    };
    const pause = (id: string) =>
      new sfn.Wait(this, id, { time: sfn.WaitTime.secondsPath('$.retryAfterSeconds') });

    const prepare = new sfn.Pass(this, 'Prepare', {
      comment: 'Adds the execution id, which holds the per-certificate lock, and its start time',
      parameters: { 'id.$': '$$.Execution.Id', 'startedAt.$': '$$.Execution.StartTime' },
      resultPath: '$.execution',
    });
    const registerAccount = step('RegisterAccount');
    const revokeCertificate = step('RevokeCertificate');
    const createOrder = step('CreateOrder');
    const publishChallenges = step('PublishChallenges');
    const waitForDnsSync = step('WaitForDnsSync');
    const answerChallenges = step('AnswerChallenges');
    const waitForAuthorizations = step('WaitForAuthorizations');
    const finalize = step('Finalize');
    const waitForCertificate = step('WaitForCertificate');
    const importToAcm = step('ImportToAcm');

    const dnsPause = pause('PauseForDnsSync').next(waitForDnsSync);
    const dnsInSync = new sfn.Choice(this, 'DnsInSync?')
      .when(sfn.Condition.booleanEquals('$.dnsInSync', true), answerChallenges)
      .otherwise(dnsPause);
    const authorizationsPause = pause('PauseForAuthorizations').next(waitForAuthorizations);
    const orderReady = new sfn.Choice(this, 'OrderReady?')
      .when(
        sfn.Condition.or(
          sfn.Condition.stringEquals('$.order.status', 'ready'),
          sfn.Condition.stringEquals('$.order.status', 'processing'),
          sfn.Condition.stringEquals('$.order.status', 'valid'),
        ),
        finalize,
      )
      .otherwise(authorizationsPause);
    const certificatePause = pause('PauseForCertificate').next(waitForCertificate);
    const certificateReady = new sfn.Choice(this, 'CertificateReady?')
      .when(sfn.Condition.isPresent('$.certificate'), importToAcm)
      .when(sfn.Condition.stringEquals('$.order.status', 'valid'), waitForCertificate)
      .otherwise(certificatePause);

    const skipped = new sfn.Succeed(this, 'Skipped', {
      comment:
        'Nothing to do: another execution holds this certificate, or it is not due; $.skipped says which',
    });
    // A revoke revokes first, then renews in the same run so ACM gets the replacement.
    const revoke = new sfn.Choice(this, 'Revoke?')
      .when(sfn.Condition.stringEquals('$.action', 'revoke'), revokeCertificate)
      .otherwise(createOrder);
    const proceed = new sfn.Choice(this, 'Proceed?')
      .when(sfn.Condition.isPresent('$.skipped'), skipped)
      .otherwise(revoke);
    const alreadyIssued = new sfn.Choice(this, 'AlreadyIssued?')
      .when(sfn.Condition.isPresent('$.certificate'), importToAcm)
      .otherwise(publishChallenges);

    // Account actions concern the CA account, not a certificate: ManageAccount runs them alone.
    const manageAccount = this.task('ManageAccount', fns.ManageAccount);
    manageAccount.addCatch(
      new sfn.Fail(this, 'AccountActionFailed', {
        comment: 'The account action failed; the ACME problem or AWS error says why',
        errorPath: '$.error.Error',
        causePath: '$.error.Cause',
      }),
      { resultPath: '$.error' },
    );
    manageAccount.next(
      new sfn.Succeed(this, 'AccountUpdated', {
        comment: 'The account action is done; the output says what changed',
      }),
    );
    const accountAction = new sfn.Choice(this, 'AccountAction?')
      .when(
        // A missing or non-string path would fail the comparison itself, so it is tested first.
        sfn.Condition.and(
          sfn.Condition.isPresent('$.action'),
          sfn.Condition.isString('$.action'),
          sfn.Condition.or(
            ...ACCOUNT_ACTIONS.map((action) => sfn.Condition.stringEquals('$.action', action)),
          ),
        ),
        manageAccount,
      )
      .otherwise(registerAccount);

    prepare.next(accountAction);
    registerAccount.next(proceed);
    revokeCertificate.next(createOrder);
    createOrder.next(alreadyIssued);
    publishChallenges.next(dnsInSync);
    waitForDnsSync.next(dnsInSync);
    answerChallenges.next(orderReady);
    waitForAuthorizations.next(orderReady);
    finalize.next(certificateReady);
    waitForCertificate.next(certificateReady);
    importToAcm.next(cleanup);

    const machine = new sfn.StateMachine(this, 'Issuance', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      comment: 'One ACME issuance or renewal: account, order, dns-01 in Route 53, finalize, import into ACM',
      definitionBody: sfn.DefinitionBody.fromChainable(prepare),
      timeout: ISSUANCE_TIMEOUT,
      logs: {
        destination: new logs.LogGroup(this, 'IssuanceLogs', {
          // Unique per stack name and construct path, so two stacks never collide.
          logGroupName: `${STATE_MACHINE_LOG_PREFIX}${Names.uniqueResourceName(this, { maxLength: 200 })}-Issuance`,
          retention: logs.RetentionDays.THREE_MONTHS,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
        // Every state transition is logged, but never the input and output that travel between
        // them: those hold order URLs, object keys and CA answers that belong in the history only.
        level: sfn.LogLevel.ALL,
        includeExecutionData: false,
      },
      tracingEnabled: true,
    });
    acknowledgeWildcard(
      machine.role,
      '*',
      'Logging to CloudWatch (logs:CreateLogDelivery and the other vended-log delivery actions) and X-Ray tracing support no resource-level permissions.',
    );
    for (const fn of Object.values(fns)) {
      acknowledgeWildcard(
        machine.role,
        `${fn.functionArn}:*`,
        'lambda:InvokeFunction on versions and aliases of this construct’s own step functions, as granted by LambdaInvoke.',
      );
    }
    return machine;
  }

  private task(name: StepName, fn: lambda.IFunction): tasks.LambdaInvoke {
    const task = new tasks.LambdaInvoke(this, name, {
      lambdaFunction: fn,
      payloadResponseOnly: true,
      retryOnServiceExceptions: true,
      comment: `Runs lambdas/${STEP_HANDLERS[name]}`,
    });
    task.addRetry({
      errors: TRANSIENT_ERRORS,
      interval: Duration.seconds(2),
      backoffRate: 2,
      maxAttempts: 5,
      jitterStrategy: sfn.JitterType.FULL,
    });
    // The function's environment died under it (out of memory, a crash, its timeout), which says
    // nothing about the request: every step resumes from the registry and the store, so running
    // it again is safe, and is what the service would do for an asynchronous invocation.
    task.addRetry({
      errors: PLATFORM_ERRORS,
      interval: Duration.seconds(1),
      backoffRate: 2,
      maxAttempts: 2,
      jitterStrategy: sfn.JitterType.FULL,
    });
    return task;
  }
}

/** A hosted zone id without the `/hostedzone/` that Route 53 APIs sometimes prefix it with. */
function bareZoneId(zoneId: string): string {
  return zoneId.replace(/^\/?hostedzone\//, '');
}

/** The role CDK gives a function; ours always have one. */
function roleOf(fn: lambda.IFunction): iam.IRole {
  if (!fn.role) throw new Error(`AcmeCertificates: function ${fn.node.path} has no role`);
  return fn.role;
}

/**
 * Acknowledges cdk-nag's AwsSolutions-IAM5 finding for one wildcard resource on `scope` (and its
 * children), with the reason it cannot be narrower. The finding id renders CloudFormation
 * references the way cdk-nag does (`<LogicalId.Arn>/orders/*`), so an acknowledgment covers that
 * resource only, never the rule as a whole.
 */
function acknowledgeWildcard(scope: IConstruct, resource: string, reason: string): void {
  const render = (node: unknown): string => {
    if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
    if (typeof node === 'object' && node !== null) {
      const intrinsic = node as Record<string, unknown>;
      if ('Fn::Join' in intrinsic) {
        const [separator, parts] = intrinsic['Fn::Join'] as [string, unknown[]];
        return parts.map(render).join(separator);
      }
      if ('Fn::GetAtt' in intrinsic) {
        const [logicalId, attribute] = intrinsic['Fn::GetAtt'] as [string, string];
        return `<${logicalId}.${attribute}>`;
      }
      if ('Ref' in intrinsic) return `<${String(intrinsic.Ref)}>`;
    }
    return JSON.stringify(node);
  };
  const finding = render(Stack.of(scope).resolve(resource));
  Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM5[Resource::${finding}]`, reason });
}

/** Refuses a directory URL that is not HTTPS at synth, naming the prop and the fix. */
function validateDirectoryUrl(directoryUrl: string): void {
  let url: URL;
  try {
    url = new URL(directoryUrl);
  } catch {
    throw new Error(
      `AcmeCertificates: directoryUrl "${directoryUrl}" is not a URL. Use the CA's ACME directory, e.g. ${LETS_ENCRYPT_PRODUCTION}`,
    );
  }
  if (url.protocol !== 'https:') {
    throw new Error(
      `AcmeCertificates: directoryUrl "${directoryUrl}" must use https:. ACME requires TLS to the CA.`,
    );
  }
}

/** A declared certificate with its defaults filled in, as the registry receives it. */
interface DeclaredCertificateConfig {
  readonly id: string;
  readonly domains: readonly string[];
  readonly keyType: CertificateKeyType;
  readonly regions: readonly string[];
  readonly hostedZoneIds?: Readonly<Record<string, string>>;
  readonly profile?: string;
  readonly preferredChain?: string;
  readonly zoneRoles?: Readonly<Record<string, string>>;
}

const KEY_TYPES: readonly CertificateKeyType[] = ['EC_P256', 'EC_P384', 'RSA_2048', 'RSA_3072', 'RSA_4096'];

/** Refuses bad declared certificates at synth, naming the prop and what to do. */
function validateCertificates(
  certificates: readonly CertificateProps[],
  stackRegion: string,
): DeclaredCertificateConfig[] {
  const seen = new Set<string>();
  return certificates.map((certificate, index) => {
    const where = `AcmeCertificates: certificates[${index}]`;
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(certificate.id ?? '')) {
      throw new Error(
        `${where}.id "${certificate.id}" is invalid: use 1-64 letters, digits, ".", "_" or "-".`,
      );
    }
    if (seen.has(certificate.id))
      throw new Error(`${where}.id "${certificate.id}" is declared twice; ids must be unique.`);
    seen.add(certificate.id);
    if (
      !Array.isArray(certificate.domains) ||
      certificate.domains.length === 0 ||
      certificate.domains.length > 100
    ) {
      throw new Error(`${where}.domains must list 1 to 100 DNS names (certificate "${certificate.id}").`);
    }
    for (const domain of certificate.domains) {
      if (!/^(\*\.)?([a-z0-9-]+\.)+[a-z0-9-]+\.?$/i.test(domain)) {
        throw new Error(
          `${where}.domains has "${domain}", which is not a DNS name (a wildcard is a leading "*." label).`,
        );
      }
    }
    const keyType = certificate.keyType ?? 'EC_P256';
    if (!KEY_TYPES.includes(keyType)) {
      throw new Error(`${where}.keyType "${keyType}" is unknown: use one of ${KEY_TYPES.join(', ')}.`);
    }
    if (certificate.kmsKey && certificate.regions && certificate.regions.length > 0) {
      throw new Error(
        `${where} ("${certificate.id}") has kmsKey and regions: a certificate whose key stays in KMS is never imported into ACM, so it has no regions. Remove regions, or remove kmsKey to import it into ACM.`,
      );
    }
    // An environment-agnostic stack has no region name at synth: an empty list means "the
    // region the workflow runs in", which the Lambdas know.
    const regions =
      certificate.regions && certificate.regions.length > 0
        ? [...certificate.regions]
        : Token.isUnresolved(stackRegion)
          ? []
          : [stackRegion];
    return {
      id: certificate.id,
      domains: certificate.domains.map((domain) => domain.toLowerCase().replace(/\.$/, '')),
      keyType,
      regions,
      ...(certificate.hostedZoneIds ? { hostedZoneIds: certificate.hostedZoneIds } : {}),
      ...(certificate.profile ? { profile: certificate.profile } : {}),
      ...(certificate.preferredChain ? { preferredChain: certificate.preferredChain } : {}),
      ...(certificate.zoneRoles ? { zoneRoles: certificate.zoneRoles } : {}),
    };
  });
}

/** Refuses, at synth, a declared domain that none of the `hostedZones` can hold the challenge for. */
function checkZonesCoverDomains(
  declared: readonly DeclaredCertificateConfig[],
  zones: readonly { readonly id: string; readonly name: string }[],
): void {
  const names = zones.map((zone) => zone.name.toLowerCase().replace(/\.$/, ''));
  for (const certificate of declared) {
    for (const domain of certificate.domains) {
      const base = domain.replace(/^\*\./, '');
      const overridden = Object.keys(certificate.hostedZoneIds ?? {}).some(
        (key) => base === key || base.endsWith(`.${key}`),
      );
      if (overridden) continue;
      if (!names.some((zone) => base === zone || base.endsWith(`.${zone}`))) {
        throw new Error(
          `AcmeCertificates: certificates "${certificate.id}" has domain "${domain}", which no zone in hostedZones covers (${names.join(', ') || 'none'}). Add its hosted zone to hostedZones, or map the domain in the certificate's hostedZoneIds.`,
        );
      }
    }
  }
}
