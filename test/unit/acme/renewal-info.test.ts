import { webcrypto } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ariCertificateId,
  chooseRenewalTime,
  fallbackRenewalTime,
  isAriCertificateId,
  parseRenewalInfo,
} from '../../../lambdas/core/acme/renewal-info.js';
import * as x509 from '../../../lambdas/core/crypto/x509.js';
import { AcmeProtocolError, InvalidInputError } from '../../../lambdas/core/errors.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' };
// The values of the RFC 9773 §4.1 example: a 20-byte key identifier and a serial 0x87654321,
// whose high bit makes DER prepend a zero byte.
const EXAMPLE_KEY_ID = '69885b6b87464041e1b37b847ba0ae2cde01c8d4';
const EXAMPLE_SERIAL = '87654321';
const EXAMPLE_CERT_ID = 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE';

let caKeys: webcrypto.CryptoKeyPair;
let leafKeys: webcrypto.CryptoKeyPair;

beforeAll(async () => {
  const params = { name: 'ECDSA', namedCurve: 'P-256' };
  caKeys = await webcrypto.subtle.generateKey(params, false, ['sign', 'verify']);
  leafKeys = await webcrypto.subtle.generateKey(params, false, ['sign', 'verify']);
});

async function certificate(options: {
  serial: string;
  authorityKeyIdentifier?: x509.Extension;
}): Promise<string> {
  const generated = await x509.X509CertificateGenerator.create({
    serialNumber: options.serial,
    subject: 'CN=example.org',
    issuer: 'CN=test issuer',
    publicKey: leafKeys.publicKey,
    signingKey: caKeys.privateKey,
    notBefore: new Date('2025-01-01T00:00:00Z'),
    notAfter: new Date('2025-04-01T00:00:00Z'),
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'example.org' }]),
      ...(options.authorityKeyIdentifier ? [options.authorityKeyIdentifier] : []),
    ],
  });
  return generated.toString('pem');
}

describe('ariCertificateId', () => {
  it('joins the key identifier and the serial bytes, keeping the leading zero DER adds', async () => {
    const pem = await certificate({
      serial: EXAMPLE_SERIAL,
      authorityKeyIdentifier: new x509.AuthorityKeyIdentifierExtension(EXAMPLE_KEY_ID),
    });

    expect(ariCertificateId(pem)).toBe(EXAMPLE_CERT_ID);
  });

  it('adds no zero byte to a serial whose high bit is clear', async () => {
    const pem = await certificate({
      serial: '7f0102',
      authorityKeyIdentifier: new x509.AuthorityKeyIdentifierExtension('0102'),
    });

    expect(ariCertificateId(pem)).toBe('AQI.fwEC');
  });

  it('identifies the leaf of a full chain', async () => {
    const leaf = await certificate({
      serial: EXAMPLE_SERIAL,
      authorityKeyIdentifier: new x509.AuthorityKeyIdentifierExtension(EXAMPLE_KEY_ID),
    });
    const issuer = await certificate({
      serial: '01',
      authorityKeyIdentifier: new x509.AuthorityKeyIdentifierExtension('ff'),
    });

    expect(ariCertificateId(`${leaf}${issuer}`)).toBe(EXAMPLE_CERT_ID);
  });

  it('rejects a certificate without an Authority Key Identifier', async () => {
    const pem = await certificate({ serial: EXAMPLE_SERIAL });

    expect(() => ariCertificateId(pem)).toThrow(InvalidInputError);
    expect(() => ariCertificateId(pem)).toThrow(/no Authority Key Identifier/);
  });

  it('rejects an Authority Key Identifier that names the issuer but has no keyIdentifier', async () => {
    const pem = await certificate({
      serial: EXAMPLE_SERIAL,
      authorityKeyIdentifier: new x509.AuthorityKeyIdentifierExtension({
        name: new x509.GeneralNames([{ type: 'dns', value: 'ca.example' }]),
        serialNumber: '01',
      }),
    });

    expect(() => ariCertificateId(pem)).toThrow(InvalidInputError);
  });

  it('rejects text that holds no certificate', () => {
    expect(() => ariCertificateId('not a certificate')).toThrow(InvalidInputError);
  });

  it('encodes any key identifier and serial losslessly, with the canonical DER serial bytes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 1, maxLength: 32 }),
        fc.uint8Array({ minLength: 1, maxLength: 20 }).filter((bytes) => bytes.some((byte) => byte !== 0)),
        async (keyId, serial) => {
          const pem = await certificate({
            serial: Buffer.from(serial).toString('hex'),
            authorityKeyIdentifier: new x509.AuthorityKeyIdentifierExtension(
              Buffer.from(keyId).toString('hex'),
            ),
          });

          const [keyPart, serialPart, ...rest] = ariCertificateId(pem).split('.');

          const significant = serial.slice(serial.findIndex((byte) => byte !== 0));
          const expectedSerial = (significant[0] ?? 0) > 0x7f ? [0, ...significant] : [...significant];
          expect(rest).toEqual([]);
          expect(keyPart).not.toContain('=');
          expect([...Buffer.from(keyPart ?? '', 'base64url')]).toEqual([...keyId]);
          expect([...Buffer.from(serialPart ?? '', 'base64url')]).toEqual(expectedSerial);
        },
      ),
      { numRuns: 30 },
    );
  });
});

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
