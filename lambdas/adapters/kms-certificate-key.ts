import type { KeySpec, KMSClient, SigningAlgorithmSpec } from '@aws-sdk/client-kms';
import { AwsRequestError, InvalidInputError } from '../core/errors.js';
import type { CertificateKeySigner, CertificateKeySigners } from '../core/ports.js';
import type { KeyType } from '../core/state.js';
import { getKmsPublicKey, signWithKms } from './kms-calls.js';

/** The KMS key specs that can be a certificate key, and the key type each one is. */
const KEY_TYPES: Readonly<Partial<Record<KeySpec, KeyType>>> = {
  ECC_NIST_P256: 'EC_P256',
  ECC_NIST_P384: 'EC_P384',
  RSA_2048: 'RSA_2048',
  RSA_3072: 'RSA_3072',
  RSA_4096: 'RSA_4096',
};

/**
 * The X.509 signature algorithm of each key type (the one `createCsrWithKeySigner` announces),
 * as KMS names it, and the hash KMS applies to a RAW message, for hashing long messages here.
 */
const SIGNING: Readonly<Record<KeyType, { algorithm: SigningAlgorithmSpec; hash: 'sha256' | 'sha384' }>> = {
  EC_P256: { algorithm: 'ECDSA_SHA_256', hash: 'sha256' },
  EC_P384: { algorithm: 'ECDSA_SHA_384', hash: 'sha384' },
  RSA_2048: { algorithm: 'RSASSA_PKCS1_V1_5_SHA_256', hash: 'sha256' },
  RSA_3072: { algorithm: 'RSASSA_PKCS1_V1_5_SHA_256', hash: 'sha256' },
  RSA_4096: { algorithm: 'RSASSA_PKCS1_V1_5_SHA_256', hash: 'sha256' },
};

export interface KmsCertificateKeyOptions {
  readonly client: KMSClient;
  /** Key id, key ARN, alias name or alias ARN of a `SIGN_VERIFY` key of a supported spec. */
  readonly keyId: string;
}

/** What `describe()` resolves to. */
type KeyDescription = Awaited<ReturnType<CertificateKeySigner['describe']>>;

/**
 * A certificate key held in AWS KMS (ECC_NIST_P256, ECC_NIST_P384, RSA_2048, RSA_3072 or
 * RSA_4096, usage SIGN_VERIFY): its private half never leaves KMS, so the CSR is signed with KMS
 * `Sign`. Signatures are returned as KMS produces them, which is already the X.509 form (DER
 * ECDSA-Sig-Value, or the PKCS#1 v1.5 octet string). SDK failures are wrapped as
 * `AwsTransientError` (throttling, 5xx) or `AwsRequestError`, naming the key.
 */
export class KmsCertificateKey implements CertificateKeySigner {
  readonly keyId: string;
  readonly #client: KMSClient;
  #description: Promise<KeyDescription> | undefined;

  constructor(options: KmsCertificateKeyOptions) {
    this.#client = options.client;
    this.keyId = options.keyId;
  }

  /**
   * The key's type and SPKI, from one `GetPublicKey` per instance (a failed fetch is not cached).
   * Throws `InvalidInputError` when the key is not a signing key of a supported spec.
   */
  describe(): Promise<KeyDescription> {
    this.#description ??= this.#fetchDescription().catch((error: unknown) => {
      this.#description = undefined;
      throw error;
    });
    return this.#description;
  }

  /**
   * Signs with the key type's X.509 algorithm. Inputs up to 4096 bytes go to KMS as RAW messages;
   * longer ones (a CSR with many names) are hashed here with the algorithm's hash and sent as a
   * DIGEST, which KMS signs identically.
   */
  async sign(data: Uint8Array): Promise<Uint8Array> {
    const { keyType } = await this.describe();
    const { algorithm, hash } = SIGNING[keyType];
    return signWithKms(this.#client, this.keyId, data, algorithm, hash);
  }

  async #fetchDescription(): Promise<KeyDescription> {
    const output = await getKmsPublicKey(this.#client, this.keyId);
    const keyType = output.KeySpec === undefined ? undefined : KEY_TYPES[output.KeySpec];
    if (keyType === undefined || output.KeyUsage !== 'SIGN_VERIFY') {
      throw new InvalidInputError(
        `KMS key ${this.keyId} cannot be a certificate key: it has KeySpec ${output.KeySpec ?? 'unknown'} ` +
          `and KeyUsage ${output.KeyUsage ?? 'unknown'}, but it needs KeyUsage SIGN_VERIFY and one of ` +
          `the KeySpecs ${Object.keys(KEY_TYPES).join(', ')}`,
      );
    }
    if (!output.PublicKey) throw new AwsRequestError(`KMS GetPublicKey on key ${this.keyId} returned no key`);
    return { keyType, spki: output.PublicKey };
  }
}

/**
 * Certificate keys in AWS KMS, one `KmsCertificateKey` per key id for the life of the instance,
 * so a Lambda container asks KMS for each key's public half once.
 */
export class KmsCertificateKeys implements CertificateKeySigners {
  readonly #client: KMSClient;
  readonly #keys = new Map<string, KmsCertificateKey>();

  constructor(options: { readonly client: KMSClient }) {
    this.#client = options.client;
  }

  /** The key named by `keyId` (key id, key ARN, alias name or alias ARN), not yet checked. */
  forKey(keyId: string): KmsCertificateKey {
    let key = this.#keys.get(keyId);
    if (!key) {
      key = new KmsCertificateKey({ client: this.#client, keyId });
      this.#keys.set(keyId, key);
    }
    return key;
  }
}
