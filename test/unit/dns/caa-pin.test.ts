import { describe, expect, it } from 'vitest';
import { pinnedCaaValues, planCaaPins } from '../../../lambdas/core/dns/caa-pin.js';
import { InvalidInputError } from '../../../lambdas/core/errors.js';
import type { CaaPin } from '../../../lambdas/core/state.js';

const ACCOUNT = 'https://ca.example/acme/acct/42';
const zones = [
  { id: 'ZORG', name: 'example.org.', privateZone: false },
  { id: 'ZSUB', name: 'shop.example.org.', privateZone: false },
];
const request = { issuer: 'ca.example', accountUrl: ACCOUNT, validationMethods: ['dns-01'], zones };

function pin(name = 'example.org'): CaaPin {
  return {
    zoneId: 'ZORG',
    name,
    issuer: 'ca.example',
    value: `ca.example; accounturi=${ACCOUNT}; validationmethods=dns-01`,
  };
}

describe('planCaaPins', () => {
  it('pins each name once, a wildcard at its base name, in the zone that holds it', () => {
    expect(planCaaPins(['example.org', '*.example.org', 'a.shop.example.org'], request)).toEqual([
      { ...pin('example.org') },
      { ...pin('a.shop.example.org'), zoneId: 'ZSUB' },
    ]);
  });

  it('lists every validation method the certificate may use', () => {
    const [planned] = planCaaPins(['example.org'], {
      ...request,
      validationMethods: ['dns-persist-01', 'dns-01'],
    });
    expect(planned?.value).toBe(`ca.example; accounturi=${ACCOUNT}; validationmethods=dns-persist-01,dns-01`);
  });

  it('refuses an override zone that cannot hold the name', () => {
    expect(() =>
      planCaaPins(['www.example.org'], { ...request, hostedZoneIds: { 'www.example.org': 'ZSUB' } }),
    ).toThrow(InvalidInputError);
  });
});

describe('pinnedCaaValues', () => {
  const ours = `0 issue "ca.example; accounturi=${ACCOUNT}; validationmethods=dns-01"`;

  it('adds the pin where the name has no CAA records', () => {
    expect(pinnedCaaValues([], pin())).toEqual([ours]);
  });

  it('replaces every property naming our CA, in any case, and keeps the other CAs’', () => {
    expect(
      pinnedCaaValues(
        ['0 issue "CA.example"', '0 issue "other.example"', '0 iodef "mailto:ops@example.org"'],
        pin(),
      ),
    ).toEqual(['0 issue "other.example"', '0 iodef "mailto:ops@example.org"', ours]);
  });

  it('replaces an issuewild naming our CA, and adds none where there was none', () => {
    const wild = `0 issuewild "ca.example; accounturi=${ACCOUNT}; validationmethods=dns-01"`;
    expect(pinnedCaaValues(['0 issuewild "ca.example"', '0 issue "ca.example"'], pin())).toEqual([
      ours,
      wild,
    ]);
    expect(pinnedCaaValues(['0 issuewild "other.example"'], pin())).toEqual([
      '0 issuewild "other.example"',
      ours,
    ]);
  });

  it('replaces a pin to another account of our CA', () => {
    expect(
      pinnedCaaValues(['0 issue "ca.example; accounturi=https://ca.example/acme/acct/7"'], pin()),
    ).toEqual([ours]);
  });

  it('changes nothing once the set is pinned, whatever the order of its records', () => {
    expect(pinnedCaaValues(['0 issue "other.example"', ours], pin())).toBeUndefined();
    expect(pinnedCaaValues([ours, '0 issue "other.example"'], pin())).toBeUndefined();
  });
});
