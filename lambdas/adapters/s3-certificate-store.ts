import type { S3Client } from '@aws-sdk/client-s3';
import type { CertificateStore } from '../core/ports.js';
import { wrapAwsError } from './wrap-aws-error.js';

/** The S3 SDK, imported on first use and never with this module (runtime.ts says why). */
const sdk = () => import('@aws-sdk/client-s3');

export interface S3CertificateStoreOptions {
  readonly client: S3Client;
  readonly bucket: string;
  /**
   * Customer managed KMS key for SSE-KMS.
   * @default the bucket's default key (`aws/s3` unless the bucket sets another)
   */
  readonly kmsKeyId?: string;
}

/**
 * What S3 reports for a key that does not exist: `NoSuchKey` from GetObject, or a bare 404 when
 * the SDK could not read an error body. A missing bucket is also a 404 but is a real failure.
 */
function isMissingObject(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const shape = error as { name?: unknown; $metadata?: { httpStatusCode?: unknown } };
  if (shape.name === 'NoSuchKey') return true;
  return shape.$metadata?.httpStatusCode === 404 && shape.name !== 'NoSuchBucket';
}

/**
 * The encrypted certificate store: issued chains, certificate private keys and small records in
 * one S3 bucket. Every object is written with SSE-KMS (the deployed bucket policy refuses
 * anything else), so private keys are never at rest unencrypted. A missing object reads as
 * `undefined`; every other failure becomes `AwsTransientError` (SlowDown, 5xx) or
 * `AwsRequestError`, naming the bucket and key.
 */
export class S3CertificateStore implements CertificateStore {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #kmsKeyId: string | undefined;

  constructor(options: S3CertificateStoreOptions) {
    this.#client = options.client;
    this.#bucket = options.bucket;
    this.#kmsKeyId = options.kmsKeyId;
  }

  async put(key: string, body: string, contentType: string): Promise<void> {
    const { PutObjectCommand } = await sdk();
    try {
      await this.#client.send(
        new PutObjectCommand({
          Bucket: this.#bucket,
          Key: key,
          Body: body,
          ContentType: contentType,
          ServerSideEncryption: 'aws:kms',
          ...(this.#kmsKeyId ? { SSEKMSKeyId: this.#kmsKeyId } : {}),
        }),
      );
    } catch (error) {
      throw wrapAwsError(error, `S3 PutObject s3://${this.#bucket}/${key}`);
    }
  }

  async get(key: string): Promise<string | undefined> {
    const { GetObjectCommand } = await sdk();
    try {
      const output = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key }));
      return output.Body ? await output.Body.transformToString('utf-8') : '';
    } catch (error) {
      if (isMissingObject(error)) return undefined;
      throw wrapAwsError(error, `S3 GetObject s3://${this.#bucket}/${key}`);
    }
  }
}
