import { describe, expect, it } from 'vitest';
import { CnameTargetNotWritableError } from '../../../lambdas/core/errors.js';
import { createOrder } from '../../../lambdas/core/workflow/create-order.js';
import { FakeDnsResolver } from '../../fakes/dns-resolver-fake.js';
import {
  AUTHORIZATION_URL,
  acmeOrder,
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
 * CreateOrder plans where each dns-01 TXT record goes before it asks the CA for anything: a
 * `_acme-challenge` CNAME whose target the IAM policy would not let PublishChallenges write is
 * refused there, before an order exists or Route 53 is written.
 */

const NAME = 'app.example.com';
const STATE = issuanceState({ certificateId: 'app', domains: [NAME] });

async function setup(cnameTarget: string) {
  const transport = new ScriptedTransport();
  const dns = new MemoryDnsZones([
    { id: 'ZCOM', name: 'example.com.', privateZone: false },
    { id: 'ZVAL', name: 'validation.example.net.', privateZone: false },
    { id: 'ZDELEGATED', name: 'delegated.example.net.', privateZone: false },
  ]);
  const registry = new MemoryRegistry();
  const deps = {
    transport,
    signer: await createTestSigner(),
    dns,
    resolver: new FakeDnsResolver().setCname(`_acme-challenge.${NAME}`, cnameTarget),
    registry,
    clock: { now: () => new Date('2030-03-01T12:00:00Z') },
    log: SILENT_LOG,
  };
  return { transport, deps, dns, registry };
}

/** The CA's side of a new order for app.example.com with one pending dns-01 challenge. */
function scriptOrder(transport: ScriptedTransport): void {
  transport
    .expect('POST', DIRECTORY.newOrder, {
      status: 201,
      headers: { ...JSON_HEADERS, location: ORDER_URL },
      body: acmeOrder('pending', [NAME]),
    })
    .expect('POST', AUTHORIZATION_URL, { headers: JSON_HEADERS, body: pendingAuthorization(NAME) });
}

/** The deployment's settings with these validation zones (`VALIDATION_ZONE_IDS`). */
function withValidationZones<T extends object>(deps: T, validationZoneIds: string[]) {
  return { ...deps, config: { ...TEST_WORKFLOW_CONFIG, validationZoneIds } };
}

describe('CreateOrder with a delegated _acme-challenge', () => {
  it('orders a certificate whose CNAME points into a validation zone, writing at the target there', async () => {
    const { transport, deps } = await setup('app.validation.example.net');
    scriptOrder(transport);

    const state = await createOrder(STATE, withValidationZones(deps, ['ZVAL']));

    expect(state.challenges).toEqual([
      expect.objectContaining({
        zoneId: 'ZVAL',
        recordName: 'app.validation.example.net',
        delegatedFrom: '_acme-challenge.app.example.com',
      }),
    ]);
    expect(transport.pending).toBe(0);
  });

  it('refuses a CNAME target outside _acme-challenge.* in an ordinary zone before ordering or writing DNS', async () => {
    const { transport, deps, dns, registry } = await setup('x.delegated.example.net');

    const error = await createOrder(STATE, withValidationZones(deps, ['ZVAL'])).catch((caught) => caught);

    expect(error).toBeInstanceOf(CnameTargetNotWritableError);
    expect(error.message).toContain('_acme-challenge.app.example.com is a CNAME to x.delegated.example.net');
    expect(error.message).toContain('hosted zone ZDELEGATED');
    expect(error.message).toContain('add ZDELEGATED to validationZoneIds');
    expect(transport.requests).toEqual([]);
    expect(registry.updates).toEqual([]);
    expect(dns.writes).toEqual([]);
  });

  it('orders a certificate whose CNAME target in an ordinary zone is itself an _acme-challenge name', async () => {
    const { transport, deps } = await setup('_acme-challenge.app.delegated.example.net');
    scriptOrder(transport);

    const state = await createOrder(STATE, withValidationZones(deps, []));

    expect(state.challenges).toEqual([
      expect.objectContaining({
        zoneId: 'ZDELEGATED',
        recordName: '_acme-challenge.app.delegated.example.net',
      }),
    ]);
  });

  it('leaves a CNAME into a zone of another account, written through its role, to that account', async () => {
    const { transport, deps } = await setup('x.delegated.example.net');
    scriptOrder(transport);

    const state = await createOrder(
      { ...STATE, zoneRoles: { ZDELEGATED: 'arn:aws:iam::111122223333:role/acme-dns' } },
      withValidationZones(deps, []),
    );

    expect(state.challenges).toEqual([expect.objectContaining({ zoneId: 'ZDELEGATED' })]);
  });
});
