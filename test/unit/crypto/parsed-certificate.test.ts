import { webcrypto } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCertificateDer } from '../../../lambdas/core/crypto/parsed-certificate.js';
import * as x509 from '../../../lambdas/core/crypto/x509.js';
import { InvalidInputError } from '../../../lambdas/core/errors.js';

/**
 * The shipped parser reads what @peculiar/x509, the full library the tests build certificates
 * with, reads: the same serial, dates, names and extensions, written the same way.
 */

const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' };
const KEY_ID = '69885b6b87464041e1b37b847ba0ae2cde01c8d4';

let keys: webcrypto.CryptoKeyPair;

beforeAll(async () => {
  keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
    'sign',
    'verify',
  ]);
});

async function certificate(options: {
  readonly subject: string;
  readonly issuer: string;
  readonly serial: string;
  readonly names?: x509.JsonGeneralName[];
  readonly extensions?: x509.Extension[];
}): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.create({
    serialNumber: options.serial,
    subject: options.subject,
    issuer: options.issuer,
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    notBefore: new Date('2025-01-01T00:00:00Z'),
    notAfter: new Date('2060-04-01T00:00:00Z'),
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      ...(options.names ? [new x509.SubjectAlternativeNameExtension(options.names)] : []),
      ...(options.extensions ?? []),
    ],
  });
}

describe('parseCertificateDer', () => {
  it('reads the serial, validity, names and subject as @peculiar/x509 does', async () => {
    const reference = await certificate({
      subject: 'CN=example.org, O=Example\\, Inc.+OU=Web, C=NL',
      issuer: 'CN=Test CA, 1.2.3.4=#0403616263',
      serial: '87654321',
      names: [
        { type: 'dns', value: 'example.org' },
        { type: 'ip', value: '192.0.2.1' },
        { type: 'email', value: 'ops@example.org' },
        { type: 'url', value: 'https://example.org/' },
        { type: 'dns', value: '*.example.org' },
      ],
    });

    const parsed = parseCertificateDer(new Uint8Array(reference.rawData));

    expect(parsed).toMatchObject({
      serial: reference.serialNumber.toLowerCase(),
      notBefore: reference.notBefore,
      notAfter: reference.notAfter,
      issuer: reference.issuer,
      subject: reference.subject,
      subjectCommonNames: ['example.org'],
      issuerCommonNames: ['Test CA'],
      isCa: false,
      authorityKeyId: undefined,
    });
    expect(parsed.names).toEqual(
      reference.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON(),
    );
  });

  it('keeps the zero byte DER puts before a serial with its high bit set, and drops it from the hex', async () => {
    const reference = await certificate({ subject: 'CN=a', issuer: 'CN=b', serial: '87654321' });

    const parsed = parseCertificateDer(new Uint8Array(reference.rawData));

    expect(Buffer.from(parsed.serialBytes).toString('hex')).toBe('0087654321');
    expect(parsed.serial).toBe('87654321');
  });

  it('reads basicConstraints cA and the Authority Key Identifier', async () => {
    const reference = await certificate({
      subject: 'CN=Intermediate',
      issuer: 'CN=Root',
      serial: '01',
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.AuthorityKeyIdentifierExtension(KEY_ID),
      ],
    });

    const parsed = parseCertificateDer(new Uint8Array(reference.rawData));

    expect(parsed.isCa).toBe(true);
    expect(Buffer.from(parsed.authorityKeyId ?? []).toString('hex')).toBe(KEY_ID);
    expect(parsed.names).toEqual([]);
  });

  it('refuses bytes that are not a certificate', () => {
    expect(() => parseCertificateDer(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]))).toThrow(
      InvalidInputError,
    );
  });
});
