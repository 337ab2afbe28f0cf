import { createHash } from 'node:crypto';
import type { GetPublicKeyCommandOutput, KMSClient } from '@aws-sdk/client-kms';
import { derToJoseSignature, spkiDerToEcJwk } from '../core/crypto/jose-signature.js';
import { AwsRequestError, InvalidInputError } from '../core/errors.js';
import type { EcPublicJwk, Signer } from '../core/ports.js';
import { wrapAwsError } from './wrap-aws-error.js';

/** The KMS SDK, imported on first use and never with this module (runtime.ts says why). */
const sdk = () => import('@aws-sdk/client-kms');

/** KMS signs RAW messages up to this size; longer ones must be sent as a SHA-256 digest. */
const MAX_RAW_MESSAGE_BYTES = 4096;

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
    const raw = signingInput.length <= MAX_RAW_MESSAGE_BYTES;
    const message = raw ? signingInput : new Uint8Array(createHash('sha256').update(signingInput).digest());
    const { SignCommand } = await sdk();
    let signature: Uint8Array | undefined;
    try {
      ({ Signature: signature } = await this.#client.send(
        new SignCommand({
          KeyId: this.#keyId,
          Message: message,
          MessageType: raw ? 'RAW' : 'DIGEST',
          SigningAlgorithm: 'ECDSA_SHA_256',
        }),
      ));
    } catch (error) {
      throw wrapAwsError(error, `KMS Sign on key ${this.#keyId}`);
    }
    if (!signature) throw new AwsRequestError(`KMS Sign on key ${this.#keyId} returned no signature`);
    return derToJoseSignature(signature, 32);
  }

  async #fetchPublicJwk(): Promise<EcPublicJwk> {
    const { GetPublicKeyCommand } = await sdk();
    let output: GetPublicKeyCommandOutput;
    try {
      output = await this.#client.send(new GetPublicKeyCommand({ KeyId: this.#keyId }));
    } catch (error) {
      throw wrapAwsError(error, `KMS GetPublicKey on key ${this.#keyId}`);
    }
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
