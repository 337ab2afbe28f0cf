import { beforeEach, describe, expect, it } from 'vitest';
import type { DnsChallenge, IssuanceState } from '../../../lambdas/core/state.js';
import { cleanup, EVENT_FAILED } from '../../../lambdas/core/workflow/cleanup.js';
import { cleanupEndedExecution } from '../../../lambdas/core/workflow/cleanup-ended-execution.js';
import { publishChallenges } from '../../../lambdas/core/workflow/publish-challenges.js';
import { TEST_WORKFLOW_CONFIG } from '../../support/workflow-config.js';
import { SILENT_LOG } from '../../support/workflow-fixtures.js';
import { MemoryDnsZones } from '../fakes/memory-dns-zones.js';
import { MemoryRecordSetLeases } from '../fakes/memory-record-set-leases.js';
import { MemoryRegistry } from '../fakes/memory-registry.js';

const log = SILENT_LOG;
const NAME = '_acme-challenge.web.example.org';
const KILLED = 'arn:aws:states:eu-west-1:123456789012:execution:Issuance:killed';
const NEXT = 'arn:aws:states:eu-west-1:123456789012:execution:Issuance:next';

function challenge(value: string): DnsChallenge {
  return {
    identifier: 'web.example.org',
    authorizationUrl: `https://ca.example/authz/${value}`,
    challengeUrl: `https://ca.example/chall/${value}`,
    zoneId: 'ZORG',
    zoneName: 'example.org',
    recordName: NAME,
    value,
  };
}

function state(executionId: string, values: string[], overrides: Partial<IssuanceState> = {}): IssuanceState {
  return {
    certificateId: 'web',
    action: 'renew',
    domains: ['web.example.org'],
    keyType: 'EC_P256',
    regions: ['eu-west-1'],
    directoryUrl: 'https://ca.example/directory',
    retryAfterSeconds: 0,
    polls: 0,
    execution: { id: executionId, startedAt: '2030-01-01T00:00:00.000Z' },
    challenges: values.map(challenge),
    ...overrides,
  };
}

function statusChange(status: string, executionArn = KILLED, input: unknown = { certificateId: 'web' }) {
  return {
    detail: {
      executionArn,
      stateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:Issuance',
      status,
      startDate: Date.parse('2030-01-01T00:00:00.000Z'),
      stopDate: Date.parse('2030-01-01T02:00:00.000Z'),
      input: JSON.stringify(input),
      error: status === 'FAILED' ? 'States.Runtime' : null,
      cause: status === 'FAILED' ? 'An error occurred while executing the state CleanupFailed.' : null,
    },
  };
}

let dns: MemoryDnsZones;
let leases: MemoryRecordSetLeases;
let registry: MemoryRegistry;
let events: { detailType: string; detail: Readonly<Record<string, unknown>> }[];

function deps() {
  return {
    dns,
    leases,
    registry,
    events: { publish: async (event: (typeof events)[number]) => void events.push(event) },
    metrics: { add: () => {} },
    clock: leases.clock,
    config: TEST_WORKFLOW_CONFIG,
    log,
  };
}

/** A run that took the lock and published, then was killed before its Cleanup. */
async function killedAfterPublishing(values: string[]): Promise<void> {
  await registry.acquireLock('web', KILLED, leases.clock.now(), 7200);
  await publishChallenges(state(KILLED, values), deps());
}

beforeEach(() => {
  dns = new MemoryDnsZones();
  leases = new MemoryRecordSetLeases();
  registry = new MemoryRegistry();
  events = [];
});

describe('PublishChallenges notes its values in the registry', () => {
  it('before it writes them, so a write whose answer is lost still leaves a trail', async () => {
    await registry.acquireLock('web', KILLED, leases.clock.now(), 7200);
    dns.failNextWrite = true;

    await expect(publishChallenges(state(KILLED, ['v1', 'v2']), deps())).rejects.toThrow(/socket hang up/);

    expect((await registry.get('web'))?.publishedTxt).toEqual([
      { executionId: KILLED, zoneId: 'ZORG', recordName: NAME, value: 'v1' },
      { executionId: KILLED, zoneId: 'ZORG', recordName: NAME, value: 'v2' },
    ]);
  });

  it('once per value, however often the step is retried', async () => {
    await killedAfterPublishing(['v1']);
    await publishChallenges(state(KILLED, ['v1']), deps());

    expect((await registry.get('web'))?.publishedTxt).toHaveLength(1);
  });
});

describe('the cleanup of an execution that ended without its Cleanup', () => {
  it('removes its TXT values, records the timeout once, puts the failure event and releases the lock', async () => {
    dns.sets.set(NAME, ['someone-else']);
    await killedAfterPublishing(['v1', 'v2']);
    expect(dns.values(NAME)).toEqual(['someone-else', 'v1', 'v2']);

    const outcome = await cleanupEndedExecution(statusChange('TIMED_OUT'), deps());

    expect(outcome).toEqual({ executionArn: KILLED, certificateId: 'web', result: 'cleaned-up' });
    expect(dns.values(NAME)).toEqual(['someone-else']);
    const record = await registry.get('web');
    expect(record?.lock).toBeUndefined();
    expect(record?.publishedTxt).toBeUndefined();
    expect(record).toMatchObject({
      status: 'failed',
      consecutiveFailures: 1,
      lastError: { name: 'ExecutionTimedOut', executionId: KILLED },
    });
    expect(events.map((event) => [event.detailType, event.detail.error, event.detail.executionId])).toEqual([
      [EVENT_FAILED, 'ExecutionTimedOut', KILLED],
    ]);
    expect(leases.leases.size).toBe(0);

    // EventBridge and Lambda may deliver the event again: nothing more happens.
    expect((await cleanupEndedExecution(statusChange('TIMED_OUT'), deps())).result).toBe('nothing-left');
    expect((await registry.get('web'))?.consecutiveFailures).toBe(1);
    expect(events).toHaveLength(1);
  });

  it('names a stopped execution ExecutionAborted, and a failed one by its own error', async () => {
    await killedAfterPublishing(['v1']);
    await cleanupEndedExecution(statusChange('ABORTED'), deps());
    expect((await registry.get('web'))?.lastError?.name).toBe('ExecutionAborted');

    await registry.acquireLock('web', NEXT, leases.clock.now(), 7200);
    await cleanupEndedExecution(statusChange('FAILED', NEXT), deps());
    expect((await registry.get('web'))?.lastError).toMatchObject({
      name: 'States.Runtime',
      message: 'An error occurred while executing the state CleanupFailed.',
    });
  });

  it('does nothing after an execution whose own Cleanup ran, nor for a success or an account action', async () => {
    await killedAfterPublishing(['v1']);
    await cleanup(state(KILLED, ['v1'], { error: { Error: 'AcmeProblemError', Cause: '{}' } }), deps());
    const after = await registry.get('web');
    const published = events.length;

    expect((await cleanupEndedExecution(statusChange('FAILED'), deps())).result).toBe('nothing-left');
    expect((await cleanupEndedExecution(statusChange('SUCCEEDED'), deps())).result).toBe('ignored');
    expect(
      (await cleanupEndedExecution(statusChange('FAILED', KILLED, { action: 'deactivate-account' }), deps()))
        .result,
    ).toBe('not-a-certificate-run');
    expect(await registry.get('web')).toEqual(after);
    expect(events).toHaveLength(published);
  });

  it('leaves the lock and values of a live execution that took over alone', async () => {
    await killedAfterPublishing(['v1']);
    // The killed execution's lock expired and a new run of the certificate took it and published.
    await registry.acquireLock('web', NEXT, new Date(leases.clock.now().getTime() + 7201_000), 7200);
    await publishChallenges(state(NEXT, ['v2']), deps());

    await cleanupEndedExecution(statusChange('TIMED_OUT'), deps());

    expect(dns.values(NAME)).toEqual(['v2']);
    const record = await registry.get('web');
    expect(record?.lock?.executionId).toBe(NEXT);
    expect(record?.publishedTxt?.map((value) => [value.executionId, value.value])).toEqual([[NEXT, 'v2']]);
    expect(events).toEqual([]);
  });
});

describe('Cleanup of a later run', () => {
  it('removes the values an earlier killed run left, when it holds the lock', async () => {
    await killedAfterPublishing(['old']);
    // The rule's cleanup never ran (its Lambda failed); the lock expired.
    await registry.acquireLock('web', NEXT, new Date(leases.clock.now().getTime() + 7201_000), 7200);

    // The resumed order's authorizations are valid: this run publishes nothing itself.
    await cleanup(state(NEXT, []), deps());

    expect(dns.values(NAME)).toEqual([]);
    expect((await registry.get('web'))?.publishedTxt).toBeUndefined();
  });

  it('removes only its own values when another execution holds the lock', async () => {
    await killedAfterPublishing(['theirs']);
    dns.sets.set(NAME, [...dns.values(NAME), 'mine']);

    await cleanup(state(NEXT, ['mine']), deps());

    expect(dns.values(NAME)).toEqual(['theirs']);
    expect((await registry.get('web'))?.publishedTxt?.map((value) => value.value)).toEqual(['theirs']);
  });
});
