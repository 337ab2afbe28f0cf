import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { base64url } from 'jose';
import { beforeEach, describe, expect, it } from 'vitest';
import { Pkcs10CertificateRequest } from '../../../lambdas/core/crypto/x509.js';
import { AcmeConnectionError, OrderNotReadyError } from '../../../lambdas/core/errors.js';
import { finalize } from '../../../lambdas/core/workflow/finalize.js';
import { orderKeyKey } from '../../../lambdas/core/workflow/store-keys.js';
import { acmeOrder, CERTIFICATE_URL, FINALIZE_URL, ORDER_URL } from '../../support/acme-fixtures.js';
import { problemReply, ScriptedTransport } from '../../support/scripted-transport.js';
import { createTestSigner } from '../../support/test-signer.js';
import { TEST_WORKFLOW_CONFIG } from '../../support/workflow-config.js';
import { issuanceState, orderRef, SILENT_LOG } from '../../support/workflow-fixtures.js';
import { MemoryCertificateStore } from '../fakes/memory-certificate-store.js';
import { MemoryRegistry } from '../fakes/memory-registry.js';

const KEY_REF = orderKeyKey('web', ORDER_URL);
const NOW = new Date('2030-01-01T00:00:00.000Z');
const state = issuanceState({
  nonce: 'nonce-0',
  execution: { id: 'exec-1', startedAt: NOW.toISOString() },
  order: orderRef('ready'),
});

let transport: ScriptedTransport;
let store: MemoryCertificateStore;
let deps: Parameters<typeof finalize>[1];

beforeEach(async () => {
  transport = new ScriptedTransport();
  store = new MemoryCertificateStore();
  deps = {
    transport,
    signer: await createTestSigner(),
    certificateKeys: { forKey: () => ({}) as never },
    store,
    registry: new MemoryRegistry(),
    clock: { now: () => NOW },
    config: TEST_WORKFLOW_CONFIG,
    log: SILENT_LOG,
  };
});

function freshKeyPem(): string {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .privateKey.export({ format: 'pem', type: 'pkcs8' })
    .toString();
}

/** The SubjectPublicKeyInfo of the CSR in a finalize request, and of a stored PEM key. */
function csrPublicKey(body: string | undefined): string {
  const payload = JSON.parse(Buffer.from(JSON.parse(body ?? '{}').payload, 'base64url').toString('utf8'));
  const csr = new Pkcs10CertificateRequest(base64url.decode(payload.csr));
  return Buffer.from(csr.publicKey.rawData).toString('base64');
}
function storedPublicKey(): string {
  const pem = store.objects.get(KEY_REF) ?? '';
  return createPublicKey(pem).export({ format: 'der', type: 'spki' }).toString('base64');
}

describe('Finalize after the CA’s answer to finalize was lost', () => {
  it('asks the CA first, and does not finalize again or replace the key when the order is processing', async () => {
    transport.expect(
      'POST',
      FINALIZE_URL,
      new AcmeConnectionError('connection reset after the request was sent'),
    );
    await expect(finalize(state, deps)).rejects.toBeInstanceOf(AcmeConnectionError);
    const firstKey = store.objects.get(KEY_REF);
    const firstCsr = csrPublicKey(transport.requests[0]?.body);

    transport.expect('POST', ORDER_URL, { body: acmeOrder('processing'), headers: { 'retry-after': '2' } });
    const retried = await finalize(state, deps);

    expect(transport.pending).toBe(0);
    expect(store.objects.get(KEY_REF)).toBe(firstKey);
    expect(store.writes).toEqual([KEY_REF]);
    expect(firstCsr).toBe(storedPublicKey());
    expect(retried.order?.status).toBe('processing');
    expect(retried.privateKeyRef).toBe(KEY_REF);
  });

  it('goes on to download when the CA already made the order valid', async () => {
    await store.create(KEY_REF, freshKeyPem());
    transport.expect('POST', ORDER_URL, { body: acmeOrder('valid') });

    const retried = await finalize(state, deps);

    expect(retried.order).toMatchObject({ status: 'valid', certificate: CERTIFICATE_URL });
    expect(transport.pending).toBe(0);
  });

  it('finalizes with the stored key when the CA never received the CSR', async () => {
    transport.expect('POST', FINALIZE_URL, new AcmeConnectionError('connection refused'));
    await expect(finalize(state, deps)).rejects.toBeInstanceOf(AcmeConnectionError);
    const firstKey = store.objects.get(KEY_REF);

    transport
      .expect('POST', ORDER_URL, { body: acmeOrder('ready') })
      .expect('POST', FINALIZE_URL, { body: acmeOrder('processing') });
    const retried = await finalize(state, deps);

    expect(store.objects.get(KEY_REF)).toBe(firstKey);
    expect(csrPublicKey(transport.requests.at(-1)?.body)).toBe(storedPublicKey());
    expect(retried.order?.status).toBe('processing');
  });

  it('goes on as finalized when the CA answers orderNotReady because it is processing the order already', async () => {
    transport
      .expect('POST', FINALIZE_URL, problemReply('orderNotReady', { status: 403 }))
      .expect('POST', ORDER_URL, { body: acmeOrder('processing') });

    const result = await finalize(state, deps);

    expect(result.order?.status).toBe('processing');
    expect(result.privateKeyRef).toBe(KEY_REF);
  });

  it('still fails with orderNotReady when the order is not past ready', async () => {
    transport
      .expect('POST', FINALIZE_URL, problemReply('orderNotReady', { status: 403 }))
      .expect('POST', ORDER_URL, { body: acmeOrder('pending') });

    await expect(finalize(state, deps)).rejects.toBeInstanceOf(OrderNotReadyError);
  });

  it('never writes a second key for an order: a key another attempt stored first is the one used', async () => {
    const theirs = freshKeyPem();
    const racing = Object.assign(Object.create(store) as MemoryCertificateStore, {
      // The key appears between our read and our write.
      get: async (key: string) => (racing.raced ? store.objects.get(key) : undefined),
      raced: false,
      create: async (key: string, body: string) => {
        store.objects.set(key, theirs);
        racing.raced = true;
        return store.create(key, body);
      },
    });
    transport
      .expect('POST', ORDER_URL, { body: acmeOrder('ready') })
      .expect('POST', FINALIZE_URL, { body: acmeOrder('processing') });

    await finalize(state, { ...deps, store: racing });

    expect(store.objects.get(KEY_REF)).toBe(theirs);
    expect(csrPublicKey(transport.requests.at(-1)?.body)).toBe(storedPublicKey());
  });
});
