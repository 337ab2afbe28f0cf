import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CliHarness, STACK_NAME, setUpCli, TABLE_NAME } from './cli-harness.js';

let cli: CliHarness;

beforeEach(() => {
  cli = setUpCli();
});

afterEach(async () => {
  await cli.restore();
});

async function seedRegistry(): Promise<void> {
  await cli.dynamodb.putItem(TABLE_NAME, {
    pk: 'ACCOUNT#5d41402abc4b2a76b9719d911017c592',
    directoryUrl: 'https://acme.example/directory',
    accountUrl: 'https://acme.example/acct/1',
  });
  await cli.dynamodb.putItem(TABLE_NAME, {
    pk: 'CERT#web',
    certificateId: 'web',
    status: 'imported',
    config: {
      domains: ['example.org', '*.example.org', 'www.example.net'],
      keyType: 'EC_P256',
      regions: ['us-east-1'],
    },
    acmArns: { 'us-east-1': 'arn:aws:acm:us-east-1:123456789012:certificate/web-0001' },
    issued: {
      serial: '03ab5f2e9c',
      storeKey: 'certificates/web/03ab5f2e9c/fullchain.pem',
      notAfter: '2030-04-30T12:00:00.000Z',
      notBefore: '2030-01-30T12:00:00.000Z',
      fingerprint: 'ab:cd',
    },
    lastAttemptAt: '2030-01-30T11:58:00.000Z',
    nextRenewalAt: '2030-03-31T12:00:00.000Z',
    consecutiveFailures: 0,
  });
  await cli.dynamodb.putItem(TABLE_NAME, {
    pk: 'CERT#api',
    certificateId: 'api',
    status: 'failed',
    config: { domains: ['api.example.org'], keyType: 'RSA_2048', regions: ['eu-west-1'] },
    lastError: {
      name: 'OrderInvalidError',
      message: 'api.example.org: urn:ietf:params:acme:error:dns: No TXT record found',
      at: '2030-03-01T06:00:00.000Z',
    },
    lastAttemptAt: '2030-03-01T06:00:00.000Z',
    consecutiveFailures: 2,
    nextAttemptAt: '2030-03-01T18:00:00.000Z',
    lock: { executionId: 'arn:aws:states:...:api-renew', expiresAt: '2030-03-01T12:30:00.000Z' },
  });
}

describe('acme-aws status', () => {
  it('shows a table of certificates with domains, days left, last result and next renewal', async () => {
    await seedRegistry();

    const result = await cli.run('status');

    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('Stack AcmeCertificates (us-east-1): 2 certificates');
    expect(lines.slice(2, 5)).toEqual([
      'ID   DOMAINS                             DAYS LEFT  LAST RESULT                                          NEXT RENEWAL                      ISSUED BY',
      'api  api.example.org                     -          failed: OrderInvalidError (2 in a row), running now  retry after 2030-03-01 18:00 UTC  -',
      'web  example.org, *.example.org +1 more  60         ok                                                   2030-03-31 12:00 UTC              deployment default',
    ]);
    expect(result.stdout).toContain(
      'api: OrderInvalidError at 2030-03-01 06:00 UTC: api.example.org: urn:ietf:params:acme:error:dns: No TXT record found',
    );
  });

  it('reads the registry with the DynamoDB adapter, page by page, skipping account items', async () => {
    for (let index = 0; index < 230; index += 1) {
      await cli.dynamodb.putItem(TABLE_NAME, {
        pk: `CERT#c${String(index).padStart(3, '0')}`,
        certificateId: `c${index}`,
      });
    }
    await cli.dynamodb.putItem(TABLE_NAME, { pk: 'ACCOUNT#x', accountUrl: 'https://acme.example/acct/1' });

    const result = await cli.run('status', '--json');

    const { certificates } = result.json<{ certificates: { certificateId: string }[] }>();
    expect(certificates).toHaveLength(230);
    expect(certificates[0]?.certificateId).toBe('c000');
    expect(cli.dynamodb.calls.Scan).toBeGreaterThanOrEqual(3);
  });

  it('prints every field of every certificate under --json', async () => {
    await seedRegistry();

    const result = await cli.run('status', '--json');

    expect(result.code).toBe(0);
    expect(result.json()).toEqual({
      stack: STACK_NAME,
      region: 'us-east-1',
      at: '2030-03-01T12:00:00.000Z',
      certificates: [
        {
          certificateId: 'api',
          domains: ['api.example.org'],
          status: 'failed',
          keyType: 'RSA_2048',
          regions: ['eu-west-1'],
          serial: null,
          notAfter: null,
          daysLeft: null,
          lastResult: 'failed',
          lastError: {
            name: 'OrderInvalidError',
            message: 'api.example.org: urn:ietf:params:acme:error:dns: No TXT record found',
            at: '2030-03-01T06:00:00.000Z',
          },
          lastAttemptAt: '2030-03-01T06:00:00.000Z',
          consecutiveFailures: 2,
          nextRenewalAt: null,
          nextAttemptAt: '2030-03-01T18:00:00.000Z',
          running: true,
          acmArns: {},
          issuedBy: null,
          certificateAuthorities: null,
        },
        {
          certificateId: 'web',
          domains: ['example.org', '*.example.org', 'www.example.net'],
          status: 'imported',
          keyType: 'EC_P256',
          regions: ['us-east-1'],
          serial: '03ab5f2e9c',
          notAfter: '2030-04-30T12:00:00.000Z',
          daysLeft: 60,
          lastResult: 'ok',
          lastError: null,
          lastAttemptAt: '2030-01-30T11:58:00.000Z',
          consecutiveFailures: 0,
          nextRenewalAt: '2030-03-31T12:00:00.000Z',
          nextAttemptAt: null,
          running: false,
          acmArns: { 'us-east-1': 'arn:aws:acm:us-east-1:123456789012:certificate/web-0001' },
          issuedBy: null,
          certificateAuthorities: null,
        },
      ],
    });
    expect(result.stderr).toBe('');
  });

  describe('the issuing CA', () => {
    const LETS_ENCRYPT = 'https://acme-v02.api.letsencrypt.org/directory';
    const GOOGLE = 'https://dv.acme-v02.api.pki.goog/directory';
    const issued = {
      serial: '04cd',
      storeKey: 'certificates/x/04cd',
      notAfter: '2030-05-01T00:00:00.000Z',
      fingerprint: 'f',
    };

    async function seedCertificateAuthorities(): Promise<void> {
      await cli.dynamodb.putItem(TABLE_NAME, {
        pk: 'CERT#fallen-back',
        certificateId: 'fallen-back',
        config: {
          domains: ['shop.example.org'],
          keyType: 'EC_P256',
          regions: ['us-east-1'],
          certificateAuthorities: [
            { directoryUrl: LETS_ENCRYPT },
            { directoryUrl: GOOGLE, profile: 'default' },
          ],
        },
        issued: { ...issued, directoryUrl: GOOGLE },
      });
      await cli.dynamodb.putItem(TABLE_NAME, {
        pk: 'CERT#first-choice',
        certificateId: 'first-choice',
        config: {
          domains: ['blog.example.org'],
          keyType: 'EC_P256',
          regions: ['us-east-1'],
          certificateAuthorities: [{ directoryUrl: LETS_ENCRYPT }, { directoryUrl: GOOGLE }],
        },
        issued: { ...issued, directoryUrl: LETS_ENCRYPT },
      });
      // Written before CA fallback: the record names no issuing CA.
      await cli.dynamodb.putItem(TABLE_NAME, {
        pk: 'CERT#legacy',
        certificateId: 'legacy',
        config: {
          domains: ['old.example.org'],
          keyType: 'RSA_2048',
          regions: ['us-east-1'],
          directoryUrl: 'https://acme.example:8443/dir',
        },
        issued,
      });
      await cli.dynamodb.putItem(TABLE_NAME, {
        pk: 'CERT#never-issued',
        certificateId: 'never-issued',
        config: {
          domains: ['new.example.org'],
          keyType: 'EC_P256',
          regions: ['us-east-1'],
          certificateAuthorities: [{ directoryUrl: LETS_ENCRYPT }, { directoryUrl: GOOGLE }],
        },
      });
    }

    it('names the issuing CA and the configured list under --json, inferring it for older records', async () => {
      await seedCertificateAuthorities();

      const result = await cli.run('status', '--json');

      const { certificates } = result.json<{
        certificates: {
          certificateId: string;
          issuedBy: string | null;
          certificateAuthorities: string[] | null;
        }[];
      }>();
      expect(
        certificates.map(({ certificateId, issuedBy, certificateAuthorities }) => ({
          certificateId,
          issuedBy,
          certificateAuthorities,
        })),
      ).toEqual([
        { certificateId: 'fallen-back', issuedBy: GOOGLE, certificateAuthorities: [LETS_ENCRYPT, GOOGLE] },
        {
          certificateId: 'first-choice',
          issuedBy: LETS_ENCRYPT,
          certificateAuthorities: [LETS_ENCRYPT, GOOGLE],
        },
        { certificateId: 'legacy', issuedBy: 'https://acme.example:8443/dir', certificateAuthorities: null },
        { certificateId: 'never-issued', issuedBy: null, certificateAuthorities: [LETS_ENCRYPT, GOOGLE] },
      ]);
    });

    it('takes the head of the list as the issuer of an older record configured with a list only', async () => {
      await cli.dynamodb.putItem(TABLE_NAME, {
        pk: 'CERT#listed',
        certificateId: 'listed',
        config: {
          domains: ['listed.example.org'],
          keyType: 'EC_P256',
          regions: ['us-east-1'],
          certificateAuthorities: [{ directoryUrl: GOOGLE }, { directoryUrl: LETS_ENCRYPT }],
        },
        issued,
      });

      const result = await cli.run('status', '--json');

      expect(result.json<{ certificates: { issuedBy: string | null }[] }>().certificates[0]?.issuedBy).toBe(
        GOOGLE,
      );
    });

    it("shows the CA's host, and marks a CA after the first of the certificate's list as a fallback", async () => {
      await seedCertificateAuthorities();

      const result = await cli.run('status');

      expect(result.code).toBe(0);
      const rows = result.stdout.split('\n');
      const issuerOf = (id: string) =>
        rows
          .find((row) => row.startsWith(`${id} `))
          ?.split(/\s{2,}/)
          .at(-1);
      expect(
        rows
          .find((row) => row.startsWith('ID '))
          ?.split(/\s{2,}/)
          .at(-1),
      ).toBe('ISSUED BY');
      expect(issuerOf('fallen-back')).toBe('dv.acme-v02.api.pki.goog (fallback)');
      expect(issuerOf('first-choice')).toBe('acme-v02.api.letsencrypt.org');
      expect(issuerOf('legacy')).toBe('acme.example:8443');
      expect(issuerOf('never-issued')).toBe('-');
    });
  });

  it('says how to issue the first certificate when the registry is empty', async () => {
    const result = await cli.run('status');

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('No certificates in stack AcmeCertificates (us-east-1) yet');
    expect(result.stdout).toContain('acme-aws issue <id> --domains');
  });

  it('counts an expired certificate as expired', async () => {
    await cli.dynamodb.putItem(TABLE_NAME, {
      pk: 'CERT#old',
      certificateId: 'old',
      issued: { serial: '01', storeKey: 'k', notAfter: '2030-02-01T00:00:00.000Z', fingerprint: 'f' },
    });

    const result = await cli.run('status');

    expect(result.stdout).toMatch(/old\s+-\s+expired\s+ok/);
  });

  it('exits 3 when the stack has no RegistryTableName output', async () => {
    await cli.restore();
    cli = setUpCli({ outputs: { RegistryTableName: undefined } });

    const result = await cli.run('status', '--json');

    expect(result.code).toBe(3);
    expect(result.json<{ error: { message: string } }>().error.message).toContain(
      'has no RegistryTableName output',
    );
  });

  it('exits 3 when the stack is missing, and says to deploy or pass --stack/--region', async () => {
    const result = await cli.run('status', '--stack', 'Nope');

    expect(result.code).toBe(3);
    expect(result.stderr).toContain('Stack Nope was not found');
    expect(result.stderr).toContain('--stack NAME and --region REGION');
  });

  it('exits 3 and names the permission when DynamoDB denies the scan', async () => {
    cli.dynamodb.failNext('Scan', 'AccessDeniedException');

    const result = await cli.run('status');

    expect(result.code).toBe(3);
    expect(result.stderr).toContain(
      'dynamodb:Scan on table AcmeCertificates-Registry failed: AccessDeniedException',
    );
    expect(result.stderr).toContain('may call dynamodb:Scan');
  });

  it('exits 3 when CloudFormation denies DescribeStacks', async () => {
    cli.cloudFormation.failNext('DescribeStacks', 'AccessDenied');

    const result = await cli.run('status');

    expect(result.code).toBe(3);
    expect(result.stderr).toContain(
      'cloudformation:DescribeStacks on stack AcmeCertificates failed: AccessDenied',
    );
  });
});
