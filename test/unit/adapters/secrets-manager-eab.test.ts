import { randomBytes } from 'node:crypto';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SecretsManagerExternalAccountBinding } from '../../../lambdas/adapters/secrets-manager-eab.js';
import { AwsRequestError, AwsTransientError, InvalidInputError } from '../../../lambdas/core/errors.js';
import { installSecretsManagerFake, type SecretsManagerFake } from '../../fakes/secrets-manager-fake.js';

let secrets: SecretsManagerFake;
let client: SecretsManagerClient;

beforeEach(() => {
  secrets = installSecretsManagerFake();
  client = new SecretsManagerClient({ region: 'us-east-1' });
});

afterEach(() => {
  secrets.restore();
});

const source = (secretId: string) => new SecretsManagerExternalAccountBinding({ client, secretId });

/** Reads and returns the error, failing the test if the read succeeds. */
async function readError(secretId: string): Promise<Error> {
  const outcome = await source(secretId)
    .read()
    .then(
      () => undefined,
      (error: unknown) => error as Error,
    );
  if (!outcome) throw new Error('expected the read to fail');
  return outcome;
}

describe('SecretsManagerExternalAccountBinding', () => {
  it('reads the kid and decodes the base64url MAC key from the secret JSON', async () => {
    const key = randomBytes(48);
    const arn = secrets.createSecret(
      'acme/eab',
      JSON.stringify({ kid: 'kid-1', hmacKey: key.toString('base64url') }),
    );

    const binding = await source(arn).read();

    expect(binding.kid).toBe('kid-1');
    expect(Buffer.from(binding.hmacKey)).toEqual(key);
    expect(secrets.calls.GetSecretValue).toBe(1);
  });

  it('finds the secret by name, ARN or partial ARN, as Secrets Manager does', async () => {
    const arn = secrets.createSecret('acme/eab', JSON.stringify({ kid: 'k', hmacKey: 'AAAA' }));

    for (const secretId of ['acme/eab', arn, arn.replace(/-[A-Za-z0-9]{6}$/, '')]) {
      await expect(source(secretId).read()).resolves.toMatchObject({ kid: 'k' });
    }
  });

  it('accepts a padded key', async () => {
    const arn = secrets.createSecret('acme/eab', JSON.stringify({ kid: 'k', hmacKey: 'AAA=' }));

    await expect(source(arn).read()).resolves.toMatchObject({ hmacKey: new Uint8Array([0, 0]) });
  });

  it('reads the current value on every call, so a rotated secret takes effect', async () => {
    const arn = secrets.createSecret('acme/eab', JSON.stringify({ kid: 'old', hmacKey: 'AAAA' }));
    secrets.putSecretValue(arn, JSON.stringify({ kid: 'new', hmacKey: 'BBBB' }));

    await expect(source(arn).read()).resolves.toMatchObject({ kid: 'new' });
  });

  it('refuses a secret that is not JSON without quoting its text', async () => {
    const text = 'kid-1:zWNDZM6eQGHWpSRTPal5eIUYFTu7EajV';
    const arn = secrets.createSecret('acme/eab', text);

    const error = await readError(arn);

    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.message).toContain(arn);
    expect(error.message).toContain('not valid JSON');
    expect(`${error.message} ${String(error.cause)}`).not.toContain('zWNDZM6e');
    expect(error.cause).toBeUndefined();
  });

  it.each([
    ['no kid', { hmacKey: 'AAAA' }, '"kid"'],
    ['an empty kid', { kid: '', hmacKey: 'AAAA' }, '"kid"'],
    ['no hmacKey', { kid: 'k' }, '"hmacKey"'],
    ['a standard-base64 hmacKey', { kid: 'k', hmacKey: 'ab+/cd==' }, '"hmacKey"'],
    ['an hmacKey of impossible length', { kid: 'k', hmacKey: 'abcde' }, '"hmacKey"'],
    ['a non-string hmacKey', { kid: 'k', hmacKey: 12345 }, '"hmacKey"'],
  ])('refuses a secret with %s, naming the field but not the value', async (_case, value, field) => {
    const arn = secrets.createSecret('acme/eab', JSON.stringify(value));

    const error = await readError(arn);

    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.message).toContain(field);
    const hmacKey = (value as { hmacKey?: unknown }).hmacKey;
    if (typeof hmacKey === 'string') expect(error.message).not.toContain(hmacKey);
  });

  it('refuses a secret that is a JSON array', async () => {
    const arn = secrets.createSecret('acme/eab', '["kid","AAAA"]');

    await expect(source(arn).read()).rejects.toThrow(/not a JSON object/);
  });

  it('refuses a binary secret, asking for the JSON string form', async () => {
    secrets.createSecret('acme/binary', new Uint8Array([1, 2, 3]));

    await expect(source('acme/binary').read()).rejects.toThrow(/has no string value/);
  });

  it('reports a missing secret as AwsRequestError naming it', async () => {
    const error = await readError('acme/missing');

    expect(error).toBeInstanceOf(AwsRequestError);
    expect(error.message).toContain('acme/missing');
    expect(error.message).toContain('ResourceNotFoundException');
  });

  it('reports a secret scheduled for deletion as AwsRequestError', async () => {
    const arn = secrets.createSecret('acme/eab', JSON.stringify({ kid: 'k', hmacKey: 'AAAA' }));
    secrets.scheduleDeletion(arn);

    const error = await readError(arn);

    expect(error).toBeInstanceOf(AwsRequestError);
    expect(error.message).toContain('InvalidRequestException');
  });

  it('reports throttling as AwsTransientError, so the state machine retries it', async () => {
    const arn = secrets.createSecret('acme/eab', JSON.stringify({ kid: 'k', hmacKey: 'AAAA' }));
    secrets.failNext('GetSecretValue', 'ThrottlingException');

    await expect(source(arn).read()).rejects.toThrow(AwsTransientError);
    await expect(source(arn).read()).resolves.toMatchObject({ kid: 'k' });
  });
});
