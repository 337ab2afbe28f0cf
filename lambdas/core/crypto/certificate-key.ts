import { createPrivateKey, createPublicKey, type KeyObject, webcrypto } from 'node:crypto';
import { InvalidInputError } from '../errors.js';
import type { KeyType } from '../state.js';

/**
 * Certificate private keys: generated fresh for every issuance (never the ACME account key, which
 * stays in KMS), serialized as PKCS#8 PEM for the encrypted certificate store and ACM, and
 * imported back as WebCrypto keys when a later step needs to sign a CSR with them.
 */

/** A WebCrypto key pair, as `createCsr` signs with it. */
export type CertificateKeyPair = webcrypto.CryptoKeyPair;

/** A freshly generated certificate key. */
export interface GeneratedCertificateKey {
  /** PKCS#8 PEM. Secret: store it encrypted, never log it or put it in a workflow payload. */
  readonly privateKeyPem: string;
  readonly keyPair: CertificateKeyPair;
}

type KeyAlgorithm = webcrypto.EcKeyGenParams | webcrypto.RsaHashedKeyGenParams;

const RSA_PUBLIC_EXPONENT = new Uint8Array([0x01, 0x00, 0x01]);
const rsa = (modulusLength: number): webcrypto.RsaHashedKeyGenParams => ({
  name: 'RSASSA-PKCS1-v1_5',
  modulusLength,
  publicExponent: RSA_PUBLIC_EXPONENT,
  hash: 'SHA-256',
});

/** The WebCrypto parameters of each key type. */
const ALGORITHMS: Readonly<Record<KeyType, KeyAlgorithm>> = {
  EC_P256: { name: 'ECDSA', namedCurve: 'P-256' },
  EC_P384: { name: 'ECDSA', namedCurve: 'P-384' },
  RSA_2048: rsa(2048),
  RSA_3072: rsa(3072),
  RSA_4096: rsa(4096),
};

/** OpenSSL's curve names, as `KeyObject.asymmetricKeyDetails` reports them. */
const CURVES: Readonly<Record<string, KeyType>> = { prime256v1: 'EC_P256', secp384r1: 'EC_P384' };
const RSA_SIZES: Readonly<Record<number, KeyType>> = { 2048: 'RSA_2048', 3072: 'RSA_3072', 4096: 'RSA_4096' };
const SUPPORTED = 'EC P-256, EC P-384, RSA 2048, RSA 3072 or RSA 4096';

function algorithmFor(keyType: KeyType): KeyAlgorithm {
  const algorithm = ALGORITHMS[keyType];
  if (!algorithm)
    throw new InvalidInputError(`Unsupported key type ${JSON.stringify(keyType)}; use ${SUPPORTED}.`);
  return algorithm;
}

/**
 * Generates a certificate key of `keyType` (ECDSA P-256 unless another type is asked for). The
 * private key is extractable only so that it can be exported once, here, as PKCS#8 PEM.
 */
export async function generateCertificateKey(keyType: KeyType = 'EC_P256'): Promise<GeneratedCertificateKey> {
  const keyPair = await webcrypto.subtle.generateKey(algorithmFor(keyType), true, ['sign', 'verify']);
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keyPair.privateKey);
  const privateKeyPem = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' })
    .export({ format: 'pem', type: 'pkcs8' })
    .toString();
  return { privateKeyPem, keyPair };
}

function parsePrivateKey(privateKeyPem: string): KeyObject {
  try {
    return createPrivateKey({ key: privateKeyPem, format: 'pem' });
  } catch (error) {
    throw new InvalidInputError('The certificate private key is not a readable PEM private key', {
      cause: error,
    });
  }
}

function keyTypeOf(key: KeyObject): KeyType {
  const details = key.asymmetricKeyDetails;
  const known =
    key.asymmetricKeyType === 'ec'
      ? CURVES[details?.namedCurve ?? '']
      : key.asymmetricKeyType === 'rsa'
        ? RSA_SIZES[details?.modulusLength ?? 0]
        : undefined;
  if (known) return known;
  const found =
    key.asymmetricKeyType === 'ec'
      ? `EC ${details?.namedCurve ?? 'unknown curve'}`
      : `${key.asymmetricKeyType ?? 'unknown'}${details?.modulusLength ? ` ${details.modulusLength}` : ''}`;
  throw new InvalidInputError(`Certificate keys must be ${SUPPORTED}, but this one is ${found}`);
}

/**
 * The key type of a PEM private key (PKCS#8, or the older SEC1/PKCS#1 forms). Throws
 * `InvalidInputError` for anything that is not one of the `KeyType`s.
 */
export function detectKeyType(privateKeyPem: string): KeyType {
  return keyTypeOf(parsePrivateKey(privateKeyPem));
}

/**
 * Turns a stored PEM private key back into a WebCrypto key pair (the public half is derived from
 * the private key). The key type is read from the key itself; when `keyType` is given and
 * differs, this throws `InvalidInputError` rather than silently using the other algorithm. The
 * imported private key is not extractable: nothing downstream needs its bytes again.
 */
export async function importCertificateKey(
  privateKeyPem: string,
  keyType?: KeyType,
): Promise<CertificateKeyPair> {
  const privateKey = parsePrivateKey(privateKeyPem);
  const actual = keyTypeOf(privateKey);
  if (keyType !== undefined && keyType !== actual) {
    throw new InvalidInputError(`Expected a ${keyType} certificate key, but the stored key is ${actual}`);
  }
  const algorithm = algorithmFor(actual);
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const [importedPrivate, importedPublic] = await Promise.all([
    webcrypto.subtle.importKey('pkcs8', pkcs8, algorithm, false, ['sign']),
    webcrypto.subtle.importKey('spki', spki, algorithm, true, ['verify']),
  ]);
  return { privateKey: importedPrivate, publicKey: importedPublic };
}
