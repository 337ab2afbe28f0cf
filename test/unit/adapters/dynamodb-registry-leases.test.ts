import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbRecordSetLeases, DynamoDbRegistry } from '../../../lambdas/adapters/dynamodb-registry.js';
import { AwsRequestError } from '../../../lambdas/core/errors.js';
import { type DynamoDbFake, installDynamoDbFake } from '../../fakes/dynamodb-fake.js';

/**
 * The certificate lock and the record set lease are one conditional lease on one item, kept in two
 * layouts: a `lock` map on the certificate's record, given back by removing the map, and an item of
 * its own, given back by deleting it. These cases run against both, on dynalite.
 */

const tableName = 'acme-registry';
const t0 = new Date('2030-01-01T00:00:00.000Z');

function seconds(n: number): Date {
  return new Date(t0.getTime() + n * 1000);
}

interface LeaseUnderTest {
  take(holder: string, now: Date, ttlSeconds: number): Promise<boolean>;
  release(holder: string): Promise<void>;
  /** The holder and expiry as stored, or undefined when the lease is free. */
  stored(): Promise<{ holder: unknown; expiresAt: unknown } | undefined>;
}

let dynamodb: DynamoDbFake;
let client: DynamoDBClient;

async function item(pk: string): Promise<Record<string, unknown> | undefined> {
  return (await dynamodb.items(tableName)).find((candidate) => candidate.pk === pk);
}

/** Name, the write that gives the lease back and its item, and the lease under test. */
const layouts: [string, string, string, () => LeaseUnderTest][] = [
  [
    'the certificate lock',
    'UpdateItem',
    'CERT#web',
    () => {
      const registry = new DynamoDbRegistry({ client, tableName });
      return {
        take: (holder, now, ttl) => registry.acquireLock('web', holder, now, ttl),
        release: (holder) => registry.releaseLock('web', holder),
        stored: async () => {
          const lock = (await item('CERT#web'))?.lock as Record<string, unknown> | undefined;
          return lock ? { holder: lock.executionId, expiresAt: lock.expiresAt } : undefined;
        },
      };
    },
  ],
  [
    'a record set lease',
    'DeleteItem',
    'LEASE#Z1#_acme-challenge.example.org',
    () => {
      const leases = new DynamoDbRecordSetLeases({ client, tableName, remainingMs: () => 30_000 });
      const key = 'Z1#_acme-challenge.example.org';
      return {
        take: (holder, now, ttl) => leases.acquire(key, holder, now, ttl),
        release: (holder) => leases.release(key, holder),
        stored: async () => {
          const found = await item(`LEASE#${key}`);
          return found ? { holder: found.holder, expiresAt: found.expiresAt } : undefined;
        },
      };
    },
  ],
];

beforeEach(() => {
  dynamodb = installDynamoDbFake({ tables: [tableName] });
  client = new DynamoDBClient({ region: 'us-east-1' });
});

afterEach(async () => {
  await dynamodb.restore();
});

describe.each(layouts)(
  '%s, as a conditional lease on one item',
  (_name, releaseCommand, releaseItem, make) => {
    it('is still held at the instant it expires, and taken over just after', async () => {
      const lease = make();
      await lease.take('exec-a', t0, 60);

      await expect(lease.take('exec-b', seconds(60), 60)).resolves.toBe(false);
      await expect(lease.take('exec-b', new Date(seconds(60).getTime() + 1), 60)).resolves.toBe(true);

      expect(await lease.stored()).toEqual({ holder: 'exec-b', expiresAt: '2030-01-01T00:02:00.001Z' });
    });

    it('leaves the new holder’s lease alone when the holder it was taken from gives it back', async () => {
      const lease = make();
      await lease.take('exec-a', t0, 60);
      await lease.take('exec-b', seconds(61), 60);

      await lease.release('exec-a');

      expect(await lease.stored()).toEqual({ holder: 'exec-b', expiresAt: '2030-01-01T00:02:01.000Z' });
      await expect(lease.take('exec-a', seconds(62), 60)).resolves.toBe(false);
    });

    it('lets its holder take it again after its own release, and anyone once it is free', async () => {
      const lease = make();
      await lease.take('exec-a', t0, 60);
      await lease.release('exec-a');

      await expect(lease.take('exec-b', seconds(1), 60)).resolves.toBe(true);
      expect(await lease.stored()).toMatchObject({ holder: 'exec-b' });
    });

    it('changes nothing when a release finds no lease at all', async () => {
      const lease = make();

      await expect(lease.release('exec-a')).resolves.toBeUndefined();

      expect(await dynamodb.items(tableName)).toEqual([]);
    });

    it('wraps a refused release as AwsRequestError naming the write and the item', async () => {
      const lease = make();
      await lease.take('exec-a', t0, 60);
      dynamodb.failNext(releaseCommand, 'AccessDeniedException');

      const error = await lease.release('exec-a').catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(AwsRequestError);
      expect((error as Error).message).toContain(
        `DynamoDB ${releaseCommand} ${releaseItem} in ${tableName} (release`,
      );
      expect(await lease.stored()).toMatchObject({ holder: 'exec-a' });
    });
  },
);

describe('the two layouts side by side', () => {
  it('keep their items apart: the lock on the record beside its fields, the lease as an item of its own', async () => {
    const registry = new DynamoDbRegistry({ client, tableName });
    const leases = new DynamoDbRecordSetLeases({ client, tableName, remainingMs: () => 30_000 });
    await registry.update('web', { status: 'issuing' });

    await registry.acquireLock('web', 'exec-a', t0, 60);
    await leases.acquire('Z1#name', 'exec-a', t0, 60);

    expect(await dynamodb.items(tableName)).toEqual([
      {
        pk: 'CERT#web',
        certificateId: 'web',
        status: 'issuing',
        lock: { executionId: 'exec-a', expiresAt: '2030-01-01T00:01:00.000Z' },
      },
      { pk: 'LEASE#Z1#name', holder: 'exec-a', expiresAt: '2030-01-01T00:01:00.000Z' },
    ]);
  });

  it('name themselves in their errors: acquire lock, take lease', async () => {
    const registry = new DynamoDbRegistry({ client, tableName });
    const leases = new DynamoDbRecordSetLeases({ client, tableName, remainingMs: () => 30_000 });
    dynamodb.failNext('UpdateItem', 'AccessDeniedException', 2);

    await expect(registry.acquireLock('web', 'exec-a', t0, 60)).rejects.toThrow(/\(acquire lock\)/);
    await expect(leases.acquire('Z1#name', 'exec-a', t0, 60)).rejects.toThrow(/\(take lease\)/);
    await expect(registry.acquireLock('web', 'exec-a', t0, 0)).rejects.toThrow(/^Lock TTL/);
    await expect(leases.acquire('Z1#name', 'exec-a', t0, 0)).rejects.toThrow(/^Lease TTL/);
  });
});
