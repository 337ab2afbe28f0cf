import type { S3Client } from '@aws-sdk/client-s3';
import { AwsTransientError } from '../core/errors.js';
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

/** The HTTP status of a failed S3 call (412 for a failed precondition, 409 for a conflict). */
function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const shape = error as { name?: unknown; $metadata?: { httpStatusCode?: unknown } };
  if (shape.name === 'PreconditionFailed') return 412;
  if (shape.name === 'ConditionalRequestConflict') return 409;
  const status = shape.$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
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
    try {
      await this.#put(key, body, contentType, false);
    } catch (error) {
      throw wrapAwsError(error, `S3 PutObject s3://${this.#bucket}/${key}`);
    }
  }

  /**
   * `PutObject` with `If-None-Match: *`: S3 writes the object only when the key has no current
   * object (a delete marker counts as none), and answers 412 `PreconditionFailed` otherwise,
   * which is `exists` here. A 409 `ConditionalRequestConflict` (another conditional write to the
   * key in flight) is `AwsTransientError`: the retried call then sees the object.
   */
  async create(key: string, body: string, contentType: string): Promise<'created' | 'exists'> {
    try {
      await this.#put(key, body, contentType, true);
      return 'created';
    } catch (error) {
      if (statusOf(error) === 412) return 'exists';
      const operation = `S3 PutObject (If-None-Match: *) s3://${this.#bucket}/${key}`;
      if (statusOf(error) === 409) {
        throw new AwsTransientError(`${operation} met another conditional write to the same key`, {
          cause: error,
        });
      }
      throw wrapAwsError(error, operation);
    }
  }

  async #put(key: string, body: string, contentType: string, onlyIfAbsent: boolean): Promise<void> {
    const { PutObjectCommand } = await sdk();
    await this.#client.send(
      new PutObjectCommand({
        Bucket: this.#bucket,
        Key: key,
        Body: body,
        ContentType: contentType,
        ServerSideEncryption: 'aws:kms',
        ...(this.#kmsKeyId ? { SSEKMSKeyId: this.#kmsKeyId } : {}),
        ...(onlyIfAbsent ? { IfNoneMatch: '*' } : {}),
      }),
    );
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
