import { beforeAll, describe, expect, it } from 'vitest';
import {
  MAX_CERTIFICATE_LIFETIME_DAYS,
  MAX_CLOCK_SKEW_MS,
  verifyIssuedCertificate,
} from '../../../lambdas/core/crypto/certificate-check.js';
import {
  type GeneratedCertificateKey,
  generateCertificateKey,
} from '../../../lambdas/core/crypto/certificate-key.js';
import { CertificateMismatchError } from '../../../lambdas/core/errors.js';
import { createUntrustedIssuer, type JsonGeneralName, type UntrustedIssuer } from './untrusted-issuer.js';

/**
 * The CA is not trusted to issue what was asked for. Each case is a real certificate for our own
 * key and names, signed by a real issuer, wrong in exactly one way: the check must refuse it.
 */

const MINUTE_MS = 60 * 1000;
const DAY_MS = 24 * 60 * MINUTE_MS;
const NOW = new Date('2030-06-01T12:00:00Z');
const domains = ['example.org', '*.example.org'];

interface LeafOptions {
  readonly names?: readonly JsonGeneralName[];
  readonly commonName?: string;
  readonly ca?: boolean;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  readonly withoutAuthorityKeyIdentifier?: boolean;
}

let key: GeneratedCertificateKey;
let ca: UntrustedIssuer;

function createIssuer(name: string, isCa = true): Promise<UntrustedIssuer> {
  return createUntrustedIssuer(name, { isCa, now: NOW });
}

/** A leaf from `issuer` for our key and names, valid from an hour before NOW for 90 days, unless told otherwise. */
function leafFrom(issuer: UntrustedIssuer, options: LeafOptions = {}): Promise<string> {
  return issuer.issue({ publicKey: key.keyPair.publicKey, domains, ...options });
}

function verify(fullchainPem: string, now = NOW) {
  return verifyIssuedCertificate({ fullchainPem, privateKeyPem: key.privateKeyPem, domains, now });
}

beforeAll(async () => {
  [key, ca] = await Promise.all([generateCertificateKey('EC_P256'), createIssuer('Untrusted Test CA')]);
});

describe('verifyIssuedCertificate: validity dates', () => {
  it('accepts a leaf valid now, for our key and names, with its issuer', async () => {
    const leafPem = await leafFrom(ca);

    const verified = await verify(`${leafPem}${ca.pem}`);

    expect(verified.leafPem.trim()).toBe(leafPem.trim());
    expect(verified.notAfter).toBe(new Date(NOW.getTime() + 90 * DAY_MS).toISOString());
  });

  it('accepts a leaf whose notBefore is a little ahead of our clock (CA clock skew)', async () => {
    const leafPem = await leafFrom(ca, {
      notBefore: new Date(NOW.getTime() + MAX_CLOCK_SKEW_MS - MINUTE_MS),
    });

    await expect(verify(`${leafPem}${ca.pem}`)).resolves.toMatchObject({ dnsNames: domains });
  });

  it('refuses a leaf that is not valid yet, beyond the allowed clock skew', async () => {
    const leafPem = await leafFrom(ca, {
      notBefore: new Date(NOW.getTime() + MAX_CLOCK_SKEW_MS + MINUTE_MS),
    });

    const verification = verify(`${leafPem}${ca.pem}`);

    await expect(verification).rejects.toThrow(CertificateMismatchError);
    await expect(verification).rejects.toThrow(/not valid yet at 2030-06-01T12:00:00\.000Z/);
  });

  it('refuses a leaf that has expired, even one minute ago', async () => {
    const leafPem = await leafFrom(ca, {
      notBefore: new Date(NOW.getTime() - 90 * DAY_MS),
      notAfter: new Date(NOW.getTime() - MINUTE_MS),
    });

    await expect(verify(`${leafPem}${ca.pem}`)).rejects.toThrow(
      /it has expired at 2030-06-01T12:00:00\.000Z/,
    );
  });

  it('refuses a leaf at the very instant it expires', async () => {
    const leafPem = await leafFrom(ca, { notAfter: NOW });

    await expect(verify(`${leafPem}${ca.pem}`)).rejects.toThrow(/it has expired/);
  });

  it.each([
    ['ends when it starts', 0],
    ['ends before it starts', -DAY_MS],
  ])('refuses a leaf whose validity %s', async (_label, length) => {
    const notBefore = new Date(NOW.getTime() - 60 * MINUTE_MS);
    const leafPem = await leafFrom(ca, { notBefore, notAfter: new Date(notBefore.getTime() + length) });

    await expect(verify(`${leafPem}${ca.pem}`)).rejects.toThrow(/ends no later than it starts/);
  });

  it('refuses a lifetime longer than five years, and accepts 398 days and five years', async () => {
    const notBefore = new Date(NOW.getTime() - 60 * MINUTE_MS);
    const tooLong = await leafFrom(ca, {
      notBefore,
      notAfter: new Date(notBefore.getTime() + (MAX_CERTIFICATE_LIFETIME_DAYS + 1) * DAY_MS),
    });
    const publicLongest = await leafFrom(ca, {
      notBefore,
      notAfter: new Date(notBefore.getTime() + 398 * DAY_MS),
    });
    const pebbleDefault = await leafFrom(ca, {
      notBefore,
      notAfter: new Date(notBefore.getTime() + 1826 * DAY_MS - 1000),
    });

    await expect(verify(`${tooLong}${ca.pem}`)).rejects.toThrow(
      new RegExp(
        `it lasts ${MAX_CERTIFICATE_LIFETIME_DAYS + 1} days .*, over the ${MAX_CERTIFICATE_LIFETIME_DAYS} accepted`,
      ),
    );
    await expect(verify(`${publicLongest}${ca.pem}`)).resolves.toMatchObject({ dnsNames: domains });
    await expect(verify(`${pebbleDefault}${ca.pem}`)).resolves.toMatchObject({ dnsNames: domains });
  });
});

describe('verifyIssuedCertificate: the leaf and its chain', () => {
  it('refuses a leaf sent without the certificate that issued it', async () => {
    const leafPem = await leafFrom(ca);

    const verification = verify(leafPem);

    await expect(verification).rejects.toThrow(CertificateMismatchError);
    await expect(verification).rejects.toThrow(/without the certificate that issued it/);
  });

  it('refuses a leaf that is a CA certificate', async () => {
    const leafPem = await leafFrom(ca, { ca: true });

    await expect(verify(`${leafPem}${ca.pem}`)).rejects.toThrow(/the leaf is a CA/);
  });

  it('refuses a leaf whose issuer is not a CA certificate', async () => {
    const notCa = await createIssuer('Not A CA', false);
    const leafPem = await leafFrom(notCa);

    await expect(verify(`${leafPem}${notCa.pem}`)).rejects.toThrow(/its issuer \(CN=Not A CA\) is not a CA/);
  });

  it('refuses a leaf whose first chain certificate did not sign it', async () => {
    const other = await createIssuer('Other CA');
    const leafPem = await leafFrom(ca);

    await expect(verify(`${leafPem}${other.pem}`)).rejects.toThrow(
      /certificate 0 .* is not signed by certificate 1/,
    );
  });

  it.each([
    ['an IP address', { type: 'ip', value: '192.0.2.1' }, /names that are not DNS names: ip 192\.0\.2\.1/],
    [
      'an email address',
      { type: 'email', value: 'ops@example.org' },
      /not DNS names: email ops@example\.org/,
    ],
    ['a URI', { type: 'url', value: 'https://example.org/' }, /not DNS names: url https:\/\/example\.org\//],
  ] as const)('refuses a leaf whose subjectAltName adds %s to our names', async (_label, extra, message) => {
    const names = [...domains.map((value) => ({ type: 'dns' as const, value })), extra];
    const leafPem = await leafFrom(ca, { names });

    await expect(verify(`${leafPem}${ca.pem}`)).rejects.toThrow(message);
  });

  it('refuses a subject common name that was not requested', async () => {
    const leafPem = await leafFrom(ca, { commonName: 'bank.example.net' });

    await expect(verify(`${leafPem}${ca.pem}`)).rejects.toThrow(
      /a common name that was not requested: bank\.example\.net/,
    );
  });

  it('refuses a leaf without an Authority Key Identifier (RFC 5280 §4.2.1.1)', async () => {
    const leafPem = await leafFrom(ca, { withoutAuthorityKeyIdentifier: true });

    await expect(verify(`${leafPem}${ca.pem}`)).rejects.toThrow(/no Authority Key Identifier/);
  });

  it('accepts a leaf without a subject common name', async () => {
    const leafPem = await leafFrom(ca, { commonName: '' });

    await expect(verify(`${leafPem}${ca.pem}`)).resolves.toMatchObject({ dnsNames: domains });
  });

  it('names at most ten unexpected names, so thousands of them keep the message short', async () => {
    const names = [
      ...domains.map((value) => ({ type: 'dns' as const, value })),
      ...Array.from({ length: 2000 }, (_, index) => ({
        type: 'dns' as const,
        value: `n${index}.example.net`,
      })),
    ];
    const leafPem = await leafFrom(ca, { names });

    const error = await verify(`${leafPem}${ca.pem}`).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(CertificateMismatchError);
    expect((error as Error).message).toContain('and 1990 more');
    expect((error as Error).message.length).toBeLessThan(2000);
  });

  it('lists every problem of a certificate wrong in several ways at once', async () => {
    const leafPem = await leafFrom(ca, {
      ca: true,
      notAfter: new Date(NOW.getTime() - MINUTE_MS),
      notBefore: new Date(NOW.getTime() - DAY_MS),
    });

    const error = await verify(leafPem).catch((caught: unknown) => caught);

    expect((error as Error).message).toMatch(/the leaf is a CA;.*without the certificate.*it has expired/);
  });
});
