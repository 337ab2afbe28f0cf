import { InvalidInputError } from '../errors.js';
import type { CertificateKeyPair } from './certificate-key.js';
import { Pkcs10CertificateRequestGenerator, SubjectAlternativeNameExtension } from './x509.js';

/** RFC 5280 `ub-common-name`: a longer first name cannot be the CN and lives in the SAN only. */
const MAX_COMMON_NAME_LENGTH = 64;

/** ECDSA hashes matched to the curve (RFC 5758 §3.2 pairs P-384 with SHA-384); RSA uses SHA-256. */
const ECDSA_HASHES: Readonly<Record<string, string>> = { 'P-256': 'SHA-256', 'P-384': 'SHA-384' };

function signingAlgorithmFor(keyPair: CertificateKeyPair): { name: string; hash: string } {
  const algorithm = keyPair.privateKey.algorithm as { name: string; namedCurve?: string };
  if (algorithm.name === 'ECDSA') {
    const hash = ECDSA_HASHES[algorithm.namedCurve ?? ''];
    if (!hash) throw new InvalidInputError(`CSR keys on curve ${algorithm.namedCurve} are not supported`);
    return { name: 'ECDSA', hash };
  }
  if (algorithm.name === 'RSASSA-PKCS1-v1_5') return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  throw new InvalidInputError(`CSR keys must be ECDSA or RSASSA-PKCS1-v1_5, not ${algorithm.name}`);
}

/**
 * Builds the DER PKCS#10 request for an ACME finalize call (RFC 8555 §7.4). Every domain,
 * wildcards included, goes into the subjectAltName extension, which is what CAs issue from; the
 * first domain is also the subject CN when it fits in 64 characters, otherwise the subject is
 * empty. Signed with the key's own algorithm: ECDSA with SHA-256 (P-256) or SHA-384 (P-384), or
 * RSASSA-PKCS1-v1_5 with SHA-256.
 */
export async function createCsr(
  domains: readonly string[],
  keyPair: CertificateKeyPair,
): Promise<Uint8Array> {
  const [first] = domains;
  if (first === undefined) throw new InvalidInputError('A CSR needs at least one domain');
  const csr = await Pkcs10CertificateRequestGenerator.create({
    name: first.length <= MAX_COMMON_NAME_LENGTH ? [{ CN: [first] }] : [],
    extensions: [
      new SubjectAlternativeNameExtension(domains.map((domain) => ({ type: 'dns', value: domain }))),
    ],
    signingAlgorithm: signingAlgorithmFor(keyPair),
    keys: keyPair,
  });
  return new Uint8Array(csr.rawData);
}
