import { describe, expect, it } from 'vitest';
import { OrderMismatchError } from '../../../lambdas/core/errors.js';
import { createOrder } from '../../../lambdas/core/workflow/create-order.js';
import { FakeDnsResolver } from '../../fakes/dns-resolver-fake.js';
import {
  AUTHORIZATION_URL,
  acmeOrder,
  CA,
  DIRECTORY,
  JSON_HEADERS,
  ORDER_URL,
  pendingAuthorization,
} from '../../support/acme-fixtures.js';
import { ScriptedTransport } from '../../support/scripted-transport.js';
import { createTestSigner } from '../../support/test-signer.js';
import { TEST_WORKFLOW_CONFIG } from '../../support/workflow-config.js';
import { issuanceState, SILENT_LOG } from '../../support/workflow-fixtures.js';
import { MemoryDnsZones } from '../fakes/memory-dns-zones.js';
import { MemoryRegistry } from '../fakes/memory-registry.js';

/**
 * CreateOrder does not take the CA's word for which names an order is for: an authorization for
 * a name that is not in the order would otherwise become a TXT record, possibly in another of the
 * account's hosted zones.
 */

const STATE = issuanceState({ certificateId: 'app', domains: ['app.example.com'] });
const ORDER = acmeOrder('pending', ['app.example.com']);

async function setup() {
  const transport = new ScriptedTransport();
  const resolver = new FakeDnsResolver();
  const dns = new MemoryDnsZones([
    { id: 'ZCOM', name: 'example.com.', privateZone: false },
    { id: 'ZNET', name: 'example.net.', privateZone: false },
  ]);
  const deps = {
    transport,
    signer: await createTestSigner(),
    dns,
    resolver,
    registry: new MemoryRegistry(),
    clock: { now: () => new Date('2030-03-01T12:00:00Z') },
    config: TEST_WORKFLOW_CONFIG,
    log: SILENT_LOG,
  };
  return { transport, resolver, deps, dns };
}

function scriptNewOrder(transport: ScriptedTransport, order: object): ScriptedTransport {
  return transport.expect('POST', DIRECTORY.newOrder, {
    status: 201,
    headers: { ...JSON_HEADERS, location: ORDER_URL },
    body: order,
  });
}

function authorizationFor(value: string) {
  return { headers: JSON_HEADERS, body: pendingAuthorization(value) };
}

describe('CreateOrder against a CA that lies about the order', () => {
  it('refuses an authorization for a name that is not in the order, before placing any record for it', async () => {
    const { transport, resolver, deps, dns } = await setup();
    scriptNewOrder(transport, ORDER).expect(
      'POST',
      AUTHORIZATION_URL,
      authorizationFor('victim.example.net'),
    );

    const error = await createOrder(STATE, deps).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(OrderMismatchError);
    expect((error as Error).message).toContain(
      `The authorization ${AUTHORIZATION_URL} is for "victim.example.net", which is not an identifier of the order (app.example.com)`,
    );
    expect(resolver.queries.filter((query) => query.includes('victim'))).toEqual([]);
    expect(dns.writes).toEqual([]);
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
    scriptNewOrder(transport, { ...ORDER, authorizations: [AUTHORIZATION_URL, `${CA}/authz/2`] });

    await expect(createOrder(STATE, deps)).rejects.toThrow(/2 authorizations for 1 identifiers/);
    expect(transport.requests).toHaveLength(1);
  });

  it('still orders normally when every authorization is one of the order', async () => {
    const { transport, deps } = await setup();
    scriptNewOrder(transport, ORDER).expect('POST', AUTHORIZATION_URL, authorizationFor('APP.example.com'));

    const state = await createOrder(STATE, deps);

    expect(state.challenges).toEqual([expect.objectContaining({ zoneId: 'ZCOM' })]);
  });
});
