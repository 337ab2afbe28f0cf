import { randomBytes, randomUUID } from 'node:crypto';
import {
  CreateSecretCommand,
  type CreateSecretCommandInput,
  type CreateSecretCommandOutput,
  DeleteSecretCommand,
  type DeleteSecretCommandInput,
  type DeleteSecretCommandOutput,
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
 * An in-memory AWS Secrets Manager at the SDK boundary, for unit tests and the e2e state machine.
 * It resolves `SecretId` like the service (name, full ARN, or partial ARN without the six-character
 * suffix), keeps versions with the `AWSCURRENT`/`AWSPREVIOUS` staging labels, and refuses with the
 * service's error names and messages: `ResourceNotFoundException` for an unknown secret or a
 * secret without a value, `InvalidRequestException` for one scheduled for deletion.
 */

const ACCOUNT = '123456789012';
const CURRENT = 'AWSCURRENT';
const PREVIOUS = 'AWSPREVIOUS';
const SUFFIX_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

interface FakeSecretVersion {
  readonly versionId: string;
  readonly secretString?: string;
  readonly secretBinary?: Uint8Array;
  stages: string[];
  readonly createdDate: Date;
}

/** One secret, as the fake keeps it. */
export interface FakeSecret {
  readonly arn: string;
  readonly name: string;
  readonly versions: FakeSecretVersion[];
  deletedDate?: Date;
}

export interface SecretsManagerFake {
  readonly region: string;
  /** Every secret, by ARN. */
  readonly secrets: ReadonlyMap<string, FakeSecret>;
  /** Calls per command (`GetSecretValue`, ...), failed ones included. */
  readonly calls: Readonly<Record<string, number>>;
  /** Every request with its input, oldest first. */
  readonly requests: readonly { readonly command: string; readonly input: unknown }[];
  /** Creates a secret with a string value, as `CreateSecret` does, and returns its ARN. */
  createSecret(name: string, secretString: string): string;
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
 * with an in-memory Secrets Manager supporting CreateSecret, GetSecretValue, PutSecretValue and
 * DeleteSecret. Call `restore()` when done.
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

  const create = (input: CreateSecretCommandInput): FakeSecret => {
    const name = input.Name ?? '';
    if (!/^[A-Za-z0-9/_+=.@-]{1,512}$/.test(name)) {
      return runner.fail({ name: 'InvalidParameterException', message: `Invalid name: ${name}` });
    }
    if ([...secrets.values()].some((secret) => secret.name === name)) {
      return runner.fail({
        name: 'ResourceExistsException',
        message: `The operation failed because the secret ${name} already exists.`,
      });
    }
    if (input.SecretString !== undefined && input.SecretBinary !== undefined) {
      return runner.fail({
        name: 'InvalidParameterException',
        message: 'You can’t specify both a binary secret value and a string secret value in the same secret.',
      });
    }
    const arn = `arn:aws:secretsmanager:${region}:${ACCOUNT}:secret:${name}-${arnSuffix()}`;
    const secret: FakeSecret = { arn, name, versions: [] };
    if (input.SecretString !== undefined || input.SecretBinary !== undefined) {
      secret.versions.push({
        versionId: input.ClientRequestToken ?? randomUUID(),
        ...(input.SecretString !== undefined ? { secretString: input.SecretString } : {}),
        ...(input.SecretBinary !== undefined ? { secretBinary: input.SecretBinary } : {}),
        stages: [CURRENT],
        createdDate: new Date(),
      });
    }
    secrets.set(arn, secret);
    return secret;
  };

  mock.onAnyCommand().callsFake(() =>
    runner.fail({
      name: 'UnsupportedOperationException',
      message: 'The Secrets Manager fake does not support this command',
    }),
  );

  mock.on(CreateSecretCommand).callsFake((input: CreateSecretCommandInput) =>
    runner.run('CreateSecret', input, (): CreateSecretCommandOutput => {
      const secret = create(input);
      const versionId = secret.versions[0]?.versionId;
      return {
        $metadata: metadata(),
        ARN: secret.arn,
        Name: secret.name,
        ...(versionId ? { VersionId: versionId } : {}),
      };
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
      const stage = input.VersionStage ?? (input.VersionId === undefined ? CURRENT : undefined);
      const version = secret.versions.find(
        (candidate) =>
          (input.VersionId === undefined || candidate.versionId === input.VersionId) &&
          (stage === undefined || candidate.stages.includes(stage)),
      );
      if (!version) {
        return notFound(
          input.VersionId !== undefined
            ? `Secrets Manager can't find the specified secret value for VersionId: ${input.VersionId}`
            : `Secrets Manager can't find the specified secret value for staging label: ${stage}`,
        );
      }
      return {
        $metadata: metadata(),
        ARN: secret.arn,
        Name: secret.name,
        VersionId: version.versionId,
        ...(version.secretString !== undefined ? { SecretString: version.secretString } : {}),
        ...(version.secretBinary !== undefined ? { SecretBinary: version.secretBinary } : {}),
        VersionStages: [...version.stages],
        CreatedDate: version.createdDate,
      };
    }),
  );

  mock.on(PutSecretValueCommand).callsFake((input: PutSecretValueCommandInput) =>
    runner.run('PutSecretValue', input, (): PutSecretValueCommandOutput => {
      const secret = resolve(input.SecretId);
      if (secret.deletedDate) {
        return runner.fail({
          name: 'InvalidRequestException',
          message: "You can't perform this operation on the secret because it was marked for deletion.",
        });
      }
      for (const version of secret.versions) {
        version.stages = version.stages.filter((stage) => stage !== PREVIOUS);
        if (version.stages.includes(CURRENT)) {
          version.stages = [...version.stages.filter((stage) => stage !== CURRENT), PREVIOUS];
        }
      }
      const versionId = input.ClientRequestToken ?? randomUUID();
      secret.versions.push({
        versionId,
        ...(input.SecretString !== undefined ? { secretString: input.SecretString } : {}),
        ...(input.SecretBinary !== undefined ? { secretBinary: input.SecretBinary } : {}),
        stages: [CURRENT],
        createdDate: new Date(),
      });
      return {
        $metadata: metadata(),
        ARN: secret.arn,
        Name: secret.name,
        VersionId: versionId,
        VersionStages: [CURRENT],
      };
    }),
  );

  mock.on(DeleteSecretCommand).callsFake((input: DeleteSecretCommandInput) =>
    runner.run('DeleteSecret', input, (): DeleteSecretCommandOutput => {
      const secret = resolve(input.SecretId);
      const now = new Date();
      const days = input.ForceDeleteWithoutRecovery ? 0 : (input.RecoveryWindowInDays ?? 30);
      if (days === 0) secrets.delete(secret.arn);
      else secret.deletedDate = now;
      return {
        $metadata: metadata(),
        ARN: secret.arn,
        Name: secret.name,
        DeletionDate: new Date(now.getTime() + days * 24 * 60 * 60 * 1000),
      };
    }),
  );

  return {
    region,
    secrets,
    calls: runner.calls,
    requests: runner.requests,
    createSecret(name, secretString) {
      return create({ Name: name, SecretString: secretString }).arn;
    },
    failNext: (command, errorName, times) => runner.failNext(command, errorName, times),
    restore: () => mock.restore(),
  };
}
