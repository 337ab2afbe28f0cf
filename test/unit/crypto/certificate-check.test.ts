import { beforeAll, describe, expect, it } from 'vitest';
import {
  certificatePublicKeyMatches,
  describeCertificate,
  verifyIssuedCertificate,
} from '../../../lambdas/core/crypto/certificate-check.js';
import {
  type GeneratedCertificateKey,
  generateCertificateKey,
} from '../../../lambdas/core/crypto/certificate-key.js';
import { CertificateMismatchError, InvalidInputError } from '../../../lambdas/core/errors.js';
import type { TestCa } from '../../fakes/test-ca.js';
import { createCaWithKeyIdentifiers } from './untrusted-issuer.js';

const domains = ['example.org', '*.example.org'];

let ca: TestCa;
let otherCa: TestCa;
let ecKey: GeneratedCertificateKey;
let rsaKey: GeneratedCertificateKey;

beforeAll(async () => {
  [ca, otherCa, ecKey, rsaKey] = await Promise.all([
    createCaWithKeyIdentifiers('Test'),
    createCaWithKeyIdentifiers('Other'),
    generateCertificateKey('EC_P256'),
    generateCertificateKey('RSA_2048'),
  ]);
});

describe('describeCertificate', () => {
  it('reports serial, validity, DNS names, issuer and subject of the leaf', async () => {
    const notBefore = new Date('2030-01-01T00:00:00Z');
    const notAfter = new Date('2030-04-01T00:00:00Z');
    const { fullchainPem } = await ca.issue({
      domains,
      publicKey: ecKey.keyPair.publicKey,
      serialNumber: '0a1b2c3d',
      notBefore,
      notAfter,
    });

    const description = describeCertificate(fullchainPem);

    expect(description).toEqual({
      serial: '0a1b2c3d',
      notBefore: notBefore.toISOString(),
      notAfter: notAfter.toISOString(),
      dnsNames: domains,
      issuer: 'CN=Test Intermediate CA',
      subject: 'CN=example.org',
    });
  });

  it('throws InvalidInputError when there is no certificate', () => {
    expect(() => describeCertificate('nothing here')).toThrow(InvalidInputError);
  });
});

describe('certificatePublicKeyMatches', () => {
  it('is true only for the private key whose public half the certificate carries', async () => {
    const { leafPem } = await ca.issue({ domains, publicKey: ecKey.keyPair.publicKey });

    expect(certificatePublicKeyMatches(leafPem, ecKey.privateKeyPem)).toBe(true);
    expect(certificatePublicKeyMatches(leafPem, rsaKey.privateKeyPem)).toBe(false);
  });
});

describe('verifyIssuedCertificate', () => {
  it('accepts a leaf with our key and names, signed by the intermediate that follows it', async () => {
    const issued = await ca.issue({ domains, publicKey: ecKey.keyPair.publicKey });

    const verified = await verifyIssuedCertificate({
      fullchainPem: issued.fullchainPem,
      privateKeyPem: ecKey.privateKeyPem,
      domains,
      now: new Date(),
    });

    expect(verified.leafPem).toBe(issued.leafPem);
    expect(verified.chainPem).toBe(issued.chainPem);
    expect(verified.dnsNames).toEqual(domains);
    expect(verified.serial).toMatch(/^[0-9a-f]+$/);
    expect(Date.parse(verified.notAfter)).toBeGreaterThan(Date.now());
  });

  it('accepts a chain that also includes the root, and an RSA certificate key', async () => {
    const issued = await ca.issue({ domains, publicKey: rsaKey.keyPair.publicKey });

    const verified = await verifyIssuedCertificate({
      fullchainPem: `${issued.fullchainPem}${ca.rootPem}`,
      privateKeyPem: rsaKey.privateKeyPem,
      domains,
      now: new Date(),
    });

    expect(verified.chainPem).toContain(ca.rootPem.trim());
  });

  it('compares names as a case-insensitive set, ignoring order', async () => {
    const issued = await ca.issue({
      domains: ['*.Example.org', 'EXAMPLE.org'],
      publicKey: ecKey.keyPair.publicKey,
    });

    await expect(
      verifyIssuedCertificate({
        fullchainPem: issued.fullchainPem,
        privateKeyPem: ecKey.privateKeyPem,
        domains,
        now: new Date(),
      }),
    ).resolves.toMatchObject({ dnsNames: ['*.Example.org', 'EXAMPLE.org'] });
  });

  it('rejects a certificate for another key, saying so without leaking the key', async () => {
    const issued = await ca.issue({ domains, publicKey: rsaKey.keyPair.publicKey });

    const verification = verifyIssuedCertificate({
      fullchainPem: issued.fullchainPem,
      privateKeyPem: ecKey.privateKeyPem,
      domains,
      now: new Date(),
    });

    await expect(verification).rejects.toThrow(CertificateMismatchError);
    await expect(verification).rejects.toThrow(/public key/);
    await expect(verification).rejects.not.toThrow(/PRIVATE KEY/);
  });

  it('rejects a certificate that lacks a requested name or adds one, naming both', async () => {
    const issued = await ca.issue({
      domains: ['example.org', 'evil.example.net'],
      publicKey: ecKey.keyPair.publicKey,
    });

    const verification = verifyIssuedCertificate({
      fullchainPem: issued.fullchainPem,
      privateKeyPem: ecKey.privateKeyPem,
      domains,
      now: new Date(),
    });

    await expect(verification).rejects.toThrow(CertificateMismatchError);
    await expect(verification).rejects.toThrow(/missing requested names \*\.example\.org/);
    await expect(verification).rejects.toThrow(/unexpected names evil\.example\.net/);
  });

  it('rejects a chain whose intermediate did not sign the leaf', async () => {
    const issued = await ca.issue({ domains, publicKey: ecKey.keyPair.publicKey });

    const verification = verifyIssuedCertificate({
      fullchainPem: `${issued.leafPem}${otherCa.intermediatePem}`,
      privateKeyPem: ecKey.privateKeyPem,
      domains,
      now: new Date(),
    });

    await expect(verification).rejects.toThrow(CertificateMismatchError);
    await expect(verification).rejects.toThrow(
      /certificate 0 \(CN=example\.org\) is not signed by certificate 1/,
    );
  });

  it('rejects a chain in which a later link is broken', async () => {
    const issued = await ca.issue({ domains, publicKey: ecKey.keyPair.publicKey });

    const verification = verifyIssuedCertificate({
      fullchainPem: `${issued.fullchainPem}${otherCa.rootPem}`,
      privateKeyPem: ecKey.privateKeyPem,
      domains,
      now: new Date(),
    });

    await expect(verification).rejects.toThrow(
      /certificate 1 \(CN=Test Intermediate CA\) is not signed by certificate 2/,
    );
  });

  it('rejects a leaf that is not valid at the given instant', async () => {
    const issued = await ca.issue({
      domains,
      publicKey: ecKey.keyPair.publicKey,
      notBefore: new Date('2020-01-01T00:00:00Z'),
      notAfter: new Date('2020-04-01T00:00:00Z'),
    });

    await expect(
      verifyIssuedCertificate({
        fullchainPem: issued.fullchainPem,
        privateKeyPem: ecKey.privateKeyPem,
        domains,
        now: new Date('2021-01-01T00:00:00Z'),
      }),
    ).rejects.toThrow(/it has expired at 2021-01-01/);
  });

  it('rejects an empty download as invalid input', async () => {
    await expect(
      verifyIssuedCertificate({
        fullchainPem: '',
        privateKeyPem: ecKey.privateKeyPem,
        domains,
        now: new Date(),
      }),
    ).rejects.toThrow(InvalidInputError);
  });
});
