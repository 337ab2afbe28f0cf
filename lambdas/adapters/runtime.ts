import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { parseZoneIdList } from '../core/dns/write-scope.js';
import { AcmeAwsError } from '../core/errors.js';
import type { WorkflowMetrics } from '../core/ports.js';
import type { StepDeps, WorkflowConfig, WorkflowLogger } from '../core/workflow/deps.js';
import { ISSUANCE_TIMEOUT_SECONDS } from '../core/workflow/wait-budget.js';
import { AcmImporters } from './acm-importer.js';
import { AwsCertificateDeliveries } from './certificate-deliveries.js';
import { dnsResolverFromEnvironment } from './dns-resolver.js';
import { DynamoDbRecordSetLeases, DynamoDbRegistry } from './dynamodb-registry.js';
import { EventBridgePublisher } from './eventbridge-publisher.js';
import { transportFromEnvironment } from './https-transport.js';
import { KmsCertificateKeys } from './kms-certificate-key.js';
import { KmsSigner } from './kms-signer.js';
import { once } from './once.js';
import { clientCapture, lambdaHandler, logger, powertoolsMetrics } from './powertools.js';
import { type Route53ClientsByRole, Route53Zones } from './route53-zones.js';
import { S3CertificateStore } from './s3-certificate-store.js';
import { SecretsManagerExternalAccountBinding } from './secrets-manager-eab.js';
import { AssumedRoleClients } from './sts-assumed-roles.js';

/**
 * Builds the ports of each step from the Lambda environment, and only those: every handler names
 * the factories of the ports its step declares (`Pick<StepDeps, ...>`), so its bundle holds only
 * the adapters it uses.
 *
 * Cold start: importing an AWS SDK client package costs tens of milliseconds, all nine of them
 * together several hundred. So nothing here or in the adapters imports the SDK statically (a
 * bundler would hoist such an import to the top of every bundle, however deeply it is nested):
 * each SDK module is imported with `import()` when a step first needs it, and a function imports
 * only the clients its step calls. SDK clients (captured by the X-Ray Tracer when the invocation
 * is traced) and the signer (with its cached public key) are built {@link once} and live for the
 * life of the execution environment; the settings are read per invocation, so one process can
 * serve several configurations in tests.
 */

/** What a port may need to know of the Lambda invocation it serves. */
export interface Invocation {
  /** Milliseconds left before Lambda stops the invocation. */
  readonly remainingMs: () => number;
}

/** Assumed by a lease built without an invocation (a unit test): the default function timeout. */
const DEFAULT_INVOCATION_MS = 60_000;

/** Builds one port for one invocation, from the Lambda environment. */
export type PortFactory<Name extends keyof StepDeps> = (
  env: NodeJS.ProcessEnv,
  invocation?: Invocation,
) => StepDeps[Name] | Promise<StepDeps[Name]>;

/** The factories of exactly the ports a step declares, each under its port's name. */
export type PortFactories<Names extends keyof StepDeps> = { readonly [Name in Names]: PortFactory<Name> };

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
    ...(env.VALIDATION_ZONE_IDS ? { validationZoneIds: parseZoneIdList(env.VALIDATION_ZONE_IDS) } : {}),
    ...(env.HOSTED_ZONE_IDS ? { writableZoneIds: parseZoneIdList(env.HOSTED_ZONE_IDS) } : {}),
    ...(env.PERSIST_RECORD_NAMES
      ? { persistRecordNames: env.PERSIST_RECORD_NAMES.split(',').filter((name) => name.length > 0) }
      : {}),
    ...(env.DNS01_WRITES === 'none' ? { dns01Writes: false } : {}),
    ...(env.CAA_PIN_NAMES
      ? { caaPinNames: env.CAA_PIN_NAMES.split(',').filter((name) => name.length > 0) }
      : {}),
    ...(env.ACME_CERTIFICATE_AUTHORITIES
      ? {
          certificateAuthorities: (certificateAuthorityEntries(env) ?? []).map(
            ({ directoryUrl, profile }) => ({
              directoryUrl,
              ...(profile ? { profile } : {}),
            }),
          ),
        }
      : {}),
    managedByTag: env.ACM_MANAGED_BY_TAG ?? 'acme-aws',
    dnsPollSeconds: positiveNumber(env.DNS_POLL_SECONDS, 10),
    orderPollSeconds: positiveNumber(env.ORDER_POLL_SECONDS, 3),
    maxPolls: positiveNumber(env.MAX_POLLS, 120),
    // The state machine's timeout, counted from the execution's start: the lock never outlives
    // the execution that took it.
    lockTtlSeconds: positiveNumber(env.LOCK_TTL_SECONDS, ISSUANCE_TIMEOUT_SECONDS),
  };
}

/**
 * An AWS SDK client created on first use, after `load` has imported its package (a literal
 * `import()`, so the bundle keeps it lazy), traced when tracing is on, and kept for the life of
 * the execution environment.
 */
/* @__NO_SIDE_EFFECTS__ */
function sdkClient<Client>(load: () => Promise<Client>): () => Promise<Client> {
  return once(async () => (await clientCapture())(await load()));
}

const kmsClient = sdkClient(async () => new (await import('@aws-sdk/client-kms')).KMSClient({}));
const s3Client = sdkClient(async () => new (await import('@aws-sdk/client-s3')).S3Client({}));
const route53Client = sdkClient(async () => new (await import('@aws-sdk/client-route-53')).Route53Client({}));
const dynamoDbClient = sdkClient(
  async () => new (await import('@aws-sdk/client-dynamodb')).DynamoDBClient({}),
);
const eventBridgeClient = sdkClient(
  async () => new (await import('@aws-sdk/client-eventbridge')).EventBridgeClient({}),
);
const secretsManagerClient = sdkClient(
  async () => new (await import('@aws-sdk/client-secrets-manager')).SecretsManagerClient({}),
);
const ssmClient = sdkClient(async () => new (await import('@aws-sdk/client-ssm')).SSMClient({}));
const stsClient = sdkClient(async () => new (await import('@aws-sdk/client-sts')).STSClient({}));

/** One signer per key id, each with its cached public key. */
const signers = new Map<string, Promise<KmsSigner>>();

function kmsSigner(keyId: string): Promise<KmsSigner> {
  let cached = signers.get(keyId);
  if (!cached) {
    cached = kmsClient().then((client) => new KmsSigner({ client, keyId }));
    signers.set(keyId, cached);
  }
  return cached;
}

/** The account key in KMS, one signer per key id. */
export const signer: PortFactory<'signer'> = (env) => kmsSigner(requireEnv(env, 'ACCOUNT_KEY_ID'));

/**
 * The previous generation's account key (`PREVIOUS_ACCOUNT_KEY_ID`, set only on the steps that
 * roll the account over), or none.
 */
export const previousSigner: PortFactory<'previousSigner'> = async (env) => {
  const keyId = env.PREVIOUS_ACCOUNT_KEY_ID?.trim();
  return keyId ? kmsSigner(keyId) : undefined;
};

/** Certificate keys held in KMS; which keys a role may use is the IAM policy's business. */
export const certificateKeys: PortFactory<'certificateKeys'> = /* @__PURE__ */ once(
  async () => new KmsCertificateKeys({ client: await kmsClient() }),
);

/** HTTPS to the CA, trusting `ACME_CA_BUNDLE` when it is set. */
export const transport: PortFactory<'transport'> = (env) => transportFromEnvironment(env);

/** The certificate store bucket, encrypted with `CERT_STORE_KMS_KEY_ID` when it is set. */
export const store: PortFactory<'store'> = async (env) =>
  new S3CertificateStore({
    client: await s3Client(),
    bucket: requireEnv(env, 'CERT_STORE_BUCKET'),
    ...(env.CERT_STORE_KMS_KEY_ID ? { kmsKeyId: env.CERT_STORE_KMS_KEY_ID } : {}),
  });

/** Route 53 clients for zones in other accounts, kept with their credentials until those expire. */
const route53ByRole = /* @__PURE__ */ once(async () => {
  const [sts, { Route53Client }, capture] = await Promise.all([
    stsClient(),
    import('@aws-sdk/client-route-53'),
    clientCapture(),
  ]);
  return new AssumedRoleClients({
    sts,
    createClient: (credentials) => capture(new Route53Client({ credentials })),
  });
});

/** Route 53 clients by role, importing STS only when a zone is reached through a role. */
const route53RoleClients: Route53ClientsByRole = {
  clientFor: async (roleArn) => (await route53ByRole()).clientFor(roleArn),
};

/** Route 53 hosted zones: the account's own, and other accounts' through their roles. */
export const dns: PortFactory<'dns'> = async () =>
  new Route53Zones({ client: await route53Client(), roleClients: route53RoleClients });

/** DNS lookups outside AWS, through `DNS_RESOLVERS` and `DNS_AUTHORITATIVE_SERVERS` when set. */
export const resolver: PortFactory<'resolver'> = (env) => dnsResolverFromEnvironment(env);

/** ACM in any region; each region's client is created (and traced) on first use. */
export const importers: PortFactory<'importers'> = /* @__PURE__ */ once(async () => {
  const capture = await clientCapture();
  return new AcmImporters({
    createClient: async (region) => capture(new (await import('@aws-sdk/client-acm')).ACMClient({ region })),
  });
});

/** Certificate events on the account's default event bus. */
export const events: PortFactory<'events'> = async () =>
  new EventBridgePublisher({ client: await eventBridgeClient() });

/** The certificate registry table. */
export const registry: PortFactory<'registry'> = async (env) =>
  new DynamoDbRegistry({ client: await dynamoDbClient(), tableName: requireEnv(env, 'REGISTRY_TABLE') });

/**
 * Record set leases in the registry table, lasting no longer than this invocation can run, so a
 * crashed holder's lease expires when Lambda stops it.
 */
export const leases: PortFactory<'leases'> = async (env, invocation) =>
  new DynamoDbRecordSetLeases({
    client: await dynamoDbClient(),
    tableName: requireEnv(env, 'REGISTRY_TABLE'),
    remainingMs: invocation?.remainingMs ?? (() => DEFAULT_INVOCATION_MS),
  });

/**
 * The external account binding source when `EAB_SECRET_ARN` names a Secrets Manager secret (set
 * only on RegisterAccount, the one step that creates accounts); none otherwise. The secret is
 * read only when an account is created, never here.
 */
export const externalAccountBinding: PortFactory<'externalAccountBinding'> = async (env) => {
  const secretId = env.EAB_SECRET_ARN?.trim();
  if (!secretId) return undefined;
  return new SecretsManagerExternalAccountBinding({ client: await secretsManagerClient(), secretId });
};

/**
 * With the construct's `certificateAuthorities`: each CA's binding secret, by directory URL, read
 * only when an account is created at that CA.
 */
export const externalAccountBindingFor: PortFactory<'externalAccountBindingFor'> = async (env) => {
  const entries = certificateAuthorityEntries(env);
  if (!entries) return undefined;
  const client = entries.some((entry) => entry.eabSecretArn) ? await secretsManagerClient() : undefined;
  const sources = new Map<string, SecretsManagerExternalAccountBinding>();
  return (directoryUrl) => {
    const secretId = entries.find((entry) => entry.directoryUrl === directoryUrl)?.eabSecretArn;
    if (!secretId || !client) return undefined;
    let source = sources.get(secretId);
    if (!source) {
      source = new SecretsManagerExternalAccountBinding({ client, secretId });
      sources.set(secretId, source);
    }
    return source;
  };
};

/** `ACME_CERTIFICATE_AUTHORITIES`, as the construct writes it: the CAs, most preferred first. */
function certificateAuthorityEntries(
  env: NodeJS.ProcessEnv,
):
  | { readonly directoryUrl: string; readonly profile?: string; readonly eabSecretArn?: string }[]
  | undefined {
  const raw = env.ACME_CERTIFICATE_AUTHORITIES?.trim();
  if (!raw) return undefined;
  const parsed: unknown = JSON.parse(raw);
  if (!Array.isArray(parsed) || !parsed.every((entry) => typeof entry?.directoryUrl === 'string')) {
    throw new TypeError(
      'ACME_CERTIFICATE_AUTHORITIES must be a JSON list of { directoryUrl, profile?, eabSecretArn? }',
    );
  }
  return parsed as { directoryUrl: string; profile?: string; eabSecretArn?: string }[];
}

/** The delivery targets: Secrets Manager secrets and Parameter Store parameters. */
export const deliveries: PortFactory<'deliveries'> = () =>
  new AwsCertificateDeliveries({ secretsManager: secretsManagerClient, ssm: ssmClient });

/** CloudWatch metrics as embedded-metric-format log lines: no API call, no extra permission. */
export const metrics: PortFactory<'metrics'> = (env) => {
  const recorder = powertoolsMetrics(env);
  return {
    add(name, unit, value, dimensions) {
      const metricUnit =
        unit === 'Count' ? MetricUnit.Count : unit === 'Seconds' ? MetricUnit.Seconds : MetricUnit.NoUnit;
      if (dimensions && Object.keys(dimensions).length > 0) {
        // A metric with its own dimensions goes out as its own EMF document.
        const single = recorder.singleMetric();
        for (const [key, dimensionValue] of Object.entries(dimensions))
          single.addDimension(key, dimensionValue);
        single.addMetric(name, metricUnit, value);
        return;
      }
      recorder.addMetric(name, metricUnit, value);
    },
  } satisfies WorkflowMetrics;
};

/** The system clock. */
export const clock: PortFactory<'clock'> = () => ({ now: () => new Date() });

/** Deployment-wide settings, read per invocation. */
export const config: PortFactory<'config'> = (env) => loadConfig(env);

/** Structured logs through the Powertools logger; attributes never carry secrets. */
export const log: PortFactory<'log'> = (): WorkflowLogger => ({
  debug: (message, attributes) => logger.debug(message, attributes ?? {}),
  info: (message, attributes) => logger.info(message, attributes ?? {}),
  warn: (message, attributes) => logger.warn(message, attributes ?? {}),
});

/** Runs every factory at once; a port a factory does not provide (no EAB secret) is left out. */
async function buildPorts<Names extends keyof StepDeps>(
  factories: PortFactories<Names>,
  env: NodeJS.ProcessEnv,
  invocation: Invocation,
): Promise<Pick<StepDeps, Names>> {
  const built = await Promise.all(
    Object.entries<PortFactory<Names>>(factories).map(async ([name, build]) => [
      name,
      await build(env, invocation),
    ]),
  );
  return Object.fromEntries(built.filter(([, port]) => port !== undefined)) as Pick<StepDeps, Names>;
}

/** The certificate an execution is about, when its input names one (account actions do not). */
function certificateOf(input: unknown): { certificateId?: string } {
  const certificateId = (input as { certificateId?: unknown } | null)?.certificateId;
  return typeof certificateId === 'string' ? { certificateId } : {};
}

/**
 * Wraps a workflow step as a Lambda handler ({@link lambdaHandler}): builds the ports the step
 * declares from `ports` (the compiler insists on exactly those, no more and no fewer), logs the
 * outcome with the step's name and the certificate id (never the payload), and publishes the
 * step's metrics.
 */
export function stepHandler<Input, Output, Names extends keyof StepDeps>(
  stepName: string,
  step: (input: Input, deps: Pick<StepDeps, Names>) => Promise<Output>,
  ports: NoInfer<PortFactories<Names>>,
): (input: Input, context: Context) => Promise<Output> {
  logger.appendPersistentKeys({ step: stepName });
  return lambdaHandler(
    stepName,
    async (input, context) => {
      logger.appendKeys(certificateOf(input));
      const invocation: Invocation = { remainingMs: () => context.getRemainingTimeInMillis() };
      const started = Date.now();
      try {
        const output = await step(input, await buildPorts(ports, process.env, invocation));
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
      }
    },
    (input) => ({ step: stepName, ...certificateOf(input) }),
  );
}
