import { Resolver } from 'node:dns/promises';
import { Route53Client } from '@aws-sdk/client-route-53';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Route53Zones } from '../../lambdas/adapters/route53-zones.js';
import { installRoute53Fake, type Route53Fake } from '../fakes/route53-fake.js';
import { ChalltestsrvClient, type RunningChalltestsrv, startChalltestsrv } from '../harness/challtestsrv.js';

const RECORD = '_acme-challenge.example.org';

let server: RunningChalltestsrv;
let challtestsrv: ChalltestsrvClient;
let resolver: Resolver;

beforeAll(async () => {
  server = await startChalltestsrv();
  challtestsrv = new ChalltestsrvClient(server.url);
  resolver = new Resolver({ timeout: 2_000, tries: 1 });
  resolver.setServers([server.dnsResolver]);
});

afterAll(async () => {
  await server?.stop();
});

/** TXT values as a validator sees them: each record's strings joined, sorted for comparison. */
async function resolveTxt(name: string): Promise<string[]> {
  try {
    return (await resolver.resolveTxt(name)).map((strings) => strings.join('')).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENODATA') return [];
    throw error;
  }
}

describe('ChalltestsrvClient against a real pebble-challtestsrv', () => {
  afterEach(async () => {
    await challtestsrv.clearTxt('client.example.test');
  });

  it('serves TXT values set by name in any spelling, adding rather than replacing', async () => {
    await challtestsrv.setTxt('Client.Example.TEST', 'first');
    await challtestsrv.setTxt('client.example.test.', 'second');

    expect(await resolveTxt('client.example.test')).toEqual(['first', 'second']);
  });

  it('removes every value of a name on clearTxt', async () => {
    await challtestsrv.setTxt('client.example.test', 'gone');

    await challtestsrv.clearTxt('client.example.test');

    expect(await resolveTxt('client.example.test')).toEqual([]);
  });

  it('serves values with quotes and backslashes exactly', async () => {
    await challtestsrv.setTxt('client.example.test', 'say "hi" \\o/');

    expect(await resolveTxt('client.example.test')).toEqual(['say "hi" \\o/']);
  });

  it('refuses values the server cannot serve', async () => {
    await expect(challtestsrv.setTxt('client.example.test', 'x'.repeat(256))).rejects.toThrow(/255 bytes/);
  });

  it('serves a CNAME and follows it for TXT queries', async () => {
    await challtestsrv.setCname('_acme-challenge.alias.test', '_acme-challenge.delegated.test');
    await challtestsrv.setTxt('_acme-challenge.delegated.test', 'delegated-value');

    expect(await resolver.resolveCname('_acme-challenge.alias.test')).toEqual([
      '_acme-challenge.delegated.test',
    ]);
    expect(await resolveTxt('_acme-challenge.alias.test')).toEqual(['delegated-value']);

    await challtestsrv.clearCname('_acme-challenge.alias.test');
    await challtestsrv.clearTxt('_acme-challenge.delegated.test');
  });

  it('answers SERVFAIL for a name until cleared', async () => {
    await challtestsrv.setServfail('broken.example.test');

    await expect(resolver.resolveTxt('broken.example.test')).rejects.toMatchObject({ code: 'ESERVFAIL' });

    await challtestsrv.clearServfail('broken.example.test');
    expect(await resolveTxt('broken.example.test')).toEqual([]);
  });
});

describe('Route53Zones through the fake, observed over real DNS', () => {
  const client = new Route53Client({ region: 'us-east-1' });
  let fake: Route53Fake;
  let zones: Route53Zones;
  let zoneId: string;

  beforeEach(() => {
    fake = installRoute53Fake({ challtestsrv });
    zoneId = fake.addZone({ name: 'example.org' });
    zones = new Route53Zones({ client, sleep: async () => {} });
  });

  afterEach(async () => {
    fake.restore();
    await challtestsrv.clearTxt(RECORD);
  });

  it('makes published values resolvable and removed ones disappear', async () => {
    await zones.publishTxt(zoneId, [{ name: RECORD, values: ['apex-value', 'wildcard-value'] }]);

    expect(await resolveTxt(RECORD)).toEqual(['apex-value', 'wildcard-value']);

    await zones.removeTxt(zoneId, [{ name: RECORD, values: ['apex-value', 'wildcard-value'] }]);

    expect(await resolveTxt(RECORD)).toEqual([]);
  });

  it('keeps serving a value that is not ours after our cleanup', async () => {
    await zones.publishTxt(zoneId, [{ name: RECORD, values: ['someone-else'] }]);
    await zones.publishTxt(zoneId, [{ name: RECORD, values: ['ours'] }]);

    expect(await resolveTxt(RECORD)).toEqual(['ours', 'someone-else']);

    await zones.removeTxt(zoneId, [{ name: RECORD, values: ['ours'] }]);

    expect(await resolveTxt(RECORD)).toEqual(['someone-else']);
  });

  it('does not publish records of a private zone', async () => {
    fake.restore();
    fake = installRoute53Fake({ challtestsrv });
    const privateZoneId = fake.addZone({ name: 'example.org', privateZone: true });

    await zones.publishTxt(privateZoneId, [{ name: RECORD, values: ['internal'] }]);

    expect(await resolveTxt(RECORD)).toEqual([]);
  });
});
