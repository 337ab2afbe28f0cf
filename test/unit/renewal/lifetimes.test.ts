import { describe, expect, it } from 'vitest';
import { fallbackRenewalTime } from '../../../lambdas/core/acme/renewal-info.js';
import type { CertificateRecord } from '../../../lambdas/core/ports.js';
import { certificateLifetimeMs, nextAttemptAfterFailure } from '../../../lambdas/core/renewal/backoff.js';
import { configurationFingerprint, renewalDecision } from '../../../lambdas/core/renewal/due.js';
import { ACM_IMPORTS_PER_YEAR, forecastAcmImports } from '../../../lambdas/core/renewal/quota.js';
import { simulatePacing } from '../../support/pacing-simulation.js';

const HOUR = 60 * 60 * 1000;

/**
 * Let's Encrypt's lifetimes: `classic` issues 90 days until 2027-02-10, then 64 days, then 45 days
 * from 2028; `tlsserver` issues 45 days; `shortlived` 160 hours. Each row says what the README
 * promises: when a certificate renews without ARI, how many imports a year it costs per region,
 * and how many certificates × regions fit ACM's 5,000 imports a year per region.
 */
const LIFETIMES = [
  {
    profile: 'classic until 2027-02-10',
    lifetimeHours: 90 * 24,
    renewsAfterHours: 1440,
    importsPerYear: 6.08,
    fit: 821,
  },
  {
    profile: 'classic from 2027-02-10',
    lifetimeHours: 64 * 24,
    renewsAfterHours: 1024,
    importsPerYear: 8.55,
    fit: 584,
  },
  {
    profile: 'classic from 2028, tlsserver',
    lifetimeHours: 45 * 24,
    renewsAfterHours: 720,
    importsPerYear: 12.17,
    fit: 410,
  },
  { profile: 'shortlived', lifetimeHours: 160, renewsAfterHours: 106.67, importsPerYear: 82.13, fit: 60 },
] as const;

const config = { domains: ['www.example.com'], keyType: 'EC_P256', regions: ['us-east-1'] };

function issuedRecord(notBefore: Date, lifetimeHours: number): CertificateRecord {
  const notAfter = new Date(notBefore.getTime() + lifetimeHours * HOUR);
  return {
    certificateId: 'web',
    config,
    acmArns: { 'us-east-1': 'arn:aws:acm:us-east-1:111122223333:certificate/web' },
    issued: {
      serial: '01',
      storeKey: 'certificates/web/01',
      notBefore: notBefore.toISOString(),
      notAfter: notAfter.toISOString(),
      fingerprint: configurationFingerprint(config),
      importedArn: 'arn:aws:acm:us-east-1:111122223333:certificate/web',
    },
    nextRenewalAt: fallbackRenewalTime(notBefore, notAfter).toISOString(),
  };
}

describe.each(LIFETIMES)('a $profile certificate ($lifetimeHours hours)', (row) => {
  const notBefore = new Date('2027-03-01T00:00:00.000Z');

  it('renews without ARI when a third of its lifetime is left', () => {
    const record = issuedRecord(notBefore, row.lifetimeHours);
    const renewsAt = new Date(record.nextRenewalAt as string);

    expect((renewsAt.getTime() - notBefore.getTime()) / HOUR).toBeCloseTo(row.renewsAfterHours, 1);
    expect(renewalDecision(record, new Date(renewsAt.getTime() - 1)).due).toBe(false);
    expect(renewalDecision(record, renewsAt)).toEqual({ due: true, reason: 'renewal-time' });
  });

  it('retries a failing renewal at least eight times before it expires', () => {
    const record = issuedRecord(notBefore, row.lifetimeHours);
    const expiry = Date.parse(record.issued?.notAfter as string);
    let at = new Date(record.nextRenewalAt as string);
    let attempts = 0;
    for (let failures = 1; at.getTime() < expiry; failures += 1) {
      attempts += 1;
      at = nextAttemptAfterFailure(failures, at, certificateLifetimeMs(record.issued));
    }
    expect(attempts).toBeGreaterThanOrEqual(8);
  });

  it('costs its imports per region per year, and as many certificates × regions fit ACM’s quota', () => {
    const one = forecastAcmImports([
      { certificateId: 'web', regions: ['us-east-1', 'eu-west-1'], lifetimeDays: row.lifetimeHours / 24 },
    ]);
    const fleet = (count: number) =>
      forecastAcmImports(
        Array.from({ length: count }, (_, index) => ({
          certificateId: `c${index}`,
          regions: ['us-east-1'],
          lifetimeDays: row.lifetimeHours / 24,
        })),
      )[0];

    expect(one.map((entry) => entry.region)).toEqual(['eu-west-1', 'us-east-1']);
    expect(one[0]?.importsPerYear).toBe(Math.ceil(row.importsPerYear));
    expect(fleet(row.fit)?.exceedsQuota).toBe(false);
    expect(fleet(row.fit + 1)?.exceedsQuota).toBe(true);
    expect(fleet(row.fit)?.importsPerYear).toBeLessThanOrEqual(ACM_IMPORTS_PER_YEAR);
  });

  it('renews through ARI on schedule, long before expiry, with no 429', async () => {
    // A 160-hour certificate needs a planner that runs every hour; the others do with a daily one.
    const runEveryHours = row.lifetimeHours < 7 * 24 ? 1 : 24;
    const result = await simulatePacing({
      certificates: 20,
      registeredDomains: 2,
      lifetimeHours: row.lifetimeHours,
      runEveryHours,
      days: (row.lifetimeHours * 2.2) / 24,
    });

    expect(result.refused).toEqual({});
    expect(result.ariRenewals).toBeGreaterThanOrEqual(20);
    expect(result.ariRenewalsDelayed).toBe(0);
    expect(result.minHoursLeftAtRenewal).toBeGreaterThan(row.lifetimeHours / 4);
  });
});
