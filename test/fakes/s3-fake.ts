import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  GetObjectCommand,
  type GetObjectCommandInput,
  type GetObjectCommandOutput,
  PutObjectCommand,
  type PutObjectCommandInput,
  type PutObjectCommandOutput,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { FakeCommandRunner, type ServiceExceptionClass } from './fake-support.js';

/**
 * An in-memory, versioned Amazon S3 at the SDK boundary, for unit tests, the e2e state machine
 * and the demo. It enforces what our deployed bucket enforces (SSE-KMS on every put), reports
 * missing objects the way the SDK does (`NoSuchKey` with HTTP 404), honours
 * conditional writes as S3 does (`IfNoneMatch: '*'` on PutObject fails with 412
 * `PreconditionFailed` when the key has a current object, and writes nothing), and returns
 * bodies that behave like the SDK's streams (`transformToString()` and friends, usable once).
 */

/** One version of one object; the last version of a key is the current one. */
export interface FakeS3ObjectVersion {
  readonly versionId: string;
  readonly body: Uint8Array;
  readonly contentType: string | undefined;
  readonly serverSideEncryption: string | undefined;
  readonly sseKmsKeyId: string | undefined;
  readonly etag: string;
  readonly lastModified: Date;
  readonly metadata: Readonly<Record<string, string>>;
}

export interface InstallS3FakeOptions {
  /** When given, only these buckets exist and others fail with `NoSuchBucket`. @default any bucket */
  readonly buckets?: readonly string[];
}

export interface S3Fake {
  /** Bucket → key → versions, oldest first. */
  readonly objects: ReadonlyMap<string, ReadonlyMap<string, readonly FakeS3ObjectVersion[]>>;
  /** Calls per command (`PutObject`, `GetObject`, ...), failed ones included. */
  readonly calls: Readonly<Record<string, number>>;
  /** Every request with its input, oldest first. */
  readonly requests: readonly { readonly command: string; readonly input: unknown }[];
  /** The current version of an object, or `undefined` when it is missing. */
  current(bucket: string, key: string): FakeS3ObjectVersion | undefined;
  /** The current body of an object as UTF-8 text, or `undefined`. */
  text(bucket: string, key: string): string | undefined;
  /** Creates an empty bucket (a deployment's bucket), as `CreateBucket` would. */
  createBucket(bucket: string): void;
  /** Makes the next `times` calls of `command` throw an error named `errorName`. */
  failNext(command: string, errorName: string, times?: number): void;
  /** Gives `S3Client` back its real `send`. */
  restore(): void;
}

type PutBody = PutObjectCommandInput['Body'];

async function readBody(body: PutBody): Promise<Uint8Array> {
  if (body === undefined || body === null) return new Uint8Array();
  if (typeof body === 'string') return new Uint8Array(Buffer.from(body, 'utf8'));
  if (body instanceof Uint8Array) return new Uint8Array(body);
  if (body instanceof Blob) return new Uint8Array(await body.arrayBuffer());
  if (typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
    const chunks: Buffer[] = [];
    for await (const chunk of body as AsyncIterable<Uint8Array | string>) chunks.push(Buffer.from(chunk));
    return new Uint8Array(Buffer.concat(chunks));
  }
  throw new TypeError('The S3 fake cannot read this Body type');
}

/**
 * A Node stream carrying `bytes`, with the SDK's stream mixin methods. Like the real body, it can
 * be transformed only once.
 */
function sdkBody(bytes: Uint8Array): NonNullable<GetObjectCommandOutput['Body']> {
  const stream = Readable.from([Buffer.from(bytes)]);
  let transformed = false;
  const once = () => {
    if (transformed) throw new Error('The stream has already been transformed.');
    transformed = true;
  };
  return Object.assign(stream, {
    transformToString: async (encoding: BufferEncoding = 'utf-8') => {
      once();
      return Buffer.from(bytes).toString(encoding);
    },
    transformToByteArray: async () => {
      once();
      return new Uint8Array(bytes);
    },
    transformToWebStream: () => {
      once();
      return Readable.toWeb(stream);
    },
  }) as unknown as NonNullable<GetObjectCommandOutput['Body']>;
}

/**
 * Replaces `send` on every `S3Client` (including clients created before this call) with an
 * in-memory, versioned S3 supporting PutObject and GetObject (what the adapter sends). Call
 * `restore()` when done.
 */
export function installS3Fake(options: InstallS3FakeOptions = {}): S3Fake {
  const runner = new FakeCommandRunner(S3ServiceException as unknown as ServiceExceptionClass);
  const buckets = new Map<string, Map<string, FakeS3ObjectVersion[]>>();
  for (const bucket of options.buckets ?? []) buckets.set(bucket, new Map());
  const mock = mockClient(S3Client);
  const ok = (status = 200) => ({
    httpStatusCode: status,
    requestId: randomUUID(),
    attempts: 1,
    totalRetryDelay: 0,
  });

  const bucketOf = (name: string | undefined): Map<string, FakeS3ObjectVersion[]> => {
    const existing = buckets.get(name ?? '');
    if (existing) return existing;
    if (options.buckets || !name) {
      return runner.fail({
        name: 'NoSuchBucket',
        message: 'The specified bucket does not exist',
        httpStatusCode: 404,
      });
    }
    const created = new Map<string, FakeS3ObjectVersion[]>();
    buckets.set(name, created);
    return created;
  };

  const current = (bucket: string, key: string): FakeS3ObjectVersion | undefined =>
    buckets.get(bucket)?.get(key)?.at(-1);

  mock.onAnyCommand().callsFake(() =>
    runner.fail({
      name: 'NotImplemented',
      message: 'The S3 fake does not support this command',
      httpStatusCode: 501,
    }),
  );

  mock.on(PutObjectCommand).callsFake((input: PutObjectCommandInput) =>
    runner.run('PutObject', input, async (): Promise<PutObjectCommandOutput> => {
      const objects = bucketOf(input.Bucket);
      if (input.ServerSideEncryption !== 'aws:kms') {
        // The deployed bucket policy denies any PutObject without SSE-KMS.
        runner.fail({ name: 'AccessDenied', message: 'Access Denied', httpStatusCode: 403 });
      }
      if (input.IfNoneMatch !== undefined) {
        // PutObject takes only `*`: write unless the key has a current object; otherwise 412,
        // and nothing is written.
        if (input.IfNoneMatch !== '*') {
          runner.fail({
            name: 'NotImplemented',
            message: 'A header you provided implies functionality that is not implemented',
            httpStatusCode: 501,
          });
        }
        if (current(input.Bucket ?? '', input.Key ?? '')) {
          runner.fail({
            name: 'PreconditionFailed',
            message: 'At least one of the pre-conditions you specified did not hold',
            httpStatusCode: 412,
          });
        }
      }
      const body = await readBody(input.Body);
      const version: FakeS3ObjectVersion = {
        versionId: randomUUID(),
        body,
        contentType: input.ContentType,
        serverSideEncryption: input.ServerSideEncryption,
        sseKmsKeyId: input.SSEKMSKeyId,
        etag: `"${createHash('md5').update(body).digest('hex')}"`,
        lastModified: new Date(),
        metadata: { ...(input.Metadata ?? {}) },
      };
      const key = input.Key ?? '';
      objects.set(key, [...(objects.get(key) ?? []), version]);
      return {
        $metadata: ok(),
        ETag: version.etag,
        VersionId: version.versionId,
        ServerSideEncryption: 'aws:kms',
        ...(input.SSEKMSKeyId ? { SSEKMSKeyId: input.SSEKMSKeyId } : {}),
      };
    }),
  );

  mock.on(GetObjectCommand).callsFake((input: GetObjectCommandInput) =>
    runner.run('GetObject', input, (): GetObjectCommandOutput => {
      const version = bucketOf(input.Bucket)
        .get(input.Key ?? '')
        ?.at(-1);
      if (!version) {
        return runner.fail({
          name: 'NoSuchKey',
          message: 'The specified key does not exist.',
          httpStatusCode: 404,
        });
      }
      const body = version.body;
      return {
        $metadata: ok(),
        Body: sdkBody(body),
        ContentLength: body.length,
        ...(version.contentType ? { ContentType: version.contentType } : {}),
        ETag: version.etag,
        LastModified: version.lastModified,
        VersionId: version.versionId,
        ...(version.serverSideEncryption ? { ServerSideEncryption: 'aws:kms' } : {}),
        ...(version.sseKmsKeyId ? { SSEKMSKeyId: version.sseKmsKeyId } : {}),
        Metadata: { ...version.metadata },
      };
    }),
  );

  return {
    objects: buckets,
    calls: runner.calls,
    requests: runner.requests,
    current,
    text(bucket, key) {
      const body = current(bucket, key)?.body;
      return body ? Buffer.from(body).toString('utf8') : undefined;
    },
    createBucket(bucket) {
      if (!buckets.has(bucket)) buckets.set(bucket, new Map());
    },
    failNext: (command, errorName, times = 1) => runner.failNext(command, errorName, times),
    restore: () => mock.restore(),
  };
}
