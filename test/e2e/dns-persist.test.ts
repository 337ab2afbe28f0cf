import { afterEach, describe, expect, it } from 'vitest';
import { validationDomainName } from '../../lambdas/core/acme/dns-persist.js';
import { type CaProxy, startCaProxy } from '../harness/ca-proxy.js';
import { ChalltestsrvClient } from '../harness/challtestsrv.js';
import { type DnsPersistCa, extendWithDnsPersist } from '../harness/dns-persist-ca.js';
import { usePebbleWorkflow } from '../harness/e2e-fixture.js';
import type { LocalIssuanceResult } from '../harness/local-issuance.js';

/**
 * dns-persist-01 (draft-ietf-acme-dns-persist-02) through the synthesized state machine and the
 * shipped bundles. The CA is Pebble with `PEBBLE_VA_ALWAYS_VALID=1` behind the validating proxy of
 * `dns-persist-ca.ts`, so every validation is the proxy's, from challtestsrv's DNS: a persistent
 * record that does not authorize our account fails the order, and dns-01 needs its TXT record.
 */

const DNS_STATES = ['WaitForDnsSync', 'PauseForDnsSync'];

function enteredStates(run: LocalIssuanceResult): string[] {
  return run.execution.steps.map((step) => step.name);
}

describe('dns-persist-01: one persistent record, then issuances without DNS writes', () => {
  const e2e = usePebbleWorkflow({
    // Every order gets fresh authorizations, so each run's validations can be counted.
    pebble: { env: { PEBBLE_VA_ALWAYS_VALID: '1', PEBBLE_AUTHZREUSE: '0' } },
  });
  const persistNames: string[] = [];

  afterEach(async () => {
    const dns = new ChalltestsrvClient(e2e.pebble.challtestsrvUrl);
    for (const name of persistNames.splice(0)) await dns.clearTxt(name).catch(() => undefined);
  });

  /** Deploys with `certificates` declared, against Pebble behind the dns-persist-01 validator. */
  async function install(
    domains: readonly string[],
    certificates: readonly {
      id: string;
      domains: string[];
      challenge?: 'dns-persist-01';
      externalDns?: boolean;
    }[] = [],
  ): Promise<{ ca: DnsPersistCa; proxy: CaProxy }> {
    const proxy = await startCaProxy(e2e.pebble);
    const ca = extendWithDnsPersist(proxy, e2e.pebble.dnsResolver);
    await e2e.install(domains, { ca: proxy, props: { acme: { certificates: [...certificates] } } });
    for (const domain of domains) persistNames.push(validationDomainName(domain));
    return { ca, proxy };
  }

  it('writes the record once at the first issuance; the renewal makes no Route 53 call and waits for no DNS', async () => {
    const domains = ['example.org', '*.example.org'];
    const { ca } = await install(domains, [{ id: 'web', domains, challenge: 'dns-persist-01' }]);

    const first = await e2e.run({ action: 'renew', certificateId: 'web' });
    expect(first.execution.error).toBeUndefined();
    expect(first.execution.status).toBe('SUCCEEDED');
    const recordName = '_validation-persist.example.org';
    const [persistent, ...others] = e2e.aws.route53.txtValues(recordName);
    expect(others).toEqual([]);
    // One value answers the apex and the wildcard at the one Validation Domain Name (§5.1).
    expect(persistent).toMatch(
      new RegExp(
        `^${ca.issuerDomainNames[0]?.replaceAll('.', '\\.')}; accounturi=${ca.accountHashPrefix.replaceAll('.', '\\.')}sha-256/[A-Za-z0-9_-]{43}; policy=wildcard$`,
      ),
    );
    // The per-order record never existed, and the persistent one outlives the run.
    expect(e2e.aws.route53.txtValues('_acme-challenge.example.org')).toEqual([]);
    expect(first.route53ChangeCalls).toBe(1);
    expect(ca.validations.map((validation) => [validation.type, validation.outcome])).toEqual([
      ['dns-persist-01', 'valid'],
      ['dns-persist-01', 'valid'],
    ]);

    const renewal = await e2e.run({ action: 'renew', certificateId: 'web', force: true });
    expect(renewal.execution.error).toBeUndefined();
    expect(renewal.execution.status).toBe('SUCCEEDED');
    expect(renewal.route53ChangeCalls).toBe(0);
    expect(renewal.route53GetChangeCalls).toBe(0);
    expect(enteredStates(renewal).filter((name) => DNS_STATES.includes(name))).toEqual([]);
    expect(e2e.aws.route53.txtValues(recordName)).toEqual([persistent]);
    expect(ca.validations.slice(2).map((validation) => validation.type)).toEqual([
      'dns-persist-01',
      'dns-persist-01',
    ]);
    expect([...e2e.aws.acm.certificatesIn('us-east-1').values()]).toHaveLength(1);
  });

  it('adds our value beside a stale record of another account, which the CA would refuse', async () => {
    const { ca } = await install(
      ['shop.example.net'],
      [{ id: 'shop', domains: ['shop.example.net'], challenge: 'dns-persist-01' }],
    );
    const recordName = '_validation-persist.shop.example.net';
    const stale = `${ca.issuerDomainNames[0]}; accounturi=${ca.accountHashPrefix}sha-256/${'A'.repeat(43)}`;
    const zoneId = e2e.aws.zones.get('example.net') ?? '';
    await e2e.aws.route53.putTxt(zoneId, recordName, [stale]);

    const run = await e2e.run({
      certificateId: 'shop',
      domains: ['shop.example.net'],
      challenge: 'dns-persist-01',
    });
    expect(run.execution.error).toBeUndefined();
    expect(run.execution.status).toBe('SUCCEEDED');
    const values = e2e.aws.route53.txtValues(recordName);
    expect(values).toHaveLength(2);
    expect(values).toContain(stale);
    expect(ca.validations.map((validation) => [validation.type, validation.outcome])).toEqual([
      ['dns-persist-01', 'valid'],
    ]);
  });

  it('answers dns-01 for a certificate the stack does not declare with dns-persist-01: IAM grants no write there', async () => {
    const { ca } = await install(['api.example.com']);
    const run = await e2e.run({
      certificateId: 'api',
      domains: ['api.example.com'],
      challenge: 'dns-persist-01',
    });
    expect(run.execution.error).toBeUndefined();
    expect(run.execution.status).toBe('SUCCEEDED');
    expect(run.logs).toContain('the stack may not write _validation-persist.api.example.com');
    expect(e2e.aws.route53.txtValues('_validation-persist.api.example.com')).toEqual([]);
    // The validator tries the persistent record first on the shared URL, then the dns-01 TXT.
    expect(ca.validations.at(-1)).toMatchObject({ type: 'dns-01', outcome: 'valid' });
    expect(ca.validations.filter((validation) => validation.outcome === 'valid')).toHaveLength(1);
    const template = JSON.stringify(e2e.stack.synthesized.template);
    expect(template).not.toContain('_validation-persist');
  });

  describe('with DNS the stack does not write (externalDns)', () => {
    it('holds no Route 53 write permission, refuses to order until the records stand, then issues from them', async () => {
      const domains = ['edge.example.com', '*.edge.example.com'];
      const { ca, proxy } = await install(domains, [
        { id: 'edge', domains, challenge: 'dns-persist-01', externalDns: true },
      ]);
      const template = JSON.stringify(e2e.stack.synthesized.template);
      expect(template).not.toContain('route53:ChangeResourceRecordSets');

      const refused = await e2e.run({ action: 'renew', certificateId: 'edge' });
      expect(refused.execution.status).toBe('FAILED');
      expect(refused.execution.error?.name).toBe('PersistRecordMissingError');
      expect(proxy.count('POST', /^\/order-plz/)).toBe(0);
      expect(refused.route53ChangeCalls).toBe(0);
      const message =
        (JSON.parse(refused.execution.error?.cause ?? '{}') as { errorMessage?: string }).errorMessage ?? '';
      const [, recordName, value] = /(_validation-persist\.\S+)\. 300 IN TXT "([^"]+)"/.exec(message) ?? [];
      expect(recordName).toBe('_validation-persist.edge.example.com');
      expect(value).toMatch(/; policy=wildcard$/);

      // The operator creates the record the error gave, in a zone the stack may not write, for
      // ten days only (§4.1 item 5): the registry keeps when it runs out, for the planner's alarm.
      const persistUntil = Math.floor(Date.now() / 1000) + 10 * 86_400;
      await e2e.aws.route53.putTxt(e2e.aws.zones.get('example.com') ?? '', recordName ?? '', [
        `${value}; persistUntil=${persistUntil}`,
      ]);
      // Forced, as `acme-aws renew edge --force` would: the refused run set a backoff.
      const issued = await e2e.run({ action: 'renew', certificateId: 'edge', force: true });
      expect(issued.execution.error).toBeUndefined();
      expect(issued.execution.status).toBe('SUCCEEDED');
      expect(issued.route53ChangeCalls).toBe(0);
      expect(issued.route53GetChangeCalls).toBe(0);
      const record = await e2e.record<{ certificateId: string; persistUntil?: string }>('edge');
      expect(record?.persistUntil).toBe(new Date(persistUntil * 1000).toISOString());
      expect(ca.validations.map((validation) => [validation.type, validation.outcome])).toEqual([
        ['dns-persist-01', 'valid'],
        ['dns-persist-01', 'valid'],
      ]);
    });

    it('refuses an issue input that would need dns-01 when every declared certificate uses dns-persist-01', async () => {
      const { proxy } = await install(
        ['edge.example.com', 'app.example.com'],
        [{ id: 'edge', domains: ['edge.example.com'], challenge: 'dns-persist-01', externalDns: true }],
      );
      const run = await e2e.run({ certificateId: 'app', domains: ['app.example.com'] });
      expect(run.execution.status).toBe('FAILED');
      expect(run.execution.error?.name).toBe('InvalidInputError');
      expect(run.execution.error?.cause).toContain('no permission to write dns-01 records');
      expect(proxy.count('POST', /^\/order-plz/)).toBe(0);
    });
  });
});

describe('dns-persist-01 where the CA does not offer it', () => {
  const e2e = usePebbleWorkflow();

  it('answers dns-01 instead, and removes its records as dns-01 always does', async () => {
    const domains = ['example.org', '*.example.org'];
    await e2e.install(domains);
    const run = await e2e.run({ certificateId: 'web', domains, challenge: 'dns-persist-01' });
    expect(run.execution.error).toBeUndefined();
    expect(run.execution.status).toBe('SUCCEEDED');
    expect(run.logs).toContain('Answering dns-01 instead of dns-persist-01');
    expect(e2e.aws.route53.txtValues('_validation-persist.example.org')).toEqual([]);
    expect(e2e.aws.route53.txtValues('_acme-challenge.example.org')).toEqual([]);
    // Publish and Cleanup: one change batch each.
    expect(run.route53ChangeCalls).toBe(2);
  });
});
