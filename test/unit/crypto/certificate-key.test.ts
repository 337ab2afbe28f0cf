import { createPrivateKey, generateKeyPairSync, webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  detectKeyType,
  generateCertificateKey,
  importCertificateKey,
} from '../../../lambdas/core/crypto/certificate-key.js';
import { InvalidInputError } from '../../../lambdas/core/errors.js';

const data = new TextEncoder().encode('to be signed');

async function spkiOf(key: webcrypto.CryptoKey): Promise<Buffer> {
  return Buffer.from(await webcrypto.subtle.exportKey('spki', key));
}

async function signsAndVerifies(keyPair: webcrypto.CryptoKeyPair): Promise<boolean> {
  const algorithm =
    keyPair.privateKey.algorithm.name === 'ECDSA'
      ? { name: 'ECDSA', hash: 'SHA-256' }
      : { name: 'RSASSA-PKCS1-v1_5' };
  const signature = await webcrypto.subtle.sign(algorithm, keyPair.privateKey, data);
  return webcrypto.subtle.verify(algorithm, keyPair.publicKey, signature, data);
}

describe('generateCertificateKey', () => {
  it('generates an ECDSA P-256 key as PKCS#8 PEM by default', async () => {
    const { privateKeyPem, keyPair } = await generateCertificateKey(undefined);

    expect(privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(createPrivateKey(privateKeyPem).asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(keyPair.privateKey.algorithm).toMatchObject({ name: 'ECDSA', namedCurve: 'P-256' });
    expect(await signsAndVerifies(keyPair)).toBe(true);
  });

  it('generates an RSA 2048 key when asked', async () => {
    const { privateKeyPem, keyPair } = await generateCertificateKey('RSA_2048');

    expect(privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(createPrivateKey(privateKeyPem).asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(keyPair.privateKey.algorithm).toMatchObject({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048 });
    expect(await signsAndVerifies(keyPair)).toBe(true);
  });

  it.each([
    ['EC_P384', 'namedCurve', 'secp384r1'],
    ['RSA_3072', 'modulusLength', 3072],
    ['RSA_4096', 'modulusLength', 4096],
  ] as const)('generates a %s key when asked', async (keyType, detail, expected) => {
    const { privateKeyPem, keyPair } = await generateCertificateKey(keyType);

    expect(createPrivateKey(privateKeyPem).asymmetricKeyDetails?.[detail]).toBe(expected);
    expect(await signsAndVerifies(keyPair)).toBe(true);
  });

  it('generates a different key every time', async () => {
    const [a, b] = await Promise.all([generateCertificateKey('EC_P256'), generateCertificateKey('EC_P256')]);

    expect(a.privateKeyPem).not.toBe(b.privateKeyPem);
  });
});

describe('importCertificateKey', () => {
  it.each(['EC_P256', 'EC_P384', 'RSA_2048', 'RSA_3072'] as const)(
    'gives back a %s key pair whose public half is the original one',
    async (keyType) => {
      const generated = await generateCertificateKey(keyType);

      const imported = await importCertificateKey(generated.privateKeyPem);

      expect(await spkiOf(imported.publicKey)).toEqual(await spkiOf(generated.keyPair.publicKey));
      expect(
        await signsAndVerifies({ privateKey: imported.privateKey, publicKey: generated.keyPair.publicKey }),
      ).toBe(true);
    },
  );

  it('keeps the imported private key non-extractable', async () => {
    const { privateKeyPem } = await generateCertificateKey('EC_P256');

    const imported = await importCertificateKey(privateKeyPem);

    expect(imported.privateKey.extractable).toBe(false);
  });

  it('reads the older SEC1 and PKCS#1 PEM forms too', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const sec1 = ec.privateKey.export({ format: 'pem', type: 'sec1' }).toString();
    const pkcs1 = rsa.privateKey.export({ format: 'pem', type: 'pkcs1' }).toString();

    const [fromSec1, fromPkcs1] = await Promise.all([
      importCertificateKey(sec1),
      importCertificateKey(pkcs1),
    ]);

    expect(fromSec1.privateKey.algorithm.name).toBe('ECDSA');
    expect(fromPkcs1.privateKey.algorithm.name).toBe('RSASSA-PKCS1-v1_5');
  });

  it('refuses a key whose type differs from the one expected', async () => {
    const { privateKeyPem } = await generateCertificateKey('EC_P256');

    await expect(importCertificateKey(privateKeyPem, 'RSA_2048')).rejects.toThrow(InvalidInputError);
  });

  it('refuses unsupported curves and sizes, naming what it found', async () => {
    const p521 = generateKeyPairSync('ec', { namedCurve: 'secp521r1' }).privateKey.export({
      format: 'pem',
      type: 'pkcs8',
    });
    const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({
      format: 'pem',
      type: 'pkcs8',
    });

    await expect(importCertificateKey(p521.toString())).rejects.toThrow(/secp521r1/);
    await expect(importCertificateKey(rsa1024.toString())).rejects.toThrow(/rsa 1024/);
  });

  it('refuses text that is not a private key', async () => {
    await expect(importCertificateKey('not a key')).rejects.toThrow(InvalidInputError);
  });
});

describe('detectKeyType', () => {
  it('names every supported key type', () => {
    const pem = (key: ReturnType<typeof generateKeyPairSync>['privateKey']) =>
      key.export({ format: 'pem', type: 'pkcs8' }).toString();

    expect(detectKeyType(pem(generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey))).toBe(
      'EC_P384',
    );
    expect(detectKeyType(pem(generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey))).toBe(
      'RSA_3072',
    );
  });

  it('tells EC P-256 and RSA 2048 keys apart', async () => {
    const [ec, rsa] = await Promise.all([
      generateCertificateKey('EC_P256'),
      generateCertificateKey('RSA_2048'),
    ]);

    expect(detectKeyType(ec.privateKeyPem)).toBe('EC_P256');
    expect(detectKeyType(rsa.privateKeyPem)).toBe('RSA_2048');
  });
});
