import { createPrivateKey, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { usePebbleWorkflow } from '../harness/e2e-fixture.js';
import { statePayloads } from '../support/capture.js';

interface RegistryItem {
  readonly certificateId?: string;
  readonly config?: {
    readonly delivery?: {
      readonly secretArn?: string;
      readonly parameterPath?: string;
      readonly parameterKeyArn?: string;
    };
  };
  readonly issued?: {
    readonly serial: string;
    readonly delivered?: { readonly targets: readonly { target: string; name: string; version: string }[] };
  };
}

interface DeliveredDocument {
  readonly certificate: string;
  readonly chain: string;
  readonly fullchain: string;
  readonly privateKey?: string;
  readonly notAfter: string;
  readonly serial: string;
  readonly names: readonly string[];
}

/**
 * Delivery to workloads through the shipped bundles, with IAM enforced from the template: a
 * declared certificate with a secret and parameters is issued by Pebble, imported into ACM, then
 * written by DeliverCertificate (the only role that may) to its secret (created at deploy,
 * encrypted with the construct's delivery key) and its SecureString parameters, with one
 * `Certificate Delivered` event per target. A renewal adds a version: the secret keeps the old
 * one as AWSPREVIOUS.
 */
describe('certificate delivery to Secrets Manager and Parameter Store', () => {
  const e2e = usePebbleWorkflow({ props: { acme: { logLevel: 'DEBUG' } } });

  async function deploy(certificateId: string, domains: string[], path: string) {
    const aws = await e2e.install(domains, {
      props: {
        acme: {
          logLevel: 'DEBUG',
          certificates: [{ id: certificateId, domains, secret: true, parameters: { path } }],
        },
      },
    });
    const record = await e2e.record<RegistryItem>(certificateId);
    const secretArn = record?.config?.delivery?.secretArn;
    if (!secretArn) throw new Error('the deployment recorded no secret for the certificate');
    return { aws, secretArn };
  }

  const secretOf = (arn: string, stage = 'AWSCURRENT') =>
    JSON.parse(e2e.cloud.secretsManager.valueOf(arn, stage) ?? '{}') as DeliveredDocument & {
      status?: string;
    };

  it('creates the secret at deploy as pending, then delivers the issued certificate, its key and chain', async () => {
    const domains = ['deliver.example.org', '*.deliver.example.org'];
    const { aws, secretArn } = await deploy('web', domains, '/certs/web');
    expect(secretOf(secretArn).status).toBe('pending');

    const run = await e2e.run({ action: 'renew', certificateId: 'web' });

    expect(run.execution.status).toBe('SUCCEEDED');
    const [imported] = [...aws.acm.certificates.values()];
    if (!imported) throw new Error('nothing was imported');
    const document = secretOf(secretArn);
    const leaf = new X509Certificate(document.certificate);
    expect(leaf.checkPrivateKey(createPrivateKey(document.privateKey ?? ''))).toBe(true);
    expect(document.privateKey).toBe(imported.privateKeyPem);
    expect(document.fullchain).toBe(`${document.certificate}${document.chain}`);
    expect(document.names).toEqual(domains);
    expect(document.serial).toBe(leaf.serialNumber.toLowerCase());
    expect(new Date(document.notAfter).getTime()).toBe(new Date(leaf.validTo).getTime());
    // The parameters hold the same parts, encrypted with the construct's key; no fullchain on Standard.
    for (const part of ['certificate', 'chain', 'privateKey'] as const) {
      expect(e2e.cloud.ssm.valueOf(`/certs/web/${part}`)).toBe(document[part]);
      expect(e2e.cloud.ssm.version(`/certs/web/${part}`)?.type).toBe('SecureString');
    }
    expect(e2e.cloud.ssm.parameter('/certs/web/fullchain')).toBeUndefined();
    const keyArn = (await e2e.record<RegistryItem>('web'))?.config?.delivery?.parameterKeyArn;
    expect(e2e.cloud.ssm.version('/certs/web/privateKey')?.keyId).toBe(keyArn);
    const delivered = aws.eventBridge.events.filter((event) => event.detailType === 'Certificate Delivered');
    expect(delivered.map((event) => event.detail)).toEqual([
      expect.objectContaining({
        certificateId: 'web',
        target: 'secretsmanager',
        secretArn,
        serial: document.serial,
      }),
      expect.objectContaining({ target: 'ssm', parameterName: '/certs/web/certificate', version: '1' }),
      expect.objectContaining({ target: 'ssm', parameterName: '/certs/web/chain', version: '1' }),
      expect.objectContaining({ target: 'ssm', parameterName: '/certs/web/privateKey', version: '1' }),
    ]);
    // No key material in the events, the state payloads or the debug logs.
    const keyBody = (document.privateKey ?? '').split('\n')[2] ?? 'missing';
    for (const text of [JSON.stringify(aws.eventBridge.events), statePayloads(run), e2e.cloud.logText()]) {
      expect(text).not.toContain('PRIVATE KEY');
      expect(text).not.toContain(keyBody);
    }
  });

  it('renews into a new secret version, keeping the previous one as AWSPREVIOUS, and updates the parameters', async () => {
    const domains = ['renew-deliver.example.org'];
    const { secretArn } = await deploy('api', domains, '/certs/api');
    expect((await e2e.run({ action: 'renew', certificateId: 'api' })).execution.status).toBe('SUCCEEDED');
    const first = secretOf(secretArn);

    const renewal = await e2e.run({ action: 'renew', certificateId: 'api', force: true });

    expect(renewal.execution.status).toBe('SUCCEEDED');
    const current = secretOf(secretArn);
    expect(current.serial).not.toBe(first.serial);
    expect(secretOf(secretArn, 'AWSPREVIOUS').serial).toBe(first.serial);
    expect(e2e.cloud.secretsManager.versionIdsToStages(secretArn)).toEqual(
      expect.objectContaining({
        [String(e2e.cloud.secretsManager.versionByStage(secretArn, 'AWSCURRENT')?.versionId)]: ['AWSCURRENT'],
        [String(e2e.cloud.secretsManager.versionByStage(secretArn, 'AWSPREVIOUS')?.versionId)]: [
          'AWSPREVIOUS',
        ],
      }),
    );
    expect(e2e.cloud.ssm.version('/certs/api/certificate')?.version).toBe(2);
    expect(e2e.cloud.ssm.valueOf('/certs/api/certificate')).toBe(current.certificate);
  });

  it('retries a throttled write in the step without a second secret version', async () => {
    const domains = ['throttled-deliver.example.org'];
    const { secretArn } = await deploy('edge', domains, '/certs/edge');
    e2e.cloud.ssm.failNext('PutParameter', 'ThrottlingException', 4);

    const run = await e2e.run({ action: 'renew', certificateId: 'edge' });

    expect(run.execution.status).toBe('SUCCEEDED');
    // Four throttled answers, then the three parts written.
    expect(e2e.cloud.ssm.calls.PutParameter).toBe(7);
    const versions = e2e.cloud.secretsManager.secret(secretArn)?.versions ?? [];
    // The pending value from the deployment, and the certificate once.
    expect(versions).toHaveLength(2);
    expect(secretOf(secretArn, 'AWSPREVIOUS').status).toBe('pending');
  });

  it('leaves a failed delivery to the next run, which delivers the stored certificate without a new order', async () => {
    const domains = ['failed-deliver.example.org'];
    const { aws, secretArn } = await deploy('mail', domains, '/certs/mail');
    e2e.cloud.ssm.failNext('PutParameter', 'ValidationException', 1);

    const failed = await e2e.run({ action: 'renew', certificateId: 'mail' });

    expect(failed.execution.status).toBe('FAILED');
    expect((await e2e.record<RegistryItem>('mail'))?.issued?.delivered).toBeUndefined();
    const issuedSerial = (await e2e.record<RegistryItem>('mail'))?.issued?.serial;
    // Counted by answer: Pebble refuses some nonces, and a badNonce is retried.
    const ordersBefore = failed.acmeResponsesByStatus;

    const retried = await e2e.run({ action: 'renew', certificateId: 'mail' });

    expect(retried.execution.status).toBe('SUCCEEDED');
    expect(retried.acmeRequestsByPath['POST /order-plz'] ?? 0).toBe(0);
    expect(Object.keys(retried.acmeRequestsByPath).filter((path) => path.includes('finalize'))).toEqual([]);
    expect(ordersBefore['POST /order-plz 201']).toBe(1);
    expect(secretOf(secretArn).serial).toBe(issuedSerial);
    expect(e2e.cloud.ssm.valueOf('/certs/mail/privateKey')).toBe(
      [...aws.acm.certificates.values()][0]?.privateKeyPem,
    );
    expect((await e2e.record<RegistryItem>('mail'))?.issued?.delivered?.targets).toHaveLength(4);
  });
});
