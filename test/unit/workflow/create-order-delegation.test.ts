import { describe, expect, it } from 'vitest';
import { hashedAccountUri, persistRecordValue } from '../../../lambdas/core/acme/dns-persist.js';
import { jwkThumbprint } from '../../../lambdas/core/acme/key-authorization.js';
import {
  CnameTargetNotWritableError,
  InvalidInputError,
  PersistRecordMissingError,
} from '../../../lambdas/core/errors.js';
import type { Signer } from '../../../lambdas/core/ports.js';
import { createOrder } from '../../../lambdas/core/workflow/create-order.js';
import { FakeDnsResolver } from '../../fakes/dns-resolver-fake.js';
import {
  ACCOUNT_URL,
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

/**
 * Where the stack may write no `_acme-challenge` record (every declared certificate uses
 * dns-persist-01, `DNS01_WRITES=none`), or none of a certificate's DNS at all (`externalDns`),
 * CreateOrder plans no dns-01 record, and what cannot be answered is refused before newOrder.
 */
describe('CreateOrder where the stack writes no dns-01 record', () => {
  const ACCOUNT_HASH_PREFIX = `${CA}/account-hash/`;
  const RECORD = `_validation-persist.${NAME}`;
  const PERSIST_DIRECTORY = {
    ...DIRECTORY,
    meta: { issuerDomainNames: ['ca.example'], accountHashPrefix: ACCOUNT_HASH_PREFIX },
  };
  const EXTERNAL = issuanceState({
    certificateId: 'app',
    domains: [NAME],
    challenge: 'dns-persist-01',
    externalDns: true,
    directory: PERSIST_DIRECTORY,
  });

  /** Our record for NAME, as an operator would create it. */
  async function ourRecord(signer: Pick<Signer, 'publicJwk'>): Promise<string> {
    const accountUri = hashedAccountUri({
      accountHashPrefix: ACCOUNT_HASH_PREFIX,
      accountUrl: ACCOUNT_URL,
      accountKeyThumbprint: await jwkThumbprint(await signer.publicJwk()),
      domain: NAME,
    });
    return persistRecordValue('ca.example', accountUri);
  }

  it('refuses a dns-01 certificate under DNS01_WRITES=none before any ACME request or DNS lookup', async () => {
    const { transport, deps, dns, registry } = await setup('app.validation.example.net');

    const error = await createOrder(STATE, {
      ...deps,
      config: { ...TEST_WORKFLOW_CONFIG, dns01Writes: false },
    }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as Error).message).toContain("challenge 'dns-persist-01'");
    expect(transport.requests).toEqual([]);
    expect(deps.resolver.queries).toEqual([]);
    expect(registry.updates).toEqual([]);
    expect(dns.writes).toEqual([]);
  });

  it('refuses an externalDns certificate whose persistent record is missing, with no newOrder', async () => {
    const { transport, deps, dns, registry } = await setup('x.delegated.example.net');
    deps.resolver.setNameServers('example.com');

    const error = await createOrder(EXTERNAL, { ...deps, config: TEST_WORKFLOW_CONFIG }).catch(
      (caught: unknown) => caught,
    );

    expect(error).toBeInstanceOf(PersistRecordMissingError);
    expect((error as PersistRecordMissingError).missing).toEqual([
      expect.objectContaining({ recordName: RECORD, value: await ourRecord(deps.signer) }),
    ]);
    expect(transport.requests).toEqual([]);
    expect(registry.updates).toEqual([]);
    expect(dns.writes).toEqual([]);
  });

  it('orders an externalDns certificate whose record stands, ignoring an _acme-challenge CNAME it never writes', async () => {
    const { transport, deps, dns } = await setup('x.delegated.example.net');
    deps.resolver.setNameServers('example.com');
    deps.resolver.setTxtEverywhere('example.com', RECORD, [await ourRecord(deps.signer)]);
    transport
      .expect('POST', DIRECTORY.newOrder, {
        status: 201,
        headers: { ...JSON_HEADERS, location: ORDER_URL },
        body: acmeOrder('pending', [NAME]),
      })
      .expect('POST', AUTHORIZATION_URL, {
        headers: JSON_HEADERS,
        body: {
          ...pendingAuthorization(NAME),
          challenges: [
            ...pendingAuthorization(NAME).challenges,
            {
              type: 'dns-persist-01',
              url: `${CA}/chall/persist`,
              status: 'pending',
              issuerDomainNames: ['ca.example'],
            },
          ],
        },
      });

    const state = await createOrder(EXTERNAL, {
      ...deps,
      config: { ...TEST_WORKFLOW_CONFIG, dns01Writes: false },
    });

    expect(state.challenges).toEqual([
      expect.objectContaining({ type: 'dns-persist-01', recordName: RECORD, inPlace: true }),
    ]);
    expect(deps.resolver.queries).not.toContain(`CNAME _acme-challenge.${NAME}`);
    expect(dns.writes).toEqual([]);
  });
});
