import type { KMSClient } from '@aws-sdk/client-kms';
import { derToJoseSignature, spkiDerToEcJwk } from '../core/crypto/jose-signature.js';
import { AwsRequestError, InvalidInputError } from '../core/errors.js';
import type { EcPublicJwk, Signer } from '../core/ports.js';
import { getKmsPublicKey, signWithKms } from './kms-calls.js';

export interface KmsSignerOptions {
  readonly client: KMSClient;
  /** Key id, key ARN, alias name or alias ARN of an `ECC_NIST_P256` `SIGN_VERIFY` key. */
  readonly keyId: string;
}

/**
 * The ACME account key, held in AWS KMS: the private key never leaves KMS, so JWS signing is a
 * `Sign` call. Signatures come back as the 64-byte JOSE form (ES256), never DER. SDK failures are
 * wrapped as `AwsTransientError` (throttling, 5xx) or `AwsRequestError`, naming the key.
 */
export class KmsSigner implements Signer {
  readonly algorithm = 'ES256' as const;
  readonly #client: KMSClient;
  readonly #keyId: string;
  #publicJwk: Promise<EcPublicJwk> | undefined;

  constructor(options: KmsSignerOptions) {
    this.#client = options.client;
    this.#keyId = options.keyId;
  }

  /**
   * The account key's public JWK, fetched once per instance (a failed fetch is not cached). Throws
   * `InvalidInputError` when the key is not an ECC_NIST_P256 signing key.
   */
  publicJwk(): Promise<EcPublicJwk> {
    this.#publicJwk ??= this.#fetchPublicJwk().catch((error: unknown) => {
      this.#publicJwk = undefined;
      throw error;
    });
    return this.#publicJwk;
  }

  /**
   * Signs with ECDSA_SHA_256. Inputs up to 4096 bytes go to KMS as RAW messages; longer ones (a
   * finalize with many names) are hashed here and sent as a DIGEST, which KMS signs identically.
   */
  async sign(signingInput: Uint8Array): Promise<Uint8Array> {
    const signature = await signWithKms(this.#client, this.#keyId, signingInput, 'ECDSA_SHA_256', 'sha256');
    return derToJoseSignature(signature, 32);
  }

  async #fetchPublicJwk(): Promise<EcPublicJwk> {
    const output = await getKmsPublicKey(this.#client, this.#keyId);
    if (output.KeySpec !== 'ECC_NIST_P256' || output.KeyUsage !== 'SIGN_VERIFY') {
      throw new InvalidInputError(
        `KMS key ${this.#keyId} must have KeySpec ECC_NIST_P256 and KeyUsage SIGN_VERIFY to sign ACME ` +
          `requests (ES256), but it has KeySpec ${output.KeySpec ?? 'unknown'} and KeyUsage ${output.KeyUsage ?? 'unknown'}`,
      );
    }
    if (!output.PublicKey)
      throw new AwsRequestError(`KMS GetPublicKey on key ${this.#keyId} returned no key`);
    return spkiDerToEcJwk(output.PublicKey);
  }
}
