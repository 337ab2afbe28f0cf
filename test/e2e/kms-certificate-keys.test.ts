import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { CertificateKeyType } from '../../lib/acme-certificates.js';
import type { FakeKmsKey } from '../fakes/kms-fake.js';
import { usePebbleWorkflow } from '../harness/e2e-fixture.js';
import type { LocalAws } from '../harness/local-issuance.js';
import { statePayloads } from '../support/capture.js';

interface RegistryItem {
  readonly certificateId?: string;
  readonly status?: string;
  readonly config?: { readonly kmsKeyArn?: string };
  readonly issued?: { readonly serial: string; readonly storeKey: string; readonly kmsKeyArn?: string };
  readonly acmArns?: Record<string, string>;
}

/**
 * Certificates whose key is a KMS key, through the synthesized state machine against Pebble: the
 * certificate is declared with `kmsKey: true`, so the deployment creates its KMS key (in the KMS
 * fake: real keys, real signatures) and lets Finalize sign with it and nothing else; the CSR is
 * signed there, Pebble issues for that key, and the certificate goes to the store and never to ACM.
 */
describe('KMS-held certificate keys through the synthesized state machine against Pebble', () => {
  const e2e = usePebbleWorkflow();

  const bucket = () => e2e.stack.certificateBucket;
  const record = (certificateId: string) => e2e.record<RegistryItem>(certificateId);

  function storedKeys(local: LocalAws): string[] {
    return [...(local.s3.objects.get(bucket())?.keys() ?? [])];
  }

  /**
   * Deploys the stack with the certificate `signer` declared with `kmsKey: true`, and returns the
   * KMS key the deployment created for it.
   */
  async function deployWithKmsKey(domains: string[], keyType: CertificateKeyType) {
    const aws = await e2e.install(domains, {
      props: { acme: { certificates: [{ id: 'signer', domains, keyType, kmsKey: true }] } },
    });
    const [logicalId, ...others] = e2e.stack
      .logicalIdsOf('AWS::KMS::Key')
      .filter((id) => id.includes('CertificateKeysigner'));
    if (!logicalId || others.length > 0)
      throw new Error('the deployment did not create one key for "signer"');
    const key: FakeKmsKey | undefined = aws.kms.keys.get(e2e.stack.ref(logicalId));
    if (!key) throw new Error('the deployment created no KMS key for "signer"');
    // The deployment's custom resource records the key as the certificate's declared one.
    expect((await record('signer'))?.config?.kmsKeyArn).toBe(key.arn);
    return { aws, key };
  }

  /** Issues `signer` once with the P-256 KMS key the deployment declares for it. */
  async function issueWithKmsKey(domains: string[]) {
    const { aws, key } = await deployWithKmsKey(domains, 'EC_P256');
    const first = await e2e.run({ certificateId: 'signer', domains, kmsKeyArn: key.arn });
    expect(first.execution.status).toBe('SUCCEEDED');
    return { aws, key };
  }

  it.each([
    ['EC_P256', 'ECC_NIST_P256'],
    ['EC_P384', 'ECC_NIST_P384'],
    ['RSA_2048', 'RSA_2048'],
  ] as const)(
    'issues a %s certificate for the KMS key, stores it without a private key and keeps it out of ACM',
    async (keyType, keySpec) => {
      const domains = [`kms-${keyType.toLowerCase().replace('_', '-')}.example.org`];
      const { aws, key } = await deployWithKmsKey(domains, keyType);
      expect(key.keySpec).toBe(keySpec);

      const run = await e2e.run({ certificateId: 'signer', domains, keyType, kmsKeyArn: key.arn });

      expect(run.execution.status).toBe('SUCCEEDED');
      const item = await record('signer');
      expect(item?.status).toBe('published');
      expect(item?.issued?.kmsKeyArn).toBe(key.arn);
      const fullchain = aws.s3.text(bucket(), `${item?.issued?.storeKey}/fullchain.pem`) ?? '';
      const leaf = new X509Certificate(fullchain);
      // The certificate is for the key in KMS, and nothing else was ever a key for it.
      expect(leaf.publicKey.equals(key.publicKey)).toBe(true);
      expect(leaf.subjectAltName).toBe(`DNS:${domains[0]}`);
      expect(storedKeys(aws).filter((name) => name.endsWith('privkey.pem'))).toEqual([]);
      expect(aws.acm.certificates.size).toBe(0);
      expect(run.acmCalls).toBe(0);
      expect(statePayloads(run)).not.toContain('PRIVATE KEY');
      const signs = aws.kms.requests.filter(
        (request) => request.command === 'Sign' && (request.input as { KeyId?: string }).KeyId === key.arn,
      );
      expect(signs).toHaveLength(1);
      const issued = aws.eventBridge.events.find((event) => event.detailType === 'Certificate Issued');
      expect(issued?.detail).toMatchObject({
        certificateId: 'signer',
        kmsKeyArn: key.arn,
        fullchainStoreKey: `${item?.issued?.storeKey}/fullchain.pem`,
        acmArns: {},
      });
    },
  );

  it('renews with the same KMS key and announces a renewal, still without ACM', async () => {
    const { aws, key } = await issueWithKmsKey(['kms-renew.example.org']);
    const firstSerial = (await record('signer'))?.issued?.serial;

    const renewal = await e2e.run({ action: 'renew', certificateId: 'signer', force: true });

    expect(renewal.execution.status).toBe('SUCCEEDED');
    const item = await record('signer');
    expect(item?.issued?.serial).not.toBe(firstSerial);
    const leaf = new X509Certificate(aws.s3.text(bucket(), `${item?.issued?.storeKey}/fullchain.pem`) ?? '');
    expect(leaf.publicKey.equals(key.publicKey)).toBe(true);
    expect(aws.eventBridge.events.map((event) => event.detailType)).toEqual([
      'Certificate Issued',
      'Certificate Renewed',
    ]);
    expect(aws.acm.certificates.size).toBe(0);
  });

  it('retries a throttled KMS signature of the CSR without a second finalize', async () => {
    const domains = ['kms-throttled.example.org'];
    const { aws, key } = await deployWithKmsKey(domains, 'RSA_2048');
    let throttled = false;

    const run = await e2e.run(
      { certificateId: 'signer', domains, keyType: 'RSA_2048', kmsKeyArn: key.arn },
      {
        // Throttle the first KMS call Finalize makes: describing the certificate key.
        wrapTask: (stateName, perform) =>
          stateName !== 'Finalize'
            ? perform
            : async (input) => {
                if (!throttled) {
                  throttled = true;
                  aws.kms.failNext('GetPublicKey', 'ThrottlingException');
                  aws.kms.failNext('Sign', 'ThrottlingException');
                }
                return perform(input);
              },
      },
    );

    expect(run.execution.status).toBe('SUCCEEDED');
    expect(run.acmeResponsesByStatus['POST /finalize-order 200']).toBe(1);
    const item = await record('signer');
    const leaf = new X509Certificate(aws.s3.text(bucket(), `${item?.issued?.storeKey}/fullchain.pem`) ?? '');
    expect(leaf.publicKey.equals(key.publicKey)).toBe(true);
  });

  it('refuses a KMS key the deployment did not declare before any ACME or AWS call', async () => {
    const domains = ['kms-undeclared.example.org'];
    const aws = await e2e.install(domains);
    // A key of the account that the stack does not declare for any certificate.
    const key = aws.kms.keys.get(aws.kms.createKey({ keySpec: 'ECC_NIST_P256' }));
    if (!key) throw new Error('the KMS fake lost a key');

    const run = await e2e.run({ certificateId: 'signer', domains, kmsKeyArn: key.arn });

    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error?.name).toBe('InvalidInputError');
    expect(run.execution.error?.cause).toContain('the stack declares no KMS key for it');
    expect(run.acmeRequests).toBe(0);
    expect(aws.kms.calls.Sign ?? 0).toBe(0);
  });

  it('names both key types when the KMS key is not of the certificate’s type, and leaves no TXT record', async () => {
    const domains = ['kms-mismatch.example.org'];
    const { aws, key } = await deployWithKmsKey(domains, 'EC_P384');

    const run = await e2e.run({ certificateId: 'signer', domains, keyType: 'EC_P256', kmsKeyArn: key.arn });

    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error?.name).toBe('InvalidInputError');
    expect(run.execution.error?.cause).toContain('is EC_P384, but the certificate');
    expect(run.execution.error?.cause).toContain('Set keyType to EC_P384');
    expect(aws.route53.txtValues('_acme-challenge.kms-mismatch.example.org')).toEqual([]);
  });

  it('refuses an issue that would silently drop the certificate’s KMS key, before any CA request', async () => {
    const domains = ['kms-keep.example.org'];
    const { aws, key } = await issueWithKmsKey(domains);

    const run = await e2e.run({ action: 'issue', certificateId: 'signer', domains });

    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error?.name).toBe('InvalidInputError');
    // The Cause is Lambda's error payload as JSON; the message in it names the exact fix.
    const { errorMessage } = JSON.parse(run.execution.error?.cause ?? '{}') as { errorMessage?: string };
    expect(errorMessage).toContain(`add "kmsKeyArn":"${key.arn}"`);
    expect(run.acmeRequests).toBe(0);
    expect((await record('signer'))?.status).toBe('published');
    expect(aws.acm.certificates.size).toBe(0);
  });

  it('refuses a keyCompromise revocation whose replacement would reuse the compromised KMS key', async () => {
    await issueWithKmsKey(['kms-compromise.example.org']);

    const run = await e2e.run({ action: 'revoke', certificateId: 'signer', reason: 'keyCompromise' });

    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error?.name).toBe('InvalidInputError');
    expect(run.execution.error?.cause).toContain('must not use the compromised key');
    expect(run.acmeRequestsByPath['POST /revoke-cert']).toBeUndefined();
    expect((await record('signer'))?.status).not.toBe('revoked');
  });
});
