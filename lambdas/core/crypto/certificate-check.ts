import { createPrivateKey, createPublicKey, X509Certificate as NodeX509Certificate } from 'node:crypto';
import { MAX_QUOTED_LENGTH, truncateText } from '../acme/bounds.js';
import { CertificateMismatchError, InvalidInputError } from '../errors.js';
import { type ParsedCertificate, parseCertificateDer } from './parsed-certificate.js';
import { parsePem, pemBlocks, splitPemChain } from './pem.js';

/**
 * Checks on what the CA returned, before anything is stored or imported: a certificate that does
 * not match the key, the names, the time or its own chain must fail the issuance loudly rather
 * than end up on a load balancer. The CA is not trusted to get any of it right.
 */

/**
 * How far the CA's clock may run ahead of ours: a certificate whose `notBefore` is up to this much
 * in our future is accepted, as CAs stamp `notBefore` with their own "now" (Let's Encrypt backdates
 * it by an hour, others do not). Five minutes is what Kerberos and most TLS stacks tolerate.
 */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

/**
 * The longest lifetime accepted: five calendar years (1827 days when they span two leap days).
 * Publicly trusted TLS certificates may last at most 398 days under the CA/Browser Forum Baseline
 * Requirements (lower from 2026 on), and ACME CAs issue 6 days (Let's Encrypt `shortlived`), 90
 * days (Let's Encrypt, Google Trust Services, ZeroSSL) or up to 398 days (commercial CAs). Private
 * ACME CAs issue what they are configured to, and Pebble, Let's Encrypt's test CA, issues five
 * years by default; so the bound is set there, not at 398 days. Longer is a mistake or a lie
 * (RFC 5280's 9999-12-31 "no expiration" included), and would also put the next renewal, two
 * thirds into the lifetime, years away.
 */
export const MAX_CERTIFICATE_LIFETIME_DAYS = 5 * 365 + 2;

const DAY_MS = 24 * 60 * 60 * 1000;
/** RFC 5280 §4.1.2.2: a serial number is at most 20 octets. It names the certificate's store folder. */
const MAX_SERIAL_HEX_LENGTH = 40;
/** Names listed in one message: a lying CA may put thousands in a certificate. */
const MAX_NAMES_SHOWN = 10;

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
  /** The names that were ordered (the CSR's names). */
  readonly domains: readonly string[];
  /** The leaf must be valid at this instant, allowing `MAX_CLOCK_SKEW_MS` for its `notBefore`. */
  readonly now: Date;
}

/** A certificate as both readers see it: its decoded fields, and OpenSSL's view for signatures. */
interface CheckedCertificate {
  readonly fields: ParsedCertificate;
  readonly openssl: NodeX509Certificate;
}

/** The DER of the first certificate in `pem`. */
function firstCertificateDer(pem: string): Uint8Array {
  const der = parsePem(pem).find((block) => block.label === 'CERTIFICATE')?.der;
  if (der === undefined) throw new InvalidInputError('Expected a PEM CERTIFICATE block, found none');
  return der;
}

function parseCertificate(pem: string): CheckedCertificate {
  const der = firstCertificateDer(pem);
  return { fields: parseCertificateDer(der), openssl: parseNodeCertificate(der) };
}

function describe({
  serial,
  notBefore,
  notAfter,
  names,
  issuer,
  subject,
}: ParsedCertificate): CertificateDescription {
  return {
    serial,
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
    dnsNames: names.filter((name) => name.type === 'dns').map((name) => name.value),
    issuer,
    subject,
  };
}

/**
 * Describes the first certificate in `pem` (the leaf, for a full chain). Throws
 * `InvalidInputError` when there is no parsable certificate.
 */
export function describeCertificate(pem: string): CertificateDescription {
  return describe(parseCertificateDer(firstCertificateDer(pem)));
}

/**
 * True when the certificate's public key is the public half of `privateKeyPem`. Compares the
 * keys themselves (via OpenSSL), not their encodings. Throws `InvalidInputError` only when either
 * input cannot be parsed.
 */
export function certificatePublicKeyMatches(certPem: string, privateKeyPem: string): boolean {
  return privateKeyMatches(parseNodeCertificate(certPem), privateKeyPem);
}

function privateKeyMatches(certificate: NodeX509Certificate, privateKeyPem: string): boolean {
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
  return hasPublicKey(parseNodeCertificate(certPem), spki);
}

function hasPublicKey(certificate: NodeX509Certificate, spki: Uint8Array): boolean {
  let publicKey: ReturnType<typeof createPublicKey>;
  try {
    publicKey = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch (error) {
    throw new InvalidInputError('The certificate key is not a readable public key', { cause: error });
  }
  return certificate.publicKey.equals(publicKey);
}

/** OpenSSL's view of the certificate, which compares keys as keys. */
function parseNodeCertificate(certificate: string | Uint8Array): NodeX509Certificate {
  try {
    return new NodeX509Certificate(certificate);
  } catch (error) {
    throw new InvalidInputError('Not a parsable X.509 certificate', { cause: error });
  }
}

/**
 * The subjectAltName must hold exactly the requested names, as DNS names: the CSR asked for
 * nothing else, so an IP address, email address, URI or any other kind of name is refused. A
 * subject CN, when there is one, must be one of the names too (ACM shows it as the domain name).
 */
function nameDifferences(leaf: ParsedCertificate, domains: readonly string[]): string[] {
  const { names } = leaf;
  const issued = new Set(names.filter((name) => name.type === 'dns').map((name) => name.value.toLowerCase()));
  const requested = new Set(domains.map((name) => name.toLowerCase()));
  const missing = [...requested].filter((name) => !issued.has(name));
  const unexpected = [...issued].filter((name) => !requested.has(name));
  const other = names.filter((name) => name.type !== 'dns').map((name) => `${name.type} ${name.value}`);
  const commonNames = leaf.subjectCommonNames;
  const strangeCommonNames = commonNames.filter((name) => !requested.has(name.toLowerCase()));
  const differences: string[] = [];
  if (missing.length > 0) differences.push(`missing requested names ${missing.join(', ')}`);
  if (unexpected.length > 0) differences.push(`unexpected names ${listForMessage(unexpected)}`);
  if (other.length > 0) differences.push(`names that are not DNS names: ${listForMessage(other)}`);
  if (strangeCommonNames.length > 0) {
    differences.push(`a common name that was not requested: ${listForMessage(strangeCommonNames)}`);
  }
  return differences;
}

/**
 * The leaf must not be a CA, must name its issuer's key (Authority Key Identifier), and must come
 * with the certificate that signed it: a CA certificate
 * (basicConstraints cA) first in the chain. Every certificate of the chain must be signed by the
 * next one. Signatures only: an intermediate's own validity is the relying party's business.
 */
function chainDifferences(certificates: readonly CheckedCertificate[]): string[] {
  const differences: string[] = [];
  const [leaf, issuer] = certificates.map((certificate) => certificate.fields);
  if (leaf?.isCa) {
    differences.push('the leaf is a CA');
  }
  // RFC 5280 §4.2.1.1 requires it, and it names the certificate to the CA's renewal information.
  if (leaf && !leaf.authorityKeyId?.length) {
    differences.push('the leaf has no Authority Key Identifier');
  }
  if (issuer === undefined) {
    differences.push('the leaf came without the certificate that issued it');
  } else if (!issuer.isCa) {
    differences.push(`its issuer (${nameForMessage(issuer.subject)}) is not a CA`);
  }
  for (let i = 0; i + 1 < certificates.length; i++) {
    const [subject, signer] = [certificates[i], certificates[i + 1]];
    if (!subject || !signer) continue;
    if (!signedBy(subject.openssl, signer.openssl)) {
      differences.push(
        `certificate ${i} (${nameForMessage(subject.fields.subject)}) is not signed by certificate ${i + 1} (${nameForMessage(signer.fields.subject)})`,
      );
    }
  }
  return differences;
}

/** Whether `signer`'s key made `subject`'s signature; a key OpenSSL cannot use for it did not. */
function signedBy(subject: NodeX509Certificate, signer: NodeX509Certificate): boolean {
  try {
    return subject.verify(signer.publicKey);
  } catch {
    return false;
  }
}

/**
 * The leaf must be valid `now` (its `notBefore` may be up to `MAX_CLOCK_SKEW_MS` ahead), and its
 * lifetime must make sense: it ends after it starts, and lasts at most
 * `MAX_CERTIFICATE_LIFETIME_DAYS`.
 */
function validityDifferences(leaf: ParsedCertificate, now: Date): string[] {
  const notBefore = leaf.notBefore.getTime();
  const notAfter = leaf.notAfter.getTime();
  const period = `${leaf.notBefore.toISOString()} to ${leaf.notAfter.toISOString()}`;
  const differences: string[] = [];
  if (notAfter <= notBefore) {
    differences.push(`its validity (${period}) ends no later than it starts`);
  } else if (notAfter - notBefore > MAX_CERTIFICATE_LIFETIME_DAYS * DAY_MS) {
    const days = Math.round((notAfter - notBefore) / DAY_MS);
    differences.push(`it lasts ${days} days (${period}), over the ${MAX_CERTIFICATE_LIFETIME_DAYS} accepted`);
  }
  if (notBefore > now.getTime() + MAX_CLOCK_SKEW_MS) {
    differences.push(`it is not valid yet at ${now.toISOString()} (${period})`);
  }
  if (notAfter <= now.getTime()) differences.push(`it has expired at ${now.toISOString()} (${period})`);
  return differences;
}

/**
 * Accepts the CA's full chain only if the leaf carries our public key; its subjectAltName holds
 * exactly the requested domains (as a case-insensitive set of DNS names, and nothing else); it is
 * not a CA and has an Authority Key Identifier; it comes with its issuer, a CA certificate, and each certificate is signed by the next
 * one; it is valid `now` and its lifetime is consistent (see `validityDifferences`); and its serial
 * is at most 20 octets. Otherwise throws `CertificateMismatchError` listing every difference found;
 * the message never contains key material, and the CA's names in it are shortened.
 */
export async function verifyIssuedCertificate(
  input: VerifyIssuedCertificateInput,
): Promise<VerifiedCertificate> {
  const { leafPem, chainPem } = splitPemChain(input.fullchainPem);
  const leaf = parseCertificate(leafPem);
  const certificates = [leaf, ...pemBlocks(chainPem, 'CERTIFICATE').map(parseCertificate)];
  const description = describe(leaf.fields);

  const differences: string[] = [];
  const keyMatches =
    input.privateKeyPem !== undefined
      ? privateKeyMatches(leaf.openssl, input.privateKeyPem)
      : input.publicKeySpki !== undefined && hasPublicKey(leaf.openssl, input.publicKeySpki);
  if (!keyMatches) {
    differences.push('the public key is not the one the CSR was signed with');
  }
  differences.push(...nameDifferences(leaf.fields, input.domains));
  differences.push(...chainDifferences(certificates));
  differences.push(...validityDifferences(leaf.fields, input.now));
  if (description.serial.length > MAX_SERIAL_HEX_LENGTH) {
    differences.push('its serial is over 20 octets');
  }

  if (differences.length > 0) {
    throw new CertificateMismatchError(
      `The certificate the CA issued (serial ${truncateText(description.serial, MAX_SERIAL_HEX_LENGTH)}) is refused: ${differences.join('; ')}`,
    );
  }
  return { ...description, leafPem, chainPem };
}

/** A distinguished name as the CA wrote it, shortened for a message. */
function nameForMessage(name: string): string {
  return truncateText(name, MAX_QUOTED_LENGTH);
}

/** The first `MAX_NAMES_SHOWN` entries, each shortened, and how many more there are. */
function listForMessage(entries: readonly string[]): string {
  const shown = entries.slice(0, MAX_NAMES_SHOWN).map(nameForMessage).join(', ');
  return entries.length > MAX_NAMES_SHOWN ? `${shown} and ${entries.length - MAX_NAMES_SHOWN} more` : shown;
}
