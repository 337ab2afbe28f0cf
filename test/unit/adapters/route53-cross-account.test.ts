import { ListHostedZonesCommand, Route53Client } from '@aws-sdk/client-route-53';
import { STSClient } from '@aws-sdk/client-sts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Route53Zones } from '../../../lambdas/adapters/route53-zones.js';
import { AssumedRoleClients } from '../../../lambdas/adapters/sts-assumed-roles.js';
import { AwsRequestError } from '../../../lambdas/core/errors.js';
import { installRoute53Fake, type Route53Fake } from '../../fakes/route53-fake.js';
import { installStsFake, type StsFake } from '../../fakes/sts-fake.js';

const PARTNER_ACCOUNT = '210987654321';
const ROLE = `arn:aws:iam::${PARTNER_ACCOUNT}:role/acme-dns`;
const RECORD = 'app.validation.example.net';
const home = { accessKeyId: 'AKIAHOME', secretAccessKey: 'home' };
const homeClient = new Route53Client({ region: 'us-east-1', credentials: home });

let now: Date;
let sts: StsFake;
let route53: Route53Fake;
let homeZone: string;
let partnerZone: string;
let zones: Route53Zones;

beforeEach(() => {
  now = new Date('2026-03-01T12:00:00Z');
  sts = installStsFake({ now: () => now });
  sts.addRole(ROLE);
  route53 = installRoute53Fake({ accounts: sts });
  homeZone = route53.addZone({ name: 'example.org' });
  partnerZone = route53.addZone({ name: 'validation.example.net', account: PARTNER_ACCOUNT });
  route53.addZone({ name: 'unrelated.example', account: PARTNER_ACCOUNT });
  zones = new Route53Zones({
    client: homeClient,
    sleep: async () => {},
    roleClients: new AssumedRoleClients({
      sts: new STSClient({ region: 'us-east-1', credentials: home }),
      createClient: (credentials) => new Route53Client({ region: 'us-east-1', credentials }),
      now: () => now,
    }),
  });
});

afterEach(() => {
  route53.restore();
  sts.restore();
});

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('Route53Zones with a zone in another account', () => {
  it('lists the account’s zones and reads only the named zone of the other account', async () => {
    const listed = await zones.listPublicZones({ [partnerZone]: ROLE });

    expect(listed).toEqual([
      { id: homeZone, name: 'example.org', privateZone: false },
      { id: partnerZone, name: 'validation.example.net', privateZone: false },
    ]);
    expect(route53.calls.GetHostedZone).toBe(1);
    expect(sts.calls.AssumeRole).toBe(1);
  });

  it('publishes, polls and removes through the role, in the zone’s account', async () => {
    const changeId = await zones.publishTxt(partnerZone, [{ name: RECORD, values: ['v1'] }], ROLE);
    const firstPoll = await zones.isChangeInSync(changeId, ROLE);
    const secondPoll = await zones.isChangeInSync(changeId, ROLE);
    const published = route53.txtValues(RECORD);
    await zones.removeTxt(partnerZone, [{ name: RECORD, values: ['v1'] }], ROLE);

    expect(published).toEqual(['v1']);
    expect([firstPoll, secondPoll]).toEqual([false, true]);
    expect(route53.txtValues(RECORD)).toEqual([]);
    expect(route53.changeBatches.map((batch) => [batch.zoneId, batch.account])).toEqual([
      [partnerZone, PARTNER_ACCOUNT],
      [partnerZone, PARTNER_ACCOUNT],
    ]);
    expect(sts.calls.AssumeRole).toBe(1);
  });

  it('cannot reach the zone or its change without the role, as Route 53 answers another account', async () => {
    const changeId = await zones.publishTxt(partnerZone, [{ name: RECORD, values: ['v1'] }], ROLE);

    const publishError = await rejection(zones.publishTxt(partnerZone, [{ name: RECORD, values: ['v2'] }]));
    const pollError = await rejection(zones.isChangeInSync(changeId));

    expect(publishError).toBeInstanceOf(AwsRequestError);
    expect((publishError.cause as Error).name).toBe('NoSuchHostedZone');
    expect((pollError.cause as Error).name).toBe('NoSuchChange');
  });

  it('assumes the role again when its credentials are about to expire', async () => {
    await zones.publishTxt(partnerZone, [{ name: RECORD, values: ['v1'] }], ROLE);
    now = new Date(now.getTime() + 58 * 60_000);

    await zones.removeTxt(partnerZone, [{ name: RECORD, values: ['v1'] }], ROLE);

    expect(sts.calls.AssumeRole).toBe(2);
    expect(route53.txtValues(RECORD)).toEqual([]);
  });

  it('names the zone and the role when the role belongs to an account without the zone', async () => {
    const wrongRole = sts.addRole('arn:aws:iam::333344445555:role/acme-dns');

    const error = await rejection(zones.listPublicZones({ [partnerZone]: wrongRole }));

    expect(error).toBeInstanceOf(AwsRequestError);
    expect(error.message).toContain(`GetHostedZone for hosted zone ${partnerZone} through role ${wrongRole}`);
    expect(error.message).toContain('NoSuchHostedZone');
  });

  it('says so when a role is asked for but the adapter has no STS', async () => {
    const withoutSts = new Route53Zones({ client: homeClient });

    await expect(withoutSts.isChangeInSync('C1', ROLE)).rejects.toThrow(/without STS/);
  });
});

describe('the Route 53 fake with accounts', () => {
  it('lists only the zones of the account the credentials act in', async () => {
    const partnerClient = await new AssumedRoleClients({
      sts: new STSClient({ region: 'us-east-1', credentials: home }),
      createClient: (credentials) => new Route53Client({ region: 'us-east-1', credentials }),
      now: () => now,
    }).clientFor(ROLE);

    const fromHome = await homeClient.send(new ListHostedZonesCommand({}));
    const fromPartner = await partnerClient.send(new ListHostedZonesCommand({}));

    expect(fromHome.HostedZones?.map((zone) => zone.Name)).toEqual(['example.org.']);
    expect(fromPartner.HostedZones?.map((zone) => zone.Name)).toEqual([
      'validation.example.net.',
      'unrelated.example.',
    ]);
  });

  it('refuses expired credentials with ExpiredToken', async () => {
    const partnerClient = await new AssumedRoleClients({
      sts: new STSClient({ region: 'us-east-1', credentials: home }),
      createClient: (credentials) => new Route53Client({ region: 'us-east-1', credentials }),
      now: () => now,
    }).clientFor(ROLE);
    now = new Date(now.getTime() + 2 * 3600_000);

    await expect(partnerClient.send(new ListHostedZonesCommand({}))).rejects.toMatchObject({
      name: 'ExpiredToken',
    });
  });
});
