import { KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { compactVerify, importJWK } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KmsSigner } from '../../../lambdas/adapters/kms-signer.js';
import { AwsRequestError, AwsTransientError, InvalidInputError } from '../../../lambdas/core/errors.js';
import type { EcPublicJwk } from '../../../lambdas/core/ports.js';
import { installKmsFake, type KmsFake } from '../../fakes/kms-fake.js';

const encoder = new TextEncoder();

function base64url(bytes: Uint8Array | string): string {
  return Buffer.from(bytes).toString('base64url');
}

/** Builds a compact JWS by hand, the way the ACME layer does, with the signer under test. */
async function signCompactJws(
  signer: KmsSigner,
  payload: string,
): Promise<{ jws: string; jwk: EcPublicJwk }> {
  const jwk = await signer.publicJwk();
  const header = base64url(
    JSON.stringify({ alg: signer.algorithm, jwk, nonce: 'n0nce', url: 'https://ca/acct' }),
  );
  const signingInput = `${header}.${base64url(payload)}`;
  const signature = await signer.sign(encoder.encode(signingInput));
  return { jws: `${signingInput}.${base64url(signature)}`, jwk };
}

let kms: KmsFake;
let client: KMSClient;

beforeEach(() => {
  kms = installKmsFake();
  client = new KMSClient({ region: 'us-east-1' });
});

afterEach(() => {
  kms.restore();
});

describe('KmsSigner.publicJwk', () => {
  it('returns the P-256 JWK of the KMS key', async () => {
    const keyId = kms.createKey();
    const expected = kms.keys.get(keyId)?.publicKey.export({ format: 'jwk' });

    const jwk = await new KmsSigner({ client, keyId }).publicJwk();

    expect(jwk).toEqual({ kty: 'EC', crv: 'P-256', x: expected?.x, y: expected?.y });
  });

  it('asks KMS once per signer instance', async () => {
    const signer = new KmsSigner({ client, keyId: kms.createKey() });

    await Promise.all([signer.publicJwk(), signer.publicJwk()]);
    await signer.publicJwk();

    expect(kms.calls.GetPublicKey).toBe(1);
  });

  it('does not cache a failure, so the next call asks again', async () => {
    const signer = new KmsSigner({ client, keyId: kms.createKey() });
    kms.failNext('GetPublicKey', 'ThrottlingException');

    await expect(signer.publicJwk()).rejects.toThrow(AwsTransientError);
    await expect(signer.publicJwk()).resolves.toMatchObject({ kty: 'EC' });
    expect(kms.calls.GetPublicKey).toBe(2);
  });

  it('refuses a key that is not ECC_NIST_P256, naming its spec', async () => {
    const signer = new KmsSigner({ client, keyId: kms.createKey({ keySpec: 'ECC_NIST_P384' }) });

    const fetching = signer.publicJwk();

    await expect(fetching).rejects.toThrow(InvalidInputError);
    await expect(fetching).rejects.toThrow(/KeySpec ECC_NIST_P384/);
  });

  it('refuses a P-256 key that is not for signing, naming its usage', async () => {
    const signer = new KmsSigner({ client, keyId: kms.createKey({ keyUsage: 'KEY_AGREEMENT' }) });

    await expect(signer.publicJwk()).rejects.toThrow(/KeyUsage KEY_AGREEMENT/);
  });

  it('accepts the key ARN and an alias as well as the key id', async () => {
    const keyId = kms.createKey({ alias: 'alias/acme-account' });
    const arn = kms.keys.get(keyId)?.arn ?? '';

    const [byId, byArn, byAlias] = await Promise.all(
      [keyId, arn, 'alias/acme-account'].map((id) => new KmsSigner({ client, keyId: id }).publicJwk()),
    );

    expect(byArn).toEqual(byId);
    expect(byAlias).toEqual(byId);
  });
});

describe('KmsSigner.sign', () => {
  it('produces ES256 JWS signatures that jose verifies against its JWK', async () => {
    const signer = new KmsSigner({ client, keyId: kms.createKey() });
    const payload = JSON.stringify({ termsOfServiceAgreed: true });

    const { jws, jwk } = await signCompactJws(signer, payload);
    const verified = await compactVerify(jws, await importJWK(jwk, 'ES256'));

    expect(new TextDecoder().decode(verified.payload)).toBe(payload);
    expect(verified.protectedHeader.alg).toBe('ES256');
  });

  it('returns 64-byte r || s signatures, never DER', async () => {
    const signer = new KmsSigner({ client, keyId: kms.createKey() });

    const signatures = await Promise.all(
      Array.from({ length: 20 }, (_, i) => signer.sign(encoder.encode(`message ${i}`))),
    );

    expect(signatures.every((signature) => signature.length === 64)).toBe(true);
  });

  it('asks KMS for ECDSA_SHA_256 over the RAW message', async () => {
    const keyId = kms.createKey();
    const signer = new KmsSigner({ client, keyId });
    const message = encoder.encode('header.payload');

    await signer.sign(message);

    expect(kms.requests.at(-1)).toEqual({
      command: 'Sign',
      input: { KeyId: keyId, Message: message, MessageType: 'RAW', SigningAlgorithm: 'ECDSA_SHA_256' },
    });
  });

  it('signs inputs over 4096 bytes as a SHA-256 DIGEST, still verifiable as ES256', async () => {
    const signer = new KmsSigner({ client, keyId: kms.createKey() });
    const payload = JSON.stringify({ csr: 'A'.repeat(6000) });

    const { jws, jwk } = await signCompactJws(signer, payload);

    await expect(compactVerify(jws, await importJWK(jwk, 'ES256'))).resolves.toBeDefined();
    expect(kms.requests.at(-1)?.input).toMatchObject({ MessageType: 'DIGEST' });
  });

  it('wraps throttling as AwsTransientError naming the key and operation, with the cause', async () => {
    const keyId = kms.createKey();
    const signer = new KmsSigner({ client, keyId });
    kms.failNext('Sign', 'ThrottlingException');

    const error = await signer.sign(encoder.encode('x')).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(AwsTransientError);
    expect((error as Error).message).toContain(`KMS Sign on key ${keyId}`);
    expect((error as Error).cause).toMatchObject({
      name: 'ThrottlingException',
      $retryable: { throttling: true },
    });
  });

  it.each(['KMSInternalException', 'InternalFailure'])('treats %s as transient', async (errorName) => {
    const signer = new KmsSigner({ client, keyId: kms.createKey() });
    kms.failNext('Sign', errorName);

    await expect(signer.sign(encoder.encode('x'))).rejects.toThrow(AwsTransientError);
  });

  it('wraps an unknown key as AwsRequestError', async () => {
    const signer = new KmsSigner({ client, keyId: '00000000-0000-0000-0000-000000000000' });

    const error = await signer.sign(encoder.encode('x')).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(AwsRequestError);
    expect((error as Error).cause).toMatchObject({ name: 'NotFoundException' });
  });

  it('wraps a disabled key as AwsRequestError', async () => {
    const keyId = kms.createKey();
    kms.disableKey(keyId);

    await expect(new KmsSigner({ client, keyId }).sign(encoder.encode('x'))).rejects.toThrow(
      /DisabledException/,
    );
  });
});

describe('KMS fake', () => {
  it('refuses RAW messages over 4096 bytes with ValidationException, as KMS does', async () => {
    const keyId = kms.createKey();

    const signing = client.send(
      new SignCommand({
        KeyId: keyId,
        Message: new Uint8Array(4097),
        MessageType: 'RAW',
        SigningAlgorithm: 'ECDSA_SHA_256',
      }),
    );

    await expect(signing).rejects.toMatchObject({
      name: 'ValidationException',
      $metadata: { httpStatusCode: 400 },
    });
  });

  it('refuses a signing algorithm the key does not support', async () => {
    const keyId = kms.createKey();

    const signing = client.send(
      new SignCommand({ KeyId: keyId, Message: new Uint8Array(1), SigningAlgorithm: 'ECDSA_SHA_384' }),
    );

    await expect(signing).rejects.toMatchObject({ name: 'InvalidKeyUsageException' });
  });

  it('injects the requested number of failures, then recovers', async () => {
    const signer = new KmsSigner({ client, keyId: kms.createKey() });
    kms.failNext('SignCommand', 'ThrottlingException', 2);

    await expect(signer.sign(encoder.encode('x'))).rejects.toThrow(AwsTransientError);
    await expect(signer.sign(encoder.encode('x'))).rejects.toThrow(AwsTransientError);
    await expect(signer.sign(encoder.encode('x'))).resolves.toHaveLength(64);
    expect(kms.calls.Sign).toBe(3);
  });

  it('also answers KMS clients created before it was installed', async () => {
    kms.restore();
    const early = new KMSClient({ region: 'us-east-1' });
    kms = installKmsFake();

    await expect(new KmsSigner({ client: early, keyId: kms.createKey() }).publicJwk()).resolves.toBeDefined();
  });
});
