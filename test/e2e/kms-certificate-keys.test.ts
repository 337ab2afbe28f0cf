import { X509Certificate } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { installLocalAws, type LocalAws, runLocalIssuance } from '../harness/local-issuance.js';
import { type PebbleEnvironment, startPebble } from '../harness/pebble.js';
import { type SynthesizedWorkflow, synthesizeWorkflow } from '../harness/state-machine.js';
import { statePayloads } from '../support/capture.js';

interface RegistryItem {
  readonly certificateId?: string;
  readonly status?: string;
  readonly issued?: { readonly serial: string; readonly storeKey: string; readonly kmsKeyArn?: string };
  readonly acmArns?: Record<string, string>;
}

/**
 * Certificates whose key is a KMS key, through the synthesized state machine against Pebble: the
 * CSR is signed by the KMS fake (real keys, real signatures), Pebble issues for that key, and the
 * certificate goes to the store and never to ACM.
 */
describe('KMS-held certificate keys through the synthesized state machine against Pebble', () => {
  let pebble: PebbleEnvironment;
  let workflow: SynthesizedWorkflow;
  let aws: LocalAws | undefined;

  beforeAll(async () => {
    pebble = await startPebble();
    workflow = synthesizeWorkflow();
  });
  afterAll(async () => {
    await pebble?.stop();
  });
  afterEach(() => {
    aws?.restore();
    aws = undefined;
  });

  const bucket = () => String(workflow.environment.CERT_STORE_BUCKET);

  function record(local: LocalAws, certificateId: string): RegistryItem | undefined {
    return (local.dynamodb.items(String(workflow.environment.REGISTRY_TABLE)) as RegistryItem[]).find(
      (item) => item.certificateId === certificateId,
    );
  }

  function storedKeys(local: LocalAws): string[] {
    return [...(local.s3.objects.get(bucket())?.keys() ?? [])];
  }

  function kmsKey(local: LocalAws, keySpec: 'ECC_NIST_P256' | 'ECC_NIST_P384' | 'RSA_2048' | 'RSA_3072') {
    const keyId = local.kms.createKey({ keySpec });
    const key = local.kms.keys.get(keyId);
    if (!key) throw new Error('the KMS fake lost a key');
    return key;
  }

  it.each([
    ['EC_P256', 'ECC_NIST_P256'],
    ['EC_P384', 'ECC_NIST_P384'],
    ['RSA_2048', 'RSA_2048'],
  ] as const)(
    'issues a %s certificate for the KMS key, stores it without a private key and keeps it out of ACM',
    async (keyType, keySpec) => {
      const domains = [`kms-${keyType.toLowerCase().replace('_', '-')}.example.org`];
      aws = installLocalAws(pebble, domains);
      const key = kmsKey(aws, keySpec);

      const run = await runLocalIssuance({
        workflow,
        ca: pebble,
        aws,
        input: { certificateId: 'signer', domains, keyType, kmsKeyArn: key.arn },
        environment: { CERTIFICATE_KMS_KEY_ARNS: key.arn },
      });

      expect(run.execution.status).toBe('SUCCEEDED');
      const item = record(aws, 'signer');
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
    const domains = ['kms-renew.example.org'];
    aws = installLocalAws(pebble, domains);
    const key = kmsKey(aws, 'ECC_NIST_P256');
    const environment = { CERTIFICATE_KMS_KEY_ARNS: key.arn };
    const first = await runLocalIssuance({
      workflow,
      ca: pebble,
      aws,
      input: { certificateId: 'signer', domains, kmsKeyArn: key.arn },
      environment,
    });
    expect(first.execution.status).toBe('SUCCEEDED');
    const firstSerial = record(aws, 'signer')?.issued?.serial;

    const renewal = await runLocalIssuance({
      workflow,
      ca: pebble,
      aws,
      input: { action: 'renew', certificateId: 'signer', force: true },
      environment,
    });

    expect(renewal.execution.status).toBe('SUCCEEDED');
    const item = record(aws, 'signer');
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
    aws = installLocalAws(pebble, domains);
    const key = kmsKey(aws, 'RSA_2048');
    const local = aws;
    let throttled = false;

    const run = await runLocalIssuance({
      workflow,
      ca: pebble,
      aws,
      input: { certificateId: 'signer', domains, keyType: 'RSA_2048', kmsKeyArn: key.arn },
      environment: { CERTIFICATE_KMS_KEY_ARNS: key.arn },
      // Throttle the first KMS call Finalize makes: describing the certificate key.
      wrapHandler: (step, handler) =>
        step !== 'Finalize'
          ? handler
          : async (input) => {
              if (!throttled) {
                throttled = true;
                local.kms.failNext('GetPublicKey', 'ThrottlingException');
                local.kms.failNext('Sign', 'ThrottlingException');
              }
              return handler(input);
            },
    });

    expect(run.execution.status).toBe('SUCCEEDED');
    expect(run.acmeResponsesByStatus['POST /finalize-order 200']).toBe(1);
    const item = record(aws, 'signer');
    const leaf = new X509Certificate(aws.s3.text(bucket(), `${item?.issued?.storeKey}/fullchain.pem`) ?? '');
    expect(leaf.publicKey.equals(key.publicKey)).toBe(true);
  });

  it('refuses a KMS key the deployment did not declare before any ACME or AWS call', async () => {
    const domains = ['kms-undeclared.example.org'];
    aws = installLocalAws(pebble, domains);
    const key = kmsKey(aws, 'ECC_NIST_P256');

    const run = await runLocalIssuance({
      workflow,
      ca: pebble,
      aws,
      input: { certificateId: 'signer', domains, kmsKeyArn: key.arn },
    });

    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error?.name).toBe('InvalidInputError');
    expect(run.execution.error?.cause).toContain('declares no KMS-held certificate keys');
    expect(run.acmeRequests).toBe(0);
    expect(aws.kms.calls.Sign ?? 0).toBe(0);
  });

  it('names both key types when the KMS key is not of the certificate’s type, and leaves no TXT record', async () => {
    const domains = ['kms-mismatch.example.org'];
    aws = installLocalAws(pebble, domains);
    const key = kmsKey(aws, 'ECC_NIST_P384');

    const run = await runLocalIssuance({
      workflow,
      ca: pebble,
      aws,
      input: { certificateId: 'signer', domains, keyType: 'EC_P256', kmsKeyArn: key.arn },
      environment: { CERTIFICATE_KMS_KEY_ARNS: key.arn },
    });

    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error?.name).toBe('InvalidInputError');
    expect(run.execution.error?.cause).toContain('is EC_P384, but the certificate');
    expect(run.execution.error?.cause).toContain('Set keyType to EC_P384');
    expect(aws.route53.txtValues('_acme-challenge.kms-mismatch.example.org')).toEqual([]);
  });

  it('refuses a keyCompromise revocation whose replacement would reuse the compromised KMS key', async () => {
    const domains = ['kms-compromise.example.org'];
    aws = installLocalAws(pebble, domains);
    const key = kmsKey(aws, 'ECC_NIST_P256');
    const environment = { CERTIFICATE_KMS_KEY_ARNS: key.arn };
    const first = await runLocalIssuance({
      workflow,
      ca: pebble,
      aws,
      input: { certificateId: 'signer', domains, kmsKeyArn: key.arn },
      environment,
    });
    expect(first.execution.status).toBe('SUCCEEDED');

    const run = await runLocalIssuance({
      workflow,
      ca: pebble,
      aws,
      input: { action: 'revoke', certificateId: 'signer', reason: 'keyCompromise' },
      environment,
    });

    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error?.name).toBe('InvalidInputError');
    expect(run.execution.error?.cause).toContain('must not use the compromised key');
    expect(run.acmeRequestsByPath['POST /revoke-cert']).toBeUndefined();
    expect(record(aws, 'signer')?.status).not.toBe('revoked');
  });
});
