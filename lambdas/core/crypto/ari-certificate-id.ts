import { InvalidInputError } from '../errors.js';
import { parsePem } from './pem.js';
import { AuthorityKeyIdentifierExtension, X509Certificate } from './x509.js';

/**
 * The RFC 9773 certificate identifier (CertID) of an issued certificate, as the CA knows it. Kept
 * apart from `../acme/renewal-info.ts` because it needs a certificate parser (@peculiar/x509 and
 * its ASN.1 libraries, over 200 KB of a minified bundle): only the step that has just downloaded
 * a certificate computes it and records it; everything else, the ACME client included, passes
 * the recorded identifier along.
 */

const TAG_SEQUENCE = 0x30;
const TAG_INTEGER = 0x02;
const TAG_VERSION = 0xa0; // [0] EXPLICIT, context-specific and constructed

/**
 * The RFC 9773 §4.1 CertID of the first certificate in `certificatePem` (the leaf of a full
 * chain): the Authority Key Identifier's keyIdentifier and the serial number's DER INTEGER value
 * bytes, each base64url without padding, joined by ".". The serial bytes are taken from the
 * encoding as is, so a leading 0x00 (present whenever the first value byte has its high bit set)
 * is kept, as the CA expects. Throws `InvalidInputError` when there is no parsable certificate or
 * it carries no Authority Key Identifier with a keyIdentifier.
 */
export function ariCertificateId(certificatePem: string): string {
  const der = parsePem(certificatePem).find((block) => block.label === 'CERTIFICATE')?.der;
  if (der === undefined) throw new InvalidInputError('Expected a PEM CERTIFICATE block, found none');
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(der);
  } catch (error) {
    throw new InvalidInputError('Not a parsable X.509 certificate', { cause: error });
  }
  const keyId = certificate.getExtension(AuthorityKeyIdentifierExtension)?.keyId;
  if (!keyId) {
    throw new InvalidInputError(
      `The certificate (serial ${certificate.serialNumber.toLowerCase()}) has no Authority Key Identifier ` +
        'with a keyIdentifier, so it has no ACME renewal information identifier (RFC 9773 §4.1).',
    );
  }
  return `${Buffer.from(keyId, 'hex').toString('base64url')}.${Buffer.from(serialValueBytes(der)).toString('base64url')}`;
}

/**
 * The value bytes of the serial number INTEGER exactly as encoded. Read from the DER because
 * @peculiar/x509 reports the serial with its leading zero byte removed.
 */
function serialValueBytes(der: Uint8Array): Uint8Array {
  const certificate = readTlv(der, 0, TAG_SEQUENCE);
  const tbs = readTlv(der, certificate.contentStart, TAG_SEQUENCE);
  let next = readTlv(der, tbs.contentStart);
  if (next.tag === TAG_VERSION) next = readTlv(der, next.end);
  if (next.tag !== TAG_INTEGER || next.end === next.contentStart) {
    throw new InvalidInputError('The certificate has no serial number where RFC 5280 §4.1 puts it.');
  }
  return der.subarray(next.contentStart, next.end);
}

interface Tlv {
  readonly tag: number;
  readonly contentStart: number;
  readonly end: number;
}

/** One DER tag-length-value at `offset`; definite lengths only, as DER requires. */
function readTlv(der: Uint8Array, offset: number, expectedTag?: number): Tlv {
  const fail = (): never => {
    throw new InvalidInputError(`The certificate DER is malformed at byte ${offset}.`);
  };
  const tag = der[offset] ?? fail();
  if (expectedTag !== undefined && tag !== expectedTag) fail();
  const first = der[offset + 1] ?? fail();
  let length = first;
  let contentStart = offset + 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4) fail();
    length = 0;
    for (let i = 0; i < count; i += 1) length = length * 256 + (der[contentStart + i] ?? fail());
    contentStart += count;
  }
  const end = contentStart + length;
  if (end > der.length) fail();
  return { tag, contentStart, end };
}
