import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { LETS_ENCRYPT_PRODUCTION, LETS_ENCRYPT_STAGING } from '../../lib/steps.js';
import { synthStack } from './template.js';

const GTS = 'https://dv.acme-v02.api.pki.goog/directory';

describe('caRateLimits', () => {
  it("reaches the planner, and only the planner, as the limits it paces each CA's orders by", () => {
    const caRateLimits = {
      [LETS_ENCRYPT_PRODUCTION]: 'letsencrypt',
      [GTS]: { newOrdersPerAccount: { count: 100, windowSeconds: 3600 } },
    } as const;
    const { template, resources } = synthStack({
      directoryUrl: LETS_ENCRYPT_STAGING,
      hostedZoneIds: ['Z111'],
      caRateLimits,
    });

    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          ACME_STEP: 'plan-renewals',
          ACME_CA_RATE_LIMITS: JSON.stringify(caRateLimits),
        }),
      },
    });
    const others = Object.values(resources).filter(
      (resource) =>
        resource.Type === 'AWS::Lambda::Function' &&
        (resource.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables
          ?.ACME_STEP !== 'plan-renewals',
    );
    expect(others.length).toBeGreaterThan(0);
    for (const resource of others) {
      expect(JSON.stringify(resource.Properties)).not.toContain('ACME_CA_RATE_LIMITS');
    }
  });

  it('refuses a limit it does not know at synth, naming the CA and the known limits', () => {
    expect(() =>
      synthStack({
        directoryUrl: LETS_ENCRYPT_STAGING,
        hostedZoneIds: ['Z111'],
        caRateLimits: { [GTS]: { ordersPerHour: { count: 10, windowSeconds: 3600 } } as never },
      }),
    ).toThrow(
      /CA rate limits for https:\/\/dv\.acme-v02\.api\.pki\.goog\/directory name an unknown limit "ordersPerHour"; known: newOrdersPerAccount/,
    );
  });

  it('refuses a count that is not a positive whole number at synth', () => {
    expect(() =>
      synthStack({
        directoryUrl: LETS_ENCRYPT_STAGING,
        hostedZoneIds: ['Z111'],
        caRateLimits: { [GTS]: { newOrdersPerAccount: { count: 0, windowSeconds: 3600 } } },
      }),
    ).toThrow(
      /rate limit newOrdersPerAccount for https:\/\/dv\.acme-v02\.api\.pki\.goog\/directory needs a positive integer/,
    );
  });
});
