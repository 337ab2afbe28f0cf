import { InvalidInputError } from '../errors.js';
import type { CertificateKeySigner } from '../ports.js';
import type { KeyType } from '../state.js';
import type { CertificateKeyPair } from './certificate-key.js';
import { derToJoseSignature } from './jose-signature.js';
import {
  Pkcs10CertificateRequest,
  Pkcs10CertificateRequestGenerator,
  SubjectAlternativeNameExtension,
} from './x509.js';

/** RFC 5280 `ub-common-name`: a longer first name cannot be the CN and lives in the SAN only. */
const MAX_COMMON_NAME_LENGTH = 64;

/** ECDSA hashes matched to the curve (RFC 5758 §3.2 pairs P-384 with SHA-384); RSA uses SHA-256. */
const ECDSA_HASHES: Readonly<Record<string, string>> = { 'P-256': 'SHA-256', 'P-384': 'SHA-384' };

type CsrParams = Parameters<typeof Pkcs10CertificateRequestGenerator.create>[0];
type WebCrypto = NonNullable<Parameters<typeof Pkcs10CertificateRequestGenerator.create>[1]>;

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

/** The key-independent half of every CSR: the subject and the subjectAltName extension request. */
function requestContent(domains: readonly string[]): Pick<CsrParams, 'name' | 'extensions'> {
  const [first] = domains;
  if (first === undefined) throw new InvalidInputError('A CSR needs at least one domain');
  return {
    name: first.length <= MAX_COMMON_NAME_LENGTH ? [{ CN: [first] }] : [],
    extensions: [
      new SubjectAlternativeNameExtension(domains.map((domain) => ({ type: 'dns', value: domain }))),
    ],
  };
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
  const csr = await Pkcs10CertificateRequestGenerator.create({
    ...requestContent(domains),
    signingAlgorithm: signingAlgorithmFor(keyPair),
    keys: keyPair,
  });
  return new Uint8Array(csr.rawData);
}

/**
 * How a remote key signs a CSR: the WebCrypto algorithm @peculiar/x509 derives the signature
 * AlgorithmIdentifier from, and for ECDSA the size of r and s in WebCrypto's r || s form.
 */
interface RemoteKeyProfile {
  readonly key: { readonly name: string; readonly namedCurve?: string };
  readonly hash: string;
  readonly ecdsaSize?: number;
}

const rsaProfile: RemoteKeyProfile = { key: { name: 'RSASSA-PKCS1-v1_5' }, hash: 'SHA-256' };

/** Same pairing as `createCsr`, so a KMS-held key yields the same CSR as a local one of its type. */
const REMOTE_KEY_PROFILES: Readonly<Record<KeyType, RemoteKeyProfile>> = {
  EC_P256: { key: { name: 'ECDSA', namedCurve: 'P-256' }, hash: 'SHA-256', ecdsaSize: 32 },
  EC_P384: { key: { name: 'ECDSA', namedCurve: 'P-384' }, hash: 'SHA-384', ecdsaSize: 48 },
  RSA_2048: rsaProfile,
  RSA_3072: rsaProfile,
  RSA_4096: rsaProfile,
};

function profileFor(signer: CertificateKeySigner, keyType: KeyType): RemoteKeyProfile {
  // keyType comes from outside the type system (a keystore's answer), so it is checked at runtime.
  if (!Object.hasOwn(REMOTE_KEY_PROFILES, keyType)) {
    throw new InvalidInputError(
      `Key ${signer.keyId} is of type ${String(keyType)}, which cannot sign a CSR; use ` +
        `${Object.keys(REMOTE_KEY_PROFILES).join(', ')}`,
    );
  }
  return REMOTE_KEY_PROFILES[keyType];
}

function bytesOf(data: ArrayBuffer | ArrayBufferView): Uint8Array {
  return ArrayBuffer.isView(data)
    ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    : new Uint8Array(data);
}

/**
 * Just enough of WebCrypto for `Pkcs10CertificateRequestGenerator`: it exports the public key
 * (the signer's SPKI) and signs the CertificationRequestInfo through the signer. The signer
 * returns X.509's DER ECDSA-Sig-Value, but the generator expects WebCrypto's r || s and encodes
 * it back to DER itself.
 */
function remoteKeyCrypto(
  signer: CertificateKeySigner,
  spki: Uint8Array,
  profile: RemoteKeyProfile,
): { crypto: WebCrypto; keys: CertificateKeyPair } {
  const subtle = {
    exportKey: async (): Promise<ArrayBuffer> => bytesOf(spki).slice().buffer,
    sign: async (
      _algorithm: unknown,
      _key: unknown,
      data: ArrayBuffer | ArrayBufferView,
    ): Promise<ArrayBuffer> => {
      const signature = await signer.sign(bytesOf(data).slice());
      const webSignature =
        profile.ecdsaSize === undefined ? signature : derToJoseSignature(signature, profile.ecdsaSize);
      return webSignature.slice().buffer;
    },
  };
  // The generator spreads the private key's `algorithm` into the signing algorithm, so it must
  // carry the curve (for the r || s size) and nothing that contradicts the chosen hash.
  const key = { algorithm: { ...profile.key }, type: 'private', extractable: false, usages: ['sign'] };
  return {
    crypto: { subtle } as unknown as WebCrypto,
    keys: {
      privateKey: key,
      publicKey: { ...key, type: 'public', usages: ['verify'] },
    } as unknown as CertificateKeyPair,
  };
}

/**
 * Builds the same CSR as `createCsr` (same subject and subjectAltName) for a key that never leaves
 * its keystore, such as an AWS KMS asymmetric key: the public key is the signer's own SPKI, and
 * the request is signed through `signer` with ECDSA SHA-256 (P-256), ECDSA SHA-384 (P-384) or
 * RSASSA-PKCS1-v1_5 SHA-256 (RSA). The finished CSR is verified against that SPKI before it is
 * returned, so a keystore that signs with another key or algorithm than it describes fails here, naming the
 * key, rather than as a `badCSR` from the CA. Throws `InvalidInputError` for a key type that
 * cannot sign a CSR.
 */
export async function createCsrWithKeySigner(
  domains: readonly string[],
  signer: CertificateKeySigner,
): Promise<Uint8Array> {
  const content = requestContent(domains);
  const { keyType, spki } = await signer.describe();
  const profile = profileFor(signer, keyType);
  const { crypto, keys } = remoteKeyCrypto(signer, spki, profile);
  const csr = await Pkcs10CertificateRequestGenerator.create(
    { ...content, signingAlgorithm: { name: profile.key.name, hash: profile.hash }, keys },
    crypto,
  );
  const der = new Uint8Array(csr.rawData);
  if (!(await new Pkcs10CertificateRequest(der).verify())) {
    throw new InvalidInputError(
      `The CSR signed with key ${signer.keyId} (${keyType}) does not verify against the public key ` +
        'the key reports: the keystore signs with another key or algorithm than it describes',
    );
  }
  return der;
}
