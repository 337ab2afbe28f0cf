import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { KMSClient } from '@aws-sdk/client-kms';
import { Route53Client } from '@aws-sdk/client-route-53';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { STSClient } from '@aws-sdk/client-sts';
import { AcmeAwsError } from '../core/errors.js';
import type { WorkflowMetrics } from '../core/ports.js';
import type { StepDeps, WorkflowConfig, WorkflowLogger } from '../core/workflow/deps.js';
import { AcmImporters } from './acm-importer.js';
import { dnsResolverFromEnvironment } from './dns-resolver.js';
import { DynamoDbRegistry } from './dynamodb-registry.js';
import { EventBridgePublisher } from './eventbridge-publisher.js';
import { transportFromEnvironment } from './https-transport.js';
import { KmsSigner } from './kms-signer.js';
import { Route53Zones } from './route53-zones.js';
import { S3CertificateStore } from './s3-certificate-store.js';
import { SecretsManagerExternalAccountBinding } from './secrets-manager-eab.js';
import { AssumedRoleClients } from './sts-assumed-roles.js';

/**
 * Builds the ports every handler uses from the Lambda environment. SDK clients and the signer
 * (with its cached public key) live for the life of the execution environment; the settings
 * are read per invocation so one process can serve several configurations in tests.
 */

export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'acme-aws' });
/** CloudWatch metrics as embedded-metric-format log lines: no API call, no extra permission. */
export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'AcmeAws',
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'acme-aws',
});

const workflowMetrics: WorkflowMetrics = {
  add(name, unit, value, dimensions) {
    const metricUnit =
      unit === 'Count' ? MetricUnit.Count : unit === 'Seconds' ? MetricUnit.Seconds : MetricUnit.NoUnit;
    if (dimensions && Object.keys(dimensions).length > 0) {
      // A metric with its own dimensions goes out as its own EMF document.
      const single = metrics.singleMetric();
      for (const [key, dimensionValue] of Object.entries(dimensions))
        single.addDimension(key, dimensionValue);
      single.addMetric(name, metricUnit, value);
      return;
    }
    metrics.addMetric(name, metricUnit, value);
  },
};

let kmsClient: KMSClient | undefined;
let route53Client: Route53Client | undefined;
/** Route 53 clients for zones in other accounts, kept with their credentials until those expire. */
let route53RoleClients: AssumedRoleClients<Route53Client> | undefined;
let s3Client: S3Client | undefined;
let dynamoDbClient: DynamoDBClient | undefined;
let eventBridgeClient: EventBridgeClient | undefined;
let secretsManagerClient: SecretsManagerClient | undefined;
let importers: AcmImporters | undefined;
const signers = new Map<string, KmsSigner>();

function requireEnv(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`The Lambda environment variable ${name} is not set; redeploy the stack.`);
  return value;
}

function positiveNumber(value: string | undefined, fallback: number): number {
  const parsed = Number(value);
  return Number.isFinite(parsed) && parsed >= 0 ? parsed : fallback;
}

/** Deployment-wide settings from the environment the construct sets. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): WorkflowConfig {
  return {
    defaultDirectoryUrl: requireEnv(env, 'ACME_DIRECTORY_URL'),
    defaultRegion: requireEnv(env, 'AWS_REGION'),
    ...(env.CONTACT_EMAIL ? { contactEmail: env.CONTACT_EMAIL } : {}),
    managedByTag: env.ACM_MANAGED_BY_TAG ?? 'acme-aws',
    dnsPollSeconds: positiveNumber(env.DNS_POLL_SECONDS, 10),
    orderPollSeconds: positiveNumber(env.ORDER_POLL_SECONDS, 3),
    maxPolls: positiveNumber(env.MAX_POLLS, 120),
    // Longer than the state machine's 2-hour timeout, so only a lost execution's lock expires.
    lockTtlSeconds: positiveNumber(env.LOCK_TTL_SECONDS, 3 * 60 * 60),
  };
}

const workflowLogger: WorkflowLogger = {
  debug: (message, attributes) => logger.debug(message, attributes ?? {}),
  info: (message, attributes) => logger.info(message, attributes ?? {}),
  warn: (message, attributes) => logger.warn(message, attributes ?? {}),
};

/** The ports for one invocation. */
export function stepDeps(env: NodeJS.ProcessEnv = process.env): StepDeps {
  kmsClient ??= new KMSClient({});
  route53Client ??= new Route53Client({});
  route53RoleClients ??= new AssumedRoleClients({
    sts: new STSClient({}),
    createClient: (credentials) => new Route53Client({ credentials }),
  });
  s3Client ??= new S3Client({});
  dynamoDbClient ??= new DynamoDBClient({});
  eventBridgeClient ??= new EventBridgeClient({});
  importers ??= new AcmImporters();
  const keyId = requireEnv(env, 'ACCOUNT_KEY_ID');
  let signer = signers.get(keyId);
  if (!signer) {
    signer = new KmsSigner({ client: kmsClient, keyId });
    signers.set(keyId, signer);
  }
  return {
    transport: transportFromEnvironment(env),
    signer,
    store: new S3CertificateStore({
      client: s3Client,
      bucket: requireEnv(env, 'CERT_STORE_BUCKET'),
      ...(env.CERT_STORE_KMS_KEY_ID ? { kmsKeyId: env.CERT_STORE_KMS_KEY_ID } : {}),
    }),
    dns: new Route53Zones({ client: route53Client, roleClients: route53RoleClients }),
    resolver: dnsResolverFromEnvironment(env),
    importers,
    events: new EventBridgePublisher({ client: eventBridgeClient }),
    metrics: workflowMetrics,
    registry: new DynamoDbRegistry({ client: dynamoDbClient, tableName: requireEnv(env, 'REGISTRY_TABLE') }),
    clock: { now: () => new Date() },
    config: loadConfig(env),
    log: workflowLogger,
    ...externalAccountBindingFromEnvironment(env),
  };
}

/**
 * The external account binding source when `EAB_SECRET_ARN` names a Secrets Manager secret (set
 * only on RegisterAccount, the one step that creates accounts); nothing otherwise. The secret is
 * read only when an account is created, never here.
 */
function externalAccountBindingFromEnvironment(
  env: NodeJS.ProcessEnv,
): Pick<StepDeps, 'externalAccountBinding'> {
  const secretId = env.EAB_SECRET_ARN?.trim();
  if (!secretId) return {};
  secretsManagerClient ??= new SecretsManagerClient({});
  return {
    externalAccountBinding: new SecretsManagerExternalAccountBinding({
      client: secretsManagerClient,
      secretId,
    }),
  };
}

/**
 * Wraps a workflow step as a Lambda handler: logs the outcome with the certificate id (never
 * the payload), publishes the step's metrics, and rethrows errors unchanged so their `name`
 * reaches Retry and Catch.
 */
export function stepHandler<Input, Output>(
  stepName: string,
  step: (input: Input, deps: StepDeps) => Promise<Output>,
): (input: Input) => Promise<Output> {
  return async (input: Input) => {
    const certificateId = (input as { certificateId?: unknown } | null)?.certificateId;
    logger.appendKeys({
      step: stepName,
      certificateId: typeof certificateId === 'string' ? certificateId : undefined,
    });
    const started = Date.now();
    try {
      const output = await step(input, stepDeps());
      logger.debug('Step completed', { durationMs: Date.now() - started });
      return output;
    } catch (error) {
      logger.error('Step failed', {
        durationMs: Date.now() - started,
        errorName: error instanceof Error ? error.name : 'UnknownError',
        errorMessage: error instanceof Error ? error.message : String(error),
        expected: error instanceof AcmeAwsError,
      });
      throw error;
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}
