import { describe, expect, it } from 'vitest';
import type { AcmeDirectory } from '../../../lambdas/core/acme/types.js';
import { OrderMismatchError } from '../../../lambdas/core/errors.js';
import type { CertificateRecordChanges, CertificateRegistry, DnsZones } from '../../../lambdas/core/ports.js';
import type { IssuanceState } from '../../../lambdas/core/state.js';
import { createOrder } from '../../../lambdas/core/workflow/create-order.js';
import type { WorkflowLogger } from '../../../lambdas/core/workflow/deps.js';
import { FakeDnsResolver } from '../../fakes/dns-resolver-fake.js';
import { ScriptedTransport } from '../../support/scripted-transport.js';
import { createTestSigner } from '../../support/test-signer.js';
import { TEST_WORKFLOW_CONFIG } from '../../support/workflow-config.js';

/**
 * CreateOrder does not take the CA's word for which names an order is for: an authorization for
 * a name that is not in the order would otherwise become a TXT record, possibly in another of the
 * account's hosted zones.
 */

const CA = 'https://ca.example';
const DIRECTORY: AcmeDirectory = {
  newNonce: `${CA}/new-nonce`,
  newAccount: `${CA}/new-account`,
  newOrder: `${CA}/new-order`,
};
const JSON_HEADERS = { 'content-type': 'application/json' };
const STATE: IssuanceState = {
  certificateId: 'app',
  action: 'issue',
  domains: ['app.example.com'],
  keyType: 'EC_P256',
  regions: ['eu-west-1'],
  directoryUrl: `${CA}/directory`,
  directory: DIRECTORY,
  accountUrl: `${CA}/acct/1`,
  nonce: 'carried',
  execution: { id: 'exec-1' },
  retryAfterSeconds: 0,
  polls: 0,
};
const ORDER = {
  status: 'pending',
  identifiers: [{ type: 'dns', value: 'app.example.com' }],
  authorizations: [`${CA}/authz/1`],
  finalize: `${CA}/order/1/finalize`,
};
const log: WorkflowLogger = { debug: () => {}, info: () => {}, warn: () => {} };

async function setup() {
  const transport = new ScriptedTransport();
  const resolver = new FakeDnsResolver();
  const zoneWrites: string[] = [];
  const dns: DnsZones = {
    listPublicZones: async () => [
      { id: 'ZCOM', name: 'example.com.', privateZone: false },
      { id: 'ZNET', name: 'example.net.', privateZone: false },
    ],
    publishTxt: async (zoneId) => {
      zoneWrites.push(zoneId);
      return 'C1';
    },
    isChangeInSync: async () => true,
    removeTxt: async (zoneId) => {
      zoneWrites.push(zoneId);
    },
  };
  const registryUpdates: CertificateRecordChanges[] = [];
  const registry = {
    get: async () => undefined,
    update: async (_id: string, changes: CertificateRecordChanges) => {
      registryUpdates.push(changes);
    },
  } as unknown as CertificateRegistry;
  const deps = {
    transport,
    signer: await createTestSigner(),
    dns,
    resolver,
    registry,
    clock: { now: () => new Date('2030-03-01T12:00:00Z') },
    config: TEST_WORKFLOW_CONFIG,
    log,
  };
  return { transport, resolver, deps, zoneWrites };
}

function scriptNewOrder(transport: ScriptedTransport, order: object): ScriptedTransport {
  return transport.expect('POST', DIRECTORY.newOrder, {
    status: 201,
    headers: { ...JSON_HEADERS, location: `${CA}/order/1` },
    body: order,
  });
}

function authorizationFor(value: string) {
  return {
    headers: JSON_HEADERS,
    body: {
      identifier: { type: 'dns', value },
      status: 'pending',
      challenges: [{ type: 'dns-01', url: `${CA}/chall/1`, status: 'pending', token: 'tok' }],
    },
  };
}

describe('CreateOrder against a CA that lies about the order', () => {
  it('refuses an authorization for a name that is not in the order, before placing any record for it', async () => {
    const { transport, resolver, deps, zoneWrites } = await setup();
    scriptNewOrder(transport, ORDER).expect('POST', `${CA}/authz/1`, authorizationFor('victim.example.net'));

    const error = await createOrder(STATE, deps).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(OrderMismatchError);
    expect((error as Error).message).toContain(
      `The authorization ${CA}/authz/1 is for "victim.example.net", which is not an identifier of the order (app.example.com)`,
    );
    expect(resolver.queries.filter((query) => query.includes('victim'))).toEqual([]);
    expect(zoneWrites).toEqual([]);
  });

  it('refuses an order whose identifiers are not the requested names, before reading any authorization', async () => {
    const { transport, deps } = await setup();
    scriptNewOrder(transport, {
      ...ORDER,
      identifiers: [{ type: 'dns', value: 'victim.example.net' }],
    });

    const error = await createOrder(STATE, deps).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(OrderMismatchError);
    expect((error as Error).message).toMatch(/missing the requested names app\.example\.com/);
    expect(transport.requests).toHaveLength(1);
  });

  it('refuses an order with an authorization too many', async () => {
    const { transport, deps } = await setup();
    scriptNewOrder(transport, { ...ORDER, authorizations: [`${CA}/authz/1`, `${CA}/authz/2`] });

    await expect(createOrder(STATE, deps)).rejects.toThrow(/2 authorizations for 1 identifiers/);
    expect(transport.requests).toHaveLength(1);
  });

  it('still orders normally when every authorization is one of the order', async () => {
    const { transport, deps } = await setup();
    scriptNewOrder(transport, ORDER).expect('POST', `${CA}/authz/1`, authorizationFor('APP.example.com'));

    const state = await createOrder(STATE, deps);

    expect(state.challenges).toEqual([expect.objectContaining({ zoneId: 'ZCOM' })]);
  });
});
