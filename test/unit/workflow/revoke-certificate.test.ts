import { base64url } from 'jose';
import { describe, expect, it } from 'vitest';
import { toPem } from '../../../lambdas/core/crypto/pem.js';
import { UnauthorizedError } from '../../../lambdas/core/errors.js';
import { revokeCertificate } from '../../../lambdas/core/workflow/revoke-certificate.js';
import { CA } from '../../support/acme-fixtures.js';
import { problemReply, ScriptedTransport } from '../../support/scripted-transport.js';
import { createTestSigner } from '../../support/test-signer.js';
import { issuanceState, SILENT_LOG } from '../../support/workflow-fixtures.js';
import { MemoryCertificateStore } from '../fakes/memory-certificate-store.js';
import { MemoryRegistry } from '../fakes/memory-registry.js';

const LEAF = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]);
const ISSUER = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x02]);
const NOW = new Date('2030-03-01T12:00:00Z');
const STATE = issuanceState({
  action: 'revoke',
  regions: ['us-east-1'],
  revokeReason: 1,
  certificate: { storeKey: 'certificates/web/0a1b', serial: '0A1B', notAfter: '2030-05-01T00:00:00Z' },
});

async function setup() {
  const transport = new ScriptedTransport();
  const store = new MemoryCertificateStore([
    ['certificates/web/0a1b/fullchain.pem', `${toPem(LEAF, 'CERTIFICATE')}${toPem(ISSUER, 'CERTIFICATE')}`],
  ]);
  const registry = new MemoryRegistry();
  const deps = {
    transport,
    signer: await createTestSigner(),
    store,
    registry,
    clock: { now: () => NOW },
    log: SILENT_LOG,
  };
  return { transport, updates: registry.updates, deps };
}

describe('revokeCertificate step', () => {
  it('revokes the leaf of the stored chain, makes the certificate due now and goes on as a renew', async () => {
    const { transport, updates, deps } = await setup();
    transport.expect('POST', `${CA}/revoke-cert`, { status: 200, body: '' });

    const next = await revokeCertificate(STATE, deps);

    const jws = JSON.parse(transport.requests[0]?.body ?? '{}') as { payload: string };
    expect(JSON.parse(new TextDecoder().decode(base64url.decode(jws.payload)))).toEqual({
      certificate: base64url.encode(LEAF),
      reason: 1,
    });
    expect(updates).toEqual([
      { status: 'revoked', issued: null, nextRenewalAt: NOW.toISOString(), nextAttemptAt: null },
    ]);
    expect(next.action).toBe('renew');
    expect(next.certificate).toBeUndefined();
    expect(next.revokeReason).toBeUndefined();
    expect(next.revoked).toEqual({ serial: '0A1B', reason: 1 });
    expect(next.nonce).toBe('nonce-1');
  });

  it('counts a certificate the CA already revoked as revoked', async () => {
    const { transport, updates, deps } = await setup();
    transport.expect('POST', `${CA}/revoke-cert`, problemReply('alreadyRevoked'));

    const next = await revokeCertificate(STATE, deps);

    expect(next.revoked).toEqual({ serial: '0A1B', reason: 1 });
    expect(updates).toHaveLength(1);
  });

  it('fails with the CA’s problem, changing nothing, when the CA refuses', async () => {
    const { transport, updates, deps } = await setup();
    transport.expect('POST', `${CA}/revoke-cert`, problemReply('unauthorized', { status: 403 }));

    await expect(revokeCertificate(STATE, deps)).rejects.toBeInstanceOf(UnauthorizedError);
    expect(updates).toEqual([]);
  });
});
