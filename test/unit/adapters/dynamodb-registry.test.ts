import { createHash } from 'node:crypto';
import { DynamoDBClient, DynamoDBServiceException, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbRegistry } from '../../../lambdas/adapters/dynamodb-registry.js';
import { AwsRequestError, AwsTransientError } from '../../../lambdas/core/errors.js';
import type { CertificateRecordChanges } from '../../../lambdas/core/ports.js';
import { type DynamoDbFake, installDynamoDbFake } from '../../fakes/dynamodb-fake.js';

const tableName = 'acme-registry';
const directoryUrl = 'https://acme.example/directory';
const t0 = new Date('2030-01-01T00:00:00.000Z');

let dynamodb: DynamoDbFake;
let client: DynamoDBClient;
let registry: DynamoDbRegistry;

function seconds(n: number): Date {
  return new Date(t0.getTime() + n * 1000);
}

async function storedCertificate(certificateId: string): Promise<Record<string, unknown> | undefined> {
  return (await dynamodb.items(tableName)).find((item) => item.pk === `CERT#${certificateId}`);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

beforeEach(() => {
  dynamodb = installDynamoDbFake({ tables: [tableName] });
  client = new DynamoDBClient({ region: 'us-east-1' });
  registry = new DynamoDbRegistry({ client, tableName });
});

afterEach(async () => {
  await dynamodb.restore();
});

describe('DynamoDbRegistry locks', () => {
  it('gives a free lock to the first execution and records holder and expiry', async () => {
    await expect(registry.acquireLock('web', 'exec-a', t0, 600)).resolves.toBe(true);

    expect(await storedCertificate('web')).toEqual({
      pk: 'CERT#web',
      certificateId: 'web',
      lock: { executionId: 'exec-a', expiresAt: '2030-01-01T00:10:00.000Z' },
    });
  });

  it('refuses a second execution while the lock is unexpired, and changes nothing', async () => {
    await registry.acquireLock('web', 'exec-a', t0, 600);

    await expect(registry.acquireLock('web', 'exec-b', seconds(599), 600)).resolves.toBe(false);
    await expect(registry.acquireLock('web', 'exec-b', seconds(600), 600)).resolves.toBe(false);

    expect((await storedCertificate('web'))?.lock).toEqual({
      executionId: 'exec-a',
      expiresAt: '2030-01-01T00:10:00.000Z',
    });
  });

  it('lets the holder acquire again, extending its lock, so a retried step succeeds', async () => {
    await registry.acquireLock('web', 'exec-a', t0, 600);

    await expect(registry.acquireLock('web', 'exec-a', seconds(300), 600)).resolves.toBe(true);

    expect((await storedCertificate('web'))?.lock).toEqual({
      executionId: 'exec-a',
      expiresAt: '2030-01-01T00:15:00.000Z',
    });
  });

  it('hands an expired lock to another execution', async () => {
    await registry.acquireLock('web', 'exec-a', t0, 600);

    await expect(registry.acquireLock('web', 'exec-b', seconds(601), 60)).resolves.toBe(true);

    expect((await storedCertificate('web'))?.lock).toEqual({
      executionId: 'exec-b',
      expiresAt: '2030-01-01T00:11:01.000Z',
    });
    await expect(registry.acquireLock('web', 'exec-a', seconds(602), 600)).resolves.toBe(false);
  });

  it('lets exactly one of several executions racing for a free lock take it', async () => {
    const executions = ['exec-a', 'exec-b', 'exec-c', 'exec-d', 'exec-e'];

    const acquired = await Promise.all(executions.map((id) => registry.acquireLock('web', id, t0, 600)));

    expect(acquired.filter(Boolean)).toHaveLength(1);
    expect((await storedCertificate('web'))?.lock).toMatchObject({
      executionId: executions[acquired.indexOf(true)],
    });
  });

  it('keeps the lock when an execution that does not hold it releases', async () => {
    await registry.acquireLock('web', 'exec-a', t0, 600);

    await registry.releaseLock('web', 'exec-b');

    expect((await storedCertificate('web'))?.lock).toMatchObject({ executionId: 'exec-a' });
    await expect(registry.acquireLock('web', 'exec-b', seconds(1), 600)).resolves.toBe(false);
  });

  it('frees the lock when its holder releases, keeping the rest of the record', async () => {
    await registry.update('web', { status: 'issuing' });
    await registry.acquireLock('web', 'exec-a', t0, 600);

    await registry.releaseLock('web', 'exec-a');

    expect(await storedCertificate('web')).toEqual({
      pk: 'CERT#web',
      certificateId: 'web',
      status: 'issuing',
    });
    await expect(registry.acquireLock('web', 'exec-b', seconds(1), 600)).resolves.toBe(true);
  });

  it('releases a lock that does not exist without creating a record', async () => {
    await expect(registry.releaseLock('nothing', 'exec-a')).resolves.toBeUndefined();

    expect(await dynamodb.items(tableName)).toEqual([]);
  });

  it('refuses a lock TTL that is not a positive number of seconds', async () => {
    await expect(registry.acquireLock('web', 'exec-a', t0, 0)).rejects.toThrow(RangeError);
    expect(dynamodb.calls.UpdateItem).toBeUndefined();
  });

  it('keeps at most one execution holding an unexpired lock under any interleaving', async () => {
    const executions = ['exec-0', 'exec-1', 'exec-2'] as const;
    const operation = fc.oneof(
      fc.record({
        kind: fc.constant('acquire' as const),
        who: fc.integer({ min: 0, max: 2 }),
        ttl: fc.integer({ min: 1, max: 30 }),
      }),
      fc.record({ kind: fc.constant('release' as const), who: fc.integer({ min: 0, max: 2 }) }),
      fc.record({ kind: fc.constant('advance' as const), by: fc.integer({ min: 0, max: 40 }) }),
    );
    let run = 0;

    await fc.assert(
      fc.asyncProperty(fc.array(operation, { maxLength: 30 }), async (operations) => {
        run += 1;
        const certificateId = `prop-${run}`;
        let clock = t0.getTime();
        /** What each execution believes: it holds the lock until this instant (inclusive). */
        const heldUntil = new Map<number, number>();
        /** The lock DynamoDB should hold, by a model of the conditional write. */
        let model: { who: number; expiresAt: number } | undefined;

        for (const op of operations) {
          if (op.kind === 'advance') {
            clock += op.by * 1000;
          } else if (op.kind === 'acquire') {
            const expected = !model || model.who === op.who || model.expiresAt < clock;
            const acquired = await registry.acquireLock(
              certificateId,
              executions[op.who] as string,
              new Date(clock),
              op.ttl,
            );
            expect(acquired).toBe(expected);
            if (acquired) {
              model = { who: op.who, expiresAt: clock + op.ttl * 1000 };
              heldUntil.set(op.who, model.expiresAt);
            }
          } else {
            await registry.releaseLock(certificateId, executions[op.who] as string);
            if (model?.who === op.who) model = undefined;
            heldUntil.delete(op.who);
          }

          const holders = [...heldUntil.values()].filter((until) => clock <= until);
          expect(holders.length).toBeLessThanOrEqual(1);
          const stored = (await registry.get(certificateId))?.lock;
          expect(stored).toEqual(
            model
              ? { executionId: executions[model.who], expiresAt: new Date(model.expiresAt).toISOString() }
              : undefined,
          );
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe('DynamoDbRegistry records', () => {
  const issued = {
    serial: '04:aa',
    storeKey: 'web/2030-01-01/fullchain.pem',
    notAfter: '2030-04-01T00:00:00.000Z',
    fingerprint: 'sha256:abc',
  };

  it('reads back nested fields it set, and removes the ones set to null', async () => {
    await registry.update('web', {
      status: 'issuing',
      config: { domains: ['example.org', '*.example.org'], keyType: 'EC_P256', regions: ['eu-west-1'] },
      pendingOrder: { url: 'https://acme.example/order/1', fingerprint: 'example.org,*.example.org|EC' },
      lastError: { name: 'AcmeServerError', message: 'try later', at: '2030-01-01T00:00:00.000Z' },
    });

    await registry.update('web', {
      status: 'issued',
      pendingOrder: null,
      lastError: null,
      issued: { ...issued, importedArn: undefined },
      lastAttemptAt: '2030-01-01T00:05:00.000Z',
    });

    await expect(registry.get('web')).resolves.toEqual({
      certificateId: 'web',
      status: 'issued',
      config: { domains: ['example.org', '*.example.org'], keyType: 'EC_P256', regions: ['eu-west-1'] },
      issued,
      lastAttemptAt: '2030-01-01T00:05:00.000Z',
    });
    const [raw] = await dynamodb.rawItems(tableName);
    expect(raw?.issued).toEqual({ M: marshall(issued) });
    expect(raw?.config).toMatchObject({
      M: { domains: { L: [{ S: 'example.org' }, { S: '*.example.org' }] } },
    });
  });

  it('sends one UpdateItem with a placeholder for every attribute name', async () => {
    await registry.update('web', { status: 'failed', acmArns: null });

    expect(dynamodb.calls.UpdateItem).toBe(1);
    expect(dynamodb.requests.at(-1)?.input).toMatchObject({
      TableName: tableName,
      Key: { pk: { S: 'CERT#web' } },
      UpdateExpression: 'SET #status = :status, #certificateId = :certificateId REMOVE #acmArns',
      ExpressionAttributeNames: {
        '#status': 'status',
        '#acmArns': 'acmArns',
        '#certificateId': 'certificateId',
      },
    });
  });

  it('never touches the lock when updating fields', async () => {
    await registry.acquireLock('web', 'exec-a', t0, 600);

    await registry.update('web', { status: 'issued', issued });

    expect((await storedCertificate('web'))?.lock).toEqual({
      executionId: 'exec-a',
      expiresAt: '2030-01-01T00:10:00.000Z',
    });
  });

  it('creates the record on first update, even when the update only removes fields', async () => {
    await registry.update('fresh', { acmArns: null });

    await expect(registry.get('fresh')).resolves.toEqual({ certificateId: 'fresh' });
  });

  it('makes no call for an update without changes', async () => {
    await registry.update('web', {});
    await registry.update('web', { status: undefined });

    expect(dynamodb.calls.UpdateItem).toBeUndefined();
    expect(await dynamodb.items(tableName)).toEqual([]);
  });

  it('refuses to update the lock or the id through update', async () => {
    const sneaky = { lock: { executionId: 'x', expiresAt: '9999' } } as unknown as CertificateRecordChanges;

    await expect(registry.update('web', sneaky)).rejects.toThrow(TypeError);
    expect(dynamodb.calls.UpdateItem).toBeUndefined();
  });

  it('reads a record that does not exist as undefined, with a strongly consistent read', async () => {
    await expect(registry.get('nothing')).resolves.toBeUndefined();

    expect(dynamodb.requests.at(-1)?.input).toMatchObject({ ConsistentRead: true });
  });
});

describe('DynamoDbRegistry accounts', () => {
  it('reads back the account it stored for a CA and key', async () => {
    await registry.putAccount('thumb-1', { directoryUrl, accountUrl: 'https://acme.example/acct/1' });

    await expect(registry.getAccount(directoryUrl, 'thumb-1')).resolves.toEqual({
      directoryUrl,
      accountUrl: 'https://acme.example/acct/1',
    });
  });

  it('keeps accounts of other keys and other CAs apart', async () => {
    await registry.putAccount('thumb-1', { directoryUrl, accountUrl: 'https://acme.example/acct/1' });

    await expect(registry.getAccount(directoryUrl, 'thumb-2')).resolves.toBeUndefined();
    await expect(registry.getAccount('https://other.example/dir', 'thumb-1')).resolves.toBeUndefined();
  });

  it('keys accounts by the SHA-256 of directory URL and thumbprint', async () => {
    await registry.putAccount('thumb-1', { directoryUrl, accountUrl: 'https://acme.example/acct/1' });

    const digest = createHash('sha256').update(`${directoryUrl}\nthumb-1`).digest('hex');
    expect(await dynamodb.items(tableName)).toEqual([
      {
        pk: `ACCOUNT#${digest}`,
        directoryUrl,
        accountUrl: 'https://acme.example/acct/1',
        keyThumbprint: 'thumb-1',
      },
    ]);
  });

  it('keeps what was last done to an account: its status, contact and the key it moved to', async () => {
    await registry.putAccount('old', {
      directoryUrl,
      accountUrl: 'https://acme.example/acct/1',
      status: 'rolled-over',
      rolledOverTo: 'new',
      updatedAt: '2026-11-22T10:00:00.000Z',
    });
    await registry.putAccount('new', {
      directoryUrl,
      accountUrl: 'https://acme.example/acct/1',
      status: 'valid',
      contact: ['mailto:ops@example.org'],
    });

    await expect(registry.getAccount(directoryUrl, 'old')).resolves.toEqual({
      directoryUrl,
      accountUrl: 'https://acme.example/acct/1',
      status: 'rolled-over',
      rolledOverTo: 'new',
      updatedAt: '2026-11-22T10:00:00.000Z',
    });
    await expect(registry.getAccount(directoryUrl, 'new')).resolves.toEqual({
      directoryUrl,
      accountUrl: 'https://acme.example/acct/1',
      status: 'valid',
      contact: ['mailto:ops@example.org'],
    });
  });

  it('lists every account record with its key thumbprint, and no certificate', async () => {
    await registry.putAccount('thumb-1', { directoryUrl, accountUrl: 'https://acme.example/acct/1' });
    await registry.putAccount('thumb-2', {
      directoryUrl: 'https://other.example/dir',
      accountUrl: 'https://other.example/acct/9',
      status: 'deactivated',
    });
    await registry.update('web', { status: 'issued' });

    const accounts = await registry.listAccounts();

    expect(accounts.sort((a, b) => a.accountUrl.localeCompare(b.accountUrl))).toEqual([
      { directoryUrl, accountUrl: 'https://acme.example/acct/1', keyThumbprint: 'thumb-1' },
      {
        directoryUrl: 'https://other.example/dir',
        accountUrl: 'https://other.example/acct/9',
        status: 'deactivated',
        keyThumbprint: 'thumb-2',
      },
    ]);
  });
});

describe('DynamoDbRegistry directories', () => {
  const kept = {
    directoryUrl,
    body: '{"newNonce":"https://acme.example/nonce"}',
    fetchedAt: t0.toISOString(),
  };

  it('reads back the directory it kept for a CA, under the SHA-256 of the directory URL', async () => {
    await registry.putDirectory(kept);

    await expect(registry.getDirectory(directoryUrl)).resolves.toEqual(kept);
    const digest = createHash('sha256').update(directoryUrl).digest('hex');
    expect(await dynamodb.items(tableName)).toEqual([{ pk: `DIRECTORY#${digest}`, ...kept }]);
  });

  it('replaces the directory kept for a CA, and keeps other CAs’ apart', async () => {
    const other = { ...kept, directoryUrl: 'https://other.example/dir' };
    await registry.putDirectory(kept);
    await registry.putDirectory(other);
    await registry.putDirectory({ ...kept, body: '{}', fetchedAt: seconds(60).toISOString() });

    await expect(registry.getDirectory(directoryUrl)).resolves.toEqual({
      directoryUrl,
      body: '{}',
      fetchedAt: seconds(60).toISOString(),
    });
    await expect(registry.getDirectory(other.directoryUrl)).resolves.toEqual(other);
    await expect(registry.getDirectory('https://third.example/dir')).resolves.toBeUndefined();
  });

  it('reads an item that is not a whole directory record as none kept', async () => {
    const pk = `DIRECTORY#${createHash('sha256').update(directoryUrl).digest('hex')}`;
    await client.send(
      new PutItemCommand({ TableName: tableName, Item: marshall({ pk, directoryUrl, body: '{}' }) }),
    );

    await expect(registry.getDirectory(directoryUrl)).resolves.toBeUndefined();
  });

  it('leaves kept directories out of the certificate and account listings', async () => {
    await registry.putDirectory(kept);
    await registry.update('web', { status: 'issued' });

    expect((await registry.list({ limit: 10 })).records.map((record) => record.certificateId)).toEqual([
      'web',
    ]);
    await expect(registry.listAccounts()).resolves.toEqual([]);
  });

  it('wraps a failed write with the item it was for', async () => {
    dynamodb.failNext('PutItem', 'ThrottlingException');

    const error = await rejection(registry.putDirectory(kept));

    expect(error).toBeInstanceOf(AwsTransientError);
    expect((error as Error).message).toContain(`DynamoDB PutItem DIRECTORY#`);
  });
});

describe('DynamoDbRegistry errors', () => {
  it.each([
    ['ThrottlingException', 'UpdateItem'],
    ['ProvisionedThroughputExceededException', 'UpdateItem'],
    ['RequestLimitExceeded', 'UpdateItem'],
    ['InternalServerError', 'UpdateItem'],
  ])('wraps %s as AwsTransientError', async (errorName, command) => {
    dynamodb.failNext(command, errorName);

    const error = await rejection(registry.acquireLock('web', 'exec-a', t0, 600));

    expect(error).toBeInstanceOf(AwsTransientError);
    expect((error as Error).message).toContain(`DynamoDB UpdateItem CERT#web in ${tableName}`);
    expect((error as Error).cause).toMatchObject({ name: errorName });
  });

  it('wraps a throttled read as AwsTransientError', async () => {
    dynamodb.failNext('GetItem', 'ProvisionedThroughputExceededException');

    await expect(registry.getAccount(directoryUrl, 'thumb')).rejects.toThrow(AwsTransientError);
  });

  it('wraps a misnamed table as AwsRequestError naming the table', async () => {
    const misnamed = new DynamoDbRegistry({ client, tableName: 'acme-registy' });

    const error = await rejection(misnamed.update('web', { status: 'issuing' }));

    expect(error).toBeInstanceOf(AwsRequestError);
    expect((error as Error).message).toContain('acme-registy');
    expect((error as Error).cause).toBeInstanceOf(DynamoDBServiceException);
    expect((error as Error).cause).toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('wraps AccessDeniedException on release as AwsRequestError', async () => {
    dynamodb.failNext('UpdateItem', 'AccessDeniedException');

    await expect(registry.releaseLock('web', 'exec-a')).rejects.toThrow(AwsRequestError);
  });
});
