import { describe, expect, it } from 'vitest';
import { rateLimitLiftsAt } from '../../../lambdas/core/renewal/rate-limit.js';

const MESSAGE =
  'urn:ietf:params:acme:error:rateLimited (HTTP 429): too many certificates; retry after 2026-03-01T11:30:00.000Z';

describe('rateLimitLiftsAt', () => {
  it('reads the instant from a RateLimitedError message', () => {
    expect(rateLimitLiftsAt('RateLimitedError', MESSAGE)).toEqual(new Date('2026-03-01T11:30:00.000Z'));
  });

  it('reads it from the JSON cause Lambda gives Step Functions', () => {
    const cause = JSON.stringify({ errorType: 'RateLimitedError', errorMessage: MESSAGE, trace: [] });

    expect(rateLimitLiftsAt('RateLimitedError', cause)).toEqual(new Date('2026-03-01T11:30:00.000Z'));
  });

  it('knows nothing when the CA did not say when the limit lifts', () => {
    expect(
      rateLimitLiftsAt('RateLimitedError', 'urn:ietf:params:acme:error:rateLimited (HTTP 429): slow down'),
    ).toBeUndefined();
    expect(rateLimitLiftsAt('RateLimitedError', undefined)).toBeUndefined();
  });

  it('ignores every other error, even one whose message looks alike', () => {
    expect(rateLimitLiftsAt('AcmeServerError', MESSAGE)).toBeUndefined();
  });

  it('ignores an instant that is not a real date', () => {
    expect(rateLimitLiftsAt('RateLimitedError', 'retry after 2026-02-31T99:00:00Z')).toBeUndefined();
  });
});
