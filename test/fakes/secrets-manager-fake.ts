import { randomBytes, randomUUID } from 'node:crypto';
import {
  DescribeSecretCommand,
  type DescribeSecretCommandInput,
  type DescribeSecretCommandOutput,
  GetSecretValueCommand,
  type GetSecretValueCommandInput,
  type GetSecretValueCommandOutput,
  PutSecretValueCommand,
  type PutSecretValueCommandInput,
  type PutSecretValueCommandOutput,
  SecretsManagerClient,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { FakeCommandRunner, type ServiceExceptionClass } from './fake-support.js';

/**
 * An in-memory AWS Secrets Manager at the SDK boundary, for unit tests and the local cloud. It
 * serves the calls production makes, GetSecretValue, PutSecretValue and DescribeSecret, and
 * resolves `SecretId` like the service (name, full ARN, or partial ARN without the six-character
 * suffix). Tests arrange secrets through the fake's own methods, not through SDK calls production
 * never sends.
 *
 * Versions and staging labels follow "Secrets Manager concepts: secret versions"
 * (https://docs.aws.amazon.com/secretsmanager/latest/userguide/whats-in-a-secret.html#term_version)
 * and the PutSecretValue API reference
 * (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html):
 * - the `ClientRequestToken` becomes the new version's `VersionId`; without `VersionStages` the
 *   new version gets `AWSCURRENT`, the version that had `AWSCURRENT` gets `AWSPREVIOUS`, and the
 *   version that had `AWSPREVIOUS` loses it (it is deprecated);
 * - a token that names an existing version with the same value is ignored (idempotent) and
 *   answers with that version; with a different value it fails with `ResourceExistsException`,
 *   since a version cannot be modified;
 * - the value is at most 65,536 bytes ("Secrets Manager quotas",
 *   https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html), the token
 *   32 to 64 characters; a longer value or a token of another length fails as the service's input
 *   validation does, with `ValidationException` ("1 validation error detected: …");
 * - Secrets Manager removes deprecated versions (no staging label) when there are more than 100,
 *   but not those created less than 24 hours ago.
 * Errors use the service's names: `ResourceNotFoundException` for an unknown secret or version,
 * `InvalidRequestException` for a secret scheduled for deletion, `InvalidParameterException` for
 * a request with both or neither of `SecretString` and `SecretBinary`.
 */

const ACCOUNT = '123456789012';
const CURRENT = 'AWSCURRENT';
const PREVIOUS = 'AWSPREVIOUS';
const SUFFIX_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** "Secrets Manager quotas": a secret value is at most 65,536 bytes. */
export const MAX_SECRET_VALUE_BYTES = 65_536;
/** The PutSecretValue API reference: `ClientRequestToken` is 32 to 64 characters. */
const TOKEN_LENGTH = { min: 32, max: 64 } as const;
/** Deprecated versions beyond this many are removed once they are a day old. */
const KEPT_VERSIONS = 100;
const DAY_MS = 24 * 60 * 60 * 1000;

/** A secret's value: a string (what the adapter reads) or binary. */
type SecretValue = string | Uint8Array;

/** One version of a secret. */
export interface FakeSecretVersion {
  readonly versionId: string;
  readonly value: SecretValue;
  readonly createdDate: Date;
  /** Staging labels attached to this version (`AWSCURRENT`, `AWSPREVIOUS`, custom ones). */
  readonly stages: Set<string>;
}

/** One secret, as the fake keeps it. */
export interface FakeSecret {
  readonly arn: string;
  readonly name: string;
  /**
   * The KMS key the secret is encrypted with (a key id, key ARN or alias as given), or none for
   * the AWS managed key `aws/secretsmanager`.
   */
  kmsKeyId?: string;
  /** Every version the service still keeps, oldest first. */
  readonly versions: FakeSecretVersion[];
  deletedDate?: Date;
}

export interface CreateFakeSecretOptions {
  /** The secret's ARN, as CloudFormation's `Ref` returned it. @default a new ARN with a random suffix */
  readonly arn?: string;
  /** The customer managed key the secret is encrypted with. */
  readonly kmsKeyId?: string;
  /** The first version's id. @default a random UUID */
  readonly versionId?: string;
}

export interface SecretsManagerFake {
  readonly region: string;
  /** Every secret, by ARN. */
  readonly secrets: ReadonlyMap<string, FakeSecret>;
  /** Calls per command (`GetSecretValue`, `PutSecretValue`), failed ones included. */
  readonly calls: Readonly<Record<string, number>>;
  /** Every request with its input, oldest first. */
  readonly requests: readonly { readonly command: string; readonly input: unknown }[];
  /** Creates a secret, as `CreateSecret` does (its value, if any, becomes `AWSCURRENT`), and returns its ARN. */
  createSecret(name: string, value?: SecretValue, options?: CreateFakeSecretOptions): string;
  /** Gives a secret a new current value, as `PutSecretValue` without a token does; returns the version id. */
  putSecretValue(secretId: string, value: SecretValue): string;
  /** The secret with this name or ARN, if any. */
  secret(secretId: string): FakeSecret | undefined;
  /** The version carrying `stage` (`AWSCURRENT` unless given), if any. */
  versionByStage(secretId: string, stage?: string): FakeSecretVersion | undefined;
  /** The string value of the version carrying `stage` (`AWSCURRENT` unless given), if any. */
  valueOf(secretId: string, stage?: string): string | undefined;
  /** Each version id and its staging labels, as DescribeSecret's `VersionIdsToStages`. */
  versionIdsToStages(secretId: string): Record<string, string[]>;
  /** Schedules a secret for deletion, as `DeleteSecret` with a recovery window does. */
  scheduleDeletion(secretId: string): void;
  /** Makes the next `times` calls of `command` throw an error named `errorName`. */
  failNext(command: string, errorName: string, times?: number): void;
  /** Gives `SecretsManagerClient` back its real `send`. */
  restore(): void;
}

let active: SecretsManagerFake | undefined;

/**
 * The fake currently installed on `SecretsManagerClient`, if any: the local cloud serves its
 * secrets from it instead of installing a second fake over it.
 */
export function activeSecretsManagerFake(): SecretsManagerFake | undefined {
  return active;
}

function metadata() {
  return { httpStatusCode: 200, requestId: randomUUID(), attempts: 1, totalRetryDelay: 0 };
}

/** Secrets Manager appends a hyphen and six random characters to the name in every ARN. */
function arnSuffix(): string {
  return [...randomBytes(6)].map((byte) => SUFFIX_ALPHABET[byte % SUFFIX_ALPHABET.length]).join('');
}

function sameValue(a: SecretValue, b: SecretValue): boolean {
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  return Buffer.from(a).equals(Buffer.from(b));
}

function byteLength(value: SecretValue): number {
  return typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.byteLength;
}

/**
 * Replaces `send` on every `SecretsManagerClient` (including clients created before this call)
 * with an in-memory Secrets Manager. Call `restore()` when done.
 */
export function installSecretsManagerFake(options: { region?: string } = {}): SecretsManagerFake {
  const region = options.region ?? 'us-east-1';
  const runner = new FakeCommandRunner(SecretsManagerServiceException as unknown as ServiceExceptionClass);
  const secrets = new Map<string, FakeSecret>();
  const mock = mockClient(SecretsManagerClient);

  const notFound = (message = "Secrets Manager can't find the specified secret."): never =>
    runner.fail({ name: 'ResourceNotFoundException', message });

  const find = (secretId: string | undefined): FakeSecret | undefined => {
    const reference = secretId ?? '';
    for (const secret of secrets.values()) {
      // Full ARN, partial ARN (without the random suffix), or name.
      if (reference === secret.arn || reference === secret.arn.slice(0, -7) || reference === secret.name) {
        return secret;
      }
    }
    return undefined;
  };
  const resolve = (secretId: string | undefined): FakeSecret => find(secretId) ?? notFound();
  const notDeleted = (secret: FakeSecret): void => {
    if (secret.deletedDate) {
      runner.fail({
        name: 'InvalidRequestException',
        message: "You can't perform this operation on the secret because it was marked for deletion.",
      });
    }
  };
  const withStage = (secret: FakeSecret, stage: string) =>
    secret.versions.find((version) => version.stages.has(stage));

  /**
   * Adds a version and moves the staging labels as PutSecretValue does; `stages` are the labels
   * the request names (`AWSCURRENT` when it names none).
   */
  const addVersion = (
    secret: FakeSecret,
    versionId: string,
    value: SecretValue,
    stages: readonly string[] = [CURRENT],
  ): FakeSecretVersion => {
    const labels = new Set(stages);
    // The first version of a secret is always AWSCURRENT.
    if (secret.versions.length === 0) labels.add(CURRENT);
    const wasCurrent = labels.has(CURRENT) ? withStage(secret, CURRENT) : undefined;
    for (const version of secret.versions) for (const label of labels) version.stages.delete(label);
    if (wasCurrent) {
      for (const version of secret.versions) version.stages.delete(PREVIOUS);
      wasCurrent.stages.add(PREVIOUS);
    }
    const version: FakeSecretVersion = { versionId, value, createdDate: new Date(), stages: labels };
    secret.versions.push(version);
    // More than 100 versions: deprecated ones at least a day old go, oldest first.
    const now = Date.now();
    while (secret.versions.length > KEPT_VERSIONS) {
      const index = secret.versions.findIndex(
        (candidate) => candidate.stages.size === 0 && now - candidate.createdDate.getTime() >= DAY_MS,
      );
      if (index < 0) break;
      secret.versions.splice(index, 1);
    }
    return version;
  };

  const stagesOf = (version: FakeSecretVersion) => [...version.stages];

  mock.onAnyCommand().callsFake(() =>
    runner.fail({
      name: 'UnsupportedOperationException',
      message: 'The Secrets Manager fake does not support this command',
    }),
  );

  mock.on(GetSecretValueCommand).callsFake((input: GetSecretValueCommandInput) =>
    runner.run('GetSecretValue', input, (): GetSecretValueCommandOutput => {
      const secret = resolve(input.SecretId);
      notDeleted(secret);
      let version: FakeSecretVersion | undefined;
      if (input.VersionId !== undefined) {
        version = secret.versions.find((candidate) => candidate.versionId === input.VersionId);
        if (version && input.VersionStage !== undefined && !version.stages.has(input.VersionStage))
          version = undefined;
        if (!version)
          return notFound(
            `Secrets Manager can't find the specified secret value for VersionId: ${input.VersionId}`,
          );
      } else {
        const stage = input.VersionStage ?? CURRENT;
        version = withStage(secret, stage);
        if (!version)
          return notFound(
            `Secrets Manager can't find the specified secret value for staging label: ${stage}`,
          );
      }
      return {
        $metadata: metadata(),
        ARN: secret.arn,
        Name: secret.name,
        VersionId: version.versionId,
        ...(typeof version.value === 'string'
          ? { SecretString: version.value }
          : { SecretBinary: version.value }),
        VersionStages: stagesOf(version),
        CreatedDate: version.createdDate,
      };
    }),
  );

  mock.on(PutSecretValueCommand).callsFake((input: PutSecretValueCommandInput) =>
    runner.run('PutSecretValue', input, (): PutSecretValueCommandOutput => {
      const hasString = input.SecretString !== undefined;
      const hasBinary = input.SecretBinary !== undefined;
      if (hasString === hasBinary) {
        return runner.fail({
          name: 'InvalidParameterException',
          message: 'You must provide either SecretString or SecretBinary, but not both.',
        });
      }
      const value = (input.SecretString ?? input.SecretBinary) as SecretValue;
      // Constraint checks come first, as the service validates the request before it looks up the secret.
      if (byteLength(value) > MAX_SECRET_VALUE_BYTES) {
        const member = hasString ? 'secretString' : 'secretBinary';
        return runner.fail({
          name: 'ValidationException',
          message: `1 validation error detected: Value at '${member}' failed to satisfy constraint: Member must have length less than or equal to ${MAX_SECRET_VALUE_BYTES}`,
        });
      }
      // The SDK fills in a UUID when the caller gives no token.
      const token = input.ClientRequestToken ?? randomUUID();
      if (token.length < TOKEN_LENGTH.min || token.length > TOKEN_LENGTH.max) {
        const bound =
          token.length < TOKEN_LENGTH.min
            ? `greater than or equal to ${TOKEN_LENGTH.min}`
            : `less than or equal to ${TOKEN_LENGTH.max}`;
        return runner.fail({
          name: 'ValidationException',
          message: `1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: Member must have length ${bound}`,
        });
      }
      const secret = resolve(input.SecretId);
      notDeleted(secret);
      const existing = secret.versions.find((version) => version.versionId === token);
      if (existing) {
        if (!sameValue(existing.value, value)) {
          return runner.fail({
            name: 'ResourceExistsException',
            message: "You can't modify an existing version, you can only create a new version.",
          });
        }
        return {
          $metadata: metadata(),
          ARN: secret.arn,
          Name: secret.name,
          VersionId: existing.versionId,
          VersionStages: stagesOf(existing),
        };
      }
      const version = addVersion(secret, token, value, input.VersionStages);
      return {
        $metadata: metadata(),
        ARN: secret.arn,
        Name: secret.name,
        VersionId: version.versionId,
        VersionStages: stagesOf(version),
      };
    }),
  );

  mock.on(DescribeSecretCommand).callsFake((input: DescribeSecretCommandInput) =>
    runner.run('DescribeSecret', input, (): DescribeSecretCommandOutput => {
      const secret = resolve(input.SecretId);
      return {
        $metadata: metadata(),
        ARN: secret.arn,
        Name: secret.name,
        ...(secret.kmsKeyId ? { KmsKeyId: secret.kmsKeyId } : {}),
        ...(secret.deletedDate ? { DeletedDate: secret.deletedDate } : {}),
        VersionIdsToStages: versionIdsToStages(secret),
      };
    }),
  );

  const versionIdsToStages = (secret: FakeSecret): Record<string, string[]> =>
    Object.fromEntries(
      secret.versions
        .filter((version) => version.stages.size > 0)
        .map((version) => [version.versionId, stagesOf(version)]),
    );

  const fake: SecretsManagerFake = {
    region,
    secrets,
    calls: runner.calls,
    requests: runner.requests,
    createSecret(name, value, createOptions = {}) {
      if ([...secrets.values()].some((secret) => secret.name === name)) {
        throw new Error(`The Secrets Manager fake already has a secret named ${name}`);
      }
      const arn =
        createOptions.arn ?? `arn:aws:secretsmanager:${region}:${ACCOUNT}:secret:${name}-${arnSuffix()}`;
      const secret: FakeSecret = {
        arn,
        name,
        versions: [],
        ...(createOptions.kmsKeyId ? { kmsKeyId: createOptions.kmsKeyId } : {}),
      };
      if (value !== undefined) addVersion(secret, createOptions.versionId ?? randomUUID(), value);
      secrets.set(arn, secret);
      return arn;
    },
    putSecretValue(secretId, value) {
      const secret = find(secretId);
      if (!secret) throw new Error(`The Secrets Manager fake has no secret ${secretId}`);
      return addVersion(secret, randomUUID(), value).versionId;
    },
    secret: (secretId) => find(secretId),
    versionByStage(secretId, stage = CURRENT) {
      const secret = find(secretId);
      return secret ? withStage(secret, stage) : undefined;
    },
    valueOf(secretId, stage = CURRENT) {
      const value = fake.versionByStage(secretId, stage)?.value;
      return value === undefined
        ? undefined
        : typeof value === 'string'
          ? value
          : Buffer.from(value).toString();
    },
    versionIdsToStages(secretId) {
      const secret = find(secretId);
      if (!secret) throw new Error(`The Secrets Manager fake has no secret ${secretId}`);
      return versionIdsToStages(secret);
    },
    scheduleDeletion(secretId) {
      const secret = find(secretId);
      if (!secret) throw new Error(`The Secrets Manager fake has no secret ${secretId}`);
      secret.deletedDate = new Date();
    },
    failNext: (command, errorName, times) => runner.failNext(command, errorName, times),
    restore: () => {
      mock.restore();
      if (active === fake) active = undefined;
    },
  };
  active = fake;
  return fake;
}
