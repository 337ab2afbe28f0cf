import { ACMClient, DescribeCertificateCommand } from '@aws-sdk/client-acm';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AcmImporter, AcmImporters } from '../../../lambdas/adapters/acm-importer.js';
import {
  type GeneratedCertificateKey,
  generateCertificateKey,
} from '../../../lambdas/core/crypto/certificate-key.js';
import { AwsRequestError, AwsTransientError, InvalidInputError } from '../../../lambdas/core/errors.js';
import type { ImportCertificateRequest } from '../../../lambdas/core/ports.js';
import { type AcmFake, installAcmFake } from '../../fakes/acm-fake.js';
import { createTestCa, type TestCertificate } from '../../fakes/test-ca.js';

const tags = { 'acme-aws:certificate-id': 'web' };
const CLOUDFRONT_REGION = 'us-east-1';
const APP_REGION = 'eu-west-1';

let key: GeneratedCertificateKey;
let issued: TestCertificate;
let acm: AcmFake;

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
  const ca = await createTestCa();
  key = await generateCertificateKey('EC_P256');
  issued = await ca.issue({ domains: ['example.org'], publicKey: key.keyPair.publicKey });
});

beforeEach(() => {
  acm = installAcmFake({ region: 'ap-southeast-2' });
});

afterEach(() => {
  acm.restore();
});

describe('ACM fake regions', () => {
  it('imports into the region of the calling client and names it in the ARN', async () => {
    const importers = new AcmImporters();

    const [edge, app] = await Promise.all([
      importers.forRegion(CLOUDFRONT_REGION).importCertificate(request()),
      importers.forRegion(APP_REGION).importCertificate(request()),
    ]);

    expect(edge.arn).toMatch(/^arn:aws:acm:us-east-1:123456789012:certificate\//);
    expect(app.arn).toMatch(/^arn:aws:acm:eu-west-1:123456789012:certificate\//);
    expect([...acm.certificatesIn(CLOUDFRONT_REGION).keys()]).toEqual([edge.arn]);
    expect([...acm.certificatesIn(APP_REGION).keys()]).toEqual([app.arn]);
    expect(acm.certificatesIn('ap-southeast-2').size).toBe(0);
    expect(acm.certificates.size).toBe(2);
    expect(acm.certificates.get(app.arn)?.region).toBe(APP_REGION);
  });

  it('records the region of every request', async () => {
    await new AcmImporters().forRegion(APP_REGION).importCertificate(request());

    expect(acm.requests).toEqual([
      expect.objectContaining({ command: 'ImportCertificate', region: APP_REGION }),
    ]);
  });

  it('uses the region option for clients without a configured region', async () => {
    // What the SDK's region provider does when neither the config nor the environment has one.
    const regionless = new ACMClient({
      region: (): Promise<string> => Promise.reject(new Error('Region is missing')),
    });

    const { arn } = await new AcmImporter({ client: regionless }).importCertificate(request());

    expect(arn).toMatch(/^arn:aws:acm:ap-southeast-2:/);
    expect(acm.requests[0]?.region).toBe('ap-southeast-2');
  });

  it('refuses a re-import into an ARN of another region with ResourceNotFoundException', async () => {
    const importers = new AcmImporters();
    const { arn } = await importers.forRegion(CLOUDFRONT_REGION).importCertificate(request());

    const error = await importers
      .forRegion(APP_REGION)
      .importCertificate(request({ existingArn: arn }))
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(AwsRequestError);
    expect((error as Error).cause).toMatchObject({ name: 'ResourceNotFoundException' });
    expect(acm.certificates.get(arn)?.importCount).toBe(1);
  });

  it('does not describe a certificate from another region', async () => {
    const { arn } = await new AcmImporters().forRegion(CLOUDFRONT_REGION).importCertificate(request());

    const describing = new ACMClient({ region: APP_REGION }).send(
      new DescribeCertificateCommand({ CertificateArn: arn }),
    );

    await expect(describing).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('re-imports into the same ARN in its own region', async () => {
    const importers = new AcmImporters();
    const { arn } = await importers.forRegion(APP_REGION).importCertificate(request());

    const result = await importers.forRegion(APP_REGION).importCertificate(request({ existingArn: arn }));

    expect(result.arn).toBe(arn);
    expect(acm.certificatesIn(APP_REGION).get(arn)?.importCount).toBe(2);
  });
});

describe('ACM fake failure injection by region', () => {
  it('fails only calls to the region it names', async () => {
    const importers = new AcmImporters();
    acm.failNext('ImportCertificate', 'ThrottlingException', 1, { region: CLOUDFRONT_REGION });

    const app = await importers.forRegion(APP_REGION).importCertificate(request());
    const edge = await importers
      .forRegion(CLOUDFRONT_REGION)
      .importCertificate(request())
      .catch((caught: unknown) => caught);
    const retried = await importers.forRegion(CLOUDFRONT_REGION).importCertificate(request());

    expect(app.arn).toContain(APP_REGION);
    expect(edge).toBeInstanceOf(AwsTransientError);
    expect(retried.arn).toContain(CLOUDFRONT_REGION);
    expect(acm.calls.ImportCertificate).toBe(3);
  });

  it('fails calls to any region when no region is named', async () => {
    const importers = new AcmImporters();
    acm.failNext('ImportCertificateCommand', 'InternalFailure', 2);

    const results = await Promise.allSettled([
      importers.forRegion(CLOUDFRONT_REGION).importCertificate(request()),
      importers.forRegion(APP_REGION).importCertificate(request()),
    ]);

    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(acm.certificates.size).toBe(0);
  });

  it('applies injections in the order they were made', async () => {
    const importers = new AcmImporters();
    acm.failNext('ImportCertificate', 'ThrottlingException', 1, { region: APP_REGION });
    acm.failNext('ImportCertificate', 'AccessDeniedException');

    const edge = await importers
      .forRegion(CLOUDFRONT_REGION)
      .importCertificate(request())
      .catch((caught: unknown) => caught);
    const app = await importers
      .forRegion(APP_REGION)
      .importCertificate(request())
      .catch((caught: unknown) => caught);

    expect(edge).toMatchObject({ cause: { name: 'AccessDeniedException' } });
    expect(app).toMatchObject({ cause: { name: 'ThrottlingException' } });
  });
});

describe('AcmImporters', () => {
  it('creates one client per region and reuses it', () => {
    const created: string[] = [];
    const importers = new AcmImporters({
      createClient: (region) => {
        created.push(region);
        return new ACMClient({ region });
      },
    });

    const first = importers.forRegion(APP_REGION);
    const again = importers.forRegion(APP_REGION);
    importers.forRegion(CLOUDFRONT_REGION);

    expect(again).toBe(first);
    expect(created).toEqual([APP_REGION, CLOUDFRONT_REGION]);
  });

  it('configures the default client with the region', async () => {
    await new AcmImporters().forRegion('eu-central-2').importCertificate(request());

    expect(acm.requests[0]?.region).toBe('eu-central-2');
  });

  it.each(['', 'EU-WEST-1', 'eu-west', 'https://acm.eu-west-1.amazonaws.com'])(
    'refuses %j as a region name',
    (region) => {
      expect(() => new AcmImporters().forRegion(region)).toThrow(InvalidInputError);
    },
  );
});
