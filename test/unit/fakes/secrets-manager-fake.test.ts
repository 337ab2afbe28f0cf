import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  type SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  activeSecretsManagerFake,
  installSecretsManagerFake,
  MAX_SECRET_VALUE_BYTES,
  type SecretsManagerFake,
} from '../../fakes/secrets-manager-fake.js';

let secrets: SecretsManagerFake;
let client: SecretsManagerClient;
let arn: string;

const token = (n: number) => `serial-${String(n).padStart(4, '0')}-${'0'.repeat(24)}`;

async function rejection(promise: Promise<unknown>): Promise<SecretsManagerServiceException> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error as SecretsManagerServiceException,
  );
}

beforeEach(() => {
  secrets = installSecretsManagerFake();
  client = new SecretsManagerClient({ region: 'us-east-1' });
  arn = secrets.createSecret('acme/certs/site', '{"status":"pending"}', {
    kmsKeyId: 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
  });
});

afterEach(() => secrets.restore());

describe('Secrets Manager fake: PutSecretValue', () => {
  it('makes each new version AWSCURRENT, the former one AWSPREVIOUS, and deprecates the one before', async () => {
    const initial = secrets.versionByStage(arn, 'AWSCURRENT');
    const first = await client.send(
      new PutSecretValueCommand({
        SecretId: arn,
        SecretString: '{"serial":1}',
        ClientRequestToken: token(1),
      }),
    );
    expect(first).toMatchObject({
      ARN: arn,
      Name: 'acme/certs/site',
      VersionId: token(1),
      VersionStages: ['AWSCURRENT'],
    });
    expect(secrets.versionByStage(arn, 'AWSPREVIOUS')?.versionId).toBe(initial?.versionId);

    await client.send(
      new PutSecretValueCommand({
        SecretId: arn,
        SecretString: '{"serial":2}',
        ClientRequestToken: token(2),
      }),
    );

    expect(secrets.valueOf(arn)).toBe('{"serial":2}');
    expect(secrets.valueOf(arn, 'AWSPREVIOUS')).toBe('{"serial":1}');
    expect(secrets.versionIdsToStages(arn)).toEqual({
      [token(1)]: ['AWSPREVIOUS'],
      [token(2)]: ['AWSCURRENT'],
    });
    // The deprecated initial version is kept, without a label.
    expect(secrets.secret(arn)?.versions.map((version) => [...version.stages])).toEqual([
      [],
      ['AWSPREVIOUS'],
      ['AWSCURRENT'],
    ]);
    const previous = await client.send(
      new GetSecretValueCommand({ SecretId: arn, VersionStage: 'AWSPREVIOUS' }),
    );
    expect(previous).toMatchObject({
      SecretString: '{"serial":1}',
      VersionId: token(1),
      VersionStages: ['AWSPREVIOUS'],
    });
    const described = await client.send(new DescribeSecretCommand({ SecretId: 'acme/certs/site' }));
    expect(described.VersionIdsToStages).toEqual({ [token(1)]: ['AWSPREVIOUS'], [token(2)]: ['AWSCURRENT'] });
    expect(described.KmsKeyId).toContain(':key/');
  });

  it('ignores a retry with the same token and value, and refuses the same token with another value', async () => {
    const put = (value: string) =>
      client.send(
        new PutSecretValueCommand({ SecretId: arn, SecretString: value, ClientRequestToken: token(7) }),
      );
    await put('{"serial":7}');
    const retry = await put('{"serial":7}');

    expect(retry.VersionId).toBe(token(7));
    expect(secrets.secret(arn)?.versions).toHaveLength(2);
    const error = await rejection(put('{"serial":8}'));
    expect(error.name).toBe('ResourceExistsException');
    expect(error.$fault).toBe('client');
    expect(secrets.valueOf(arn)).toBe('{"serial":7}');
  });

  it('accepts 65,536 bytes and refuses one more with ValidationException', async () => {
    const atLimit = 'x'.repeat(MAX_SECRET_VALUE_BYTES);
    await client.send(
      new PutSecretValueCommand({ SecretId: arn, SecretString: atLimit, ClientRequestToken: token(1) }),
    );
    // Bytes, not characters: 'é' is two bytes in UTF-8.
    const over = `${'x'.repeat(MAX_SECRET_VALUE_BYTES - 1)}é`;
    const error = await rejection(
      client.send(
        new PutSecretValueCommand({ SecretId: arn, SecretString: over, ClientRequestToken: token(2) }),
      ),
    );
    expect(error.name).toBe('ValidationException');
    expect(error.message).toContain('65536');
    expect(secrets.valueOf(arn)).toBe(atLimit);
  });

  it('refuses tokens shorter than 32 or longer than 64 characters', async () => {
    for (const bad of ['short', 'y'.repeat(65)]) {
      const error = await rejection(
        client.send(new PutSecretValueCommand({ SecretId: arn, SecretString: 'v', ClientRequestToken: bad })),
      );
      expect(error.name).toBe('ValidationException');
    }
  });

  it('refuses unknown and deleted secrets, and both or neither value', async () => {
    expect(
      (await rejection(client.send(new PutSecretValueCommand({ SecretId: 'nope', SecretString: 'v' })))).name,
    ).toBe('ResourceNotFoundException');
    expect((await rejection(client.send(new PutSecretValueCommand({ SecretId: arn })))).name).toBe(
      'InvalidParameterException',
    );
    secrets.scheduleDeletion(arn);
    expect(
      (await rejection(client.send(new PutSecretValueCommand({ SecretId: arn, SecretString: 'v' })))).name,
    ).toBe('InvalidRequestException');
  });
});

describe('Secrets Manager fake: GetSecretValue', () => {
  it('reads by VersionId and by stage, and says which label it could not find', async () => {
    await client.send(
      new PutSecretValueCommand({ SecretId: arn, SecretString: 'one', ClientRequestToken: token(1) }),
    );
    const byId = await client.send(new GetSecretValueCommand({ SecretId: arn, VersionId: token(1) }));
    expect(byId.SecretString).toBe('one');
    const error = await rejection(
      client.send(new GetSecretValueCommand({ SecretId: arn, VersionStage: 'AWSPENDING' })),
    );
    expect(error.name).toBe('ResourceNotFoundException');
    expect(error.message).toContain('AWSPENDING');
    const mismatch = await rejection(
      client.send(
        new GetSecretValueCommand({ SecretId: arn, VersionId: token(1), VersionStage: 'AWSPREVIOUS' }),
      ),
    );
    expect(mismatch.name).toBe('ResourceNotFoundException');
  });

  it('is the active fake until restored', () => {
    expect(activeSecretsManagerFake()).toBe(secrets);
    secrets.restore();
    expect(activeSecretsManagerFake()).toBeUndefined();
    secrets = installSecretsManagerFake();
  });
});
