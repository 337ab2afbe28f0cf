import { beforeAll, describe, expect, it } from 'vitest';
import {
  type GeneratedCertificateKey,
  generateCertificateKey,
} from '../../../lambdas/core/crypto/certificate-key.js';
import { CertificateMismatchError } from '../../../lambdas/core/errors.js';
import { waitForCertificate } from '../../../lambdas/core/workflow/wait-for-certificate.js';
import type { TestCa } from '../../fakes/test-ca.js';
import { CERTIFICATE_URL, PEM_HEADERS } from '../../support/acme-fixtures.js';
import { ScriptedTransport } from '../../support/scripted-transport.js';
import { createTestSigner } from '../../support/test-signer.js';
import { TEST_WORKFLOW_CONFIG } from '../../support/workflow-config.js';
import { issuanceState, orderRef, SILENT_LOG } from '../../support/workflow-fixtures.js';
import { createCaWithKeyIdentifiers } from '../crypto/untrusted-issuer.js';
import { MemoryCertificateStore } from '../fakes/memory-certificate-store.js';
import { MemoryRegistry } from '../fakes/memory-registry.js';

/**
 * A certificate the checks refuse is discarded: not stored, not recorded as issued (so ImportToAcm
 * never sees it), and its order is dropped from the registry, so the next run orders anew instead
 * of downloading the same certificate again.
 */

const DAY_MS = 24 * 60 * 60 * 1000;
const NOW = new Date();
const KEY_REF = 'orders/app/1/privkey.pem';
const domains = ['app.example.com'];
const STATE = issuanceState({
  certificateId: 'app',
  action: 'renew',
  domains,
  order: orderRef('valid'),
  privateKeyRef: KEY_REF,
});

let ca: TestCa;
let key: GeneratedCertificateKey;

beforeAll(async () => {
  [ca, key] = await Promise.all([createCaWithKeyIdentifiers('Refusal'), generateCertificateKey('EC_P256')]);
});

async function run(fullchainPem: string) {
  const transport = new ScriptedTransport().expect('POST', CERTIFICATE_URL, {
    headers: PEM_HEADERS,
    body: fullchainPem,
  });
  const store = new MemoryCertificateStore([[KEY_REF, key.privateKeyPem]]);
  const registry = new MemoryRegistry();
  const outcome = await waitForCertificate(STATE, {
    transport,
    signer: await createTestSigner(),
    store,
    registry,
    clock: { now: () => NOW },
    config: TEST_WORKFLOW_CONFIG,
    log: SILENT_LOG,
  }).catch((error: unknown) => error);
  return { outcome, registryUpdates: registry.updates, stored: store.writes };
}

describe('WaitForCertificate with a certificate it must refuse', () => {
  it('stores and records a good certificate as issued', async () => {
    const { fullchainPem } = await ca.issue({ domains, publicKey: key.keyPair.publicKey });

    const { outcome, registryUpdates, stored } = await run(fullchainPem);

    expect(outcome).toMatchObject({ certificate: { serial: expect.any(String) } });
    expect(stored).toHaveLength(2);
    expect(registryUpdates).toEqual([expect.objectContaining({ status: 'issued', pendingOrder: null })]);
  });

  it.each([
    [
      'expired',
      { notBefore: new Date(NOW.getTime() - 91 * DAY_MS), notAfter: new Date(NOW.getTime() - DAY_MS) },
    ],
    [
      'not valid yet',
      { notBefore: new Date(NOW.getTime() + DAY_MS), notAfter: new Date(NOW.getTime() + 91 * DAY_MS) },
    ],
  ])(
    'discards a certificate that is %s: not stored, not issued, its order dropped',
    async (_label, dates) => {
      const { fullchainPem } = await ca.issue({ domains, publicKey: key.keyPair.publicKey, ...dates });

      const { outcome, registryUpdates, stored } = await run(fullchainPem);

      expect(outcome).toBeInstanceOf(CertificateMismatchError);
      expect(stored).toEqual([]);
      expect(registryUpdates).toEqual([{ pendingOrder: null }]);
    },
  );

  it('discards a leaf that came without its issuer', async () => {
    const { leafPem } = await ca.issue({ domains, publicKey: key.keyPair.publicKey });

    const { outcome, registryUpdates, stored } = await run(leafPem);

    expect(outcome).toBeInstanceOf(CertificateMismatchError);
    expect((outcome as Error).message).toMatch(/without the certificate that issued it/);
    expect(stored).toEqual([]);
    expect(registryUpdates).toEqual([{ pendingOrder: null }]);
  });
});
