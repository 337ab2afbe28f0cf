import { createPrivateKey, createPublicKey, X509Certificate as NodeX509Certificate } from 'node:crypto';
import { CertificateMismatchError, InvalidInputError } from '../errors.js';
import { pemBlocks, splitPemChain } from './pem.js';
import { SubjectAlternativeNameExtension, X509Certificate } from './x509.js';

/**
 * Checks on what the CA returned, before anything is stored or imported: a certificate that does
 * not match the key, the names or its own chain must fail the issuance loudly rather than end up
 * on a load balancer.
 */

/** The facts about a certificate that the workflow records and reports. */
export interface CertificateDescription {
  /** Lower-case hex, without separators or leading zero bytes. */
  readonly serial: string;
  /** ISO 8601. */
  readonly notBefore: string;
  /** ISO 8601. */
  readonly notAfter: string;
  /** The subjectAltName DNS names, in certificate order, as written by the CA. */
  readonly dnsNames: string[];
  readonly issuer: string;
  readonly subject: string;
}

/** A verified certificate: its description plus the PEM parts ACM needs. */
export interface VerifiedCertificate extends CertificateDescription {
  readonly leafPem: string;
  /** Intermediates only, never the leaf; empty when the CA sent the leaf alone. */
  readonly chainPem: string;
}

export interface VerifyIssuedCertificateInput {
  /** The leaf followed by its issuers, as downloaded from the order's certificate URL. */
  readonly fullchainPem: string;
  /** The PEM private key the CSR was signed with. Never included in errors. */
  readonly privateKeyPem?: string;
  /**
   * Instead of `privateKeyPem`, for a key that never leaves its keystore (KMS): the public key
   * (SubjectPublicKeyInfo, DER) the CSR was signed with.
   */
  readonly publicKeySpki?: Uint8Array;
  /** The names that were ordered. */
  readonly domains: readonly string[];
  /** When given, the leaf must also be valid at this instant. */
  readonly now?: Date;
}

function parseCertificate(pem: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw new InvalidInputError('Not a parsable X.509 certificate', { cause: error });
  }
}

function dnsNamesOf(certificate: X509Certificate): string[] {
  const san = certificate.getExtension(SubjectAlternativeNameExtension);
  return (san?.names.toJSON() ?? []).filter((name) => name.type === 'dns').map((name) => name.value);
}

function describe(certificate: X509Certificate): CertificateDescription {
  return {
    serial: certificate.serialNumber.toLowerCase(),
    notBefore: certificate.notBefore.toISOString(),
    notAfter: certificate.notAfter.toISOString(),
    dnsNames: dnsNamesOf(certificate),
    issuer: certificate.issuer,
    subject: certificate.subject,
  };
}

/**
 * Describes the first certificate in `pem` (the leaf, for a full chain). Throws
 * `InvalidInputError` when there is no parsable certificate.
 */
export function describeCertificate(pem: string): CertificateDescription {
  const [first] = pemBlocks(pem, 'CERTIFICATE');
  if (first === undefined) throw new InvalidInputError('Expected a PEM CERTIFICATE block, found none');
  return describe(parseCertificate(first));
}

/**
 * True when the certificate's public key is the public half of `privateKeyPem`. Compares the
 * keys themselves (via OpenSSL), not their encodings. Throws `InvalidInputError` only when either
 * input cannot be parsed.
 */
export function certificatePublicKeyMatches(certPem: string, privateKeyPem: string): boolean {
  const certificate = parseNodeCertificate(certPem);
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(privateKeyPem);
  } catch (error) {
    throw new InvalidInputError('The certificate private key is not a readable PEM private key', {
      cause: error,
    });
  }
  return certificate.checkPrivateKey(privateKey);
}

/**
 * True when the certificate carries exactly the public key `spki` (DER SubjectPublicKeyInfo),
 * compared as keys rather than as bytes. Throws `InvalidInputError` when either cannot be parsed.
 */
export function certificateHasPublicKey(certPem: string, spki: Uint8Array): boolean {
  const certificate = parseNodeCertificate(certPem);
  let publicKey: ReturnType<typeof createPublicKey>;
  try {
    publicKey = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch (error) {
    throw new InvalidInputError('The certificate key is not a readable public key', { cause: error });
  }
  return certificate.publicKey.equals(publicKey);
}

/** OpenSSL's view of the certificate, which compares keys as keys. */
function parseNodeCertificate(certPem: string): NodeX509Certificate {
  try {
    return new NodeX509Certificate(certPem);
  } catch (error) {
    throw new InvalidInputError('Not a parsable X.509 certificate', { cause: error });
  }
}

function nameDifferences(dnsNames: readonly string[], domains: readonly string[]): string[] {
  const issued = new Set(dnsNames.map((name) => name.toLowerCase()));
  const requested = new Set(domains.map((name) => name.toLowerCase()));
  const missing = [...requested].filter((name) => !issued.has(name));
  const unexpected = [...issued].filter((name) => !requested.has(name));
  const differences: string[] = [];
  if (missing.length > 0) differences.push(`missing requested names ${missing.join(', ')}`);
  if (unexpected.length > 0) differences.push(`unexpected names ${unexpected.join(', ')}`);
  return differences;
}

async function chainDifferences(certificates: readonly X509Certificate[]): Promise<string[]> {
  const differences: string[] = [];
  for (let i = 0; i + 1 < certificates.length; i++) {
    const [subject, issuer] = [certificates[i], certificates[i + 1]];
    if (!subject || !issuer) continue;
    // Signature only: an intermediate's own validity is the relying party's business, not ours.
    const signed = await subject
      .verify({ publicKey: issuer.publicKey, signatureOnly: true })
      .catch(() => false);
    if (!signed) {
      differences.push(
        `certificate ${i} (${subject.subject}) is not signed by certificate ${i + 1} (${issuer.subject})`,
      );
    }
  }
  return differences;
}

/**
 * Accepts the CA's full chain only if the leaf carries our public key, its DNS names equal the
 * requested domains as a case-insensitive set, each certificate is signed by the next one, and
 * (when `now` is given) the leaf is currently valid. Otherwise throws `CertificateMismatchError`
 * listing every difference found; the message never contains key material.
 */
export async function verifyIssuedCertificate(
  input: VerifyIssuedCertificateInput,
): Promise<VerifiedCertificate> {
  const { leafPem, chainPem } = splitPemChain(input.fullchainPem);
  const leaf = parseCertificate(leafPem);
  const certificates = [leaf, ...pemBlocks(chainPem, 'CERTIFICATE').map(parseCertificate)];
  const description = describe(leaf);

  const differences: string[] = [];
  const keyMatches =
    input.privateKeyPem !== undefined
      ? certificatePublicKeyMatches(leafPem, input.privateKeyPem)
      : input.publicKeySpki !== undefined && certificateHasPublicKey(leafPem, input.publicKeySpki);
  if (!keyMatches) {
    differences.push('the public key is not the one the CSR was signed with');
  }
  differences.push(...nameDifferences(description.dnsNames, input.domains));
  differences.push(...(await chainDifferences(certificates)));
  if (input.now && (input.now < leaf.notBefore || input.now >= leaf.notAfter)) {
    differences.push(
      `the leaf is not valid at ${input.now.toISOString()} (${description.notBefore} to ${description.notAfter})`,
    );
  }

  if (differences.length > 0) {
    throw new CertificateMismatchError(
      `The issued certificate (serial ${description.serial}) does not match the order: ${differences.join('; ')}`,
    );
  }
  return { ...description, leafPem, chainPem };
}
