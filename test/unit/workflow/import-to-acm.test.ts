import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AcmImporters } from '../../../lambdas/adapters/acm-importer.js';
import {
  type GeneratedCertificateKey,
  generateCertificateKey,
} from '../../../lambdas/core/crypto/certificate-key.js';
import type { CertificateRecord } from '../../../lambdas/core/ports.js';
import type { IssuanceState, KeyType } from '../../../lambdas/core/state.js';
import { cleanup, EVENT_RENEWED } from '../../../lambdas/core/workflow/cleanup.js';
import {
  CERTIFICATE_ID_TAG,
  importToAcm,
  MANAGED_BY_TAG,
} from '../../../lambdas/core/workflow/import-to-acm.js';
import { type AcmFake, installAcmFake } from '../../fakes/acm-fake.js';
import { TEST_WORKFLOW_CONFIG } from '../../support/workflow-config.js';
import { SILENT_LOG } from '../../support/workflow-fixtures.js';
import { createKeyUsageIssuer, KeyUsageFlags, type KeyUsageIssuer } from '../fakes/key-usage-issuer.js';
import { MemoryCertificateStore } from '../fakes/memory-certificate-store.js';
import { MemoryRegistry } from '../fakes/memory-registry.js';

const REGION = 'eu-west-1';
const NOW = new Date();
const { digitalSignature, keyEncipherment } = KeyUsageFlags;
/** Let's Encrypt's `classic` profile: RSA leaves may encipher keys. */
const CLASSIC_RSA = digitalSignature | keyEncipherment;
/** The `tlsserver` and `shortlived` profiles: digitalSignature alone. */
const TLSSERVER = digitalSignature;

let issuer: KeyUsageIssuer;
let acm: AcmFake;
let store: MemoryCertificateStore;
let registry: MemoryRegistry;
let serial: number;

function deps() {
  return {
    store,
    registry,
    importers: new AcmImporters(),
    clock: { now: () => NOW },
    config: TEST_WORKFLOW_CONFIG,
    log: SILENT_LOG,
  };
}

/**
 * What WaitForCertificate leaves behind for one issuance: a fresh key of `keyType` and a leaf with
 * `keyUsages`, stored under the serial's prefix, and the state that points at them.
 */
async function issued(keyType: KeyType, keyUsages: number): Promise<IssuanceState> {
  const key: GeneratedCertificateKey = await generateCertificateKey(keyType);
  const { leafPem, chainPem } = await issuer.issue({ publicKey: key.keyPair.publicKey, keyUsages });
  serial += 1;
  const storeKey = `certificates/web/${serial.toString(16)}`;
  store.objects.set(`${storeKey}/fullchain.pem`, `${leafPem}${chainPem}`);
  store.objects.set(`${storeKey}/privkey.pem`, key.privateKeyPem);
  return {
    certificateId: 'web',
    action: 'renew',
    domains: ['example.org'],
    keyType,
    regions: [REGION],
    directoryUrl: TEST_WORKFLOW_CONFIG.defaultDirectoryUrl,
    retryAfterSeconds: 0,
    polls: 0,
    execution: { id: `exec-${serial}` },
    certificate: { storeKey, serial: serial.toString(16), notAfter: '2099-01-01T00:00:00.000Z' },
  };
}

beforeAll(async () => {
  issuer = await createKeyUsageIssuer();
});

beforeEach(() => {
  acm = installAcmFake({ region: REGION });
  store = new MemoryCertificateStore();
  registry = new MemoryRegistry();
  serial = 0;
});

afterEach(() => {
  acm.restore();
});

describe('importToAcm after a change of ACME profile', () => {
  it('imports an RSA certificate that lost keyEncipherment under a new ARN, tagged, and says why', async () => {
    const first = await importToAcm(await issued('RSA_2048', CLASSIC_RSA), deps());
    const previousArn = first.certificateArn ?? '';

    const next = await importToAcm(await issued('RSA_2048', TLSSERVER), deps());

    const arn = next.certificateArn ?? '';
    expect(arn).not.toBe(previousArn);
    expect(next.certificateArns).toEqual({ [REGION]: arn });
    expect(next.renewal).toBe(true);
    expect(next.arnReplaced).toEqual({
      region: REGION,
      previousArn,
      reason: expect.stringMatching(/Key Usage.*keyEncipherment.*new ARN.*Point its users/),
    });
    expect(acm.certificates.get(arn)?.tags).toEqual({
      [MANAGED_BY_TAG]: TEST_WORKFLOW_CONFIG.managedByTag,
      [CERTIFICATE_ID_TAG]: 'web',
    });
    expect(acm.certificates.get(previousArn)?.importCount).toBe(1);
    expect(registry.records.get('web')).toMatchObject({
      status: 'imported',
      acmArns: { [REGION]: arn },
      importedKeyType: 'RSA_2048',
      arnReplaced: next.arnReplaced,
      issued: { importedArn: arn },
    });
  });

  it('announces the new ARN in the Certificate Renewed event', async () => {
    await importToAcm(await issued('RSA_2048', CLASSIC_RSA), deps());
    const imported = await importToAcm(await issued('RSA_2048', TLSSERVER), deps());
    registry.records.set('web', {
      ...(registry.records.get('web') as CertificateRecord),
      lock: { executionId: imported.execution?.id ?? '', expiresAt: '2099-01-01T00:00:00.000Z' },
    });
    const events: { detailType: string; detail: Readonly<Record<string, unknown>> }[] = [];

    await cleanup(imported, {
      ...deps(),
      dns: {} as never,
      leases: {} as never,
      events: { publish: async (event) => void events.push(event) },
      metrics: { add: () => {} },
    });

    expect(events).toEqual([
      expect.objectContaining({
        detailType: EVENT_RENEWED,
        detail: expect.objectContaining({ arnReplaced: imported.arnReplaced }),
      }),
    ]);
  });

  it('re-imports an ECDSA certificate that lost keyEncipherment into the same ARN', async () => {
    const first = await importToAcm(await issued('EC_P256', digitalSignature | keyEncipherment), deps());

    const next = await importToAcm(await issued('EC_P256', digitalSignature), deps());

    expect(next.certificateArn).toBe(first.certificateArn);
    expect(next.arnReplaced).toBeUndefined();
    expect(acm.certificates.get(first.certificateArn ?? '')?.importCount).toBe(2);
    expect(registry.records.get('web')).not.toHaveProperty('arnReplaced');
  });

  it('re-imports an RSA certificate that keeps its Key Usage into the same ARN', async () => {
    const first = await importToAcm(await issued('RSA_2048', TLSSERVER), deps());

    const next = await importToAcm(await issued('RSA_2048', TLSSERVER), deps());

    expect(next.certificateArn).toBe(first.certificateArn);
    expect(next.arnReplaced).toBeUndefined();
  });

  it('still gives a key type change a new ARN, with the key types as the reason', async () => {
    const first = await importToAcm(await issued('EC_P256', digitalSignature), deps());

    const next = await importToAcm(await issued('RSA_2048', CLASSIC_RSA), deps());

    expect(next.certificateArn).not.toBe(first.certificateArn);
    expect(next.arnReplaced?.reason).toMatch(/key type changed from EC_P256 to RSA_2048/);
    expect(acm.calls.DescribeCertificate).toBeUndefined();
  });
});
