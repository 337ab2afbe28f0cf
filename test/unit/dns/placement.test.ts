import { describe, expect, it, vi } from 'vitest';
import { ChallengePlacer } from '../../../lambdas/core/dns/placement.js';
import { InvalidInputError } from '../../../lambdas/core/errors.js';
import type { HostedZone } from '../../../lambdas/core/ports.js';
import { FakeDnsResolver } from '../../fakes/dns-resolver-fake.js';

const zone = (id: string, name: string, privateZone = false): HostedZone => ({ id, name, privateZone });

const COM = zone('ZCOM', 'example.com');
const VALIDATION = zone('ZVAL', 'validation.example.net');
const NET = zone('ZNET', 'example.net');
const ZONES = [COM, VALIDATION, NET];

function placer(resolver: FakeDnsResolver, hostedZoneIds?: Record<string, string>) {
  return new ChallengePlacer({ zones: ZONES, hostedZoneIds, resolver });
}

describe('ChallengePlacer', () => {
  it('places an undelegated challenge at _acme-challenge in the zone of the name', async () => {
    const placement = await placer(new FakeDnsResolver()).place('www.example.com');

    expect(placement).toEqual({
      recordName: '_acme-challenge.www.example.com',
      zoneId: 'ZCOM',
      zoneName: 'example.com',
    });
  });

  it('writes a delegated challenge at the CNAME target, in the zone of the target', async () => {
    const resolver = new FakeDnsResolver().setCname(
      '_acme-challenge.app.example.com',
      'app.validation.example.net',
    );

    const placement = await placer(resolver).place('app.example.com');

    expect(placement).toEqual({
      recordName: 'app.validation.example.net',
      zoneId: 'ZVAL',
      zoneName: 'validation.example.net',
      delegatedFrom: '_acme-challenge.app.example.com',
    });
  });

  it('looks the challenge name up once for an apex and its wildcard', async () => {
    const resolver = new FakeDnsResolver().setCname(
      '_acme-challenge.example.com',
      'apex.validation.example.net',
    );
    const shared = placer(resolver);

    const [apex, wildcard] = await Promise.all([shared.place('example.com'), shared.place('*.example.com')]);

    expect(apex.recordName).toBe('apex.validation.example.net');
    expect(wildcard).toEqual(apex);
    expect(resolver.queries.filter((query) => query.startsWith('CNAME _acme-challenge'))).toHaveLength(1);
  });

  it('lets an override keyed by the target’s domain choose among zones', async () => {
    const resolver = new FakeDnsResolver().setCname(
      '_acme-challenge.app.example.com',
      'app.validation.example.net',
    );

    const placement = await placer(resolver, { 'example.net': 'ZNET' }).place('app.example.com');

    expect(placement.zoneId).toBe('ZNET');
  });

  it('uses the identifier’s override when its zone can hold the target', async () => {
    const resolver = new FakeDnsResolver().setCname(
      '_acme-challenge.app.example.com',
      'app.validation.example.net',
    );

    const placement = await placer(resolver, { 'app.example.com': 'ZNET' }).place('app.example.com');

    expect(placement.zoneId).toBe('ZNET');
  });

  it('passes over an identifier override whose zone cannot hold the target', async () => {
    const resolver = new FakeDnsResolver().setCname(
      '_acme-challenge.app.example.com',
      'app.validation.example.net',
    );

    const placement = await placer(resolver, { 'example.com': 'ZCOM' }).place('app.example.com');

    expect(placement.zoneId).toBe('ZVAL');
  });

  it('refuses an override keyed by the target that names a zone unable to hold it', async () => {
    const resolver = new FakeDnsResolver().setCname(
      '_acme-challenge.app.example.com',
      'app.validation.example.net',
    );

    await expect(
      placer(resolver, { 'validation.example.net': 'ZCOM' }).place('app.example.com'),
    ).rejects.toThrow(/cannot hold app\.validation\.example\.net/);
  });

  it('names the CNAME when no zone contains its target', async () => {
    const resolver = new FakeDnsResolver().setCname(
      '_acme-challenge.app.example.com',
      'app.dns-provider.example',
    );

    const error = await placer(resolver)
      .place('app.example.com')
      .catch((caught) => caught);

    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.message).toContain('_acme-challenge.app.example.com is a CNAME to app.dns-provider.example');
    expect(error.message).toContain('zoneRoles');
  });

  it('refuses an override sending an undelegated name to a zone that cannot hold its record', async () => {
    await expect(
      placer(new FakeDnsResolver(), { 'www.example.com': 'ZNET' }).place('www.example.com'),
    ).rejects.toThrow(/cannot hold _acme-challenge\.www\.example\.com/);
  });

  it('keeps the record at the challenge name and warns when the CNAME lookup fails', async () => {
    const resolver = new FakeDnsResolver().fail('CNAME _acme-challenge.www.example.com', 'ESERVFAIL');
    const warn = vi.fn();

    const placement = await new ChallengePlacer({ zones: ZONES, resolver, warn }).place('www.example.com');

    expect(placement.recordName).toBe('_acme-challenge.www.example.com');
    expect(warn).toHaveBeenCalledWith(
      expect.stringContaining('CNAME'),
      expect.objectContaining({ failure: expect.stringContaining('ESERVFAIL') }),
    );
  });
});
