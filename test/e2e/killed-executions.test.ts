import { describe, expect, it } from 'vitest';
import type { Interruption } from '../harness/cloud/step-functions.js';
import { usePebbleWorkflow } from '../harness/e2e-fixture.js';

const EVENT_FAILED = 'Certificate Renewal Failed';
const EVENT_ISSUED = 'Certificate Issued';

interface RegistryItem {
  readonly certificateId?: string;
  readonly status?: string;
  readonly lock?: unknown;
  readonly publishedTxt?: unknown;
  readonly consecutiveFailures?: number;
  readonly lastError?: { readonly name: string; readonly executionId?: string };
}

/** The Task states an execution entered, in order, each once. */
function tasksEntered(events: readonly { type: string; state?: { name: string } }[], tasks: Set<string>) {
  const entered: string[] = [];
  for (const event of events) {
    const name = event.type === 'StateEntered' ? event.state?.name : undefined;
    if (name && tasks.has(name) && !entered.includes(name)) entered.push(name);
  }
  return entered;
}

describe('an issuance execution killed at any step', () => {
  const e2e = usePebbleWorkflow();

  it('leaves no TXT value and no lock, records and announces the outcome, and the next run goes ahead at once', async () => {
    await e2e.install(['kill.example.org']);
    const definition = e2e.stack.stateMachine('Issuance').definition as {
      States: Record<string, { Type: string }>;
    };
    const tasks = new Set(
      Object.entries(definition.States)
        .filter(([, state]) => state.Type === 'Task')
        .map(([name]) => name),
    );
    const reference = await e2e.run({ certificateId: 'reference', domains: ['reference.kill.example.org'] });
    expect(reference.execution.status).toBe('SUCCEEDED');
    // Every step a first issuance goes through: RegisterAccount to Cleanup.
    const steps = tasksEntered(reference.execution.events as never, tasks);
    expect(steps[0]).toBe('RegisterAccount');
    expect(steps.at(-1)).toBe('Cleanup');
    expect(steps).toEqual(
      expect.arrayContaining(['PublishChallenges', 'AnswerChallenges', 'Finalize', 'ImportToAcm']),
    );

    const kills: Interruption[] = steps.flatMap((state, index) => [
      {
        state,
        when: 'before' as const,
        status: index % 2 === 0 ? ('TIMED_OUT' as const) : ('ABORTED' as const),
      },
      {
        state,
        when: 'after' as const,
        status: index % 2 === 0 ? ('ABORTED' as const) : ('TIMED_OUT' as const),
      },
    ]);
    const summary: string[] = [];
    for (const [index, kill] of kills.entries()) {
      const certificateId = `kill-${index}`;
      const domain = `${certificateId}.kill.example.org`;
      const record = `_acme-challenge.${domain}`;
      const label = `${kill.status} ${kill.when} ${kill.state}`;
      const eventsBefore = e2e.aws.eventBridge.events.length;

      const killed = await e2e.run({ certificateId, domains: [domain] }, { interrupt: kill });

      expect(killed.execution.status, label).toBe(kill.status);
      const deliveries = e2e.cloud.eventDeliveries.filter(
        (delivery) => delivery.event.detail.executionArn === killed.execution.executionArn,
      );
      expect(
        deliveries.map((delivery) => delivery.outcome),
        label,
      ).toEqual(['invoked']);
      expect(e2e.aws.route53.txtValues(record), label).toEqual([]);
      const item = await e2e.record<RegistryItem>(certificateId);
      expect(item?.lock, label).toBeUndefined();
      expect(item?.publishedTxt, label).toBeUndefined();
      const announced = e2e.aws.eventBridge.events
        .slice(eventsBefore)
        .filter((event) => event.detail.executionId === killed.execution.executionArn);
      const tookTheLock = !(kill.state === 'RegisterAccount' && kill.when === 'before');
      // From the end of ImportToAcm on, the certificate is in ACM: that is the outcome.
      const delivered = (kill.state === 'ImportToAcm' && kill.when === 'after') || kill.state === 'Cleanup';
      if (!tookTheLock) {
        expect(item, label).toBeUndefined();
        expect(announced, label).toEqual([]);
      } else if (delivered) {
        // The certificate reached ACM before the kill: that is what is recorded and announced.
        expect(item?.status, label).toBe('imported');
        expect(
          announced.map((event) => event.detailType),
          label,
        ).toEqual([EVENT_ISSUED]);
      } else {
        const error = kill.status === 'TIMED_OUT' ? 'ExecutionTimedOut' : 'ExecutionAborted';
        expect(item, label).toMatchObject({
          status: 'failed',
          consecutiveFailures: 1,
          lastError: { name: error, executionId: killed.execution.executionArn },
        });
        expect(
          announced.map((event) => [event.detailType, event.detail.error]),
          label,
        ).toEqual([[EVENT_FAILED, error]]);
      }

      // At once, not hours later: the lock is free (a forced run ignores the failure's backoff).
      const next = await e2e.run({ certificateId, domains: [domain], force: true });

      expect(next.execution.error, label).toBeUndefined();
      expect(next.execution.status, label).toBe('SUCCEEDED');
      expect((next.execution.output as { skipped?: string }).skipped, label).toBeUndefined();
      expect(e2e.aws.route53.txtValues(record), label).toEqual([]);
      const after = await e2e.record<RegistryItem>(certificateId);
      expect(after?.lock, label).toBeUndefined();
      expect(after?.publishedTxt, label).toBeUndefined();
      expect(after?.status, label).toBe('imported');
      summary.push(label);
    }
    expect(summary).toHaveLength(steps.length * 2);
  }, 600_000);
});
