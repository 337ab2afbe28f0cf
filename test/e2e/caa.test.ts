import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { advertiseCaaIdentities, type CaProxy, startCaProxy } from '../harness/ca-proxy.js';
import { ChalltestsrvClient } from '../harness/challtestsrv.js';
import { usePebbleWorkflow } from '../harness/e2e-fixture.js';
import type { LocalIssuanceResult } from '../harness/local-issuance.js';

/**
 * The CAA pre-flight of CreateOrder against Pebble, with the CAA records served by challtestsrv
 * (the recursive resolver the functions ask). Debian's Pebble 2.4 neither checks CAA nor lists
 * `meta.caaIdentities`, so the proxy in front of it adds one identity to the directory: the
 * pre-flight is the only guard here, and these tests show it refusing what a CAA-checking CA
 * would refuse, before any order exists, and letting through what it would allow.
 */

const CAA_IDENTITY = 'pebble.test';
const NEW_ORDER = /^\/order-plz/;

interface RegistryRecord {
  readonly certificateId: string;
  readonly status?: string;
  readonly lastError?: { readonly name: string; readonly message: string };
}

describe('CAA pre-flight through the synthesized state machine against Pebble', () => {
  const e2e = usePebbleWorkflow({ pebble: { env: { PEBBLE_WFE_NONCEREJECT: '0' } } });
  let challtestsrv: ChalltestsrvClient;
  let proxy: CaProxy | undefined;
  const caaHosts: string[] = [];
  const servfailHosts: string[] = [];

  beforeAll(() => {
    challtestsrv = new ChalltestsrvClient(e2e.pebble.challtestsrvUrl);
  });
  afterEach(async () => {
    for (const host of caaHosts.splice(0)) await challtestsrv.clearCaa(host);
    for (const host of servfailHosts.splice(0)) await challtestsrv.clearServfail(host);
    await proxy?.stop();
    proxy = undefined;
  });

  async function caa(host: string, ...policies: { tag: string; value: string }[]): Promise<void> {
    caaHosts.push(host);
    await challtestsrv.addCaa(host, policies);
  }

  /** Deploys against Pebble behind a proxy whose directory lists {@link CAA_IDENTITY} in `caaIdentities`. */
  async function install(domains: readonly string[]): Promise<CaProxy> {
    const ca = await startCaProxy(e2e.pebble);
    proxy = ca;
    advertiseCaaIdentities(ca, [CAA_IDENTITY]);
    await e2e.install(domains, { ca });
    return ca;
  }

  /** The run failed on CAA before ordering: no newOrder, no TXT record, the failure recorded. */
  async function expectRefusedBeforeOrdering(run: LocalIssuanceResult, ca: CaProxy, certificateId: string) {
    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error?.name).toBe('CaaForbidsIssuanceError');
    expect(run.acmeRequestsByPath['POST /order-plz']).toBeUndefined();
    expect(ca.count('POST', NEW_ORDER)).toBe(0);
    expect(ca.ledger.ordersCreated).toBe(0);
    expect(run.route53ChangeCalls).toBe(0);
    expect(e2e.aws.route53.changeBatches).toEqual([]);
    const record = await e2e.record<RegistryRecord>(certificateId);
    expect(record?.lastError?.name).toBe('CaaForbidsIssuanceError');
    return record?.lastError?.message ?? '';
  }

  it('refuses, before ordering, a name whose parent domain lets another CA issue', async () => {
    const ca = await install(['shop.example.org']);
    await caa('example.org', { tag: 'issue', value: 'other-ca.example' });

    const run = await e2e.run({ certificateId: 'shop', domains: ['shop.example.org'] });

    const message = await expectRefusedBeforeOrdering(run, ca, 'shop');
    expect(message).toContain(
      'shop.example.org: the CAA records at example.org (0 issue "other-ca.example") authorize no issuance by this CA',
    );
    expect(message).toContain(`names other-ca.example, not this CA (${CAA_IDENTITY})`);
    expect(message).toContain(
      `add \`example.org. CAA 0 issue "${CAA_IDENTITY}"\` or remove the issue records`,
    );
  });

  it('issues when CAA names the CA, and when it also pins this deployment’s account; refuses another account', async () => {
    const ca = await install(['app.example.org', 'pinned.example.org', 'elsewhere.example.org']);
    await caa('app.example.org', { tag: 'issue', value: CAA_IDENTITY });

    const first = await e2e.run({ certificateId: 'app', domains: ['app.example.org'] });

    expect(first.execution.error).toBeUndefined();
    expect(first.execution.status).toBe('SUCCEEDED');
    const accountUrl = (first.execution.output as { accountUrl: string }).accountUrl;
    expect(accountUrl).toMatch(/^https:\/\//);

    await caa('pinned.example.org', {
      tag: 'issue',
      value: `${CAA_IDENTITY}; accounturi=${accountUrl}; validationmethods=dns-01`,
    });
    const pinned = await e2e.run({ certificateId: 'pinned', domains: ['pinned.example.org'] });

    expect(pinned.execution.error).toBeUndefined();
    expect(pinned.execution.status).toBe('SUCCEEDED');
    expect(e2e.aws.acm.certificates.size).toBe(2);

    const ordersBefore = ca.ledger.ordersCreated;
    const changesBefore = e2e.aws.route53.changeBatches.length;
    const otherAccount = `${accountUrl}0`;
    await caa('elsewhere.example.org', {
      tag: 'issue',
      value: `${CAA_IDENTITY}; accounturi=${otherAccount}`,
    });
    const elsewhere = await e2e.run({ certificateId: 'elsewhere', domains: ['elsewhere.example.org'] });

    expect(elsewhere.execution.error?.name).toBe('CaaForbidsIssuanceError');
    expect(elsewhere.execution.error?.cause).toContain(
      `is for the account ${otherAccount}, not this deployment's ${accountUrl}`,
    );
    expect(ca.ledger.ordersCreated).toBe(ordersBefore);
    expect(e2e.aws.route53.changeBatches).toHaveLength(changesBefore);
  });

  it('refuses a wildcard that issuewild forbids while issue allows the apex, naming the wildcard only', async () => {
    const ca = await install(['wild.example.org']);
    await caa('wild.example.org', { tag: 'issue', value: CAA_IDENTITY }, { tag: 'issuewild', value: ';' });

    const run = await e2e.run({ certificateId: 'wild', domains: ['wild.example.org', '*.wild.example.org'] });

    const message = await expectRefusedBeforeOrdering(run, ca, 'wild');
    expect(message).toContain(
      '*.wild.example.org: the CAA records at wild.example.org (0 issuewild ";") authorize no issuance by this CA for it (issuewild governs wildcard names where present)',
    );
    expect(message).not.toMatch(/(^|\s)wild\.example\.org: the CAA records/);
  });

  it('orders anyway, with a warning, when the CAA lookup fails, leaving CAA to the CA', async () => {
    await install(['flaky.example.org']);
    servfailHosts.push('flaky.example.org');
    await challtestsrv.setServfail('flaky.example.org');

    const run = await e2e.run({ certificateId: 'flaky', domains: ['flaky.example.org'] });

    expect(run.execution.error).toBeUndefined();
    expect(run.execution.status).toBe('SUCCEEDED');
    expect(run.logs).toContain('CAA lookup failed; ordering anyway and leaving the CAA check to the CA');
    expect(run.logs).toContain('ESERVFAIL');
  });
});
