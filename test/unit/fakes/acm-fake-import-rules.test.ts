import {
  ACMClient,
  DescribeCertificateCommand,
  ImportCertificateCommand,
  type ImportCertificateCommandInput,
} from '@aws-sdk/client-acm';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type GeneratedCertificateKey,
  generateCertificateKey,
} from '../../../lambdas/core/crypto/certificate-key.js';
import { type AcmFake, installAcmFake } from '../../fakes/acm-fake.js';
import {
  createKeyUsageIssuer,
  ExtendedKeyUsage,
  KeyUsageFlags,
  type KeyUsageIssuer,
  type UsageLeafOptions,
} from './key-usage-issuer.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const { digitalSignature, keyEncipherment } = KeyUsageFlags;
const { serverAuth, clientAuth } = ExtendedKeyUsage;

const encoder = new TextEncoder();
let issuer: KeyUsageIssuer;
let rsaKey: GeneratedCertificateKey;
let ecKey: GeneratedCertificateKey;
let clock: Date;
let acm: AcmFake;
let client: ACMClient;

beforeAll(async () => {
  [issuer, rsaKey, ecKey] = await Promise.all([
    createKeyUsageIssuer(),
    generateCertificateKey('RSA_2048'),
    generateCertificateKey('EC_P256'),
  ]);
});

beforeEach(() => {
  clock = new Date();
  acm = installAcmFake({ region: 'eu-west-1', now: () => clock });
  client = new ACMClient({ region: 'eu-west-1' });
});

afterEach(() => {
  acm.restore();
});

async function importLeaf(
  key: GeneratedCertificateKey,
  leaf: Omit<UsageLeafOptions, 'publicKey'> = {},
  certificateArn?: string,
): Promise<string> {
  const { leafPem, chainPem } = await issuer.issue({ publicKey: key.keyPair.publicKey, ...leaf });
  const input: ImportCertificateCommandInput = {
    Certificate: encoder.encode(leafPem),
    PrivateKey: encoder.encode(key.privateKeyPem),
    CertificateChain: encoder.encode(chainPem),
    ...(certificateArn ? { CertificateArn: certificateArn } : {}),
  };
  const { CertificateArn } = await client.send(new ImportCertificateCommand(input));
  return CertificateArn ?? '';
}

describe('ACM fake: validity period at import time', () => {
  it('refuses a certificate whose validity period has not started', async () => {
    const importing = importLeaf(ecKey, { notBefore: new Date(clock.getTime() + DAY_MS) });

    await expect(importing).rejects.toMatchObject({
      name: 'ValidationException',
      message: 'The certificate is not in effect yet, is not valid.',
    });
    expect(acm.certificates.size).toBe(0);
  });

  it('refuses a certificate whose validity period has ended', async () => {
    const importing = importLeaf(ecKey, {
      notBefore: new Date(clock.getTime() - 10 * DAY_MS),
      notAfter: new Date(clock.getTime() - DAY_MS),
    });

    await expect(importing).rejects.toMatchObject({
      name: 'ValidationException',
      message: 'The certificate has expired, is not valid.',
    });
  });

  it('judges validity by its clock, so a test can move time past a certificate', async () => {
    const notAfter = new Date(clock.getTime() + 7 * DAY_MS);
    const arn = await importLeaf(ecKey, { notAfter });
    clock = new Date(notAfter.getTime() + 1000);

    const reimporting = importLeaf(ecKey, { notAfter }, arn);
    const described = await client.send(new DescribeCertificateCommand({ CertificateArn: arn }));

    await expect(reimporting).rejects.toMatchObject({ name: 'ValidationException', message: /expired/ });
    expect(described.Certificate?.Status).toBe('EXPIRED');
    expect(acm.certificates.get(arn)?.importCount).toBe(1);
  });

  it('accepts a certificate once its clock reaches the start of the validity period', async () => {
    const notBefore = new Date(clock.getTime() + DAY_MS);
    clock = new Date(notBefore.getTime() + 1000);

    const arn = await importLeaf(ecKey, { notBefore });

    expect(acm.certificates.get(arn)?.importedAt).toEqual(clock);
  });
});

describe('ACM fake: Key Usage on re-import', () => {
  it('refuses an RSA re-import that drops keyEncipherment, and keeps the certificate it has', async () => {
    const arn = await importLeaf(rsaKey, { keyUsages: digitalSignature | keyEncipherment });
    const before = acm.certificates.get(arn)?.certificatePem;

    const reimporting = importLeaf(rsaKey, { keyUsages: digitalSignature }, arn);

    await expect(reimporting).rejects.toMatchObject({
      name: 'ValidationException',
      message: /Key Usage.*KEY_ENCIPHERMENT/,
    });
    expect(acm.certificates.get(arn)).toMatchObject({ importCount: 1, certificatePem: before });
  });

  it('lets an ECDSA re-import drop keyEncipherment (RFC 5480 §3)', async () => {
    const arn = await importLeaf(ecKey, { keyUsages: digitalSignature | keyEncipherment });

    const reimported = await importLeaf(ecKey, { keyUsages: digitalSignature }, arn);

    expect(reimported).toBe(arn);
    expect(acm.certificates.get(arn)?.importCount).toBe(2);
  });

  it('refuses an ECDSA re-import that drops digitalSignature', async () => {
    const arn = await importLeaf(ecKey, { keyUsages: digitalSignature | keyEncipherment });

    await expect(importLeaf(ecKey, { keyUsages: keyEncipherment }, arn)).rejects.toMatchObject({
      name: 'ValidationException',
      message: /DIGITAL_SIGNATURE/,
    });
  });

  it('lets a re-import add Key Usage values', async () => {
    const arn = await importLeaf(rsaKey, { keyUsages: digitalSignature });

    await expect(importLeaf(rsaKey, { keyUsages: digitalSignature | keyEncipherment }, arn)).resolves.toBe(
      arn,
    );
  });

  it('refuses a re-import that adds a Key Usage extension the certificate did not have', async () => {
    const arn = await importLeaf(rsaKey);

    await expect(importLeaf(rsaKey, { keyUsages: digitalSignature }, arn)).rejects.toMatchObject({
      name: 'ValidationException',
      message: /Key Usage extension cannot be added/,
    });
  });

  it('refuses a re-import that leaves the Key Usage extension out', async () => {
    const arn = await importLeaf(rsaKey, { keyUsages: digitalSignature });

    await expect(importLeaf(rsaKey, {}, arn)).rejects.toMatchObject({ name: 'ValidationException' });
  });
});

describe('ACM fake: Extended Key Usage on re-import', () => {
  it('refuses a re-import that drops serverAuth', async () => {
    const arn = await importLeaf(ecKey, { extendedKeyUsages: [serverAuth, clientAuth] });

    await expect(importLeaf(ecKey, { extendedKeyUsages: [clientAuth] }, arn)).rejects.toMatchObject({
      name: 'ValidationException',
      message: /Extended Key Usage.*TLS_WEB_SERVER_AUTHENTICATION/,
    });
  });

  it('lets a re-import drop clientAuth, as CAs stopped issuing it', async () => {
    const arn = await importLeaf(ecKey, { extendedKeyUsages: [serverAuth, clientAuth] });

    await expect(importLeaf(ecKey, { extendedKeyUsages: [serverAuth] }, arn)).resolves.toBe(arn);
  });

  it('refuses a re-import that adds an Extended Key Usage extension the certificate did not have', async () => {
    const arn = await importLeaf(ecKey);

    await expect(importLeaf(ecKey, { extendedKeyUsages: [serverAuth] }, arn)).rejects.toMatchObject({
      name: 'ValidationException',
      message: /Extended Key Usage extension cannot be added/,
    });
  });
});

describe('ACM fake: other re-import conditions', () => {
  it('lets a re-import change the domain names', async () => {
    const arn = await importLeaf(ecKey, { domains: ['example.org'] });

    await expect(importLeaf(ecKey, { domains: ['example.net', 'www.example.net'] }, arn)).resolves.toBe(arn);
  });

  it('refuses a re-import that removes every domain name', async () => {
    const arn = await importLeaf(ecKey, { domains: ['example.org'] });

    await expect(importLeaf(ecKey, { domains: [] }, arn)).rejects.toMatchObject({
      name: 'ValidationException',
      message: /domain names/,
    });
  });
});

describe('ACM fake: DescribeCertificate', () => {
  it('reports the Key Usage and Extended Key Usage values by ACM name, with OIDs', async () => {
    const arn = await importLeaf(rsaKey, {
      keyUsages: digitalSignature | keyEncipherment,
      extendedKeyUsages: [serverAuth, '1.2.3.4'],
    });

    const { Certificate } = await client.send(new DescribeCertificateCommand({ CertificateArn: arn }));

    expect(Certificate?.KeyUsages).toEqual([{ Name: 'DIGITAL_SIGNATURE' }, { Name: 'KEY_ENCIPHERMENT' }]);
    expect(Certificate?.ExtendedKeyUsages).toEqual([
      { Name: 'TLS_WEB_SERVER_AUTHENTICATION', OID: serverAuth },
      { Name: 'CUSTOM', OID: '1.2.3.4' },
    ]);
  });

  it('reports no usages for a certificate without the extensions', async () => {
    const arn = await importLeaf(ecKey);

    const { Certificate } = await client.send(new DescribeCertificateCommand({ CertificateArn: arn }));

    expect(Certificate).toMatchObject({ KeyUsages: [], ExtendedKeyUsages: [] });
  });
});
