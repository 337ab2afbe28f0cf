import { webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  generateCertificateKey,
  importCertificateKey,
} from '../../../lambdas/core/crypto/certificate-key.js';
import { createCsr } from '../../../lambdas/core/crypto/csr.js';
import {
  Pkcs10CertificateRequest,
  SubjectAlternativeNameExtension,
} from '../../../lambdas/core/crypto/x509.js';
import { InvalidInputError } from '../../../lambdas/core/errors.js';

const SUBJECT_ALT_NAME_OID = '2.5.29.17';

function parse(der: Uint8Array): Pkcs10CertificateRequest {
  return new Pkcs10CertificateRequest(der);
}

function sanOf(csr: Pkcs10CertificateRequest): string[] {
  const san = csr.getExtension(SUBJECT_ALT_NAME_OID);
  if (!(san instanceof SubjectAlternativeNameExtension)) return [];
  return san.names.toJSON().map((name) => `${name.type}:${name.value}`);
}

async function spki(key: webcrypto.CryptoKey): Promise<Buffer> {
  return Buffer.from(await webcrypto.subtle.exportKey('spki', key));
}

describe('createCsr', () => {
  it('puts every domain, wildcards included, in the SAN and the first one in the CN', async () => {
    const { keyPair } = await generateCertificateKey('EC_P256');
    const domains = ['example.org', '*.example.org', 'www.example.net'];

    const csr = parse(await createCsr(domains, keyPair));

    expect(csr.subject).toBe('CN=example.org');
    expect(sanOf(csr)).toEqual(['dns:example.org', 'dns:*.example.org', 'dns:www.example.net']);
  });

  it('is signed with ECDSA SHA-256 by the given EC key, and carries its public key', async () => {
    const { keyPair } = await generateCertificateKey('EC_P256');

    const csr = parse(await createCsr(['example.org'], keyPair));

    expect(await csr.verify()).toBe(true);
    expect(csr.signatureAlgorithm).toMatchObject({ name: 'ECDSA', hash: { name: 'SHA-256' } });
    expect(Buffer.from(csr.publicKey.rawData)).toEqual(await spki(keyPair.publicKey));
  });

  it('is signed with ECDSA SHA-384 by a P-384 key, matching the curve', async () => {
    const { keyPair } = await generateCertificateKey('EC_P384');

    const csr = parse(await createCsr(['example.org'], keyPair));

    expect(await csr.verify()).toBe(true);
    expect(csr.signatureAlgorithm).toMatchObject({ name: 'ECDSA', hash: { name: 'SHA-384' } });
    expect(Buffer.from(csr.publicKey.rawData)).toEqual(await spki(keyPair.publicKey));
  });

  it.each(['RSA_3072'] as const)('is signed with RSASSA-PKCS1-v1_5 SHA-256 by an %s key', async (keyType) => {
    const { keyPair } = await generateCertificateKey(keyType);

    const csr = parse(await createCsr(['example.org'], keyPair));

    expect(await csr.verify()).toBe(true);
    expect(csr.signatureAlgorithm).toMatchObject({ name: 'RSASSA-PKCS1-v1_5', hash: { name: 'SHA-256' } });
  });

  it('is signed with RSASSA-PKCS1-v1_5 SHA-256 by an RSA key', async () => {
    const { keyPair } = await generateCertificateKey('RSA_2048');

    const csr = parse(await createCsr(['example.org'], keyPair));

    expect(await csr.verify()).toBe(true);
    expect(csr.signatureAlgorithm).toMatchObject({ name: 'RSASSA-PKCS1-v1_5', hash: { name: 'SHA-256' } });
    expect(Buffer.from(csr.publicKey.rawData)).toEqual(await spki(keyPair.publicKey));
  });

  it('works with a key pair imported back from its stored PEM', async () => {
    const { privateKeyPem } = await generateCertificateKey('EC_P256');
    const keyPair = await importCertificateKey(privateKeyPem);

    const csr = parse(await createCsr(['*.example.org'], keyPair));

    expect(await csr.verify()).toBe(true);
    expect(csr.subject).toBe('CN=*.example.org');
  });

  it('leaves the subject empty when the first domain is longer than 64 characters', async () => {
    const { keyPair } = await generateCertificateKey('EC_P256');
    const long = `${'a'.repeat(60)}.example.org`;

    const csr = parse(await createCsr([long, 'example.org'], keyPair));

    expect(csr.subject).toBe('');
    expect(sanOf(csr)).toEqual([`dns:${long}`, 'dns:example.org']);
  });

  it('uses the first domain as CN when it is exactly 64 characters', async () => {
    const { keyPair } = await generateCertificateKey('EC_P256');
    const exactly64 = `${'a'.repeat(52)}.example.org`;

    const csr = parse(await createCsr([exactly64], keyPair));

    expect(exactly64).toHaveLength(64);
    expect(csr.subject).toBe(`CN=${exactly64}`);
  });

  it('refuses an empty list of domains', async () => {
    const { keyPair } = await generateCertificateKey('EC_P256');

    await expect(createCsr([], keyPair)).rejects.toThrow(InvalidInputError);
  });
});
