import { beforeEach, describe, expect, it } from 'vitest';
import {
  deliveryPending,
  PARAMETER_VALUE_MAX_BYTES,
  parameterParts,
  secretRequestToken,
} from '../../../lambdas/core/delivery/delivery-parts.js';
import { DeliveryTooLargeError } from '../../../lambdas/core/errors.js';
import type { CertificateDeliveries, DeliveryTargets } from '../../../lambdas/core/ports.js';
import { renewalDecision } from '../../../lambdas/core/renewal/due.js';
import type { IssuanceState } from '../../../lambdas/core/state.js';
import { deliverCertificate, EVENT_DELIVERED } from '../../../lambdas/core/workflow/deliver-certificate.js';
import { issuanceState, SILENT_LOG } from '../../support/workflow-fixtures.js';
import { MemoryCertificateStore } from '../fakes/memory-certificate-store.js';
import { MemoryRegistry } from '../fakes/memory-registry.js';

const NOW = new Date('2026-12-05T12:00:00.000Z');
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:acme-aws/Test/web-AbCdEf';
const LEAF = pem('CERTIFICATE', 'leaf');
const INTERMEDIATE = pem('CERTIFICATE', 'intermediate');
const KEY = pem('PRIVATE KEY', 'key');

function pem(label: string, body: string, bytes = 600): string {
  const base64 = Buffer.from(body.padEnd(bytes, '.')).toString('base64');
  return `-----BEGIN ${label}-----\n${base64.match(/.{1,64}/g)?.join('\n')}\n-----END ${label}-----\n`;
}

/** Secrets Manager and Parameter Store as far as the step sees them: versions per write. */
class RecordingDeliveries implements CertificateDeliveries {
  readonly secretVersions: { arn: string; value: string; token: string }[] = [];
  readonly parameters = new Map<string, { value: string; version: number; tier: string; keyArn?: string }>();
  failParameters = false;

  async putSecretVersion(input: { secretArn: string; value: string; requestToken: string }) {
    const existing = this.secretVersions.find((version) => version.token === input.requestToken);
    if (!existing)
      this.secretVersions.push({ arn: input.secretArn, value: input.value, token: input.requestToken });
    return { versionId: input.requestToken };
  }

  async putParameter(input: { name: string; value: string; keyArn?: string; tier: 'Standard' | 'Advanced' }) {
    if (this.failParameters) throw Object.assign(new Error('throttled'), { name: 'AwsTransientError' });
    const version = (this.parameters.get(input.name)?.version ?? 0) + 1;
    this.parameters.set(input.name, { value: input.value, version, tier: input.tier, keyArn: input.keyArn });
    return { version };
  }
}

let store: MemoryCertificateStore;
let registry: MemoryRegistry;
let deliveries: RecordingDeliveries;
let events: { detailType: string; detail: Record<string, unknown> }[];

function deps() {
  return {
    store,
    registry,
    deliveries,
    events: {
      publish: async (event: { detailType: string; detail: Readonly<Record<string, unknown>> }) => {
        events.push({ detailType: event.detailType, detail: { ...event.detail } });
      },
    },
    clock: { now: () => NOW },
    log: SILENT_LOG,
  };
}

async function issued(targets: DeliveryTargets | undefined, overrides: Partial<IssuanceState> = {}) {
  const storeKey = 'certificates/web/0a1b';
  store.objects.set(`${storeKey}/fullchain.pem`, `${LEAF}${INTERMEDIATE}`);
  store.objects.set(`${storeKey}/privkey.pem`, KEY);
  await registry.update('web', {
    config: {
      domains: ['example.org', '*.example.org'],
      keyType: 'EC_P256',
      regions: ['eu-west-1'],
      ...(targets ? { delivery: targets } : {}),
    },
    issued: {
      serial: '0a1b',
      storeKey,
      notAfter: '2027-03-05T12:00:00.000Z',
      fingerprint: 'EC_P256:example.org,*.example.org',
      importedArn: 'arn:acm',
    },
    acmArns: { 'eu-west-1': 'arn:acm' },
    nextRenewalAt: '2027-02-01T00:00:00.000Z',
  });
  return issuanceState({
    domains: ['example.org', '*.example.org'],
    certificate: { storeKey, serial: '0a1b', notAfter: '2027-03-05T12:00:00.000Z' },
    deliver: true,
    ...overrides,
  });
}

beforeEach(() => {
  store = new MemoryCertificateStore();
  registry = new MemoryRegistry();
  deliveries = new RecordingDeliveries();
  events = [];
});

describe('DeliverCertificate', () => {
  it('writes the secret document with every part and the facts a workload checks', async () => {
    const state = await issued({ secretArn: SECRET_ARN });

    const result = await deliverCertificate(state, deps());

    const [version] = deliveries.secretVersions;
    expect(JSON.parse(version?.value ?? '{}')).toEqual({
      certificate: LEAF,
      chain: INTERMEDIATE,
      fullchain: `${LEAF}${INTERMEDIATE}`,
      privateKey: KEY,
      notAfter: '2027-03-05T12:00:00.000Z',
      serial: '0a1b',
      names: ['example.org', '*.example.org'],
    });
    expect(result.delivered).toEqual([
      { target: 'secretsmanager', name: SECRET_ARN, version: version?.token },
    ]);
  });

  it('adds no second secret version when the same certificate is delivered again', async () => {
    const state = await issued({ secretArn: SECRET_ARN });

    await deliverCertificate(state, deps());
    await deliverCertificate(state, deps());

    expect(deliveries.secretVersions).toHaveLength(1);
    expect(deliveries.secretVersions[0]?.token).toBe(secretRequestToken('web', '0a1b'));
  });

  it('writes one SecureString parameter per part, fullchain only on the Advanced tier', async () => {
    await deliverCertificate(
      await issued({ parameterPath: '/certs/web', parameterKeyArn: 'arn:key' }),
      deps(),
    );
    const standard = [...deliveries.parameters.keys()];
    deliveries = new RecordingDeliveries();
    await deliverCertificate(
      await issued({ parameterPath: '/certs/web/', parameterTier: 'Advanced' }),
      deps(),
    );

    expect(standard).toEqual(['/certs/web/certificate', '/certs/web/chain', '/certs/web/privateKey']);
    expect([...deliveries.parameters.keys()]).toEqual([
      '/certs/web/certificate',
      '/certs/web/chain',
      '/certs/web/fullchain',
      '/certs/web/privateKey',
    ]);
    expect(deliveries.parameters.get('/certs/web/fullchain')?.tier).toBe('Advanced');
  });

  it('delivers only the chain of a certificate whose key stays in KMS, and never reads a key file', async () => {
    const state = await issued(
      { secretArn: SECRET_ARN, parameterPath: '/certs/web' },
      { kmsKeyArn: 'arn:kms-key' },
    );
    store.objects.delete(`${state.certificate?.storeKey}/privkey.pem`);

    await deliverCertificate(state, deps());

    expect(JSON.parse(deliveries.secretVersions[0]?.value ?? '{}')).not.toHaveProperty('privateKey');
    expect([...deliveries.parameters.keys()]).not.toContain('/certs/web/privateKey');
  });

  it('puts one Certificate Delivered event per target, with versions and no key material', async () => {
    await deliverCertificate(await issued({ secretArn: SECRET_ARN, parameterPath: '/certs/web' }), deps());

    expect(events.map((event) => event.detailType)).toEqual(Array(4).fill(EVENT_DELIVERED));
    expect(events[0]?.detail).toMatchObject({
      certificateId: 'web',
      target: 'secretsmanager',
      secretArn: SECRET_ARN,
      serial: '0a1b',
    });
    expect(events[1]?.detail).toMatchObject({
      target: 'ssm',
      parameterName: '/certs/web/certificate',
      version: '1',
    });
    expect(JSON.stringify(events)).not.toContain('PRIVATE KEY');
    expect(JSON.stringify(events)).not.toContain(KEY.split('\n')[1]);
  });

  it('records the delivery, so the certificate is no longer due; until then the planner counts it due', async () => {
    const state = await issued({ secretArn: SECRET_ARN });
    const before = renewalDecision((await registry.get('web')) ?? { certificateId: 'web' }, NOW);

    await deliverCertificate(state, deps());
    const after = renewalDecision((await registry.get('web')) ?? { certificateId: 'web' }, NOW);

    expect(before).toEqual({ due: true, reason: 'not-delivered' });
    expect(after.due).toBe(false);
  });

  it('leaves the record undelivered when a write fails, so the next run delivers the stored certificate', async () => {
    const state = await issued({ secretArn: SECRET_ARN, parameterPath: '/certs/web' });
    deliveries.failParameters = true;

    await expect(deliverCertificate(state, deps())).rejects.toThrow('throttled');

    const record = await registry.get('web');
    expect(record?.issued?.delivered).toBeUndefined();
    expect(deliveryPending(record?.config?.delivery, record?.issued)).toBe(true);
  });

  it('counts a target declared after the last delivery as pending', () => {
    const issuedRecord = {
      delivered: {
        at: NOW.toISOString(),
        targets: [{ target: 'secretsmanager' as const, name: SECRET_ARN, version: 'v1' }],
      },
    };

    expect(deliveryPending({ secretArn: SECRET_ARN }, issuedRecord)).toBe(false);
    expect(deliveryPending({ secretArn: SECRET_ARN, parameterPath: '/certs/web' }, issuedRecord)).toBe(true);
    expect(deliveryPending(undefined, undefined)).toBe(false);
  });
});

describe('parameter parts', () => {
  const certificate = {
    certificateId: 'web',
    certificatePem: LEAF,
    chainPem: INTERMEDIATE,
    privateKeyPem: KEY,
    serial: '0a1b',
    notAfter: '2027-03-05T12:00:00.000Z',
    names: ['example.org'],
  };

  it('refuses a part its tier cannot hold before anything is written, naming the part, the size and the fix', () => {
    const large = { ...certificate, chainPem: pem('CERTIFICATE', 'chain', 3_500) };

    expect(() => parameterParts(large, '/certs/web', 'Standard')).toThrow(DeliveryTooLargeError);
    expect(() => parameterParts(large, '/certs/web', 'Standard')).toThrow(
      new RegExp(
        `"chain" of certificate "web" is \\d+ bytes; a Standard parameter holds at most ${PARAMETER_VALUE_MAX_BYTES.Standard}\\. Declare parameters.tier "Advanced"`,
      ),
    );
    expect(parameterParts(large, '/certs/web', 'Advanced').map((part) => part.name)).toContain(
      '/certs/web/fullchain',
    );
  });

  it('stores "none" for the chain of a CA that sends only the leaf, as Parameter Store refuses empty values', () => {
    const parts = parameterParts({ ...certificate, chainPem: '' }, '/certs/web', 'Standard');

    expect(parts.find((part) => part.name === '/certs/web/chain')?.value).toBe('none');
  });
});
