import { afterEach, describe, expect, it } from 'vitest';
import { NodeDnsResolver } from '../../lambdas/adapters/dns-resolver.js';
import { assertCaaPermits } from '../../lambdas/core/dns/caa.js';
import { advertiseCaaIdentities, type CaProxy, startCaProxy } from '../harness/ca-proxy.js';
import { ChalltestsrvClient } from '../harness/challtestsrv.js';
import { usePebbleWorkflow } from '../harness/e2e-fixture.js';

/**
 * The optional CAA pin through the synthesized state machine: a certificate declared with
 * `pinCaa` gets, at each of its names, the CAA `issue` property for the CA rewritten to name our
 * account and dns-01 (RFC 8657), written by PublishChallenges beside the challenge records, with
 * other CAs' properties kept. Pebble 2.4 neither lists `caaIdentities` nor checks CAA, so the
 * proxy adds an identity to its directory, and the pin is read back through the Route 53 fake,
 * which serves CAA records on challtestsrv for the CAA pre-flight of the next run.
 */

const CAA_IDENTITY = 'pebble.test';

interface AccountItem {
  readonly pk: string;
  readonly accountUrl?: string;
}

describe('CAA pinned to our account', () => {
  const e2e = usePebbleWorkflow({ pebble: { env: { PEBBLE_WFE_NONCEREJECT: '0' } } });
  let proxy: CaProxy | undefined;
  const pinnedNames: string[] = [];

  afterEach(async () => {
    const dns = new ChalltestsrvClient(e2e.pebble.challtestsrvUrl);
    for (const name of pinnedNames.splice(0)) await dns.clearCaa(name);
    await proxy?.stop();
    proxy = undefined;
  });

  it('pins each name to our account and dns-01, keeps other CAs, and changes nothing once pinned', async () => {
    const ca = await startCaProxy(e2e.pebble);
    proxy = ca;
    advertiseCaaIdentities(ca, [CAA_IDENTITY]);
    const domains = ['pin.example.org', '*.pin.example.org'];
    pinnedNames.push('pin.example.org');
    await e2e.install(domains, {
      ca,
      props: { acme: { certificates: [{ id: 'pinned', domains, pinCaa: true }] } },
    });
    // An operator's records: an unpinned one for this CA, and another CA's.
    const zoneId = e2e.aws.zones.get('example.org') ?? '';
    await e2e.aws.route53.putRecordSet(zoneId, 'pin.example.org', 'CAA', [
      `0 issue "${CAA_IDENTITY}"`,
      '0 issue "other-ca.example"',
    ]);

    const first = await e2e.run({ action: 'renew', certificateId: 'pinned' });

    expect(first.execution.error).toBeUndefined();
    expect(first.execution.status).toBe('SUCCEEDED');
    const account = (await e2e.registryItems<AccountItem>()).find((item) => item.pk.startsWith('ACCOUNT#'));
    expect(account?.accountUrl).toBeDefined();
    expect(e2e.aws.route53.caaValues('pin.example.org')).toEqual([
      '0 issue "other-ca.example"',
      `0 issue "${CAA_IDENTITY}; accounturi=${account?.accountUrl}; validationmethods=dns-01"`,
    ]);
    // A wildcard is governed by its base name's `issue` (no `issuewild` was there to pin).
    expect(e2e.aws.route53.caaValues('*.pin.example.org')).toEqual([]);

    const caaBatches = () =>
      e2e.aws.route53.changeBatches.filter((batch) =>
        batch.changes.some((change) => change.ResourceRecordSet?.Type === 'CAA'),
      );
    expect(caaBatches()).toHaveLength(1);

    // The next renewal passes the CAA pre-flight with the pin (our account, dns-01) and rewrites nothing.
    const renewal = await e2e.run({ action: 'renew', certificateId: 'pinned', force: true });
    expect(renewal.execution.error).toBeUndefined();
    expect(renewal.execution.status).toBe('SUCCEEDED');
    expect(caaBatches()).toHaveLength(1);

    // What the pin is for: the CA's CAA check, as our pre-flight runs it over the same DNS,
    // refuses any other account and any other method.
    const resolver = new NodeDnsResolver({ recursiveServers: [e2e.pebble.dnsResolver] });
    const warnings: string[] = [];
    const dns = { resolver, warn: (message: string) => void warnings.push(message) };
    const otherAccount = assertCaaPermits(
      ['pin.example.org'],
      { caaIdentities: [CAA_IDENTITY], accountUrl: `${account?.accountUrl}-other` },
      dns,
    );
    await expect(otherAccount).rejects.toThrow(/is for the account/);
    const otherMethod = assertCaaPermits(
      ['pin.example.org'],
      { caaIdentities: [CAA_IDENTITY], accountUrl: account?.accountUrl, validationMethods: ['http-01'] },
      dns,
    );
    await expect(otherMethod).rejects.toThrow(/allows dns-01 only/);
    expect(warnings).toEqual([]);
  });
});
