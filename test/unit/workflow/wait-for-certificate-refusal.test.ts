import { beforeAll, describe, expect, it } from 'vitest';
import type { AcmeDirectory } from '../../../lambdas/core/acme/types.js';
import {
  type GeneratedCertificateKey,
  generateCertificateKey,
} from '../../../lambdas/core/crypto/certificate-key.js';
import { CertificateMismatchError } from '../../../lambdas/core/errors.js';
import type {
  CertificateRecordChanges,
  CertificateRegistry,
  CertificateStore,
} from '../../../lambdas/core/ports.js';
import type { IssuanceState } from '../../../lambdas/core/state.js';
import type { WorkflowLogger } from '../../../lambdas/core/workflow/deps.js';
import { waitForCertificate } from '../../../lambdas/core/workflow/wait-for-certificate.js';
import type { TestCa } from '../../fakes/test-ca.js';
import { ScriptedTransport } from '../../support/scripted-transport.js';
import { createTestSigner } from '../../support/test-signer.js';
import { TEST_WORKFLOW_CONFIG } from '../../support/workflow-config.js';
import { createCaWithKeyIdentifiers } from '../crypto/untrusted-issuer.js';

/**
 * A certificate the checks refuse is discarded: not stored, not recorded as issued (so ImportToAcm
 * never sees it), and its order is dropped from the registry, so the next run orders anew instead
 * of downloading the same certificate again.
 */

const CA = 'https://ca.example';
const DIRECTORY: AcmeDirectory = {
  newNonce: `${CA}/new-nonce`,
  newAccount: `${CA}/new-account`,
  newOrder: `${CA}/new-order`,
};
const DAY_MS = 24 * 60 * 60 * 1000;
const NOW = new Date();
const CERTIFICATE_URL = `${CA}/cert/1`;
const KEY_REF = 'orders/app/1/privkey.pem';
const domains = ['app.example.com'];
const STATE: IssuanceState = {
  certificateId: 'app',
  action: 'renew',
  domains,
  keyType: 'EC_P256',
  regions: ['eu-west-1'],
  directoryUrl: `${CA}/directory`,
  directory: DIRECTORY,
  accountUrl: `${CA}/acct/1`,
  nonce: 'carried',
  execution: { id: 'exec-1' },
  retryAfterSeconds: 0,
  polls: 0,
  order: {
    url: `${CA}/order/1`,
    finalize: `${CA}/order/1/finalize`,
    status: 'valid',
    authorizations: [`${CA}/authz/1`],
    certificate: CERTIFICATE_URL,
  },
  privateKeyRef: KEY_REF,
};
const log: WorkflowLogger = { debug: () => {}, info: () => {}, warn: () => {} };

let ca: TestCa;
let key: GeneratedCertificateKey;

beforeAll(async () => {
  [ca, key] = await Promise.all([createCaWithKeyIdentifiers('Refusal'), generateCertificateKey('EC_P256')]);
});

async function run(fullchainPem: string) {
  const transport = new ScriptedTransport().expect('POST', CERTIFICATE_URL, {
    headers: { 'content-type': 'application/pem-certificate-chain' },
    body: fullchainPem,
  });
  const objects = new Map<string, string>([[KEY_REF, key.privateKeyPem]]);
  const store: CertificateStore = {
    put: async (name, body) => {
      objects.set(name, body);
    },
    create: async (name, body) => {
      if (objects.has(name)) return 'exists';
      objects.set(name, body);
      return 'created';
    },
    get: async (name) => objects.get(name),
  };
  const registryUpdates: CertificateRecordChanges[] = [];
  const registry = {
    update: async (_id: string, changes: CertificateRecordChanges) => {
      registryUpdates.push(changes);
    },
  } as unknown as CertificateRegistry;
  const outcome = await waitForCertificate(STATE, {
    transport,
    signer: await createTestSigner(),
    store,
    registry,
    clock: { now: () => NOW },
    config: TEST_WORKFLOW_CONFIG,
    log,
  }).catch((error: unknown) => error);
  return { outcome, registryUpdates, stored: [...objects.keys()].filter((name) => name !== KEY_REF) };
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
