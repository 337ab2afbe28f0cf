import { constants, createHash, type KeyObject, verify } from 'node:crypto';
import { GetPublicKeyCommand, KMSClient, SignCommand, type SigningAlgorithmSpec } from '@aws-sdk/client-kms';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KmsCertificateKey, KmsCertificateKeys } from '../../../lambdas/adapters/kms-certificate-key.js';
import { createCsrWithKeySigner } from '../../../lambdas/core/crypto/csr.js';
import { Pkcs10CertificateRequest } from '../../../lambdas/core/crypto/x509.js';
import { AwsRequestError, AwsTransientError, InvalidInputError } from '../../../lambdas/core/errors.js';
import { type FakeKeySpec, installKmsFake, type KmsFake } from '../../fakes/kms-fake.js';

const SPECS = [
  { keySpec: 'ECC_NIST_P256', keyType: 'EC_P256', algorithm: 'ECDSA_SHA_256', hash: 'sha256' },
  { keySpec: 'ECC_NIST_P384', keyType: 'EC_P384', algorithm: 'ECDSA_SHA_384', hash: 'sha384' },
  { keySpec: 'RSA_2048', keyType: 'RSA_2048', algorithm: 'RSASSA_PKCS1_V1_5_SHA_256', hash: 'sha256' },
  { keySpec: 'RSA_3072', keyType: 'RSA_3072', algorithm: 'RSASSA_PKCS1_V1_5_SHA_256', hash: 'sha256' },
  { keySpec: 'RSA_4096', keyType: 'RSA_4096', algorithm: 'RSASSA_PKCS1_V1_5_SHA_256', hash: 'sha256' },
] as const;

/** Enough names that the CertificationRequestInfo is over KMS's 4096-byte RAW limit. */
const MANY_DOMAINS = Array.from({ length: 120 }, (_, i) => `host-${i}.a-rather-long-subdomain.example.org`);

let kms: KmsFake;
let client: KMSClient;
let keys: KmsCertificateKeys;

beforeEach(() => {
  kms = installKmsFake();
  client = new KMSClient({ region: 'us-east-1' });
  keys = new KmsCertificateKeys({ client });
});

afterEach(() => {
  kms.restore();
});

function spkiOf(keyId: string): Buffer {
  const key = kms.keys.get(keyId);
  if (!key) throw new Error(`no fake key ${keyId}`);
  return key.publicKey.export({ format: 'der', type: 'spki' });
}

function signRequests(): { MessageType?: string; SigningAlgorithm?: string; Message?: Uint8Array }[] {
  return kms.requests
    .filter((request) => request.command === 'Sign')
    .map((request) => request.input as never);
}

describe('KmsCertificateKey.describe', () => {
  it.each(SPECS)(
    'reports a $keySpec key as $keyType with the key’s own SPKI',
    async ({ keySpec, keyType }) => {
      const keyId = kms.createKey({ keySpec });

      const description = await keys.forKey(keyId).describe();

      expect(description.keyType).toBe(keyType);
      expect(Buffer.from(description.spki)).toEqual(spkiOf(keyId));
    },
  );

  it.each([
    { keySpec: 'RSA_2048', keyUsage: 'ENCRYPT_DECRYPT' },
    { keySpec: 'ECC_NIST_P256', keyUsage: 'KEY_AGREEMENT' },
    { keySpec: 'ECC_NIST_P521', keyUsage: 'SIGN_VERIFY' },
  ] as const)(
    'refuses a $keySpec $keyUsage key, naming the key, its spec and usage and what is supported',
    async (options) => {
      const keyId = kms.createKey(options);

      const describing = keys.forKey(keyId).describe();

      await expect(describing).rejects.toThrow(InvalidInputError);
      await expect(describing).rejects.toThrow(keyId);
      await expect(describing).rejects.toThrow(`KeySpec ${options.keySpec} and KeyUsage ${options.keyUsage}`);
      await expect(describing).rejects.toThrow(
        /SIGN_VERIFY.*ECC_NIST_P256, ECC_NIST_P384, RSA_2048, RSA_3072, RSA_4096/,
      );
    },
  );

  it('asks KMS for the public key once per key, however often it is described or signs', async () => {
    const first = kms.createKey();
    const second = kms.createKey({ keySpec: 'ECC_NIST_P384' });

    await Promise.all([keys.forKey(first).describe(), keys.forKey(first).describe()]);
    await createCsrWithKeySigner(['example.org'], keys.forKey(first));
    await createCsrWithKeySigner(['example.org'], keys.forKey(first));
    await createCsrWithKeySigner(['example.org'], keys.forKey(second));

    expect(kms.calls.GetPublicKey).toBe(2);
    expect(keys.forKey(first)).toBe(keys.forKey(first));
  });

  it('does not cache a failed fetch, so the next call asks again', async () => {
    const key = keys.forKey(kms.createKey());
    kms.failNext('GetPublicKey', 'ThrottlingException');

    await expect(key.describe()).rejects.toThrow(AwsTransientError);
    await expect(key.describe()).resolves.toMatchObject({ keyType: 'EC_P256' });
    expect(kms.calls.GetPublicKey).toBe(2);
  });

  it('wraps an unknown key as AwsRequestError naming it', async () => {
    const keyId = '00000000-0000-0000-0000-000000000000';

    const error = await keys
      .forKey(keyId)
      .describe()
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(AwsRequestError);
    expect((error as Error).message).toContain(`KMS GetPublicKey on key ${keyId}`);
    expect((error as Error).cause).toMatchObject({ name: 'NotFoundException' });
  });

  it('accepts a key ARN or an alias as well as the key id', async () => {
    const keyId = kms.createKey({ keySpec: 'RSA_2048', alias: 'alias/web-certificate' });
    const arn = kms.keys.get(keyId)?.arn ?? '';

    const [byArn, byAlias] = await Promise.all(
      [arn, 'alias/web-certificate'].map((id) => keys.forKey(id).describe()),
    );

    expect(Buffer.from(byArn?.spki ?? [])).toEqual(spkiOf(keyId));
    expect(Buffer.from(byAlias?.spki ?? [])).toEqual(spkiOf(keyId));
  });
});

describe('createCsrWithKeySigner with a KMS key', () => {
  it.each(SPECS)(
    'builds a CSR that verifies with a $keySpec key, signed with $algorithm over the RAW request',
    async ({ keySpec, algorithm }) => {
      const keyId = kms.createKey({ keySpec });

      const csr = new Pkcs10CertificateRequest(
        await createCsrWithKeySigner(['example.org', '*.example.org'], keys.forKey(keyId)),
      );

      expect(await csr.verify()).toBe(true);
      expect(Buffer.from(csr.publicKey.rawData)).toEqual(spkiOf(keyId));
      expect(csr.subject).toBe('CN=example.org');
      expect(signRequests()).toEqual([
        expect.objectContaining({ KeyId: keyId, MessageType: 'RAW', SigningAlgorithm: algorithm }),
      ]);
    },
  );

  it.each(SPECS)(
    'sends a request over 4096 bytes to a $keySpec key as a DIGEST, and it still verifies',
    async ({ keySpec, algorithm, hash }) => {
      const keyId = kms.createKey({ keySpec });

      const csr = new Pkcs10CertificateRequest(
        await createCsrWithKeySigner(MANY_DOMAINS, keys.forKey(keyId)),
      );

      expect(await csr.verify()).toBe(true);
      const [request] = signRequests();
      expect(request).toMatchObject({ MessageType: 'DIGEST', SigningAlgorithm: algorithm });
      expect(request?.Message).toHaveLength(createHash(hash).digest().length);
    },
  );
});

describe('KmsCertificateKey.sign', () => {
  it('chooses RAW up to 4096 bytes and DIGEST beyond, both verifiable over the original data', async () => {
    const keyId = kms.createKey({ keySpec: 'ECC_NIST_P384' });
    const key = keys.forKey(keyId);
    const publicKey = kms.keys.get(keyId)?.publicKey as KeyObject;
    const atLimit = new Uint8Array(4096).fill(1);
    const overLimit = new Uint8Array(4097).fill(2);

    const rawSignature = await key.sign(atLimit);
    const digestSignature = await key.sign(overLimit);

    expect(signRequests().map((request) => request.MessageType)).toEqual(['RAW', 'DIGEST']);
    expect(verify('sha384', atLimit, { key: publicKey, dsaEncoding: 'der' }, rawSignature)).toBe(true);
    expect(verify('sha384', overLimit, { key: publicKey, dsaEncoding: 'der' }, digestSignature)).toBe(true);
  });

  it('wraps throttling as AwsTransientError naming the key and operation, with the cause', async () => {
    const keyId = kms.createKey({ keySpec: 'RSA_2048' });
    const key = keys.forKey(keyId);
    await key.describe();
    kms.failNext('Sign', 'ThrottlingException');

    const error = await createCsrWithKeySigner(['example.org'], key).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(AwsTransientError);
    expect((error as Error).message).toContain(`KMS Sign on key ${keyId}`);
    expect((error as Error).cause).toMatchObject({ name: 'ThrottlingException' });
  });

  it('wraps a disabled key as AwsRequestError', async () => {
    const keyId = kms.createKey();
    const key = new KmsCertificateKey({ client, keyId });
    await key.describe();
    kms.disableKey(keyId);

    const error = await key.sign(new Uint8Array([1])).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(AwsRequestError);
    expect((error as Error).cause).toMatchObject({ name: 'DisabledException' });
  });

  it('refuses to sign with a key that cannot be a certificate key, without calling Sign', async () => {
    const key = keys.forKey(kms.createKey({ keySpec: 'RSA_3072', keyUsage: 'ENCRYPT_DECRYPT' }));

    await expect(key.sign(new Uint8Array([1]))).rejects.toThrow(InvalidInputError);
    expect(kms.calls.Sign ?? 0).toBe(0);
  });
});

/** Every algorithm each spec signs with, as KMS lists them. */
const ALGORITHMS_BY_SPEC: readonly (readonly [FakeKeySpec, readonly SigningAlgorithmSpec[]])[] = [
  ['ECC_NIST_P256', ['ECDSA_SHA_256']],
  ['ECC_NIST_P384', ['ECDSA_SHA_384']],
  ['ECC_NIST_P521', ['ECDSA_SHA_512']],
  ...(['RSA_2048', 'RSA_3072', 'RSA_4096'] as const).map(
    (spec) =>
      [
        spec,
        [
          'RSASSA_PSS_SHA_256',
          'RSASSA_PSS_SHA_384',
          'RSASSA_PSS_SHA_512',
          'RSASSA_PKCS1_V1_5_SHA_256',
          'RSASSA_PKCS1_V1_5_SHA_384',
          'RSASSA_PKCS1_V1_5_SHA_512',
        ],
      ] as const,
  ),
];

/** Verifies a KMS signature the way a relying party would, over the original message. */
function verifies(
  algorithm: SigningAlgorithmSpec,
  message: Uint8Array,
  key: KeyObject,
  signature: Uint8Array,
) {
  const hash = `sha${algorithm.slice(-3)}`;
  if (algorithm.startsWith('ECDSA')) return verify(hash, message, { key, dsaEncoding: 'der' }, signature);
  if (algorithm.startsWith('RSASSA_PKCS1')) return verify(hash, message, key, signature);
  return verify(
    hash,
    message,
    { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST },
    signature,
  );
}

describe('KMS fake', () => {
  it.each(ALGORITHMS_BY_SPEC)(
    'signs with every %s algorithm over RAW messages and DIGESTs alike',
    async (keySpec, algorithms) => {
      const keyId = kms.createKey({ keySpec });
      const publicKey = kms.keys.get(keyId)?.publicKey as KeyObject;
      const message = new TextEncoder().encode('to be signed');

      const { SigningAlgorithms } = await client.send(new GetPublicKeyCommand({ KeyId: keyId }));

      expect(SigningAlgorithms).toEqual(algorithms);
      for (const algorithm of algorithms) {
        const digest = createHash(`sha${algorithm.slice(-3)}`)
          .update(message)
          .digest();
        for (const [messageType, input] of [
          ['RAW', message],
          ['DIGEST', digest],
        ] as const) {
          const { Signature, SigningAlgorithm } = await client.send(
            new SignCommand({
              KeyId: keyId,
              Message: input,
              MessageType: messageType,
              SigningAlgorithm: algorithm,
            }),
          );
          expect(SigningAlgorithm).toBe(algorithm);
          expect(
            verifies(algorithm, message, publicKey, Signature ?? new Uint8Array()),
            `${algorithm} ${messageType}`,
          ).toBe(true);
        }
      }
    },
  );

  it.each([
    ['ECC_NIST_P384', 'ECDSA_SHA_384', 32],
    ['RSA_3072', 'RSASSA_PKCS1_V1_5_SHA_256', 48],
    ['RSA_2048', 'RSASSA_PSS_SHA_512', 32],
  ] as const)(
    'refuses a %s DIGEST for %s that is %i bytes long with ValidationException',
    async (keySpec, algorithm, length) => {
      const keyId = kms.createKey({ keySpec });

      const signing = client.send(
        new SignCommand({
          KeyId: keyId,
          Message: new Uint8Array(length),
          MessageType: 'DIGEST',
          SigningAlgorithm: algorithm,
        }),
      );

      await expect(signing).rejects.toMatchObject({
        name: 'ValidationException',
        message: `Digest is invalid length for algorithm ${algorithm}.`,
      });
    },
  );

  it.each([
    ['RSA_3072', 'ECDSA_SHA_256'],
    ['ECC_NIST_P384', 'ECDSA_SHA_256'],
    ['ECC_NIST_P256', 'RSASSA_PKCS1_V1_5_SHA_256'],
  ] as const)(
    'refuses to sign with a %s key using %s with InvalidKeyUsageException',
    async (keySpec, algorithm) => {
      const keyId = kms.createKey({ keySpec });

      const signing = client.send(
        new SignCommand({ KeyId: keyId, Message: new Uint8Array(1), SigningAlgorithm: algorithm }),
      );

      await expect(signing).rejects.toMatchObject({ name: 'InvalidKeyUsageException' });
    },
  );

  it('refuses to sign with an ENCRYPT_DECRYPT key, and lists its encryption algorithms instead', async () => {
    const keyId = kms.createKey({ keySpec: 'RSA_3072', keyUsage: 'ENCRYPT_DECRYPT' });

    const publicKey = await client.send(new GetPublicKeyCommand({ KeyId: keyId }));
    const signing = client.send(
      new SignCommand({
        KeyId: keyId,
        Message: new Uint8Array(1),
        SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256',
      }),
    );

    expect(publicKey).toMatchObject({ KeySpec: 'RSA_3072', KeyUsage: 'ENCRYPT_DECRYPT' });
    expect(publicKey.EncryptionAlgorithms).toEqual(['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256']);
    expect(publicKey.SigningAlgorithms).toBeUndefined();
    await expect(signing).rejects.toMatchObject({ name: 'InvalidKeyUsageException' });
  });

  it('creates RSA keys only for signing or encryption, as KMS does', () => {
    expect(() => kms.createKey({ keySpec: 'RSA_4096', keyUsage: 'KEY_AGREEMENT' })).toThrow(
      /RSA_4096 keys with KEY_AGREEMENT/,
    );
  });
});
