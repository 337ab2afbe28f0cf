import { describe, expect, it } from 'vitest';
import { RetryLaterError } from '../../../lambdas/core/errors.js';
import { renewalDecision } from '../../../lambdas/core/renewal/due.js';
import { comeBackAt } from '../../../lambdas/core/renewal/rate-limit.js';
import type { IssuanceState } from '../../../lambdas/core/state.js';
import { cleanup, EVENT_FAILED } from '../../../lambdas/core/workflow/cleanup.js';
import {
  ISSUANCE_TIMEOUT_SECONDS,
  MAX_WAIT_SECONDS,
  pauseForCa,
  RESERVED_SECONDS,
} from '../../../lambdas/core/workflow/wait-budget.js';
import { waitForAuthorizations } from '../../../lambdas/core/workflow/wait-for-authorizations.js';
import { ORDER_URL } from '../../support/acme-fixtures.js';
import { ScriptedTransport } from '../../support/scripted-transport.js';
import { createTestSigner } from '../../support/test-signer.js';
import { TEST_WORKFLOW_CONFIG } from '../../support/workflow-config.js';
import { issuanceState, orderRef, SILENT_LOG } from '../../support/workflow-fixtures.js';
import { MemoryRegistry } from '../fakes/memory-registry.js';

const NOW = new Date('2030-01-01T12:00:00.000Z');

function started(secondsAgo: number): Pick<IssuanceState, 'execution'> {
  return {
    execution: { id: 'exec-1', startedAt: new Date(NOW.getTime() - secondsAgo * 1000).toISOString() },
  };
}

const state = issuanceState({
  action: 'renew',
  nonce: 'nonce-0',
  retryAfterSeconds: 3,
  ...started(60),
  order: { ...orderRef('pending'), authorizations: [] },
});

describe('pauseForCa', () => {
  it('honours a Retry-After that fits one pause and the run’s time', () => {
    expect(pauseForCa('order', 7, 3, started(60), NOW)).toBe(7);
    expect(pauseForCa('order', MAX_WAIT_SECONDS, 3, started(60), NOW)).toBe(MAX_WAIT_SECONDS);
    expect(pauseForCa('order', undefined, 3, started(60), NOW)).toBe(3);
  });

  it('waits at least a second for a Retry-After of 0 or one in the past', () => {
    expect(pauseForCa('order', 0, 3, started(60), NOW)).toBe(1);
    expect(pauseForCa('order', -30, 3, started(60), NOW)).toBe(1);
  });

  it('ends the run with RetryLaterError, saying when to come back, for a pause longer than one may last', () => {
    const error = (() => {
      try {
        return pauseForCa(`order ${ORDER_URL}`, 999_999, 3, started(60), NOW);
      } catch (caught) {
        return caught;
      }
    })();

    expect(error).toBeInstanceOf(RetryLaterError);
    const retryAt = new Date(NOW.getTime() + 999_999 * 1000);
    expect((error as RetryLaterError).retryAt).toEqual(retryAt);
    expect((error as Error).message).toContain(ORDER_URL);
    expect(comeBackAt('RetryLaterError', (error as Error).message)).toEqual(retryAt);
  });

  it('ends the run when a pause would end past the run’s budget, leaving time for the steps after it', () => {
    const budget = ISSUANCE_TIMEOUT_SECONDS - RESERVED_SECONDS;

    expect(pauseForCa('order', 60, 3, started(budget - 60), NOW)).toBe(60);
    expect(() => pauseForCa('order', 61, 3, started(budget - 60), NOW)).toThrow(RetryLaterError);
    expect(() => pauseForCa('order', undefined, 3, started(budget), NOW)).toThrow(RetryLaterError);
  });
});

describe('WaitForAuthorizations with a Retry-After longer than the run can wait', () => {
  async function poll(orderStatus: string, retryAfter: string) {
    const transport = new ScriptedTransport().expect('POST', ORDER_URL, {
      headers: { 'retry-after': retryAfter },
      body: { status: orderStatus, identifiers: [], authorizations: [], finalize: `${ORDER_URL}/finalize` },
    });
    return waitForAuthorizations(state, {
      transport,
      signer: await createTestSigner(),
      clock: { now: () => NOW },
      config: TEST_WORKFLOW_CONFIG,
      log: SILENT_LOG,
    });
  }

  it('fails with RetryLaterError instead of a 999999-second Wait while the order is pending', async () => {
    await expect(poll('pending', '999999')).rejects.toBeInstanceOf(RetryLaterError);
  });

  it('ignores the Retry-After of an order that is ready, since Finalize runs next', async () => {
    await expect(poll('ready', '999999')).resolves.toMatchObject({ order: { status: 'ready' } });
  });

  it('keeps honouring a short Retry-After', async () => {
    await expect(poll('pending', '7')).resolves.toMatchObject({ retryAfterSeconds: 7 });
  });
});

describe('Cleanup after RetryLaterError', () => {
  it('schedules the next attempt no earlier than the CA said, and the planner waits for it', async () => {
    const retryAt = new Date(NOW.getTime() + 999_999 * 1000);
    const error = new RetryLaterError('The CA asked (Retry-After) to wait 999999 s', retryAt);
    const registry = new MemoryRegistry([
      {
        certificateId: 'web',
        config: { domains: ['example.org'], keyType: 'EC_P256', regions: ['eu-west-1'] },
        lock: { executionId: 'exec-1', expiresAt: '2030-01-02T00:00:00.000Z' },
      },
    ]);
    const events: { detailType: string; detail: Readonly<Record<string, unknown>> }[] = [];

    await cleanup(
      {
        ...state,
        error: {
          Error: 'RetryLaterError',
          Cause: JSON.stringify({ errorType: 'RetryLaterError', errorMessage: error.message }),
        },
      },
      {
        dns: {} as never,
        leases: {} as never,
        registry,
        events: { publish: async (event) => void events.push(event) },
        metrics: { add: () => {} },
        clock: { now: () => NOW },
        log: SILENT_LOG,
      },
    );

    const record = registry.records.get('web');
    if (!record) throw new Error('Cleanup dropped the record');
    expect(record).toMatchObject({
      status: 'failed',
      consecutiveFailures: 1,
      nextAttemptAt: retryAt.toISOString(),
    });
    expect(record.lock).toBeUndefined();
    expect(events).toEqual([
      expect.objectContaining({
        detailType: EVENT_FAILED,
        detail: expect.objectContaining({ error: 'RetryLaterError', nextAttemptAt: retryAt.toISOString() }),
      }),
    ]);
    expect(renewalDecision(record, new Date(retryAt.getTime() - 1000))).toMatchObject({
      due: false,
      reason: 'backing-off',
    });
    expect(renewalDecision(record, new Date(retryAt.getTime() + 1000))).toMatchObject({ due: true });
  });
});
