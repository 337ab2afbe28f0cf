import { generateKeyPairSync, sign, verify } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { derToJoseSignature, spkiDerToEcJwk } from '../../../lambdas/core/crypto/jose-signature.js';
import { InvalidInputError } from '../../../lambdas/core/errors.js';

const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

function hex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
}

function derInteger(content: string): string {
  const bytes = hex(content);
  return `02${bytes.length.toString(16).padStart(2, '0')}${Buffer.from(bytes).toString('hex')}`;
}

function derSequence(...elements: string[]): Uint8Array {
  const body = elements.join('');
  return hex(`30${(body.length / 2).toString(16).padStart(2, '0')}${body}`);
}

describe('derToJoseSignature', () => {
  it('turns node:crypto DER signatures into r || s that verify as IEEE P1363, for any message', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 512 }), (message) => {
        const der = sign('sha256', message, { key: p256.privateKey, dsaEncoding: 'der' });

        const jose = derToJoseSignature(der);

        expect(jose).toHaveLength(64);
        expect(verify('sha256', message, { key: p256.publicKey, dsaEncoding: 'ieee-p1363' }, jose)).toBe(
          true,
        );
      }),
      { numRuns: 300 },
    );
  });

  it('reads long-form lengths, as P-521 signatures (66-byte halves) need', () => {
    const p521 = generateKeyPairSync('ec', { namedCurve: 'secp521r1' });
    const message = Buffer.from('long form');
    const der = sign('sha512', message, { key: p521.privateKey, dsaEncoding: 'der' });
    expect(der[1]).toBe(0x81);

    const jose = derToJoseSignature(der, 66);

    expect(jose).toHaveLength(132);
    expect(verify('sha512', message, { key: p521.publicKey, dsaEncoding: 'ieee-p1363' }, jose)).toBe(true);
  });

  it('drops the sign-padding zero of a 33-byte integer', () => {
    const r = `ff${'11'.repeat(31)}`;
    const s = `80${'22'.repeat(31)}`;
    const der = derSequence(derInteger(`00${r}`), derInteger(`00${s}`));

    const jose = derToJoseSignature(der);

    expect(Buffer.from(jose).toString('hex')).toBe(`${r}${s}`);
  });

  it('left-pads 31-byte and 1-byte integers with zeros to 32 bytes', () => {
    const r = '7f'.repeat(31);
    const der = derSequence(derInteger(r), derInteger('01'));

    const jose = derToJoseSignature(der);

    expect(Buffer.from(jose).toString('hex')).toBe(`00${r}${'00'.repeat(31)}01`);
  });

  it.each([
    ['empty input', '', /truncated element header/],
    ['a tag other than SEQUENCE', `31 06 ${derInteger('01')} ${derInteger('01')}`, /expected tag 0x30/],
    ['a truncated sequence', `30 06 ${derInteger('01')}`, /runs past the end/],
    [
      'bytes after the sequence',
      `30 06 ${derInteger('01')} ${derInteger('01')} 00`,
      /trailing bytes after the sequence/,
    ],
    [
      'bytes inside the sequence after s',
      `30 09 ${derInteger('01')} ${derInteger('01')} 02 01 01`,
      /trailing bytes inside the sequence/,
    ],
    ['a missing s', `30 03 ${derInteger('01')}`, /truncated element header/],
    ['an empty integer', `30 05 02 00 ${derInteger('01')}`, /r is empty/],
    ['a negative integer', `30 06 ${derInteger('81')} ${derInteger('01')}`, /r is negative/],
    ['a redundant leading zero', `30 07 ${derInteger('0001')} ${derInteger('01')}`, /redundant leading zero/],
    ['a zero r', `30 06 ${derInteger('00')} ${derInteger('01')}`, /r is zero/],
    [
      'an integer longer than 32 bytes',
      `30 26 ${derInteger(`7f${'00'.repeat(32)}`)} ${derInteger('01')}`,
      /longer than 32 bytes/,
    ],
    [
      'an indefinite length',
      `30 80 ${derInteger('01')} ${derInteger('01')} 00 00`,
      /unsupported length encoding/,
    ],
    [
      'a non-minimal long-form length',
      `30 81 06 ${derInteger('01')} ${derInteger('01')}`,
      /non-minimal length/,
    ],
  ] as const)('rejects %s', (_case, der, reason) => {
    const convert = () => derToJoseSignature(hex(der));

    expect(convert).toThrow(InvalidInputError);
    expect(convert).toThrow(reason);
  });
});

describe('spkiDerToEcJwk', () => {
  it('returns the P-256 public JWK that node:crypto exports for the same key', () => {
    const spki = p256.publicKey.export({ format: 'der', type: 'spki' });
    const expected = p256.publicKey.export({ format: 'jwk' });

    const jwk = spkiDerToEcJwk(spki);

    expect(jwk).toEqual({ kty: 'EC', crv: 'P-256', x: expected.x, y: expected.y });
  });

  it('names the curve when the key is EC but not P-256', () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });

    const convert = () => spkiDerToEcJwk(p384.publicKey.export({ format: 'der', type: 'spki' }));

    expect(convert).toThrow(InvalidInputError);
    expect(convert).toThrow(/P-384/);
  });

  it('names the key type when the key is not EC', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });

    expect(() => spkiDerToEcJwk(rsa.publicKey.export({ format: 'der', type: 'spki' }))).toThrow(/RSA/);
  });

  it('rejects bytes that are not a SubjectPublicKeyInfo', () => {
    expect(() => spkiDerToEcJwk(hex('3003020101'))).toThrow(InvalidInputError);
  });
});
