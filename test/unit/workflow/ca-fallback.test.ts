import { describe, expect, it } from 'vitest';
import {
  type AcmeAwsError,
  AcmeConnectionError,
  AcmeProtocolError,
  AcmeServerError,
  CaaForbidsIssuanceError,
  CaUnavailableError,
  ExternalAccountRequiredError,
  InvalidInputError,
  RateLimitedError,
} from '../../../lambdas/core/errors.js';
import {
  CA_FALLBACK_ERROR_NAMES,
  caFallbackState,
  caUnreachable,
  certificateAuthoritiesFor,
  rateLimitOutlastsWindow,
} from '../../../lambdas/core/workflow/ca-fallback.js';

/**
 * The pure rules of CA fallback: which CAs a certificate tries and in what order, when a CA is
 * left for the next one, and what the state carries so the state machine can take the next.
 */

const FIRST = 'https://first.example/directory';
const SECOND = 'https://second.example/directory';
const THIRD = 'https://third.example/directory';
const DEFAULT = 'https://default.example/directory';
const NOW = new Date('2030-03-01T12:00:00.000Z');
const DAY_S = 24 * 60 * 60;

function daysFromNow(days: number): string {
  return new Date(NOW.getTime() + days * DAY_S * 1000).toISOString();
}

/** The CA's `rateLimited` answer, lifting after `retryAfterSeconds` when it says so. */
function rateLimited(retryAfterSeconds: number | undefined): RateLimitedError {
  const error = new RateLimitedError({
    type: 'urn:ietf:params:acme:error:rateLimited',
    detail: 'too many new orders',
    status: 429,
  });
  error.retryAfterSeconds = retryAfterSeconds;
  return error;
}

describe('certificateAuthoritiesFor', () => {
  const deployment = {
    defaultDirectoryUrl: DEFAULT,
    certificateAuthorities: [{ directoryUrl: DEFAULT }, { directoryUrl: THIRD }],
  };

  it("takes the certificate's own list before its directoryUrl and the deployment's list", () => {
    const own = [{ directoryUrl: FIRST, profile: 'shortlived' }, { directoryUrl: SECOND }];

    expect(
      certificateAuthoritiesFor({ certificateAuthorities: own, directoryUrl: THIRD }, deployment),
    ).toEqual(own);
  });

  it("takes the certificate's directoryUrl alone before the deployment's list", () => {
    expect(certificateAuthoritiesFor({ directoryUrl: SECOND }, deployment)).toEqual([
      { directoryUrl: SECOND },
    ]);
  });

  it("takes the deployment's list for a certificate that names no CA", () => {
    expect(certificateAuthoritiesFor({}, deployment)).toEqual(deployment.certificateAuthorities);
  });

  it("takes the deployment's CA alone when there is no list anywhere", () => {
    expect(certificateAuthoritiesFor({}, { defaultDirectoryUrl: DEFAULT })).toEqual([
      { directoryUrl: DEFAULT },
    ]);
  });

  it('treats an empty list, on either side, as no list', () => {
    expect(
      certificateAuthoritiesFor(
        { certificateAuthorities: [], directoryUrl: SECOND },
        { defaultDirectoryUrl: DEFAULT, certificateAuthorities: [] },
      ),
    ).toEqual([{ directoryUrl: SECOND }]);
    expect(
      certificateAuthoritiesFor(
        { certificateAuthorities: [] },
        { defaultDirectoryUrl: DEFAULT, certificateAuthorities: [] },
      ),
    ).toEqual([{ directoryUrl: DEFAULT }]);
  });
});

describe('caUnreachable', () => {
  it.each([
    ['a connection failure or timeout', new AcmeConnectionError('connect ECONNREFUSED')],
    ['a 5xx answer', new AcmeServerError({ type: 'about:blank', status: 503, detail: 'down' })],
    [
      'a serverInternal problem',
      new AcmeServerError({ type: 'urn:ietf:params:acme:error:serverInternal', status: 500 }),
    ],
  ])('leaves the CA after %s', (_, error) => {
    expect(caUnreachable(error)).toBe(true);
  });

  it.each([
    ['a rate limit (CreateOrder decides on it with the renewal window)', rateLimited(60)],
    ['a profile the CA does not offer', new InvalidInputError('The CA does not offer the profile "x"')],
    [
      'a binding the deployment lacks',
      new ExternalAccountRequiredError({ type: 'urn:ietf:params:acme:error:externalAccountRequired' }),
    ],
    ['an answer RFC 8555 does not allow', new AcmeProtocolError('GET answered HTTP 404')],
    ['an error that is not ours', new Error('boom')],
    ['something that is not an error', 'ECONNREFUSED'],
  ])('stays with the CA after %s', (_, error) => {
    expect(caUnreachable(error)).toBe(false);
  });
});

describe('rateLimitOutlastsWindow', () => {
  const renewal = { notAfter: daysFromNow(30) };

  it('takes a limit the CA gives no end for as outlasting the window', () => {
    expect(rateLimitOutlastsWindow(rateLimited(undefined), NOW, renewal)).toBe(true);
  });

  it('takes any wait as outlasting a first issuance, which has no certificate to keep serving', () => {
    expect(rateLimitOutlastsWindow(rateLimited(1), NOW, undefined)).toBe(true);
    expect(rateLimitOutlastsWindow(rateLimited(undefined), NOW, undefined)).toBe(true);
  });

  it('waits for a renewal whose limit lifts more than 14 days before the certificate expires', () => {
    expect(rateLimitOutlastsWindow(rateLimited(60), NOW, renewal)).toBe(false);
    expect(rateLimitOutlastsWindow(rateLimited(16 * DAY_S - 1), NOW, renewal)).toBe(false);
  });

  it('leaves the CA for a renewal whose limit lifts within 14 days of expiry', () => {
    expect(rateLimitOutlastsWindow(rateLimited(16 * DAY_S + 1), NOW, renewal)).toBe(true);
    expect(rateLimitOutlastsWindow(rateLimited(20 * DAY_S), NOW, renewal)).toBe(true);
  });

  it('leaves the CA at once for a renewal already within 14 days of expiry, or past it', () => {
    expect(rateLimitOutlastsWindow(rateLimited(60), NOW, { notAfter: daysFromNow(10) })).toBe(true);
    expect(rateLimitOutlastsWindow(rateLimited(60), NOW, { notAfter: daysFromNow(-1) })).toBe(true);
  });
});

describe('caFallbackState', () => {
  const execution = { id: 'exec-1', startedAt: '2030-03-01T11:59:00.000Z' };

  it('carries nothing for a single CA', () => {
    expect(caFallbackState(0, 1, execution)).toBeUndefined();
  });

  it('points the first of several at the second, with the execution that holds the lock', () => {
    expect(caFallbackState(0, 3, execution)).toEqual({
      index: 0,
      count: 3,
      next: { caIndex: 1, execution },
    });
  });

  it('points a CA in the middle at the one after it', () => {
    expect(caFallbackState(1, 3, execution)).toEqual({ index: 1, count: 3, next: { caIndex: 2, execution } });
  });

  it('has no next at the last CA, so the state machine ends the run with its failure', () => {
    expect(caFallbackState(2, 3, execution)).toEqual({ index: 2, count: 3 });
  });

  it('leaves the execution out of next when the run has none', () => {
    expect(caFallbackState(0, 2, undefined)).toEqual({ index: 0, count: 2, next: { caIndex: 1 } });
  });
});

describe('CA_FALLBACK_ERROR_NAMES', () => {
  it('names the errors exactly as they reach the state machine, so its Catch matches them', () => {
    const raised: AcmeAwsError[] = [
      new CaUnavailableError('rate limited past the window'),
      new CaaForbidsIssuanceError([]),
      new AcmeServerError({ type: 'about:blank', status: 503 }),
      new AcmeConnectionError('timed out'),
    ];

    expect(raised.map((error) => error.name)).toEqual([...CA_FALLBACK_ERROR_NAMES]);
  });
});
