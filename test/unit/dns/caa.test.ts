import { describe, expect, it } from 'vitest';
import {
  assertCaaPermits,
  type CaaRequester,
  evaluateCaa,
  parseIssueValue,
  relevantCaaSet,
} from '../../../lambdas/core/dns/caa.js';
import { CaaForbidsIssuanceError, type CaaRefusal } from '../../../lambdas/core/errors.js';
import type { CaaRecord } from '../../../lambdas/core/ports.js';
import { createOrder } from '../../../lambdas/core/workflow/create-order.js';
import { FakeDnsResolver } from '../../fakes/dns-resolver-fake.js';
import { ACCOUNT_URL, DIRECTORY } from '../../support/acme-fixtures.js';
import { ScriptedTransport } from '../../support/scripted-transport.js';
import { createTestSigner } from '../../support/test-signer.js';
import { TEST_WORKFLOW_CONFIG } from '../../support/workflow-config.js';
import { issuanceState, SILENT_LOG } from '../../support/workflow-fixtures.js';
import { MemoryDnsZones } from '../fakes/memory-dns-zones.js';
import { MemoryRegistry } from '../fakes/memory-registry.js';

const US: CaaRequester = { caaIdentities: ['ca.example'], accountUrl: ACCOUNT_URL };

function issue(value: string, tag = 'issue', flags = 0): CaaRecord {
  return { flags, tag, value };
}

function verdict(identifier: string, records: CaaRecord[], requester: CaaRequester = US) {
  return evaluateCaa(identifier, { name: 'example.com', records }, requester);
}

function refusal(identifier: string, records: CaaRecord[], requester: CaaRequester = US): CaaRefusal {
  const result = verdict(identifier, records, requester);
  if (result.permitted) throw new Error(`expected ${identifier} to be refused`);
  return result.refusal;
}

describe('parseIssueValue (RFC 8659 §4.2)', () => {
  it('reads an issuer-domain-name alone, lower-casing it and ignoring surrounding blanks', () => {
    expect(parseIssueValue(' \tCA.Example ')).toEqual({ issuer: 'ca.example', parameters: new Map() });
  });

  it('reads parameters after the semicolon, separated by semicolons, blanks around = allowed', () => {
    const parsed = parseIssueValue(
      'ca.example; accounturi = https://ca.example/acct/1 ;validationmethods=dns-01',
    );

    expect(parsed?.issuer).toBe('ca.example');
    expect([...(parsed?.parameters ?? [])]).toEqual([
      ['accounturi', 'https://ca.example/acct/1'],
      ['validationmethods', 'dns-01'],
    ]);
  });

  it('reads ";" and the empty value as naming no issuer', () => {
    expect(parseIssueValue(';')).toEqual({ issuer: '', parameters: new Map() });
    expect(parseIssueValue('')).toEqual({ issuer: '', parameters: new Map() });
    expect(parseIssueValue('; policy=ev')?.issuer).toBe('');
  });

  it('refuses values outside the grammar', () => {
    for (const value of [
      'ca_example',
      'ca.example.',
      '-ca.example',
      'ca example',
      'ca.example; accounturi',
      'ca.example; a=b c',
      'ca.example; a=b;',
      'ca.example; =b',
    ]) {
      expect(parseIssueValue(value), value).toBeUndefined();
    }
  });
});

describe('relevantCaaSet (RFC 8659 §3)', () => {
  it('climbs from the name to the first ancestor with CAA records, asking each name once', async () => {
    const resolver = new FakeDnsResolver().addCaa('example.com', 'ca.example').addCaa('com', 'other.example');

    const found = await relevantCaaSet('a.b.example.com', (name) => resolver.resolveCaa(name));

    expect(found).toEqual({ name: 'example.com', records: [issue('ca.example')] });
    expect(resolver.queries).toEqual(['CAA a.b.example.com', 'CAA b.example.com', 'CAA example.com']);
  });

  it('stops at the name itself when it has records, and starts a wildcard at its base name', async () => {
    const resolver = new FakeDnsResolver().addCaa('app.example.com', ';').addCaa('example.com', 'ca.example');

    expect((await relevantCaaSet('*.app.example.com', (name) => resolver.resolveCaa(name)))?.name).toBe(
      'app.example.com',
    );
    expect(resolver.queries).toEqual(['CAA app.example.com']);
  });

  it('takes an alias’s records from its CNAME target, then climbs from the alias’s own parent', async () => {
    const resolver = new FakeDnsResolver()
      .setCname('www.example.com', 'cdn.provider.example')
      .addCaa('cdn.provider.example', 'cdn-ca.example')
      .addCaa('provider.example', 'provider-ca.example');

    expect(await relevantCaaSet('www.example.com', (name) => resolver.resolveCaa(name))).toEqual({
      name: 'www.example.com',
      records: [issue('cdn-ca.example')],
    });

    resolver.setCname('api.example.com', 'api.provider.example');
    expect(await relevantCaaSet('api.example.com', (name) => resolver.resolveCaa(name))).toBeUndefined();
    expect(resolver.queries.slice(-3)).toEqual(['CAA api.example.com', 'CAA example.com', 'CAA com']);
  });

  it('finds nothing when no name up to the top-level domain has records', async () => {
    const resolver = new FakeDnsResolver();

    expect(await relevantCaaSet('Example.COM.', (name) => resolver.resolveCaa(name))).toBeUndefined();
    expect(resolver.queries).toEqual(['CAA example.com', 'CAA com']);
  });
});

describe('evaluateCaa', () => {
  it('permits a CA whose identity an issue record names, whatever the case', () => {
    expect(verdict('example.com', [issue('CA.example')])).toEqual({ permitted: true });
    expect(verdict('example.com', [issue('ca.example')], { caaIdentities: ['CA.Example.'] })).toEqual({
      permitted: true,
    });
  });

  it('refuses when the issue records name other CAs only, naming the record and the fix', () => {
    const refused = refusal('app.example.com', [issue('other.example'), issue('third.example')]);

    expect(refused).toMatchObject({
      identifier: 'app.example.com',
      caaName: 'example.com',
      records: ['0 issue "other.example"', '0 issue "third.example"'],
    });
    expect(refused.reason).toContain('0 issue "other.example" names other.example, not this CA (ca.example)');
    expect(refused.fix).toBe(
      'To allow it, add `example.com. CAA 0 issue "ca.example"` or remove the issue records at example.com.',
    );
  });

  it('treats authorizations as additive: ";" next to a record naming this CA still permits', () => {
    expect(verdict('example.com', [issue(';'), issue('ca.example')])).toEqual({ permitted: true });
    expect(refusal('example.com', [issue(';')]).reason).toContain('names no CA, which authorizes no one');
  });

  it('does not restrict issuance when the record set has no issue property', () => {
    expect(verdict('example.com', [issue('mailto:security@example.com', 'iodef')])).toEqual({
      permitted: true,
    });
    expect(verdict('example.com', [issue(';', 'issuewild')])).toEqual({ permitted: true });
  });

  it('matches tags case-insensitively', () => {
    expect(refusal('example.com', [issue('other.example', 'ISSUE')]).records).toEqual([
      '0 ISSUE "other.example"',
    ]);
    expect(refusal('*.example.com', [issue('ca.example'), issue(';', 'IssueWild')]).fix).toContain(
      'CAA 0 issuewild "ca.example"',
    );
  });

  it('governs a wildcard by issuewild where there is one, and the apex by issue alone (RFC 8659 §4.3)', () => {
    const records = [issue('ca.example'), issue('other.example', 'issuewild')];

    expect(verdict('example.com', records)).toEqual({ permitted: true });
    const refused = refusal('*.example.com', records);
    expect(refused.records).toEqual(['0 issuewild "other.example"']);
    expect(refused.reason).toContain('issuewild governs wildcard names');
    expect(verdict('*.example.com', [issue('other.example'), issue('ca.example', 'issuewild')])).toEqual({
      permitted: true,
    });
  });

  it('governs a wildcard by issue when there is no issuewild', () => {
    expect(verdict('*.example.com', [issue('ca.example')])).toEqual({ permitted: true });
    expect(refusal('*.example.com', [issue('other.example')]).reason).toContain(
      'issue governs wildcard names too',
    );
  });

  it('refuses past an unknown critical property, but not past a known or non-critical one (RFC 8659 §4.1)', () => {
    const refused = refusal('example.com', [issue('ca.example'), issue('x', 'tbs', 128)]);

    expect(refused.records).toEqual(['128 tbs "x"']);
    expect(refused.reason).toContain('unknown');
    expect(refused.fix).toContain('clear the critical flag');
    expect(verdict('example.com', [issue('ca.example'), issue('x', 'tbs', 0)])).toEqual({ permitted: true });
    expect(
      verdict('example.com', [issue('ca.example'), issue('mailto:a@example.com', 'IODEF', 128)]),
    ).toEqual({
      permitted: true,
    });
  });

  it('honours accounturi: our account permits, another account refuses and the fix pins ours (RFC 8657 §3)', () => {
    expect(verdict('example.com', [issue(`ca.example; accounturi=${ACCOUNT_URL}`)])).toEqual({
      permitted: true,
    });

    const refused = refusal('example.com', [issue('ca.example; accounturi=https://ca.example/acct/2')]);
    expect(refused.reason).toContain(
      `is for the account https://ca.example/acct/2, not this deployment's ${ACCOUNT_URL}`,
    );
    expect(refused.fix).toContain(`CAA 0 issue "ca.example; accounturi=${ACCOUNT_URL}"`);
    expect(
      verdict('example.com', [issue('ca.example; accounturi=https://ca.example/acct/2')], {
        caaIdentities: ['ca.example'],
      }),
    ).toEqual({ permitted: true });
  });

  it('honours validationmethods: dns-01 must be listed (RFC 8657 §4)', () => {
    expect(verdict('example.com', [issue('ca.example; validationmethods=http-01,dns-01')])).toEqual({
      permitted: true,
    });
    expect(
      refusal('example.com', [issue('ca.example; validationmethods=http-01,tls-alpn-01')]).reason,
    ).toContain('allows http-01, tls-alpn-01 only, and this run validates by dns-01');
    expect(refusal('example.com', [issue('ca.example; validationmethods=dns-01,,')]).reason).toContain(
      'malformed validationmethods',
    );
  });

  it('ignores parameters the CA defines itself', () => {
    expect(verdict('example.com', [issue('ca.example; policy=ev; cansignhttpexchanges=yes')])).toEqual({
      permitted: true,
    });
  });

  it('refuses a malformed value as authorizing no one', () => {
    expect(refusal('example.com', [issue('ca.example; accounturi')]).reason).toContain('is malformed');
  });

  describe('when the directory lists no caaIdentities', () => {
    const UNKNOWN: CaaRequester = { accountUrl: ACCOUNT_URL };

    it('takes any named issuer as possibly this CA', () => {
      expect(verdict('example.com', [issue('other.example')], UNKNOWN)).toEqual({ permitted: true });
      expect(verdict('example.com', [issue('other.example')], { ...UNKNOWN, caaIdentities: [] })).toEqual({
        permitted: true,
      });
    });

    it('still refuses a record set that authorizes no CA, or none for this account or dns-01', () => {
      expect(refusal('example.com', [issue(';')], UNKNOWN).fix).toBe(
        'To allow it, add `example.com. CAA 0 issue "<this CA\'s CAA identity>"` or remove the issue records at example.com.',
      );
      expect(
        verdict('example.com', [issue('any.example; accounturi=https://elsewhere/acct/9')], UNKNOWN),
      ).toMatchObject({
        permitted: false,
      });
      expect(
        verdict('example.com', [issue('any.example; validationmethods=http-01')], UNKNOWN),
      ).toMatchObject({
        permitted: false,
      });
    });
  });
});

describe('assertCaaPermits', () => {
  function warnings() {
    const seen: { message: string; attributes?: Record<string, unknown> }[] = [];
    return {
      seen,
      warn: (message: string, attributes?: Record<string, unknown>) => seen.push({ message, attributes }),
    };
  }

  it('refuses every forbidden name in one error whose message says what to change', async () => {
    const resolver = new FakeDnsResolver()
      .addCaa('example.com', 'ca.example', issue('other.example', 'issuewild'))
      .addCaa('shop.example.net', 'other.example');
    const { warn } = warnings();

    const error = await assertCaaPermits(['example.com', '*.example.com', 'shop.example.net'], US, {
      resolver,
      warn,
    }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(CaaForbidsIssuanceError);
    const refused = error as CaaForbidsIssuanceError;
    expect(refused.name).toBe('CaaForbidsIssuanceError');
    expect(refused.refusals.map((entry) => [entry.identifier, entry.caaName])).toEqual([
      ['*.example.com', 'example.com'],
      ['shop.example.net', 'shop.example.net'],
    ]);
    expect(refused.message).toMatch(
      /^CAA forbids issuance, so no order was placed\. \*\.example\.com: the CAA records at example\.com \(0 issuewild "other\.example"\)/,
    );
    expect(refused.message).toContain('add `example.com. CAA 0 issuewild "ca.example"`');
    expect(refused.message).toContain(
      'shop.example.net: the CAA records at shop.example.net (0 issue "other.example")',
    );
  });

  it('asks DNS once per name when identifiers share ancestors', async () => {
    const resolver = new FakeDnsResolver().addCaa('example.com', 'ca.example');

    await assertCaaPermits(['a.example.com', 'b.example.com', 'example.com', '*.example.com'], US, {
      resolver,
      warn: () => {},
    });

    expect([...resolver.queries].sort()).toEqual([
      'CAA a.example.com',
      'CAA b.example.com',
      'CAA example.com',
    ]);
  });

  it('warns and leaves the decision to the CA when a lookup fails, still refusing the other names', async () => {
    const resolver = new FakeDnsResolver()
      .addCaa('example.com', 'other.example')
      .fail('CAA broken.example.org', 'ESERVFAIL')
      .fail('CAA slow.example.org', 'ETIMEOUT')
      .addCaa('example.org', ';');
    const { seen, warn } = warnings();

    const error = await assertCaaPermits(['broken.example.org', 'slow.example.org', 'example.com'], US, {
      resolver,
      warn,
    }).catch((caught: unknown) => caught);

    expect((error as CaaForbidsIssuanceError).refusals.map((entry) => entry.identifier)).toEqual([
      'example.com',
    ]);
    expect(seen.map((entry) => [entry.attributes?.identifier, entry.attributes?.rcode])).toEqual([
      ['broken.example.org', 'ESERVFAIL'],
      ['slow.example.org', 'ETIMEOUT'],
    ]);
    expect(seen[0]?.message).toContain('leaving the CAA check to the CA');
  });

  it('passes quietly when no name has CAA records', async () => {
    const { seen, warn } = warnings();

    await expect(
      assertCaaPermits(['example.com', '*.example.com'], US, { resolver: new FakeDnsResolver(), warn }),
    ).resolves.toBeUndefined();
    expect(seen).toEqual([]);
  });
});

describe('CreateOrder with CAA records', () => {
  async function deps(resolver: FakeDnsResolver) {
    return {
      transport: new ScriptedTransport(),
      signer: await createTestSigner(),
      dns: new MemoryDnsZones([{ id: 'ZCOM', name: 'example.com.', privateZone: false }]),
      resolver,
      registry: new MemoryRegistry(),
      clock: { now: () => new Date('2030-03-01T12:00:00Z') },
      config: TEST_WORKFLOW_CONFIG,
      log: SILENT_LOG,
    };
  }

  it('refuses before newOrder when CAA names another CA than the directory’s caaIdentities', async () => {
    const step = await deps(new FakeDnsResolver().addCaa('example.com', 'other.example'));
    const state = issuanceState({
      domains: ['app.example.com'],
      directory: { ...DIRECTORY, meta: { caaIdentities: ['ca.example'] } },
    });

    const error = await createOrder(state, step).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(CaaForbidsIssuanceError);
    expect((error as Error).message).toContain(
      'app.example.com: the CAA records at example.com (0 issue "other.example")',
    );
    expect(step.transport.requests).toEqual([]);
    expect(step.dns.writes).toEqual([]);
  });
});

describe('evaluateCaa: the validation methods a run may answer with (RFC 8657 §4)', () => {
  const PERSIST_ONLY = issue('ca.example; validationmethods=dns-persist-01');

  it('permits a run that answers dns-persist-01 where the record allows dns-persist-01 only', () => {
    expect(verdict('example.com', [PERSIST_ONLY], { ...US, validationMethods: ['dns-persist-01'] })).toEqual({
      permitted: true,
    });
  });

  it('permits a run that may fall back to dns-01, since one allowed method suffices', () => {
    expect(
      verdict('example.com', [PERSIST_ONLY], { ...US, validationMethods: ['dns-persist-01', 'dns-01'] }),
    ).toEqual({ permitted: true });
  });

  it('refuses a dns-01 run where the record allows dns-persist-01 only, naming both sides', () => {
    const reason = refusal('example.com', [PERSIST_ONLY], { ...US, validationMethods: ['dns-01'] }).reason;

    expect(reason).toContain('allows dns-persist-01 only, and this run validates by dns-01 (RFC 8657 §4)');
  });

  it('takes a requester without validationMethods for a dns-01 run', () => {
    expect(refusal('example.com', [PERSIST_ONLY]).reason).toContain(
      'allows dns-persist-01 only, and this run validates by dns-01',
    );
  });

  it('refuses a dns-persist-01 run where the record allows dns-01 only', () => {
    const reason = refusal('example.com', [issue('ca.example; validationmethods=dns-01')], {
      ...US,
      validationMethods: ['dns-persist-01'],
    }).reason;

    expect(reason).toContain('allows dns-01 only, and this run validates by dns-persist-01 (RFC 8657 §4)');
  });

  it('names every method of a run that may answer with either when none is allowed', () => {
    const reason = refusal('example.com', [issue('ca.example; validationmethods=http-01')], {
      ...US,
      validationMethods: ['dns-persist-01', 'dns-01'],
    }).reason;

    expect(reason).toContain('allows http-01 only, and this run validates by dns-persist-01 or dns-01');
  });
});
