import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbRecordSetLeases } from '../../../lambdas/adapters/dynamodb-registry.js';
import { AwsTransientError } from '../../../lambdas/core/errors.js';
import { type DynamoDbFake, installDynamoDbFake } from '../../fakes/dynamodb-fake.js';

const tableName = 'acme-registry';
const key = 'ZORG#_acme-challenge.example.org';
const t0 = new Date('2030-01-01T00:00:00.000Z');

let dynamodb: DynamoDbFake;
let leases: DynamoDbRecordSetLeases;

function seconds(n: number): Date {
  return new Date(t0.getTime() + n * 1000);
}

beforeEach(() => {
  dynamodb = installDynamoDbFake({ tables: [tableName] });
  leases = new DynamoDbRecordSetLeases({
    client: new DynamoDBClient({ region: 'us-east-1' }),
    tableName,
    remainingMs: () => 30_000,
  });
});

afterEach(async () => {
  await dynamodb.restore();
});

describe('DynamoDbRecordSetLeases', () => {
  it('gives a free lease to the first holder, under its own LEASE# item', async () => {
    await expect(leases.acquire(key, 'exec-a', t0, 60)).resolves.toBe(true);

    expect(await dynamodb.items(tableName)).toEqual([
      { pk: `LEASE#${key}`, holder: 'exec-a', expiresAt: '2030-01-01T00:01:00.000Z' },
    ]);
  });

  it('refuses another holder until the lease expires, and lets the holder take it again', async () => {
    await leases.acquire(key, 'exec-a', t0, 60);

    await expect(leases.acquire(key, 'exec-b', seconds(59), 60)).resolves.toBe(false);
    await expect(leases.acquire(key, 'exec-a', seconds(59), 60)).resolves.toBe(true);
    await expect(leases.acquire(key, 'exec-b', seconds(120), 60)).resolves.toBe(true);
    expect((await dynamodb.items(tableName))[0]).toMatchObject({ holder: 'exec-b' });
  });

  it('deletes the item on release by its holder, and ignores a release by anyone else', async () => {
    await leases.acquire(key, 'exec-a', t0, 60);

    await leases.release(key, 'exec-b');
    expect(await dynamodb.items(tableName)).toHaveLength(1);
    await leases.release(key, 'exec-a');
    expect(await dynamodb.items(tableName)).toEqual([]);
    await expect(leases.release(key, 'exec-a')).resolves.toBeUndefined();
  });

  it('reports throttling as AwsTransientError', async () => {
    dynamodb.failNext('UpdateItem', 'ProvisionedThroughputExceededException', 1);

    await expect(leases.acquire(key, 'exec-a', t0, 60)).rejects.toBeInstanceOf(AwsTransientError);
  });
});
