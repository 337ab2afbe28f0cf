import { describe, expect, it } from 'vitest';
import type { CertificateRecord } from '../../../lambdas/core/ports.js';
import { nextAttemptAfterFailure } from '../../../lambdas/core/renewal/backoff.js';
import { configurationFingerprint, renewalDecision } from '../../../lambdas/core/renewal/due.js';
import { forecastAcmImports } from '../../../lambdas/core/renewal/quota.js';

const now = new Date('2030-01-10T00:00:00.000Z');
const config = { domains: ['example.org', '*.example.org'], keyType: 'EC_P256', regions: ['eu-west-1'] };
const imported: CertificateRecord = {
  certificateId: 'web',
  config,
  acmArns: { 'eu-west-1': 'arn:aws:acm:eu-west-1:1:certificate/a' },
  issued: {
    serial: '01',
    storeKey: 'certificates/web/01',
    notBefore: '2030-01-01T00:00:00.000Z',
    notAfter: '2030-04-01T00:00:00.000Z',
    fingerprint: configurationFingerprint(config),
    importedArn: 'arn:aws:acm:eu-west-1:1:certificate/a',
  },
  nextRenewalAt: '2030-03-02T00:00:00.000Z',
};

describe('renewalDecision', () => {
  it('leaves a freshly imported certificate alone until its renewal time', () => {
    expect(renewalDecision(imported, now)).toEqual({
      due: false,
      reason: 'not-due',
      nextCheckAt: '2030-03-02T00:00:00.000Z',
    });
    expect(renewalDecision(imported, new Date('2030-03-02T00:00:00.000Z'))).toEqual({
      due: true,
      reason: 'renewal-time',
    });
  });

  it('renews at once when the declared names or key type change', () => {
    const changed = { ...imported, config: { ...config, keyType: 'RSA_2048' } };
    expect(renewalDecision(changed, now)).toEqual({ due: true, reason: 'configuration-changed' });
    const moreNames = { ...imported, config: { ...config, domains: [...config.domains, 'api.example.org'] } };
    expect(renewalDecision(moreNames, now)).toEqual({ due: true, reason: 'configuration-changed' });
  });

  it('treats a KMS-held key’s certificate as delivered once published to the store, with no ACM ARN', () => {
    const kmsConfig = { ...config, regions: [], kmsKeyArn: 'arn:aws:kms:eu-west-1:1:key/k' };
    const issued = {
      serial: '02',
      storeKey: 'certificates/signer/02',
      notBefore: '2030-01-01T00:00:00.000Z',
      notAfter: '2030-04-01T00:00:00.000Z',
      fingerprint: configurationFingerprint(kmsConfig),
      kmsKeyArn: kmsConfig.kmsKeyArn,
    };
    const published: CertificateRecord = {
      certificateId: 'signer',
      config: kmsConfig,
      issued: { ...issued, publishedAt: '2030-01-01T00:05:00.000Z' },
      nextRenewalAt: '2030-03-02T00:00:00.000Z',
    };
    expect(renewalDecision(published, now)).toMatchObject({ due: false, reason: 'not-due' });
    expect(renewalDecision({ ...published, issued }, now)).toEqual({ due: true, reason: 'not-imported' });
    // Another KMS key is another certificate key: the certificate is reissued for it.
    const rotated = { ...published, config: { ...kmsConfig, kmsKeyArn: 'arn:aws:kms:eu-west-1:1:key/new' } };
    expect(renewalDecision(rotated, now)).toEqual({ due: true, reason: 'configuration-changed' });
  });

  it('issues a declared certificate that was never issued', () => {
    expect(renewalDecision({ certificateId: 'new', config }, now)).toEqual({
      due: true,
      reason: 'never-issued',
    });
  });

  it('imports into a region added to the configuration', () => {
    const twoRegions = { ...imported, config: { ...config, regions: ['eu-west-1', 'us-east-1'] } };
    expect(renewalDecision(twoRegions, now)).toEqual({ due: true, reason: 'not-imported' });
  });

  it('waits out the backoff of a failing certificate, then tries again', () => {
    const failing = {
      ...imported,
      nextRenewalAt: '2030-01-01T00:00:00.000Z',
      consecutiveFailures: 2,
      nextAttemptAt: '2030-01-10T02:00:00.000Z',
    };
    expect(renewalDecision(failing, now)).toMatchObject({ due: false, reason: 'backing-off' });
    expect(renewalDecision(failing, new Date('2030-01-10T02:00:00.000Z'))).toEqual({
      due: true,
      reason: 'renewal-time',
    });
  });

  it('ignores records that carry no configuration (accounts, or ids only seen by a lock)', () => {
    expect(renewalDecision({ certificateId: 'orphan' }, now)).toEqual({ due: false, reason: 'not-managed' });
  });
});

describe('nextAttemptAfterFailure', () => {
  it('doubles from one hour and stops at a day', () => {
    const hours = [1, 2, 3, 4, 5, 6, 10].map(
      (failures) => (nextAttemptAfterFailure(failures, now).getTime() - now.getTime()) / 3_600_000,
    );
    expect(hours).toEqual([1, 2, 4, 8, 16, 24, 24]);
  });
});

describe('forecastAcmImports', () => {
  it('counts renewals at two thirds of the lifetime, per region', () => {
    const forecast = forecastAcmImports([
      { certificateId: 'a', regions: ['us-east-1', 'eu-west-1'], lifetimeDays: 90 },
      { certificateId: 'b', regions: ['eu-west-1'], lifetimeDays: 6 },
    ]);
    expect(forecast).toEqual([
      { region: 'eu-west-1', importsPerYear: Math.ceil(365 / 60 + 365 / 4), exceedsQuota: false },
      { region: 'us-east-1', importsPerYear: Math.ceil(365 / 60), exceedsQuota: false },
    ]);
  });

  it('flags short-lived certificates that would exhaust a region’s 5,000 imports a year', () => {
    const fleet = Array.from({ length: 60 }, (_, index) => ({
      certificateId: `c${index}`,
      regions: ['us-east-1'],
      lifetimeDays: 6,
    }));
    expect(forecastAcmImports(fleet)).toEqual([
      { region: 'us-east-1', importsPerYear: 5475, exceedsQuota: true },
    ]);
  });
});
