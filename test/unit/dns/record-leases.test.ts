import { describe, expect, it } from 'vitest';
import {
  LEASE_CHANGE_RESERVE_MS,
  recordSetLeaseKey,
  withRecordSetLeases,
} from '../../../lambdas/core/dns/record-leases.js';
import { AwsTransientError } from '../../../lambdas/core/errors.js';
import type { DnsZones, TxtRecord } from '../../../lambdas/core/ports.js';
import type { DnsChallenge, IssuanceState } from '../../../lambdas/core/state.js';
import { cleanup } from '../../../lambdas/core/workflow/cleanup.js';
import type { WorkflowLogger } from '../../../lambdas/core/workflow/deps.js';
import { publishChallenges } from '../../../lambdas/core/workflow/publish-challenges.js';
import { TEST_WORKFLOW_CONFIG } from '../../support/workflow-config.js';
import { MemoryRecordSetLeases } from '../fakes/memory-record-set-leases.js';
import { MemoryRegistry } from '../fakes/memory-registry.js';

const log: WorkflowLogger = { debug: () => {}, info: () => {}, warn: () => {} };
const NAME = '_acme-challenge.example.org';

/**
 * Route 53 as the adapter uses it: each write reads the record set, and writes back the union
 * (or the rest) a moment later, as the SDK's two round trips do. Without a lease, writers that
 * overlap write back what they read and lose each other's values.
 */
class ReadModifyWriteZones implements DnsZones {
  readonly sets = new Map<string, string[]>();
  async listPublicZones() {
    return [];
  }
  async publishTxt(zoneId: string, records: readonly TxtRecord[]) {
    for (const record of records) {
      const read = [...(this.sets.get(record.name) ?? [])];
      await new Promise((resolve) => setImmediate(resolve));
      this.sets.set(record.name, [...new Set([...read, ...record.values])]);
    }
    return `C-${zoneId}`;
  }
  async isChangeInSync() {
    return true;
  }
  async pinCaa() {
    return undefined;
  }
  async removeTxt(_zoneId: string, records: readonly TxtRecord[]) {
    for (const record of records) {
      const read = [...(this.sets.get(record.name) ?? [])];
      await new Promise((resolve) => setImmediate(resolve));
      this.sets.set(
        record.name,
        read.filter((value) => !record.values.includes(value)),
      );
    }
  }
}

function challenge(identifier: string, value: string): DnsChallenge {
  return {
    identifier,
    authorizationUrl: `https://ca.example/authz/${value}`,
    challengeUrl: `https://ca.example/chall/${value}`,
    zoneId: 'ZORG',
    zoneName: 'example.org',
    recordName: NAME,
    value,
  };
}

function run(id: string, challenges: DnsChallenge[]): IssuanceState {
  return {
    certificateId: id,
    action: 'issue',
    domains: challenges.map((entry) => entry.identifier),
    keyType: 'EC_P256',
    regions: ['eu-west-1'],
    directoryUrl: 'https://ca.example/directory',
    retryAfterSeconds: 0,
    polls: 0,
    execution: { id: `exec-${id}` },
    challenges,
  };
}

/** An apex certificate, a wildcard one and one with both: all answer at one record set. */
const RUNS = [
  run('apex', [challenge('example.org', 'apex-1')]),
  run('wildcard', [challenge('*.example.org', 'wild-1')]),
  run('both', [challenge('example.org', 'both-1'), challenge('*.example.org', 'both-2')]),
];

describe('concurrent certificates sharing one _acme-challenge record set', () => {
  it('keeps every value when they publish at the same time', async () => {
    const dns = new ReadModifyWriteZones();
    const leases = new MemoryRecordSetLeases();
    const deps = {
      dns,
      leases,
      registry: new MemoryRegistry(),
      clock: leases.clock,
      config: TEST_WORKFLOW_CONFIG,
      log,
    };

    await Promise.all(RUNS.map((state) => publishChallenges(state, deps)));

    expect(dns.sets.get(NAME)?.sort()).toEqual(['apex-1', 'both-1', 'both-2', 'wild-1']);
    expect(leases.leases.size).toBe(0);
  });

  it('leaves nothing behind when they clean up at the same time', async () => {
    const dns = new ReadModifyWriteZones();
    dns.sets.set(NAME, ['apex-1', 'both-1', 'both-2', 'someone-else', 'wild-1']);
    const leases = new MemoryRecordSetLeases();
    const deps = {
      dns,
      leases,
      clock: leases.clock,
      log,
      registry: new MemoryRegistry(),
      events: {} as never,
      metrics: {} as never,
    };

    await Promise.all(RUNS.map((state) => cleanup(state, deps)));

    expect(dns.sets.get(NAME)).toEqual(['someone-else']);
  });
});

describe('withRecordSetLeases', () => {
  it('takes the leases of a batch in one sorted order and releases them all after the change', async () => {
    const leases = new MemoryRecordSetLeases();

    await withRecordSetLeases(
      'ZORG',
      ['_acme-challenge.b.example.org', '_acme-challenge.A.example.org.'],
      'exec-a',
      async () => 'C1',
      {
        leases,
        clock: leases.clock,
        log,
      },
    );

    expect(leases.calls.map(({ method, key }) => [method, key])).toEqual([
      ['acquire', 'ZORG#_acme-challenge.a.example.org'],
      ['acquire', 'ZORG#_acme-challenge.b.example.org'],
      ['release', 'ZORG#_acme-challenge.b.example.org'],
      ['release', 'ZORG#_acme-challenge.a.example.org'],
    ]);
  });

  it('releases its leases when the change fails, and reports the change’s error', async () => {
    const leases = new MemoryRecordSetLeases();
    const failure = new Error('Route 53 refused');

    await expect(
      withRecordSetLeases('ZORG', [NAME], 'exec-a', () => Promise.reject(failure), {
        leases,
        clock: leases.clock,
        log,
      }),
    ).rejects.toBe(failure);
    expect(leases.leases.size).toBe(0);
  });

  it('keeps the result of a change whose lease could not be given back: the lease expires on its own', async () => {
    const leases = new MemoryRecordSetLeases();
    leases.release = async () => {
      throw new Error('DynamoDB DeleteItem timed out');
    };

    const result = await withRecordSetLeases('ZORG', [NAME], 'exec-a', async () => 'C1', {
      leases,
      clock: leases.clock,
      log,
    });

    expect(result).toBe('C1');
    expect(leases.leases.get(recordSetLeaseKey('ZORG', NAME))?.holder).toBe('exec-a');
  });

  it('takes over the lease of a crashed holder once it expires, which is when its invocation would have ended', async () => {
    const leases = new MemoryRecordSetLeases();
    leases.remaining = 20_000;
    // A holder with 20 s left took the lease and crashed.
    await leases.acquire(recordSetLeaseKey('ZORG', NAME), 'exec-crashed', leases.clock.now(), 20);
    leases.remaining = 60_000;
    let changed = false;

    await withRecordSetLeases(
      'ZORG',
      [NAME],
      'exec-b',
      async () => {
        changed = true;
      },
      { leases, clock: leases.clock, log },
    );

    expect(changed).toBe(true);
    const waited = leases.calls
      .filter((call) => call.method === 'pause')
      .reduce((sum, call) => sum + (call.ms ?? 0), 0);
    expect(waited).toBeGreaterThanOrEqual(20_000);
    expect(waited).toBeLessThan(25_000);
  });

  it('gives up with AwsTransientError, having changed nothing, when waiting longer would leave no time to write', async () => {
    const leases = new MemoryRecordSetLeases();
    await leases.acquire(recordSetLeaseKey('ZORG', NAME), 'exec-other', leases.clock.now(), 600);
    leases.remaining = LEASE_CHANGE_RESERVE_MS + 5_000;
    let changed = false;

    const error = await withRecordSetLeases(
      'ZORG',
      [NAME],
      'exec-b',
      async () => {
        changed = true;
      },
      { leases, clock: leases.clock, log },
    ).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(AwsTransientError);
    expect((error as Error).message).toContain('_acme-challenge.example.org');
    expect(changed).toBe(false);
    expect(leases.remaining).toBeGreaterThanOrEqual(LEASE_CHANGE_RESERVE_MS);
  });

  it('lets a holder take its own lease again at once, as a retried step does', async () => {
    const leases = new MemoryRecordSetLeases();
    await leases.acquire(recordSetLeaseKey('ZORG', NAME), 'exec-a', leases.clock.now(), 60);

    await withRecordSetLeases('ZORG', [NAME], 'exec-a', async () => {}, { leases, clock: leases.clock, log });

    expect(leases.calls.some((call) => call.method === 'pause')).toBe(false);
  });
});
