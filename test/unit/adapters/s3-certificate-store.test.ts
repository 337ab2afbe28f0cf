import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { S3CertificateStore } from '../../../lambdas/adapters/s3-certificate-store.js';
import { AwsRequestError, AwsTransientError } from '../../../lambdas/core/errors.js';
import { installS3Fake, type S3Fake } from '../../fakes/s3-fake.js';

const bucket = 'cert-store';
const kmsKeyId = 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555';

let s3: S3Fake;
let client: S3Client;

beforeEach(() => {
  s3 = installS3Fake({ buckets: [bucket] });
  client = new S3Client({ region: 'us-east-1' });
});

afterEach(() => {
  s3.restore();
});

describe('S3CertificateStore', () => {
  it('reads back what it wrote', async () => {
    const store = new S3CertificateStore({ client, bucket });

    await store.put('web/fullchain.pem', 'chain ✓', 'application/pem-certificate-chain');

    await expect(store.get('web/fullchain.pem')).resolves.toBe('chain ✓');
    expect(s3.current(bucket, 'web/fullchain.pem')?.contentType).toBe('application/pem-certificate-chain');
  });

  it('writes with SSE-KMS under the configured key', async () => {
    const store = new S3CertificateStore({ client, bucket, kmsKeyId });

    await store.put('web/privkey.pem', 'secret', 'application/x-pem-file');

    expect(s3.requests.at(-1)?.input).toMatchObject({
      Bucket: bucket,
      Key: 'web/privkey.pem',
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: kmsKeyId,
    });
    expect(s3.current(bucket, 'web/privkey.pem')).toMatchObject({
      serverSideEncryption: 'aws:kms',
      sseKmsKeyId: kmsKeyId,
    });
  });

  it("writes with SSE-KMS under the bucket's default key when none is configured", async () => {
    const store = new S3CertificateStore({ client, bucket });

    await store.put('web/record.json', '{}', 'application/json');

    expect(s3.requests.at(-1)?.input).toMatchObject({ ServerSideEncryption: 'aws:kms' });
    expect(s3.requests.at(-1)?.input).not.toHaveProperty('SSEKMSKeyId');
  });

  it('reads a missing object as undefined', async () => {
    const store = new S3CertificateStore({ client, bucket });

    await expect(store.get('nothing/here')).resolves.toBeUndefined();
  });

  it('reads the newest version after an overwrite', async () => {
    const store = new S3CertificateStore({ client, bucket });

    await store.put('web/state.json', 'first', 'application/json');
    await store.put('web/state.json', 'second', 'application/json');

    await expect(store.get('web/state.json')).resolves.toBe('second');
    expect(s3.objects.get(bucket)?.get('web/state.json')).toHaveLength(2);
  });

  it.each(['SlowDown', 'ServiceUnavailable', 'InternalError'])(
    'wraps %s as AwsTransientError',
    async (errorName) => {
      const store = new S3CertificateStore({ client, bucket });
      s3.failNext('PutObject', errorName);

      const error = await store.put('k', 'v', 'text/plain').catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(AwsTransientError);
      expect((error as Error).message).toContain(`S3 PutObject s3://${bucket}/k`);
      expect((error as Error).cause).toMatchObject({ name: errorName });
    },
  );

  it('wraps AccessDenied on read as AwsRequestError', async () => {
    const store = new S3CertificateStore({ client, bucket });
    s3.failNext('GetObject', 'AccessDenied');

    await expect(store.get('k')).rejects.toThrow(AwsRequestError);
  });

  it('treats a missing bucket as an error, not as a missing object', async () => {
    const store = new S3CertificateStore({ client, bucket: 'no-such-bucket' });

    const error = await store.get('k').catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(AwsRequestError);
    expect((error as Error).cause).toMatchObject({
      name: 'NoSuchBucket',
      $metadata: { httpStatusCode: 404 },
    });
  });
});

describe('S3CertificateStore.create', () => {
  const key = 'orders/web/abc/privkey.pem';

  it('writes a key that is not there yet, with If-None-Match: * and SSE-KMS', async () => {
    const store = new S3CertificateStore({ client, bucket });

    await expect(store.create(key, 'first key', 'application/x-pem-file')).resolves.toBe('created');

    expect(s3.text(bucket, key)).toBe('first key');
    expect(s3.requests.at(-1)?.input).toMatchObject({
      Key: key,
      IfNoneMatch: '*',
      ServerSideEncryption: 'aws:kms',
    });
  });

  it('never replaces a stored object: a second write reports exists and leaves the first', async () => {
    const store = new S3CertificateStore({ client, bucket });
    await store.create(key, 'first key', 'application/x-pem-file');

    await expect(store.create(key, 'second key', 'application/x-pem-file')).resolves.toBe('exists');

    expect(s3.text(bucket, key)).toBe('first key');
    expect(s3.objects.get(bucket)?.get(key)).toHaveLength(1);
  });

  it('reports a concurrent conditional write (409 ConditionalRequestConflict) as transient', async () => {
    const store = new S3CertificateStore({ client, bucket });
    s3.failNext('PutObject', 'ConditionalRequestConflict', 1);

    await expect(store.create(key, 'first key', 'application/x-pem-file')).rejects.toBeInstanceOf(
      AwsTransientError,
    );
    expect(s3.text(bucket, key)).toBeUndefined();
  });
});

describe('the S3 fake’s conditional PutObject', () => {
  const key = 'orders/web/abc/privkey.pem';

  it('answers 412 PreconditionFailed, as S3 does, when the key has a current object', async () => {
    await client.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'a', ServerSideEncryption: 'aws:kms' }),
    );

    const refused = await client
      .send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: 'b',
          ServerSideEncryption: 'aws:kms',
          IfNoneMatch: '*',
        }),
      )
      .catch((error: unknown) => error);

    expect(refused).toMatchObject({ name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } });
    expect(s3.text(bucket, key)).toBe('a');
  });

  it('still replaces an object on a PutObject without a condition', async () => {
    const put = (body: string) =>
      client.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ServerSideEncryption: 'aws:kms' }),
      );
    await put('a');

    await put('b');

    expect(s3.text(bucket, key)).toBe('b');
  });
});

describe('S3 fake', () => {
  it('refuses a PutObject without SSE-KMS with AccessDenied, as the bucket policy does', async () => {
    const putting = client.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'v' }));

    await expect(putting).rejects.toMatchObject({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    expect(s3.current(bucket, 'k')).toBeUndefined();
  });

  it('reports a missing key as NoSuchKey with HTTP 404', async () => {
    const getting = client.send(new GetObjectCommand({ Bucket: bucket, Key: 'missing' }));

    await expect(getting).rejects.toMatchObject({ name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } });
  });

  it('returns a body that, like the SDK stream, can be transformed only once', async () => {
    await client.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'v', ServerSideEncryption: 'aws:kms' }),
    );
    const { Body } = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'k' }));

    await expect(Body?.transformToByteArray()).resolves.toEqual(new Uint8Array(Buffer.from('v')));
    await expect(Body?.transformToString()).rejects.toThrow(/already been transformed/);
  });
});
