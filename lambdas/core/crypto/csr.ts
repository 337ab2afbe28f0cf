import { createPublicKey, KeyObject, sign, verify } from 'node:crypto';
import { Attributes, CertificationRequest, CertificationRequestInfo } from '@peculiar/asn1-csr';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  Attribute,
  AttributeTypeAndValue,
  AttributeValue,
  Extension,
  Extensions,
  GeneralName,
  id_ce_subjectAltName,
  Name,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  SubjectPublicKeyInfo,
} from '@peculiar/asn1-x509';
import { InvalidInputError } from '../errors.js';
import type { CertificateKeySigner } from '../ports.js';
import type { KeyType } from '../state.js';
import type { CertificateKeyPair } from './certificate-key.js';

/**
 * PKCS#10 certificate requests (RFC 2986) for ACME finalize, built with the ASN.1 schemas of
 * RFC 2986 and RFC 5280 (`@peculiar/asn1-csr`, `@peculiar/asn1-x509`) and signed by `node:crypto`
 * or by a keystore, whichever holds the key.
 */

/** RFC 5280 `ub-common-name`: a longer first name cannot be the CN and lives in the SAN only. */
const MAX_COMMON_NAME_LENGTH = 64;

/** RFC 2985 §5.4.2 `pkcs-9-at-extensionRequest`: the attribute that carries requested extensions. */
const EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const COMMON_NAME = '2.5.4.3';

/** How a request is signed: the X.509 signature algorithm, and the hash node:crypto applies. */
interface SignatureProfile {
  /** RFC 5758 §3.2 (ECDSA) or RFC 4055 §5 (RSA) signature algorithm OID. */
  readonly oid: string;
  /** RFC 4055 §5: RSA signature algorithms carry NULL parameters, ECDSA ones none (RFC 5758 §3.2). */
  readonly nullParameters: boolean;
  readonly hash: 'sha256' | 'sha384';
}

const ECDSA_SHA256: SignatureProfile = { oid: '1.2.840.10045.4.3.2', nullParameters: false, hash: 'sha256' };
const ECDSA_SHA384: SignatureProfile = { oid: '1.2.840.10045.4.3.3', nullParameters: false, hash: 'sha384' };
const RSA_SHA256: SignatureProfile = { oid: '1.2.840.113549.1.1.11', nullParameters: true, hash: 'sha256' };

/** ECDSA hashes matched to the curve (RFC 5758 §3.2 pairs P-384 with SHA-384); RSA uses SHA-256. */
const ECDSA_PROFILES: Readonly<Record<string, SignatureProfile>> = {
  'P-256': ECDSA_SHA256,
  'P-384': ECDSA_SHA384,
};

function signatureProfileFor(keyPair: CertificateKeyPair): SignatureProfile {
  const algorithm = keyPair.privateKey.algorithm as { name: string; namedCurve?: string };
  if (algorithm.name === 'ECDSA') {
    const profile = ECDSA_PROFILES[algorithm.namedCurve ?? ''];
    if (!profile) throw new InvalidInputError(`CSR keys on curve ${algorithm.namedCurve} are not supported`);
    return profile;
  }
  if (algorithm.name === 'RSASSA-PKCS1-v1_5') return RSA_SHA256;
  throw new InvalidInputError(`CSR keys must be ECDSA or RSASSA-PKCS1-v1_5, not ${algorithm.name}`);
}

/** A DirectoryString the way CAs and OpenSSL expect it: PrintableString when it can be one. */
function commonName(value: string): AttributeTypeAndValue {
  const printable = /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(value);
  return new AttributeTypeAndValue({
    type: COMMON_NAME,
    value: new AttributeValue(printable ? { printableString: value } : { utf8String: value }),
  });
}

/**
 * The key-independent half of every CSR: the subject (the first domain as CN when it fits) and
 * the extensionRequest attribute holding the subjectAltName, every domain a dNSName.
 */
function requestInfo(domains: readonly string[], spki: Uint8Array): CertificationRequestInfo {
  const [first] = domains;
  if (first === undefined) throw new InvalidInputError('A CSR needs at least one domain');
  const subject = new Name(
    first.length <= MAX_COMMON_NAME_LENGTH ? [new RelativeDistinguishedName([commonName(first)])] : [],
  );
  const subjectAltName = new SubjectAlternativeName(
    domains.map((domain) => new GeneralName({ dNSName: domain })),
  );
  const extensions = new Extensions([
    new Extension({
      extnID: id_ce_subjectAltName,
      critical: false,
      extnValue: new OctetString(AsnConvert.serialize(subjectAltName)),
    }),
  ]);
  return new CertificationRequestInfo({
    subject,
    subjectPKInfo: parseSpki(spki),
    attributes: new Attributes([
      new Attribute({ type: EXTENSION_REQUEST, values: [AsnConvert.serialize(extensions)] }),
    ]),
  });
}

function parseSpki(spki: Uint8Array): SubjectPublicKeyInfo {
  try {
    return AsnConvert.parse(spki, SubjectPublicKeyInfo);
  } catch (error) {
    throw new InvalidInputError('The CSR public key is not a SubjectPublicKeyInfo', { cause: error });
  }
}

/** The signed request, in DER. */
function signedRequest(
  info: CertificationRequestInfo,
  profile: SignatureProfile,
  signature: Uint8Array,
): Uint8Array {
  const request = new CertificationRequest({
    certificationRequestInfo: info,
    signatureAlgorithm: new AlgorithmIdentifier({
      algorithm: profile.oid,
      ...(profile.nullParameters ? { parameters: null } : {}),
    }),
    signature: signature.slice().buffer,
  });
  return new Uint8Array(AsnConvert.serialize(request));
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
  const profile = signatureProfileFor(keyPair);
  const spki = KeyObject.from(keyPair.publicKey).export({ format: 'der', type: 'spki' });
  const info = requestInfo(domains, spki);
  const signature = sign(profile.hash, new Uint8Array(AsnConvert.serialize(info)), {
    key: KeyObject.from(keyPair.privateKey),
    dsaEncoding: 'der',
  });
  return signedRequest(info, profile, signature);
}

/** Same pairing as `createCsr`, so a KMS-held key yields the same CSR as a local one of its type. */
const REMOTE_KEY_PROFILES: Readonly<Record<KeyType, SignatureProfile>> = {
  EC_P256: ECDSA_SHA256,
  EC_P384: ECDSA_SHA384,
  RSA_2048: RSA_SHA256,
  RSA_3072: RSA_SHA256,
  RSA_4096: RSA_SHA256,
};

function profileFor(signer: CertificateKeySigner, keyType: KeyType): SignatureProfile {
  // keyType comes from outside the type system (a keystore's answer), so it is checked at runtime.
  if (!Object.hasOwn(REMOTE_KEY_PROFILES, keyType)) {
    throw new InvalidInputError(
      `Key ${signer.keyId} is of type ${String(keyType)}, which cannot sign a CSR; use ` +
        `${Object.keys(REMOTE_KEY_PROFILES).join(', ')}`,
    );
  }
  return REMOTE_KEY_PROFILES[keyType];
}

/** Whether `signature` (X.509 form: DER ECDSA-Sig-Value or PKCS#1 v1.5) over `data` is `spki`'s. */
function signatureVerifies(
  profile: SignatureProfile,
  data: Uint8Array,
  spki: Uint8Array,
  signature: Uint8Array,
): boolean {
  try {
    const key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    return verify(profile.hash, data, { key, dsaEncoding: 'der' }, signature);
  } catch {
    return false;
  }
}

/**
 * Builds the same CSR as `createCsr` (same subject and subjectAltName) for a key that never leaves
 * its keystore, such as an AWS KMS asymmetric key: the public key is the signer's own SPKI, and
 * the request is signed through `signer` with ECDSA SHA-256 (P-256), ECDSA SHA-384 (P-384) or
 * RSASSA-PKCS1-v1_5 SHA-256 (RSA). The signature is verified against that SPKI before the request
 * is assembled, so a keystore that signs with another key or algorithm than it describes (or
 * returns a malformed signature) fails here, naming the key, rather than as a `badCSR` from the
 * CA. Throws `InvalidInputError` for a key type that cannot sign a CSR.
 */
export async function createCsrWithKeySigner(
  domains: readonly string[],
  signer: CertificateKeySigner,
): Promise<Uint8Array> {
  if (domains.length === 0) throw new InvalidInputError('A CSR needs at least one domain');
  const { keyType, spki } = await signer.describe();
  const profile = profileFor(signer, keyType);
  const info = requestInfo(domains, spki);
  const data = new Uint8Array(AsnConvert.serialize(info));
  const signature = await signer.sign(data);
  if (!signatureVerifies(profile, data, spki, signature)) {
    throw new InvalidInputError(
      `The CSR signed with key ${signer.keyId} (${keyType}) does not verify against the public key ` +
        'the key reports: the keystore signs with another key or algorithm than it describes',
    );
  }
  return signedRequest(info, profile, signature);
}
