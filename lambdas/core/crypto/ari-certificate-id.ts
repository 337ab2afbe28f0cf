import { InvalidInputError } from '../errors.js';
import { parseCertificateDer } from './parsed-certificate.js';
import { parsePem } from './pem.js';

/**
 * The RFC 9773 certificate identifier (CertID) of an issued certificate, as the CA knows it. Kept
 * apart from `../acme/renewal-info.ts` because it needs a certificate parser (the ASN.1 schema of
 * RFC 5280 and its runtime, over 100 KB of a minified bundle): only the step that has just
 * downloaded a certificate computes it and records it; everything else, the ACME client included,
 * passes the recorded identifier along.
 */

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
  const certificate = parseCertificateDer(der);
  const keyId = certificate.authorityKeyId;
  if (!keyId?.length) {
    throw new InvalidInputError(
      `The certificate (serial ${certificate.serial}) has no Authority Key Identifier ` +
        'with a keyIdentifier, so it has no ACME renewal information identifier (RFC 9773 §4.1).',
    );
  }
  return `${Buffer.from(keyId).toString('base64url')}.${Buffer.from(certificate.serialBytes).toString('base64url')}`;
}
