import { describe, expect, it } from 'vitest';
import type { AcmeDirectory } from '../../../lambdas/core/acme/types.js';
import { CnameTargetNotWritableError } from '../../../lambdas/core/errors.js';
import type {
  CertificateRecordChanges,
  CertificateRegistry,
  DnsZones,
  HostedZone,
} from '../../../lambdas/core/ports.js';
import type { IssuanceState } from '../../../lambdas/core/state.js';
import { createOrder } from '../../../lambdas/core/workflow/create-order.js';
import type { WorkflowLogger } from '../../../lambdas/core/workflow/deps.js';
import { FakeDnsResolver } from '../../fakes/dns-resolver-fake.js';
import { ScriptedTransport } from '../../support/scripted-transport.js';
import { createTestSigner } from '../../support/test-signer.js';
import { TEST_WORKFLOW_CONFIG } from '../../support/workflow-config.js';

/**
 * CreateOrder plans where each dns-01 TXT record goes before it asks the CA for anything: a
 * `_acme-challenge` CNAME whose target the IAM policy would not let PublishChallenges write is
 * refused there, before an order exists or Route 53 is written.
 */

const CA = 'https://ca.example';
const DIRECTORY: AcmeDirectory = {
  newNonce: `${CA}/new-nonce`,
  newAccount: `${CA}/new-account`,
  newOrder: `${CA}/new-order`,
  revokeCert: `${CA}/revoke-cert`,
};
const JSON_HEADERS = { 'content-type': 'application/json' };
const ZONES: HostedZone[] = [
  { id: 'ZCOM', name: 'example.com.', privateZone: false },
  { id: 'ZVAL', name: 'validation.example.net.', privateZone: false },
  { id: 'ZDELEGATED', name: 'delegated.example.net.', privateZone: false },
];
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
const log: WorkflowLogger = { debug: () => {}, info: () => {}, warn: () => {} };

async function setup(cnameTarget: string) {
  const transport = new ScriptedTransport();
  const resolver = new FakeDnsResolver().setCname('_acme-challenge.app.example.com', cnameTarget);
  const zoneWrites: string[] = [];
  const dns: DnsZones = {
    listPublicZones: async () => ZONES,
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
    log,
  };
  return { transport, deps, zoneWrites, registryUpdates };
}

/** The CA's side of a new order for app.example.com with one pending dns-01 challenge. */
function scriptOrder(transport: ScriptedTransport): void {
  transport
    .expect('POST', DIRECTORY.newOrder, {
      status: 201,
      headers: { ...JSON_HEADERS, location: `${CA}/order/1` },
      body: {
        status: 'pending',
        identifiers: [{ type: 'dns', value: 'app.example.com' }],
        authorizations: [`${CA}/authz/1`],
        finalize: `${CA}/order/1/finalize`,
      },
    })
    .expect('POST', `${CA}/authz/1`, {
      headers: JSON_HEADERS,
      body: {
        identifier: { type: 'dns', value: 'app.example.com' },
        status: 'pending',
        challenges: [{ type: 'dns-01', url: `${CA}/chall/1`, status: 'pending', token: 'tok' }],
      },
    });
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
    const { transport, deps, zoneWrites, registryUpdates } = await setup('x.delegated.example.net');

    const error = await createOrder(STATE, withValidationZones(deps, ['ZVAL'])).catch((caught) => caught);

    expect(error).toBeInstanceOf(CnameTargetNotWritableError);
    expect(error.message).toContain('_acme-challenge.app.example.com is a CNAME to x.delegated.example.net');
    expect(error.message).toContain('hosted zone ZDELEGATED');
    expect(error.message).toContain('add ZDELEGATED to validationZoneIds');
    expect(transport.requests).toEqual([]);
    expect(registryUpdates).toEqual([]);
    expect(zoneWrites).toEqual([]);
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
