import { describe, expect, it } from 'vitest';
import { describePropagationGaps, findPropagationGaps } from '../../../lambdas/core/dns/propagation.js';
import { FakeDnsResolver } from '../../fakes/dns-resolver-fake.js';

const RECORD = '_acme-challenge.example.org';

function challenge(value: string, recordName = RECORD, zoneName = 'example.org') {
  return { zoneName, recordName, value };
}

describe('findPropagationGaps', () => {
  it('finds nothing missing once every name server answers every value', async () => {
    const resolver = new FakeDnsResolver();
    resolver.setNameServers('example.org', 4);
    resolver.setTxtEverywhere('example.org', RECORD, ['apex', 'wildcard', 'someone-else']);

    const gaps = await findPropagationGaps([challenge('apex'), challenge('wildcard')], resolver);

    expect(gaps).toEqual([]);
    expect(resolver.queries.filter((query) => query.startsWith('TXT'))).toHaveLength(4);
  });

  it('names the server that lacks a value and how many it has', async () => {
    const resolver = new FakeDnsResolver();
    resolver.setNameServers('example.org', 2);
    resolver.setTxt('192.0.2.1', RECORD, ['apex', 'wildcard']).setTxt('192.0.2.2', RECORD, ['apex']);

    const gaps = await findPropagationGaps([challenge('apex'), challenge('wildcard')], resolver);

    expect(gaps).toEqual([
      {
        recordName: RECORD,
        zoneName: 'example.org',
        servers: [{ server: 'ns2.example.org (192.0.2.2)', problem: 'answers 1 of 2 values' }],
      },
    ]);
  });

  it('counts a server that fails to answer as lacking the record, with its error', async () => {
    const resolver = new FakeDnsResolver();
    resolver.setNameServers('example.org', 1);
    resolver.fail(`TXT ${RECORD} @ 192.0.2.1`, 'ETIMEOUT');

    const [gap] = await findPropagationGaps([challenge('v')], resolver);

    expect(gap?.servers).toEqual([
      { server: 'ns1.example.org (192.0.2.1)', problem: 'no answer (ETIMEOUT)' },
    ]);
  });

  it('reports a zone without name servers in public DNS as not delegated', async () => {
    const [gap] = await findPropagationGaps([challenge('v')], new FakeDnsResolver());

    expect(gap?.servers[0]?.problem).toMatch(/lists none .*delegated/);
  });

  it('reports a failed NS lookup for every record of the zone', async () => {
    const resolver = new FakeDnsResolver().fail('NS example.org', 'ESERVFAIL');

    const gaps = await findPropagationGaps(
      [challenge('a'), challenge('b', '_acme-challenge.www.example.org')],
      resolver,
    );

    expect(gaps.map((gap) => gap.recordName)).toEqual([RECORD, '_acme-challenge.www.example.org']);
    expect(gaps[0]?.servers[0]).toEqual({
      server: 'the name servers of example.org',
      problem: 'the NS lookup failed (ESERVFAIL)',
    });
  });

  it('asks each zone’s own servers, once per zone', async () => {
    const resolver = new FakeDnsResolver();
    resolver.setNameServers('example.org', 1);
    resolver.setNameServers('validation.example.net', 1);
    resolver.setTxtEverywhere('example.org', RECORD, ['a']);
    resolver.setTxtEverywhere('validation.example.net', 'app.validation.example.net', ['b']);

    const gaps = await findPropagationGaps(
      [
        challenge('a'),
        challenge('b', 'app.validation.example.net', 'validation.example.net'),
        challenge('a'),
      ],
      resolver,
    );

    expect(gaps).toEqual([]);
    expect(resolver.queries.filter((query) => query.startsWith('NS'))).toEqual([
      'NS example.org',
      'NS validation.example.net',
    ]);
  });

  it('skips challenges from a state without zone names', async () => {
    const resolver = new FakeDnsResolver();

    expect(await findPropagationGaps([{ recordName: RECORD, value: 'v' }], resolver)).toEqual([]);
    expect(resolver.queries).toEqual([]);
  });
});

describe('describePropagationGaps', () => {
  it('names the first five records with their servers and counts the rest', () => {
    const gaps = Array.from({ length: 7 }, (_, index) => ({
      recordName: `_acme-challenge.n${index}.example.org`,
      zoneName: 'example.org',
      servers: [{ server: 'ns1.example.org (192.0.2.1)', problem: 'answers 0 of 1 values' }],
    }));

    const text = describePropagationGaps(gaps);

    expect(text).toContain(
      '_acme-challenge.n0.example.org (zone example.org) is missing at ns1.example.org (192.0.2.1): answers 0 of 1 values',
    );
    expect(text).toContain('n4.example.org');
    expect(text).not.toContain('n5.example.org');
    expect(text).toContain('and 2 more records');
  });
});
