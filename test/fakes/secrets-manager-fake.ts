import { randomBytes, randomUUID } from 'node:crypto';
import {
  GetSecretValueCommand,
  type GetSecretValueCommandInput,
  type GetSecretValueCommandOutput,
  SecretsManagerClient,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { FakeCommandRunner, type ServiceExceptionClass } from './fake-support.js';

/**
 * An in-memory AWS Secrets Manager at the SDK boundary, for unit tests and the e2e state machine.
 * It serves GetSecretValue, the one call production makes: it resolves `SecretId` like the service
 * (name, full ARN, or partial ARN without the six-character suffix), answers with the current
 * (`AWSCURRENT`) value, and refuses with the service's error names and messages:
 * `ResourceNotFoundException` for an unknown secret or a secret without a value,
 * `InvalidRequestException` for one scheduled for deletion. Tests arrange secrets through the
 * fake's own methods, not through SDK calls production never sends.
 */

const ACCOUNT = '123456789012';
const CURRENT = 'AWSCURRENT';
const SUFFIX_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A secret's value: a string (what the adapter reads) or binary. */
type SecretValue = string | Uint8Array;

/** One secret, as the fake keeps it. */
export interface FakeSecret {
  readonly arn: string;
  readonly name: string;
  /** The current value, or none for a secret created without one. */
  current?: { readonly versionId: string; readonly value: SecretValue; readonly createdDate: Date };
  deletedDate?: Date;
}

export interface SecretsManagerFake {
  readonly region: string;
  /** Every secret, by ARN. */
  readonly secrets: ReadonlyMap<string, FakeSecret>;
  /** Calls per command (`GetSecretValue`), failed ones included. */
  readonly calls: Readonly<Record<string, number>>;
  /** Every request with its input, oldest first. */
  readonly requests: readonly { readonly command: string; readonly input: unknown }[];
  /** Creates a secret, as `CreateSecret` does, and returns its ARN. */
  createSecret(name: string, value?: SecretValue): string;
  /** Gives a secret a new current value, as `PutSecretValue` (a rotation) does. */
  putSecretValue(secretId: string, value: SecretValue): void;
  /** Schedules a secret for deletion, as `DeleteSecret` with a recovery window does. */
  scheduleDeletion(secretId: string): void;
  /** Makes the next `times` calls of `command` throw an error named `errorName`. */
  failNext(command: string, errorName: string, times?: number): void;
  /** Gives `SecretsManagerClient` back its real `send`. */
  restore(): void;
}

function metadata() {
  return { httpStatusCode: 200, requestId: randomUUID(), attempts: 1, totalRetryDelay: 0 };
}

/** Secrets Manager appends a hyphen and six random characters to the name in every ARN. */
function arnSuffix(): string {
  return [...randomBytes(6)].map((byte) => SUFFIX_ALPHABET[byte % SUFFIX_ALPHABET.length]).join('');
}

/**
 * Replaces `send` on every `SecretsManagerClient` (including clients created before this call)
 * with an in-memory Secrets Manager serving GetSecretValue. Call `restore()` when done.
 */
export function installSecretsManagerFake(options: { region?: string } = {}): SecretsManagerFake {
  const region = options.region ?? 'us-east-1';
  const runner = new FakeCommandRunner(SecretsManagerServiceException as unknown as ServiceExceptionClass);
  const secrets = new Map<string, FakeSecret>();
  const mock = mockClient(SecretsManagerClient);

  const notFound = (message = "Secrets Manager can't find the specified secret."): never =>
    runner.fail({ name: 'ResourceNotFoundException', message });

  const resolve = (secretId: string | undefined): FakeSecret => {
    const reference = secretId ?? '';
    for (const secret of secrets.values()) {
      // Full ARN, partial ARN (without the random suffix), or name.
      if (reference === secret.arn || reference === secret.arn.slice(0, -7) || reference === secret.name) {
        return secret;
      }
    }
    return notFound();
  };

  const versionOf = (value: SecretValue) => ({ versionId: randomUUID(), value, createdDate: new Date() });

  mock.onAnyCommand().callsFake(() =>
    runner.fail({
      name: 'UnsupportedOperationException',
      message: 'The Secrets Manager fake does not support this command',
    }),
  );

  mock.on(GetSecretValueCommand).callsFake((input: GetSecretValueCommandInput) =>
    runner.run('GetSecretValue', input, (): GetSecretValueCommandOutput => {
      const secret = resolve(input.SecretId);
      if (secret.deletedDate) {
        return runner.fail({
          name: 'InvalidRequestException',
          message: "You can't perform this operation on the secret because it was marked for deletion.",
        });
      }
      const version = secret.current;
      if (!version) {
        return notFound(
          `Secrets Manager can't find the specified secret value for staging label: ${CURRENT}`,
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
        VersionStages: [CURRENT],
        CreatedDate: version.createdDate,
      };
    }),
  );

  return {
    region,
    secrets,
    calls: runner.calls,
    requests: runner.requests,
    createSecret(name, value) {
      if ([...secrets.values()].some((secret) => secret.name === name)) {
        throw new Error(`The Secrets Manager fake already has a secret named ${name}`);
      }
      const arn = `arn:aws:secretsmanager:${region}:${ACCOUNT}:secret:${name}-${arnSuffix()}`;
      secrets.set(arn, { arn, name, ...(value === undefined ? {} : { current: versionOf(value) }) });
      return arn;
    },
    putSecretValue(secretId, value) {
      resolve(secretId).current = versionOf(value);
    },
    scheduleDeletion(secretId) {
      resolve(secretId).deletedDate = new Date();
    },
    failNext: (command, errorName, times) => runner.failNext(command, errorName, times),
    restore: () => mock.restore(),
  };
}
