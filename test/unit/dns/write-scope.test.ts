import { describe, expect, it } from 'vitest';
import { ChallengePlacer } from '../../../lambdas/core/dns/placement.js';
import { assertChallengeWritable, parseZoneIdList } from '../../../lambdas/core/dns/write-scope.js';
import {
  AcmeAwsError,
  CnameTargetNotWritableError,
  ZoneNotWritableError,
} from '../../../lambdas/core/errors.js';
import type { HostedZone } from '../../../lambdas/core/ports.js';
import { FakeDnsResolver } from '../../fakes/dns-resolver-fake.js';

const zone = (id: string, name: string): HostedZone => ({ id, name, privateZone: false });
const ZONES = [
  zone('ZCOM', 'example.com'),
  zone('ZVAL', 'validation.example.net'),
  zone('ZDELEGATED', 'delegated.example.net'),
];

async function placementOf(identifier: string, cname?: readonly [string, string]) {
  const resolver = new FakeDnsResolver();
  if (cname) resolver.setCname(cname[0], cname[1]);
  return new ChallengePlacer({ zones: ZONES, resolver }).place(identifier);
}

describe('assertChallengeWritable', () => {
  it('lets a CNAME into a validation zone write its target at any name', async () => {
    const placement = await placementOf('app.example.com', [
      '_acme-challenge.app.example.com',
      'app.validation.example.net',
    ]);

    expect(() => assertChallengeWritable(placement, { validationZoneIds: ['ZVAL'] })).not.toThrow();
    expect(() =>
      assertChallengeWritable(placement, { validationZoneIds: ['/hostedzone/ZVAL'] }),
    ).not.toThrow();
  });

  it('refuses a CNAME into an ordinary zone whose target is not an _acme-challenge name, naming the fix', async () => {
    const placement = await placementOf('app.example.com', [
      '_acme-challenge.app.example.com',
      'x.delegated.example.net',
    ]);

    const error = (() => {
      try {
        assertChallengeWritable(placement, { validationZoneIds: [] });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();

    expect(error).toBeInstanceOf(CnameTargetNotWritableError);
    expect(error).toBeInstanceOf(AcmeAwsError);
    const refused = error as CnameTargetNotWritableError;
    expect(refused.name).toBe('CnameTargetNotWritableError');
    expect(refused.code).toBe('CNAME_TARGET_NOT_WRITABLE');
    expect(refused).toMatchObject({
      source: '_acme-challenge.app.example.com',
      target: 'x.delegated.example.net',
      zoneId: 'ZDELEGATED',
    });
    expect(refused.message).toContain(
      '_acme-challenge.app.example.com is a CNAME to x.delegated.example.net',
    );
    expect(refused.message).toContain('hosted zone ZDELEGATED');
    expect(refused.message).toContain(
      'add ZDELEGATED to validationZoneIds (-c validationZoneIds=ZDELEGATED)',
    );
  });

  it('keeps the validation zones already configured in the suggested context value', async () => {
    const placement = await placementOf('app.example.com', [
      '_acme-challenge.app.example.com',
      'x.delegated.example.net',
    ]);

    expect(() => assertChallengeWritable(placement, { validationZoneIds: ['ZVAL'] })).toThrow(
      'add ZDELEGATED to validationZoneIds (-c validationZoneIds=ZVAL,ZDELEGATED)',
    );
  });

  it('lets a CNAME target named _acme-challenge.* be written in an ordinary zone', async () => {
    const placement = await placementOf('app.example.com', [
      '_acme-challenge.app.example.com',
      '_acme-challenge.app.delegated.example.net',
    ]);

    expect(placement).toMatchObject({
      zoneId: 'ZDELEGATED',
      recordName: '_acme-challenge.app.delegated.example.net',
    });
    expect(() => assertChallengeWritable(placement, { validationZoneIds: [] })).not.toThrow();
  });

  it('leaves a zone reached through a role in another account to that account’s policy', async () => {
    const placement = await placementOf('app.example.com', [
      '_acme-challenge.app.example.com',
      'x.delegated.example.net',
    ]);

    expect(() =>
      assertChallengeWritable(placement, {
        validationZoneIds: [],
        zoneRoles: { ZDELEGATED: 'arn:aws:iam::111122223333:role/acme-dns' },
      }),
    ).not.toThrow();
  });

  it('lets an undelegated challenge through without any validation zone', async () => {
    const placement = await placementOf('www.example.com');

    expect(() => assertChallengeWritable(placement, { validationZoneIds: [] })).not.toThrow();
  });
});

describe('parseZoneIdList', () => {
  it('reads comma-separated zone ids, without /hostedzone/, and nothing from an unset variable', () => {
    expect(parseZoneIdList(' ZVAL, /hostedzone/ZOTHER ,,')).toEqual(['ZVAL', 'ZOTHER']);
    expect(parseZoneIdList('')).toEqual([]);
    expect(parseZoneIdList(undefined)).toEqual([]);
  });

  it('refuses a record in a zone outside the deployment’s hostedZoneIds, naming the zone and the fix', async () => {
    const placement = await placementOf('app.example.com');

    const refuse = () =>
      assertChallengeWritable(
        { ...placement, identifier: 'app.example.com' },
        { validationZoneIds: ['ZVAL'], hostedZoneIds: ['ZOTHER'] },
      );

    expect(refuse).toThrow(ZoneNotWritableError);
    expect(refuse).toThrow(
      'app.example.com: its challenge record _acme-challenge.app.example.com goes in hosted zone ZCOM (example.com), which this stack may not write: its hostedZones/hostedZoneIds allow ZOTHER, ZVAL only.',
    );
    expect(refuse).toThrow('-c hostedZones=...,ZCOM=example.com');
  });

  it('writes in any zone of the deployment’s hostedZoneIds or validation zones, and in every zone without the list', async () => {
    const direct = await placementOf('app.example.com');
    const delegated = await placementOf('app.example.com', [
      '_acme-challenge.app.example.com',
      'app.validation.example.net',
    ]);

    expect(() =>
      assertChallengeWritable(direct, { validationZoneIds: [], hostedZoneIds: ['/hostedzone/ZCOM'] }),
    ).not.toThrow();
    expect(() =>
      assertChallengeWritable(delegated, { validationZoneIds: ['ZVAL'], hostedZoneIds: ['ZCOM'] }),
    ).not.toThrow();
    expect(() => assertChallengeWritable(direct, { validationZoneIds: [] })).not.toThrow();
    expect(() => assertChallengeWritable(direct, { validationZoneIds: [], hostedZoneIds: [] })).not.toThrow();
  });
});
