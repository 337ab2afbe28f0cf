import { ChangeResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  dnsResolverFromEnvironment,
  NodeDnsResolver,
  type ResolverLike,
} from '../../../lambdas/adapters/dns-resolver.js';
import { DnsQueryError, InvalidInputError } from '../../../lambdas/core/errors.js';
import { installRoute53Fake, type Route53Fake } from '../../fakes/route53-fake.js';
import { type Route53NameServers, startRoute53NameServers } from '../../fakes/route53-name-servers.js';

describe('NodeDnsResolver over real DNS (the Route 53 fake’s name servers)', () => {
  let fake: Route53Fake;
  let servers: Route53NameServers;
  let server: string;

  beforeAll(async () => {
    fake = installRoute53Fake();
    const zoneId = fake.addZone({ name: 'example.org' });
    await new Route53Client({
      region: 'us-east-1',
      credentials: { accessKeyId: 'A', secretAccessKey: 'S' },
    }).send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: zoneId,
        ChangeBatch: {
          Changes: [
            {
              Action: 'CREATE',
              ResourceRecordSet: {
                Name: '_acme-challenge.example.org',
                Type: 'TXT',
                TTL: 60,
                ResourceRecords: [{ Value: `"${'a'.repeat(255)}" "tail"` }, { Value: '"say \\"hi\\""' }],
              },
            },
            {
              Action: 'CREATE',
              ResourceRecordSet: {
                Name: '_acme-challenge.app.example.org',
                Type: 'CNAME',
                TTL: 60,
                ResourceRecords: [{ Value: 'App.Validation.example.net.' }],
              },
            },
          ],
        },
      }),
    );
    servers = startRoute53NameServers(fake, 1);
    server = servers.addresses[0] ?? '';
  });

  afterAll(() => {
    servers.stop();
    fake.restore();
  });

  it('reads TXT values from the server it is given, joining each value’s strings', async () => {
    const values = await new NodeDnsResolver().resolveTxt('_acme-challenge.example.org', server);

    expect(values.sort()).toEqual([`${'a'.repeat(255)}tail`, 'say "hi"']);
  });

  it('answers an empty list for a name without TXT and for a name that does not exist', async () => {
    const resolver = new NodeDnsResolver();

    expect(await resolver.resolveTxt('example.org', server)).toEqual([]);
    expect(await resolver.resolveTxt('nothing.example.org', server)).toEqual([]);
  });

  it('throws DnsQueryError with the resolver’s code when the server refuses', async () => {
    const error = await new NodeDnsResolver()
      .resolveTxt('_acme-challenge.example.com', server)
      .catch((caught) => caught);

    expect(error).toBeInstanceOf(DnsQueryError);
    expect(error.rcode).toBe('EREFUSED');
    expect(error.message).toContain(`_acme-challenge.example.com at ${server}`);
  });

  it('resolves a CNAME through the configured recursive servers, lower-case without the dot', async () => {
    const resolver = new NodeDnsResolver({ recursiveServers: [server] });

    expect(await resolver.resolveCname('_acme-challenge.app.example.org')).toBe('app.validation.example.net');
    expect(await resolver.resolveCname('_acme-challenge.example.org')).toBeUndefined();
  });

  it('uses the configured authoritative servers for every zone without asking DNS', async () => {
    const before = servers.queries[0];
    const resolver = new NodeDnsResolver({ authoritativeServers: ['127.0.0.1:5353', '127.0.0.2:5353'] });

    expect(await resolver.authoritativeServers('example.org')).toEqual([
      { name: '127.0.0.1:5353', address: '127.0.0.1:5353' },
      { name: '127.0.0.2:5353', address: '127.0.0.2:5353' },
    ]);
    expect(servers.queries[0]).toBe(before);
  });
});

/** A stand-in for `node:dns/promises`' Resolver that answers from tables and records each query. */
function scripted(answers: {
  ns?: Record<string, string[]>;
  a?: Record<string, string[]>;
  caa?: Record<string, Awaited<ReturnType<ResolverLike['resolveCaa']>>>;
  error?: { code: string };
}) {
  const made: { servers: readonly string[] | undefined; queries: string[] }[] = [];
  const createResolver = vi.fn((): ResolverLike => {
    const entry: { servers: readonly string[] | undefined; queries: string[] } = {
      servers: undefined,
      queries: [],
    };
    made.push(entry);
    const answer = async <T>(query: string, value: T | undefined): Promise<T> => {
      entry.queries.push(query);
      if (answers.error) throw Object.assign(new Error(answers.error.code), answers.error);
      if (value === undefined) throw Object.assign(new Error('ENODATA'), { code: 'ENODATA' });
      return value;
    };
    return {
      setServers: (servers) => {
        entry.servers = servers;
      },
      resolveCname: (name) => answer<string[]>(`CNAME ${name}`, undefined),
      resolveNs: (name) => answer(`NS ${name}`, answers.ns?.[name]),
      resolve4: (name) => answer(`A ${name}`, answers.a?.[name]),
      resolveTxt: (name) => answer<string[][]>(`TXT ${name}`, undefined),
      resolveCaa: (name) => answer(`CAA ${name}`, answers.caa?.[name]),
    };
  });
  return { made, createResolver };
}

describe('NodeDnsResolver name-server discovery', () => {
  it('looks up the zone’s NS records, then each server’s IPv4 addresses, through the recursive servers', async () => {
    const { made, createResolver } = scripted({
      ns: { 'example.org': ['NS-2.awsdns-02.net.', 'ns-1.awsdns-01.org'] },
      a: {
        'ns-1.awsdns-01.org': ['205.251.192.1'],
        'ns-2.awsdns-02.net': ['205.251.194.2', '205.251.194.3'],
      },
    });
    const resolver = new NodeDnsResolver({ recursiveServers: ['10.0.0.2'], createResolver });

    const servers = await resolver.authoritativeServers('example.org');

    expect(servers).toEqual([
      { name: 'ns-1.awsdns-01.org', address: '205.251.192.1' },
      { name: 'ns-2.awsdns-02.net', address: '205.251.194.2' },
      { name: 'ns-2.awsdns-02.net', address: '205.251.194.3' },
    ]);
    expect(made.map((entry) => entry.servers)).toEqual([['10.0.0.2'], ['10.0.0.2'], ['10.0.0.2']]);
  });

  it('asks every query with a fresh resolver, so no answer comes from an earlier poll’s cache', async () => {
    const { made, createResolver } = scripted({});
    const resolver = new NodeDnsResolver({ createResolver });

    await resolver.resolveTxt('_acme-challenge.example.org', '192.0.2.1');
    await resolver.resolveTxt('_acme-challenge.example.org', '192.0.2.1');

    expect(made).toHaveLength(2);
    expect(made[0]?.servers).toEqual(['192.0.2.1']);
  });

  it('answers no servers for a zone without NS records', async () => {
    const { createResolver } = scripted({});

    expect(await new NodeDnsResolver({ createResolver }).authoritativeServers('example.org')).toEqual([]);
  });

  it('turns a timeout into DnsQueryError naming the query and the system resolver', async () => {
    const { createResolver } = scripted({ error: { code: 'ETIMEOUT' } });

    const error = await new NodeDnsResolver({ createResolver })
      .resolveCname('_acme-challenge.example.org')
      .catch((caught) => caught);

    expect(error).toBeInstanceOf(DnsQueryError);
    expect(error).toMatchObject({ rcode: 'ETIMEOUT', name: 'DnsQueryError' });
    expect(error.message).toBe(
      'DNS CNAME query for _acme-challenge.example.org at the system resolver failed with ETIMEOUT',
    );
  });
});

describe('NodeDnsResolver CAA lookups', () => {
  it('reads each record’s flags, tag as published and value, through the recursive servers', async () => {
    const { made, createResolver } = scripted({
      caa: {
        'example.org': [
          { critical: 0, issue: 'ca.example; accounturi=https://ca.example/acct/1' },
          { critical: 128, Issuewild: ';' } as never,
          { critical: 128, tbs: 'unknown' } as never,
        ],
      },
    });
    const resolver = new NodeDnsResolver({ recursiveServers: ['10.0.0.2'], createResolver });

    expect(await resolver.resolveCaa('example.org')).toEqual([
      { flags: 0, tag: 'issue', value: 'ca.example; accounturi=https://ca.example/acct/1' },
      { flags: 128, tag: 'Issuewild', value: ';' },
      { flags: 128, tag: 'tbs', value: 'unknown' },
    ]);
    expect(made[0]?.servers).toEqual(['10.0.0.2']);
  });

  it('answers no records for a name without CAA, and DnsQueryError for SERVFAIL', async () => {
    expect(
      await new NodeDnsResolver({ createResolver: scripted({}).createResolver }).resolveCaa('example.org'),
    ).toEqual([]);
    const error = await new NodeDnsResolver({
      createResolver: scripted({ error: { code: 'ESERVFAIL' } }).createResolver,
    })
      .resolveCaa('example.org')
      .catch((caught) => caught);
    expect(error).toBeInstanceOf(DnsQueryError);
    expect(error).toMatchObject({ rcode: 'ESERVFAIL' });
  });
});

describe('dnsResolverFromEnvironment', () => {
  it('reads recursive and authoritative server lists', async () => {
    const resolver = dnsResolverFromEnvironment({
      DNS_RESOLVERS: '127.0.0.1:8053',
      DNS_AUTHORITATIVE_SERVERS: ' 127.0.0.1:5301, 127.0.0.1:5302 ',
    });

    expect(await resolver.authoritativeServers('example.org')).toEqual([
      { name: '127.0.0.1:5301', address: '127.0.0.1:5301' },
      { name: '127.0.0.1:5302', address: '127.0.0.1:5302' },
    ]);
  });

  it('refuses a server list it cannot use, naming the variable', () => {
    expect(() => dnsResolverFromEnvironment({ DNS_RESOLVERS: 'resolver.internal:53' })).toThrow(
      InvalidInputError,
    );
    expect(() => dnsResolverFromEnvironment({ DNS_RESOLVERS: 'resolver.internal:53' })).toThrow(
      /DNS_RESOLVERS/,
    );
  });
});
