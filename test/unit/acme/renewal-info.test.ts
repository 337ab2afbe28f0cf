import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  chooseRenewalTime,
  fallbackRenewalTime,
  isAriCertificateId,
  parseRenewalInfo,
} from '../../../lambdas/core/acme/renewal-info.js';
import { AcmeProtocolError, InvalidInputError } from '../../../lambdas/core/errors.js';

const DAY_MS = 24 * 60 * 60 * 1000;
// The CertID of the RFC 9773 §4.1 example.
const EXAMPLE_CERT_ID = 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE';

describe('isAriCertificateId', () => {
  it('accepts two unpadded base64url parts joined by a dot, and nothing else', () => {
    expect(isAriCertificateId(EXAMPLE_CERT_ID)).toBe(true);
    expect(isAriCertificateId('87654321')).toBe(false);
    expect(isAriCertificateId('AQI=.fwEC')).toBe(false);
    expect(isAriCertificateId('AQI.fw+C')).toBe(false);
    expect(isAriCertificateId('.fwEC')).toBe(false);
    expect(isAriCertificateId('AQI.fwEC.x')).toBe(false);
  });
});

describe('parseRenewalInfo', () => {
  it('reads the suggested window and the explanation URL', () => {
    const info = parseRenewalInfo({
      suggestedWindow: { start: '2025-01-02T04:00:00Z', end: '2025-01-03T04:00:00Z' },
      explanationURL: 'https://ca.example/incident/42',
    });

    expect(info).toEqual({
      start: new Date('2025-01-02T04:00:00Z'),
      end: new Date('2025-01-03T04:00:00Z'),
      explanationUrl: 'https://ca.example/incident/42',
    });
  });

  it('applies numeric offsets and keeps fractional seconds to the millisecond', () => {
    const info = parseRenewalInfo({
      suggestedWindow: { start: '2025-01-02T05:30:00.1239+01:30', end: '2025-01-02t23:59:60z' },
    });

    expect(info.start.toISOString()).toBe('2025-01-02T04:00:00.123Z');
    // A leap second is read as the first second of the next minute.
    expect(info.end.toISOString()).toBe('2025-01-03T00:00:00.000Z');
    expect(info).not.toHaveProperty('explanationUrl');
  });

  it('leaves out an explanationURL that is not an absolute URL', () => {
    const info = parseRenewalInfo({
      suggestedWindow: { start: '2025-01-02T04:00:00Z', end: '2025-01-03T04:00:00Z' },
      explanationURL: 42,
    });

    expect(info).not.toHaveProperty('explanationUrl');
  });

  it.each([
    ['a body that is not an object', [], /not a JSON object/],
    ['a missing suggestedWindow', { explanationURL: 'https://ca.example' }, /no "suggestedWindow"/],
    ['a start that is not a string', { suggestedWindow: { start: 1, end: '2025-01-03T04:00:00Z' } }, /start/],
    ['a missing end', { suggestedWindow: { start: '2025-01-02T04:00:00Z' } }, /suggestedWindow\.end/],
    [
      'a date without a time zone',
      { suggestedWindow: { start: '2025-01-02T04:00:00', end: '2025-01-03T04:00:00Z' } },
      /start/,
    ],
    [
      'an impossible calendar date',
      { suggestedWindow: { start: '2025-02-29T04:00:00Z', end: '2025-03-03T04:00:00Z' } },
      /start/,
    ],
    [
      'an hour out of range',
      { suggestedWindow: { start: '2025-01-02T24:00:00Z', end: '2025-01-03T04:00:00Z' } },
      /start/,
    ],
    [
      'an HTTP-date instead of RFC 3339',
      { suggestedWindow: { start: 'Thu, 02 Jan 2025 04:00:00 GMT', end: '2025-01-03T04:00:00Z' } },
      /start/,
    ],
    [
      'an end equal to the start',
      { suggestedWindow: { start: '2025-01-02T04:00:00Z', end: '2025-01-02T05:00:00+01:00' } },
      /no later than it starts/,
    ],
    [
      'an end before the start',
      { suggestedWindow: { start: '2025-01-03T04:00:00Z', end: '2025-01-02T04:00:00Z' } },
      /no later than it starts/,
    ],
  ])('rejects %s with an AcmeProtocolError naming it', (_name, body, message) => {
    expect(() => parseRenewalInfo(body)).toThrow(AcmeProtocolError);
    expect(() => parseRenewalInfo(body)).toThrow(message);
  });
});

describe('chooseRenewalTime', () => {
  const window = { start: new Date('2025-03-01T00:00:00Z'), end: new Date('2025-03-03T00:00:00Z') };

  it('spreads renewals uniformly over a window that lies ahead', () => {
    const now = new Date('2025-02-01T00:00:00Z');

    expect(chooseRenewalTime(window, () => 0, now)).toEqual(window.start);
    expect(chooseRenewalTime(window, () => 0.5, now)).toEqual(new Date('2025-03-02T00:00:00Z'));
    expect(chooseRenewalTime(window, () => 0.999_999_999_9, now).getTime()).toBe(window.end.getTime() - 1);
  });

  it('renews immediately when the window has already ended', () => {
    const now = new Date('2025-03-03T00:00:00Z');

    expect(chooseRenewalTime(window, () => 0.5, now)).toEqual(now);
  });

  it('picks a time between now and the end when the window has begun', () => {
    const now = new Date('2025-03-02T00:00:00Z');

    expect(chooseRenewalTime(window, () => 0, now)).toEqual(now);
    expect(chooseRenewalTime(window, () => 0.5, now)).toEqual(new Date('2025-03-02T12:00:00Z'));
  });

  it('rejects a window that does not end after it starts', () => {
    const reversed = { start: window.end, end: window.start };

    expect(() => chooseRenewalTime(reversed, () => 0.5, new Date('2025-01-01T00:00:00Z'))).toThrow(
      InvalidInputError,
    );
  });

  it('always lands in [max(start, now), end), or on now once the window has passed', () => {
    const instant = fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2040, 0, 1) });
    fc.assert(
      fc.property(
        instant,
        fc.integer({ min: 1, max: 30 * DAY_MS }),
        instant,
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (start, length, now, random) => {
          const end = start + length;

          const chosen = chooseRenewalTime(
            { start: new Date(start), end: new Date(end) },
            () => random,
            new Date(now),
          ).getTime();

          if (end <= now) expect(chosen).toBe(now);
          else {
            expect(chosen).toBeGreaterThanOrEqual(Math.max(start, now));
            expect(chosen).toBeLessThan(end);
          }
          expect(Number.isInteger(chosen)).toBe(true);
        },
      ),
    );
  });
});

describe('fallbackRenewalTime', () => {
  it('renews a 90-day certificate 30 days before it expires', () => {
    const notBefore = new Date('2025-01-01T00:00:00Z');
    const notAfter = new Date(notBefore.getTime() + 90 * DAY_MS);

    expect(fallbackRenewalTime(notBefore, notAfter)).toEqual(new Date(notAfter.getTime() - 30 * DAY_MS));
  });

  it('renews a 6-day certificate 2 days before it expires', () => {
    const notBefore = new Date('2025-01-01T00:00:00Z');
    const notAfter = new Date(notBefore.getTime() + 6 * DAY_MS);

    expect(fallbackRenewalTime(notBefore, notAfter)).toEqual(new Date('2025-01-05T00:00:00Z'));
  });

  it('rejects a certificate whose notAfter is not after its notBefore', () => {
    const at = new Date('2025-01-01T00:00:00Z');

    expect(() => fallbackRenewalTime(at, at)).toThrow(InvalidInputError);
    expect(() => fallbackRenewalTime(at, new Date(Number.NaN))).toThrow(InvalidInputError);
  });

  it('falls at two thirds of the lifetime, to the millisecond', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2050, 0, 1) }),
        fc.integer({ min: 1, max: 400 * DAY_MS }),
        (notBefore, lifetime) => {
          const renewAt = fallbackRenewalTime(new Date(notBefore), new Date(notBefore + lifetime)).getTime();

          expect(Number.isInteger(renewAt)).toBe(true);
          expect(Math.abs(3 * (renewAt - notBefore) - 2 * lifetime)).toBeLessThanOrEqual(1.5);
        },
      ),
    );
  });
});
