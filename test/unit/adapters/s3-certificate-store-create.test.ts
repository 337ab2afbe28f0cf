import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { S3CertificateStore } from '../../../lambdas/adapters/s3-certificate-store.js';
import { AwsTransientError } from '../../../lambdas/core/errors.js';
import { installS3Fake, type S3Fake } from '../../fakes/s3-fake.js';

const bucket = 'cert-store';
const key = 'orders/web/abc/privkey.pem';

let s3: S3Fake;
let client: S3Client;

beforeEach(() => {
  s3 = installS3Fake({ buckets: [bucket] });
  client = new S3Client({ region: 'us-east-1' });
});

afterEach(() => {
  s3.restore();
});

describe('S3CertificateStore.create', () => {
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

  it('writes again over a delete marker, which S3 does not count as an object', async () => {
    const store = new S3CertificateStore({ client, bucket });
    await store.create(key, 'first key', 'application/x-pem-file');
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));

    await expect(store.create(key, 'second key', 'application/x-pem-file')).resolves.toBe('created');

    expect(s3.text(bucket, key)).toBe('second key');
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
