import { describe, expect, it } from 'vitest';
import { removeFromKeyPolicy, removeIdentityPermission } from '../harness/cloud/template-edits.js';
import { usePebbleWorkflow } from '../harness/e2e-fixture.js';

/**
 * IAM is enforced locally, from the template: every AWS call of every function is authorized
 * against its role's policies and the resource's own policy before a fake serves it. Each test
 * takes one permission the workflow needs out of the synthesized template, deploys it, and shows
 * the run failing with the error AWS would return, cleanly (TXT records removed, the failure
 * recorded), while the unedited template (the other e2e tests) runs with no denial at all.
 */

interface RegistryRecord {
  readonly status?: string;
  readonly lastError?: { readonly name: string; readonly message: string };
}

describe('IAM from the synthesized template, enforced on every call', () => {
  const e2e = usePebbleWorkflow();

  it('runs a whole issuance with no denial under the template as synthesized', async () => {
    const domains = ['allowed.example.org', '*.allowed.example.org'];
    await e2e.install(domains);

    const run = await e2e.run({ certificateId: 'allowed', domains });

    expect(run.execution.status).toBe('SUCCEEDED');
    expect(run.iamAuthorizedCalls).toBeGreaterThan(20);
    expect(e2e.cloud.iam.denials).toEqual([]);
  });

  it('fails the import with AccessDeniedException when the role may not import into ACM, and still cleans up', async () => {
    const domains = ['no-import.example.org'];
    const aws = await e2e.install(domains, {
      editTemplate: (template) =>
        removeIdentityPermission(template, 'ImportToAcmRole', 'acm:ImportCertificate'),
    });

    const run = await e2e.run({ certificateId: 'no-import', domains });

    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error?.name).toBe('AwsRequestError');
    expect(run.execution.error?.cause).toContain('AccessDeniedException');
    expect(run.execution.error?.cause).toContain(
      'is not authorized to perform: acm:ImportCertificate on resource: * because no identity-based policy allows the acm:ImportCertificate action',
    );
    expect(aws.acm.certificates.size).toBe(0);
    expect(aws.route53.txtValues('_acme-challenge.no-import.example.org')).toEqual([]);
    const record = await e2e.record<RegistryRecord & { certificateId: string }>('no-import');
    expect(record?.status).toBe('failed');
    expect(record?.lastError?.message).toContain('AccessDeniedException');
    // The registry holds the message people read, not Lambda's stack trace.
    expect(record?.lastError?.message).not.toContain('file:///');
  });

  it('denies signing when the account key’s policy leaves the role out, even though the role’s own policy allows it', async () => {
    const domains = ['no-key.example.org'];
    await e2e.install(domains, {
      editTemplate: (template) =>
        removeFromKeyPolicy(template, 'AccountKey', 'kms:Sign', 'RegisterAccountRole'),
    });

    const run = await e2e.run({ certificateId: 'no-key', domains });

    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.steps[0]?.name).toBe('RegisterAccount');
    expect(run.execution.error?.cause).toContain('AccessDeniedException');
    expect(run.execution.error?.cause).toContain(
      'kms:Sign on resource: arn:aws:kms:us-east-1:123456789012:key/',
    );
    expect(run.execution.error?.cause).toContain(
      'because no resource-based policy allows the kms:Sign action',
    );
    // Nothing was signed, so the CA saw no account request.
    expect(Object.keys(run.acmeRequestsByPath).filter((path) => path.startsWith('POST'))).toEqual([]);
  });

  it('lets S3 refuse to store the certificate key when the store key’s policy leaves Finalize out (SSE-KMS on the caller’s behalf)', async () => {
    const domains = ['no-store.example.org'];
    const aws = await e2e.install(domains, {
      editTemplate: (template) =>
        removeFromKeyPolicy(template, 'StoreKey', 'kms:GenerateDataKey', 'FinalizeRole'),
    });

    const run = await e2e.run({ certificateId: 'no-store', domains });

    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error?.cause).toContain('S3 PutObject');
    expect(run.execution.error?.cause).toContain('AccessDenied');
    expect(run.execution.error?.cause).toContain('kms:GenerateDataKey');
    expect([...aws.s3.objects.values()].every((objects) => objects.size === 0)).toBe(true);
  });

  it('fails publishing with Route 53’s AccessDenied when the role may not change records, and removes nothing it did not write', async () => {
    const domains = ['no-dns.example.org'];
    const aws = await e2e.install(domains, {
      editTemplate: (template) =>
        removeIdentityPermission(template, 'PublishChallengesRole', 'route53:ChangeResourceRecordSets'),
    });

    const run = await e2e.run({ certificateId: 'no-dns', domains });

    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error?.cause).toContain('AccessDenied');
    expect(run.execution.error?.cause).toContain('route53:ChangeResourceRecordSets');
    expect(aws.route53.changeBatches.filter((batch) => !batch.error)).toEqual([]);
  });

  it('fails the Task with Lambda.AWSLambdaException when the state machine’s role may not invoke a step', async () => {
    const domains = ['no-invoke.example.org'];
    await e2e.install(domains, {
      editTemplate: (template) =>
        removeIdentityPermission(template, 'IssuanceRole', 'lambda:InvokeFunction', 'ImportToAcmFunction'),
    });

    const run = await e2e.run({ certificateId: 'no-invoke', domains });

    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error?.name).toBe('Lambda.AWSLambdaException');
    expect(run.execution.error?.cause).toContain('lambda:InvokeFunction');
    expect(run.execution.steps.map((step) => step.name)).toContain('Cleanup');
  });

  it('applies the bucket policy’s explicit deny to an object written without SSE-KMS, whatever the role allows', async () => {
    await e2e.install(['bucket.example.org']);
    const put = (input: Record<string, unknown>) =>
      e2e.cloud.authorizeAs('finalize', {
        client: 'S3Client',
        command: 'PutObjectCommand',
        input: { Bucket: e2e.stack.certificateBucket, Key: 'orders/x/key.pem', Body: 'x', ...input },
      });

    const encrypted = await put({ ServerSideEncryption: 'aws:kms' });
    const plain = await put({});

    expect(encrypted.every((decision) => decision.allowed)).toBe(true);
    expect(plain[0]?.allowed).toBe(false);
    expect(plain[0]?.message).toContain('with an explicit deny in a resource-based policy');
  });

  it('refuses, before ordering, a name whose zone the stack may not write, instead of letting IAM deny it later', async () => {
    const aws = await e2e.install(['allowed.example.org', 'elsewhere.example.net']);
    const allowedZone = aws.zones.get('example.org') as string;
    await e2e.redeploy({ acme: { hostedZoneIds: [allowedZone] } });

    const run = await e2e.run({
      certificateId: 'stray',
      domains: ['allowed.example.org', 'elsewhere.example.net'],
    });

    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error?.name).toBe('ZoneNotWritableError');
    expect(run.execution.error?.cause).toContain(
      `elsewhere.example.net: its challenge record _acme-challenge.elsewhere.example.net goes in hosted zone ${aws.zones.get('example.net')} (example.net), which this stack may not write`,
    );
    expect(Object.keys(run.acmeRequestsByPath).filter((path) => path.includes('order'))).toEqual([]);
    expect(run.route53ChangeCalls).toBe(0);
    expect(e2e.cloud.iam.denials).toEqual([]);
  });
});
