import {
  ACMClient,
  AddTagsToCertificateCommand,
  DescribeCertificateCommand,
  ImportCertificateCommand,
  type ImportCertificateCommandInput,
} from '@aws-sdk/client-acm';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AcmImporter } from '../../../lambdas/adapters/acm-importer.js';
import {
  type GeneratedCertificateKey,
  generateCertificateKey,
} from '../../../lambdas/core/crypto/certificate-key.js';
import { AwsRequestError, AwsTransientError } from '../../../lambdas/core/errors.js';
import type { ImportCertificateRequest } from '../../../lambdas/core/ports.js';
import { type AcmFake, installAcmFake } from '../../fakes/acm-fake.js';
import { createTestCa, type TestCa, type TestCertificate } from '../../fakes/test-ca.js';
import {
  createKeyUsageIssuer,
  ExtendedKeyUsage,
  KeyUsageFlags,
  type KeyUsageIssuer,
  type UsageLeafOptions,
} from '../fakes/key-usage-issuer.js';

const encoder = new TextEncoder();
const domains = ['example.org', '*.example.org'];
const tags = { 'acme-aws:certificate-id': 'web', 'acme-aws:managed-by': 'acme-aws' };

let ca: TestCa;
let key: GeneratedCertificateKey;
let otherKey: GeneratedCertificateKey;
let issued: TestCertificate;
let acm: AcmFake;
let client: ACMClient;
let importer: AcmImporter;

function request(overrides: Partial<ImportCertificateRequest> = {}): ImportCertificateRequest {
  return {
    certificatePem: issued.leafPem,
    chainPem: issued.chainPem,
    privateKeyPem: key.privateKeyPem,
    tags,
    ...overrides,
  };
}

beforeAll(async () => {
  [ca, key, otherKey] = await Promise.all([
    createTestCa(),
    generateCertificateKey('EC_P256'),
    generateCertificateKey('EC_P256'),
  ]);
  issued = await ca.issue({ domains, publicKey: key.keyPair.publicKey });
});

beforeEach(() => {
  acm = installAcmFake({ region: 'eu-west-1' });
  client = new ACMClient({ region: 'eu-west-1' });
  importer = new AcmImporter({ client });
});

afterEach(() => {
  acm.restore();
});

describe('AcmImporter first import', () => {
  it('imports certificate, key and chain with the tags, and returns the new ARN', async () => {
    const { arn } = await importer.importCertificate(request());

    expect(arn).toMatch(/^arn:aws:acm:eu-west-1:123456789012:certificate\/[0-9a-f-]{36}$/);
    expect(acm.certificates.get(arn)).toMatchObject({
      certificatePem: issued.leafPem,
      chainPem: issued.chainPem,
      privateKeyPem: key.privateKeyPem,
      tags,
      importCount: 1,
    });
    expect(acm.calls.AddTagsToCertificate).toBeUndefined();
  });

  it('omits CertificateChain when there are no intermediates', async () => {
    await importer.importCertificate(request({ chainPem: '' }));

    const [input] = acm.requests.map((entry) => entry.input as ImportCertificateCommandInput);
    expect(input).not.toHaveProperty('CertificateChain');
  });
});

describe('AcmImporter re-import', () => {
  it('re-imports into the same ARN without Tags, then applies the tags separately', async () => {
    const { arn } = await importer.importCertificate(request({ tags: { old: 'tag' } }));
    const renewed = await ca.issue({ domains, publicKey: key.keyPair.publicKey });

    const result = await importer.importCertificate(
      request({ certificatePem: renewed.leafPem, existingArn: arn, tags: { ...tags, old: 'updated' } }),
    );

    const reimport = acm.requests.filter((entry) => entry.command === 'ImportCertificate').at(-1);
    expect(result.arn).toBe(arn);
    expect(reimport?.input).toMatchObject({ CertificateArn: arn });
    expect(reimport?.input).not.toHaveProperty('Tags');
    expect(acm.calls.AddTagsToCertificate).toBe(1);
    expect(acm.certificates.get(arn)).toMatchObject({
      certificatePem: renewed.leafPem,
      importCount: 2,
      tags: { ...tags, old: 'updated' },
    });
  });

  it('wraps a re-import into an unknown ARN as AwsRequestError', async () => {
    const existingArn = 'arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000';

    const error = await importer
      .importCertificate(request({ existingArn }))
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(AwsRequestError);
    expect((error as Error).cause).toMatchObject({ name: 'ResourceNotFoundException' });
    expect((error as Error).message).toContain(existingArn);
  });
});

describe('AcmImporter re-import after a Key Usage or Extended Key Usage change', () => {
  const { digitalSignature, keyEncipherment } = KeyUsageFlags;
  const { serverAuth, clientAuth } = ExtendedKeyUsage;
  let issuer: KeyUsageIssuer;
  let rsaKey: GeneratedCertificateKey;

  beforeAll(async () => {
    [issuer, rsaKey] = await Promise.all([createKeyUsageIssuer(), generateCertificateKey('RSA_2048')]);
  });

  async function usageRequest(
    certificateKey: GeneratedCertificateKey,
    leaf: Omit<UsageLeafOptions, 'publicKey'>,
    existingArn?: string,
  ): Promise<ImportCertificateRequest> {
    const { leafPem, chainPem } = await issuer.issue({
      publicKey: certificateKey.keyPair.publicKey,
      ...leaf,
    });
    return {
      certificatePem: leafPem,
      chainPem,
      privateKeyPem: certificateKey.privateKeyPem,
      tags,
      ...(existingArn ? { existingArn } : {}),
    };
  }

  it('imports an RSA certificate without keyEncipherment as a new, tagged certificate', async () => {
    const { arn: previousArn } = await importer.importCertificate(
      await usageRequest(rsaKey, { keyUsages: digitalSignature | keyEncipherment }),
    );
    const previousPem = acm.certificates.get(previousArn)?.certificatePem;
    const renewed = await usageRequest(rsaKey, { keyUsages: digitalSignature }, previousArn);

    const { arn } = await importer.importCertificate(renewed);

    const imports = acm.requests.filter((entry) => entry.command === 'ImportCertificate');
    expect(arn).not.toBe(previousArn);
    expect(acm.certificates.get(arn)).toMatchObject({ certificatePem: renewed.certificatePem, tags });
    expect(acm.certificates.get(previousArn)).toMatchObject({ certificatePem: previousPem, importCount: 1 });
    expect(imports.at(-1)?.input).not.toHaveProperty('CertificateArn');
    expect(acm.calls.AddTagsToCertificate).toBeUndefined();
  });

  it('reads the certificate at the ARN with DescribeCertificate before re-importing', async () => {
    const { arn } = await importer.importCertificate(
      await usageRequest(key, { keyUsages: digitalSignature }),
    );

    await importer.importCertificate(await usageRequest(key, { keyUsages: digitalSignature }, arn));

    expect(acm.requests.map((entry) => entry.command)).toEqual([
      'ImportCertificate',
      'DescribeCertificate',
      'ImportCertificate',
      'AddTagsToCertificate',
    ]);
    expect(acm.requests[1]?.input).toEqual({ CertificateArn: arn });
  });

  it('re-imports an ECDSA certificate that drops keyEncipherment into the same ARN', async () => {
    const { arn } = await importer.importCertificate(
      await usageRequest(key, { keyUsages: digitalSignature | keyEncipherment }),
    );

    const result = await importer.importCertificate(
      await usageRequest(key, { keyUsages: digitalSignature }, arn),
    );

    expect(result.arn).toBe(arn);
    expect(acm.certificates.get(arn)?.importCount).toBe(2);
  });

  it('re-imports a certificate that drops the clientAuth Extended Key Usage into the same ARN', async () => {
    const { arn } = await importer.importCertificate(
      await usageRequest(key, { extendedKeyUsages: [serverAuth, clientAuth] }),
    );

    const result = await importer.importCertificate(
      await usageRequest(key, { extendedKeyUsages: [serverAuth] }, arn),
    );

    expect(result.arn).toBe(arn);
  });

  it('imports as new a certificate that drops serverAuth or adds an Extended Key Usage extension', async () => {
    const { arn: withServerAuth } = await importer.importCertificate(
      await usageRequest(key, { extendedKeyUsages: [serverAuth] }),
    );
    const { arn: withoutExtension } = await importer.importCertificate(await usageRequest(key, {}));

    const dropped = await importer.importCertificate(
      await usageRequest(key, { extendedKeyUsages: ['1.3.6.1.4.1.311.20.2.2'] }, withServerAuth),
    );
    const added = await importer.importCertificate(
      await usageRequest(key, { extendedKeyUsages: [serverAuth] }, withoutExtension),
    );

    expect(dropped.arn).not.toBe(withServerAuth);
    expect(added.arn).not.toBe(withoutExtension);
  });

  it.each([
    ['every Key Usage bit', { keyUsages: 0x1ff }],
    ['decipherOnly, in the second octet', { keyUsages: digitalSignature | KeyUsageFlags.decipherOnly }],
    [
      'Extended Key Usage OIDs with multi-octet arcs',
      { extendedKeyUsages: ['2.999.1', '1.3.6.1.4.1.311.20.2.2'] },
    ],
  ] as const)('reads %s from the new certificate as ACM does, and re-imports in place', async (_, leaf) => {
    const { arn } = await importer.importCertificate(await usageRequest(rsaKey, leaf));

    const result = await importer.importCertificate(await usageRequest(rsaKey, leaf, arn));

    expect(result.arn).toBe(arn);
  });

  it('imports nothing when DescribeCertificate fails, and says so', async () => {
    const { arn } = await importer.importCertificate(
      await usageRequest(key, { keyUsages: digitalSignature }),
    );
    acm.failNext('DescribeCertificate', 'AccessDeniedException');

    const error = await importer
      .importCertificate(await usageRequest(key, { keyUsages: digitalSignature }, arn))
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(AwsRequestError);
    expect((error as Error).message).toContain(`ACM DescribeCertificate on ${arn}`);
    expect(acm.calls.ImportCertificate).toBe(1);
  });
});

describe('AcmImporter errors', () => {
  it('wraps a key mismatch as AwsRequestError without putting the key in the message', async () => {
    const error = await importer
      .importCertificate(request({ privateKeyPem: otherKey.privateKeyPem }))
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(AwsRequestError);
    expect((error as Error).cause).toMatchObject({ name: 'ValidationException' });
    expect((error as Error).message).not.toContain('PRIVATE KEY');
  });

  it.each(['ThrottlingException', 'RequestInProgressException'])(
    'wraps %s as AwsTransientError',
    async (errorName) => {
      acm.failNext('ImportCertificate', errorName);

      await expect(importer.importCertificate(request())).rejects.toThrow(AwsTransientError);
    },
  );

  it('wraps throttling of the tagging call on re-import as AwsTransientError', async () => {
    const { arn } = await importer.importCertificate(request());
    acm.failNext('AddTagsToCertificate', 'ThrottlingException');

    const error = await importer
      .importCertificate(request({ existingArn: arn }))
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(AwsTransientError);
    expect((error as Error).message).toContain(`ACM AddTagsToCertificate on ${arn}`);
  });
});

describe('ACM fake refusals', () => {
  function importDirectly(input: ImportCertificateCommandInput) {
    return client.send(new ImportCertificateCommand(input));
  }

  it('refuses a private key that does not match the certificate', async () => {
    const importing = importDirectly({
      Certificate: encoder.encode(issued.leafPem),
      PrivateKey: encoder.encode(otherKey.privateKeyPem),
    });

    await expect(importing).rejects.toMatchObject({ name: 'ValidationException', message: /does not match/ });
  });

  it('refuses a chain that contains the leaf', async () => {
    const importing = importDirectly({
      Certificate: encoder.encode(issued.leafPem),
      PrivateKey: encoder.encode(key.privateKeyPem),
      CertificateChain: encoder.encode(issued.fullchainPem),
    });

    await expect(importing).rejects.toMatchObject({ name: 'ValidationException', message: /chain/ });
  });

  it('refuses tags on a re-import', async () => {
    const { arn } = await importer.importCertificate(request());

    const importing = importDirectly({
      CertificateArn: arn,
      Certificate: encoder.encode(issued.leafPem),
      PrivateKey: encoder.encode(key.privateKeyPem),
      Tags: [{ Key: 'a', Value: 'b' }],
    });

    await expect(importing).rejects.toMatchObject({ name: 'ValidationException', message: /[Tt]ags/ });
  });

  it('refuses a certificate that is not PEM', async () => {
    const importing = importDirectly({
      Certificate: encoder.encode('MIIB...'),
      PrivateKey: encoder.encode(key.privateKeyPem),
    });

    await expect(importing).rejects.toMatchObject({ name: 'ValidationException' });
  });

  it('refuses a re-import that changes the key algorithm', async () => {
    const { arn } = await importer.importCertificate(request());
    const rsaKey = await generateCertificateKey('RSA_2048');
    const rsaIssued = await ca.issue({ domains, publicKey: rsaKey.keyPair.publicKey });

    const importing = importDirectly({
      CertificateArn: arn,
      Certificate: encoder.encode(rsaIssued.leafPem),
      PrivateKey: encoder.encode(rsaKey.privateKeyPem),
    });

    await expect(importing).rejects.toMatchObject({ name: 'ValidationException', message: /key algorithm/ });
  });

  it('refuses tag keys with the reserved aws: prefix', async () => {
    await expect(importer.importCertificate(request({ tags: { 'aws:owner': 'me' } }))).rejects.toMatchObject({
      cause: { name: 'InvalidTagException' },
    });
  });

  it('describes an imported certificate as ACM does', async () => {
    const { arn } = await importer.importCertificate(request());

    const described = await client.send(new DescribeCertificateCommand({ CertificateArn: arn }));

    expect(described.Certificate).toMatchObject({
      CertificateArn: arn,
      DomainName: 'example.org',
      SubjectAlternativeNames: domains,
      Type: 'IMPORTED',
      Status: 'ISSUED',
      KeyAlgorithm: 'EC_prime256v1',
    });
  });

  it('refuses AddTagsToCertificate on an unknown ARN', async () => {
    const tagging = client.send(
      new AddTagsToCertificateCommand({
        CertificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000',
        Tags: [{ Key: 'a', Value: 'b' }],
      }),
    );

    await expect(tagging).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });
});
