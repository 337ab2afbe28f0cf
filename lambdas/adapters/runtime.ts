import { Logger } from '@aws-lambda-powertools/logger';
import { ACMClient } from '@aws-sdk/client-acm';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { Route53Client } from '@aws-sdk/client-route-53';
import { S3Client } from '@aws-sdk/client-s3';
import { AcmeAwsError } from '../core/errors.js';
import type { StepDeps, WorkflowConfig, WorkflowLogger } from '../core/workflow/deps.js';
import { AcmImporter } from './acm-importer.js';
import { DynamoDbRegistry } from './dynamodb-registry.js';
import { transportFromEnvironment } from './https-transport.js';
import { KmsSigner } from './kms-signer.js';
import { Route53Zones } from './route53-zones.js';
import { S3CertificateStore } from './s3-certificate-store.js';

/**
 * Builds the ports every handler uses from the Lambda environment. SDK clients and the signer
 * (with its cached public key) live for the life of the execution environment; the settings
 * are read per invocation so one process can serve several configurations in tests.
 */

export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'acme-aws' });

let kmsClient: KMSClient | undefined;
let route53Client: Route53Client | undefined;
let acmClient: ACMClient | undefined;
let s3Client: S3Client | undefined;
let dynamoDbClient: DynamoDBClient | undefined;
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
  acmClient ??= new ACMClient({});
  s3Client ??= new S3Client({});
  dynamoDbClient ??= new DynamoDBClient({});
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
    dns: new Route53Zones({ client: route53Client }),
    importer: new AcmImporter({ client: acmClient }),
    registry: new DynamoDbRegistry({ client: dynamoDbClient, tableName: requireEnv(env, 'REGISTRY_TABLE') }),
    clock: { now: () => new Date() },
    config: loadConfig(env),
    log: workflowLogger,
  };
}

/**
 * Wraps a workflow step as a Lambda handler: logs the outcome with the certificate id (never
 * the payload), and rethrows errors unchanged so their `name` reaches Retry and Catch.
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
      const known = error instanceof AcmeAwsError;
      logger.error('Step failed', {
        durationMs: Date.now() - started,
        errorName: error instanceof Error ? error.name : 'UnknownError',
        errorMessage: error instanceof Error ? error.message : String(error),
        expected: known,
      });
      throw error;
    }
  };
}
