import { createHash } from 'node:crypto';
import type { GetPublicKeyCommandOutput, KMSClient, SigningAlgorithmSpec } from '@aws-sdk/client-kms';
import { AwsRequestError } from '../core/errors.js';
import { wrapAwsError } from './wrap-aws-error.js';

/**
 * The two KMS calls both KMS-held keys make (the ACME account key and certificate keys), with
 * the SDK imported on first use and never with this module (runtime.ts says why), and failures
 * wrapped as `AwsTransientError` (throttling, 5xx) or `AwsRequestError`, naming the key.
 */

const sdk = () => import('@aws-sdk/client-kms');

/** KMS signs RAW messages up to this size; longer ones must be sent as a digest. */
const MAX_RAW_MESSAGE_BYTES = 4096;

/** The key's public half and what KMS says it is (spec, usage), as `GetPublicKey` returns them. */
export async function getKmsPublicKey(client: KMSClient, keyId: string): Promise<GetPublicKeyCommandOutput> {
  const { GetPublicKeyCommand } = await sdk();
  try {
    return await client.send(new GetPublicKeyCommand({ KeyId: keyId }));
  } catch (error) {
    throw wrapAwsError(error, `KMS GetPublicKey on key ${keyId}`);
  }
}

/**
 * Signs `data` with `algorithm`, whose hash is `hash`: inputs up to 4096 bytes go to KMS as RAW
 * messages; longer ones are hashed here and sent as a DIGEST, which KMS signs identically.
 * Returns KMS's signature bytes as they come (DER for ECDSA).
 */
export async function signWithKms(
  client: KMSClient,
  keyId: string,
  data: Uint8Array,
  algorithm: SigningAlgorithmSpec,
  hash: 'sha256' | 'sha384',
): Promise<Uint8Array> {
  const raw = data.length <= MAX_RAW_MESSAGE_BYTES;
  const message = raw ? data : new Uint8Array(createHash(hash).update(data).digest());
  const { SignCommand } = await sdk();
  let signature: Uint8Array | undefined;
  try {
    ({ Signature: signature } = await client.send(
      new SignCommand({
        KeyId: keyId,
        Message: message,
        MessageType: raw ? 'RAW' : 'DIGEST',
        SigningAlgorithm: algorithm,
      }),
    ));
  } catch (error) {
    throw wrapAwsError(error, `KMS Sign on key ${keyId}`);
  }
  if (!signature) throw new AwsRequestError(`KMS Sign on key ${keyId} returned no signature`);
  return signature;
}
