import { describe, expect, it } from 'vitest';
import type { CertificateRecord } from '../../../lambdas/core/ports.js';
import {
  LETS_ENCRYPT_RATE_LIMITS,
  NO_RATE_LIMITS,
  parseRateLimitOverrides,
  rateLimitsFor,
} from '../../../lambdas/core/renewal/ca-rate-limits.js';
import {
  type PacingCandidate,
  pacedBudget,
  paceRenewals,
  pacingHistory,
  registeredDomain,
} from '../../../lambdas/core/renewal/pacing.js';
import { simulatePacing } from '../../support/pacing-simulation.js';

const now = new Date('2027-03-01T12:00:00.000Z');
const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
const empty = { orders: [], issuances: [], failedAuthorizations: [] };

function first(index: number, domain = 'example.com'): PacingCandidate {
  return { certificateId: `c${index}`, names: [`host-${index}.${domain}`], kind: 'first' };
}

describe('registeredDomain', () => {
  it('finds the registered domain from the Public Suffix List, wildcards included', () => {
    expect(registeredDomain('new.blog.example.co.uk')).toBe('example.co.uk');
    expect(registeredDomain('*.Api.Example.COM')).toBe('example.com');
    // A private suffix is not one: grouping by the ICANN suffix never under-counts.
    expect(registeredDomain('me.github.io')).toBe('github.io');
  });
});

describe('rateLimitsFor', () => {
  it('paces Let’s Encrypt and unknown CAs by Let’s Encrypt’s limits, a loopback test CA not at all', () => {
    expect(rateLimitsFor('https://acme-v02.api.letsencrypt.org/directory')).toBe(LETS_ENCRYPT_RATE_LIMITS);
    expect(rateLimitsFor('https://acme.example.net/directory')).toBe(LETS_ENCRYPT_RATE_LIMITS);
    expect(rateLimitsFor('https://127.0.0.1:14000/dir')).toBe(NO_RATE_LIMITS);
  });

  it('takes the operator’s override, by name or as limits', () => {
    const overrides = parseRateLimitOverrides(
      JSON.stringify({
        'https://acme.zerossl.com/v2/DV90': 'none',
        'https://ca.example.net/dir': { newOrdersPerAccount: { count: 100, windowSeconds: 3600 } },
      }),
    );
    expect(rateLimitsFor('https://acme.zerossl.com/v2/DV90', overrides)).toBe(NO_RATE_LIMITS);
    expect(rateLimitsFor('https://ca.example.net/dir', overrides).newOrdersPerAccount).toEqual({
      count: 100,
      windowMs: HOUR,
    });
  });

  it('refuses an override it cannot read, naming what is wrong', () => {
    expect(() => parseRateLimitOverrides('{')).toThrow(/not valid JSON/);
    expect(() => parseRateLimitOverrides('{"https://ca.example.net/dir":"lots"}')).toThrow(/"lots"/);
    expect(() =>
      parseRateLimitOverrides(
        '{"https://ca.example.net/dir":{"ordersPerMinute":{"count":1,"windowSeconds":60}}}',
      ),
    ).toThrow(/unknown limit "ordersPerMinute"/);
    expect(() =>
      parseRateLimitOverrides(
        '{"https://ca.example.net/dir":{"newOrdersPerAccount":{"count":0,"windowSeconds":60}}}',
      ),
    ).toThrow(/positive integer/);
  });
});

describe('paceRenewals', () => {
  it('starts first issuances up to a tenth below the per-domain limit and says when the rest can go', () => {
    const candidates = Array.from({ length: 60 }, (_, index) => first(index));

    const decision = paceRenewals({ candidates, history: empty, limits: LETS_ENCRYPT_RATE_LIMITS, now });

    expect(decision.start).toHaveLength(pacedBudget(50));
    expect(decision.deferred).toHaveLength(60 - 45);
    expect(decision.deferred[0]).toEqual({
      certificateId: 'c45',
      limit: 'certificatesPerRegisteredDomain',
      notBefore: new Date(now.getTime() + 7 * DAY),
    });
  });

  it('counts the registry’s recent first issuances, and lets renewals through the per-domain limit', () => {
    const history = {
      ...empty,
      issuances: [
        ...Array.from({ length: 44 }, (_, index) => ({
          at: new Date(now.getTime() - DAY - index * HOUR),
          names: [`old-${index}.example.com`],
          counted: true,
        })),
        { at: new Date(now.getTime() - DAY), names: ['renewed.example.com'], counted: false },
      ],
    };
    const renewal: PacingCandidate = { certificateId: 'r', names: ['renewed.example.com'], kind: 'renewal' };

    const decision = paceRenewals({
      candidates: [first(1), first(2), renewal],
      history,
      limits: LETS_ENCRYPT_RATE_LIMITS,
      now,
    });

    expect(decision.start).toEqual(['c1', 'r']);
    // The oldest of the 45 counted issuances leaves the 7-day window first.
    expect(decision.deferred[0]?.notBefore).toEqual(new Date(now.getTime() - DAY - 43 * HOUR + 7 * DAY));
  });

  it('never holds back an ARI renewal or a certificate that needs no order', () => {
    const crowded = {
      ...empty,
      orders: Array.from({ length: 300 }, () => new Date(now.getTime() - HOUR)),
    };
    const decision = paceRenewals({
      candidates: [
        { certificateId: 'ari', names: ['a.example.com'], kind: 'ari-renewal' },
        { certificateId: 'import', names: ['b.example.com'], kind: 'no-order' },
        first(1, 'example.org'),
      ],
      history: crowded,
      limits: LETS_ENCRYPT_RATE_LIMITS,
      now,
    });
    expect(decision.start).toEqual(['ari', 'import']);
    expect(decision.deferred.map((entry) => entry.limit)).toEqual(['newOrdersPerAccount']);
  });

  it('holds back an exact set issued four times this week, and names that failed validation four times this hour', () => {
    const names = ['shop.example.com'];
    const history = {
      orders: [],
      issuances: Array.from({ length: 4 }, (_, index) => ({
        at: new Date(now.getTime() - (index + 1) * DAY),
        names,
        counted: false,
      })),
      failedAuthorizations: Array.from({ length: 4 }, (_, index) => ({
        at: new Date(now.getTime() - (index + 1) * 10 * 60 * 1000),
        names: ['broken.example.net'],
      })),
    };
    const decision = paceRenewals({
      candidates: [
        { certificateId: 'dup', names, kind: 'renewal' },
        { certificateId: 'broken', names: ['broken.example.net'], kind: 'renewal' },
      ],
      history,
      limits: LETS_ENCRYPT_RATE_LIMITS,
      now,
    });
    expect(decision.deferred.map((entry) => [entry.certificateId, entry.limit])).toEqual([
      ['dup', 'certificatesPerExactSet'],
      ['broken', 'failedAuthorizationsPerIdentifier'],
    ]);
  });

  it('paces nothing for a CA without limits', () => {
    const candidates = Array.from({ length: 500 }, (_, index) => first(index));
    expect(paceRenewals({ candidates, history: empty, limits: NO_RATE_LIMITS, now }).start).toHaveLength(500);
  });
});

describe('pacingHistory', () => {
  const config = { domains: ['a.example.com'], keyType: 'EC_P256', regions: ['us-east-1'] };
  const record = (overrides: Partial<CertificateRecord>): CertificateRecord => ({
    certificateId: 'a',
    config,
    ...overrides,
  });
  const issued = (notBefore: Date, renewal: boolean) => ({
    serial: '01',
    storeKey: 'k',
    notBefore: notBefore.toISOString(),
    notAfter: new Date(notBefore.getTime() + 90 * DAY).toISOString(),
    fingerprint: 'EC_P256:a.example.com',
    deliveredBy: { executionId: 'x', renewal, arnReplaced: false },
  });

  it('reads issuances an hour after notBefore, and counts only first issuances and their orders', () => {
    const firstAt = new Date(now.getTime() - 2 * HOUR);
    const history = pacingHistory(
      [
        record({ issued: issued(firstAt, false), lastAttemptAt: firstAt.toISOString() }),
        record({ certificateId: 'b', issued: issued(firstAt, true), lastAttemptAt: firstAt.toISOString() }),
      ],
      now,
    );
    expect(history.issuances.map((entry) => [entry.at.getTime() - firstAt.getTime(), entry.counted])).toEqual(
      [
        [HOUR, true],
        [HOUR, false],
      ],
    );
    expect(history.orders).toEqual([firstAt]);
  });

  it('counts a failed order and a failed authorization against every name of the certificate', () => {
    const at = new Date(now.getTime() - 10 * 60 * 1000).toISOString();
    const history = pacingHistory(
      [record({ lastAttemptAt: at, lastError: { name: 'OrderInvalidError', message: 'dns', at } })],
      now,
    );
    expect(history.orders).toHaveLength(1);
    expect(history.failedAuthorizations).toEqual([{ at: new Date(at), names: ['a.example.com'] }]);
  });
});

describe('the planner over simulated time against Let’s Encrypt’s limits', () => {
  it('issues 1,000 certificates over 40 registered domains within days, with no 429 and no ARI renewal delayed', async () => {
    const result = await simulatePacing({ certificates: 1000, registeredDomains: 40, days: 75 });

    expect(result.refused).toEqual({});
    expect(result.firstIssuances).toBe(1000);
    expect(result.lastFirstIssuanceHours).toBeDefined();
    expect(result.peaks.newOrdersPerAccount).toBeLessThanOrEqual(300);
    expect(result.peaks.certificatesPerRegisteredDomain).toBeLessThanOrEqual(50);
    expect(result.peaks.certificatesPerExactSet).toBeLessThanOrEqual(5);
    // Two thirds into a 90-day lifetime, every certificate renewed through ARI on the run it was due.
    expect(result.ariRenewals).toBe(1000);
    expect(result.ariRenewalsDelayed).toBe(0);
    expect(result.deferredByLimit.newOrdersPerAccount).toBeGreaterThan(0);
  }, 120_000);

  it('issues 1,000 certificates of one registered domain, 45 per 7-day window, while their ARI renewals go on time', async () => {
    const result = await simulatePacing({ certificates: 1000, registeredDomains: 1, days: 185 });

    expect(result.refused).toEqual({});
    expect(result.firstIssuances).toBe(1000);
    expect(result.lastFirstIssuanceHours).toBeDefined();
    expect(result.peaks.certificatesPerRegisteredDomain).toBeLessThanOrEqual(50);
    expect(result.ariRenewals).toBeGreaterThan(0);
    expect(result.ariRenewalsDelayed).toBe(0);
  }, 300_000);

  it('paces renewals without ARI by the exact-set limit only, and meets no 429', async () => {
    const result = await simulatePacing({ certificates: 300, registeredDomains: 10, days: 70, ari: false });

    expect(result.refused).toEqual({});
    expect(result.firstIssuances).toBe(300);
    expect(result.renewals).toBe(300);
  }, 120_000);
});
