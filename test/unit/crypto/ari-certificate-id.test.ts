import { webcrypto } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { isAriCertificateId } from '../../../lambdas/core/acme/renewal-info.js';
import { ariCertificateId } from '../../../lambdas/core/crypto/ari-certificate-id.js';
import * as x509 from '../../../lambdas/core/crypto/x509.js';
import { InvalidInputError } from '../../../lambdas/core/errors.js';

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

  it('encodes any key identifier and serial losslessly, with the canonical DER serial bytes, in the shape the client accepts', async () => {
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

          const certId = ariCertificateId(pem);
          const [keyPart, serialPart, ...rest] = certId.split('.');

          const significant = serial.slice(serial.findIndex((byte) => byte !== 0));
          const expectedSerial = (significant[0] ?? 0) > 0x7f ? [0, ...significant] : [...significant];
          expect(isAriCertificateId(certId)).toBe(true);
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
