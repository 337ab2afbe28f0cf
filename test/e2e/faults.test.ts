import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ChalltestsrvClient } from '../harness/challtestsrv.js';
import { lambdaErrorCause, type TaskPerformer } from '../harness/cloud/step-functions.js';
import { usePebbleWorkflow } from '../harness/e2e-fixture.js';
import type { LocalIssuanceResult } from '../harness/local-issuance.js';

// What Pebble 2.4 answers when it creates an order, and when it accepts a finalization.
const NEW_ORDER = 'POST /order-plz 201';
const FINALIZE = 'POST /finalize-order 200';

/** Successful responses at one endpoint: retried requests (badNonce) created nothing. */
function requests(runs: readonly LocalIssuanceResult[], endpointAndStatus: string): number {
  return runs.reduce((sum, run) => sum + (run.acmeResponsesByStatus[endpointAndStatus] ?? 0), 0);
}

/**
 * A Lambda that dies (timeout, out of memory) after or before doing its work, `times` times: the
 * Task fails as Step Functions reports a timed-out invocation, `Sandbox.Timedout` with Lambda's
 * error payload as the Cause.
 */
function crash(step: string, when: 'before' | 'after', times: number) {
  let crashes = 0;
  return (stateName: string, perform: TaskPerformer): TaskPerformer =>
    stateName !== step
      ? perform
      : async (input) => {
          if (crashes >= times) return perform(input);
          crashes += 1;
          if (when === 'after') await perform(input);
          const errorType = 'Sandbox.Timedout';
          const errorMessage = `RequestId: ${randomUUID()} Error: Task timed out after 60.00 seconds`;
          throw Object.assign(new Error(lambdaErrorCause({ errorType, errorMessage })), { name: errorType });
        };
}

/** No change batch wrote a value twice, or more than the two values of one order. */
function expectNoDuplicateValues(aws: {
  route53: {
    changeBatches: readonly {
      changes: readonly { ResourceRecordSet?: { ResourceRecords?: { Value?: string }[] } }[];
    }[];
  };
}) {
  for (const batch of aws.route53.changeBatches) {
    for (const change of batch.changes) {
      const values = (change.ResourceRecordSet?.ResourceRecords ?? []).map((record) => record.Value);
      expect(new Set(values).size).toBe(values.length);
      expect(values.length).toBeLessThanOrEqual(2);
    }
  }
}

describe('nothing is lost under faults', () => {
  const e2e = usePebbleWorkflow();

  const crashPoints: [string, 'before' | 'after'][] = [
    ['RegisterAccount', 'after'],
    ['CreateOrder', 'after'],
    ['PublishChallenges', 'after'],
    ['WaitForDnsSync', 'after'],
    ['AnswerChallenges', 'before'],
    ['WaitForAuthorizations', 'after'],
    ['Finalize', 'after'],
    ['WaitForCertificate', 'after'],
    ['ImportToAcm', 'before'],
    ['ImportToAcm', 'after'],
  ];
  it.each(crashPoints)(
    'a single crash of %s (%s its work) is retried within the execution, on the same order',
    async (step, when) => {
      const domains = ['once.example.org', '*.once.example.org'];
      const aws = await e2e.install(domains);

      const run = await e2e.run({ certificateId: 'once', domains }, { wrapTask: crash(step, when, 1) });

      expect(run.execution.error).toBeUndefined();
      expect(run.execution.status).toBe('SUCCEEDED');
      expect(
        run.execution.events.filter((event) => event.type === 'StateRetried').length,
      ).toBeGreaterThanOrEqual(1);
      expect(requests([run], NEW_ORDER)).toBe(1);
      expectNoDuplicateValues(aws);
      expect(aws.route53.txtValues('_acme-challenge.once.example.org')).toEqual([]);
      expect(aws.acm.certificates.size).toBe(1);
    },
  );

  it.each(crashPoints)(
    'a crash of %s (%s its work) on every attempt fails cleanly, and the re-run finishes on the same order without duplicate TXT values',
    async (step, when) => {
      const domains = ['crash.example.org', '*.crash.example.org'];
      const aws = await e2e.install(domains);
      const input = { certificateId: 'crash', domains };

      const first = await e2e.run(input, { wrapTask: crash(step, when, Number.POSITIVE_INFINITY) });
      const firstRecord = await e2e.record<{ certificateId?: string; status?: string; lock?: unknown }>(
        'crash',
      );
      const second = await e2e.run(input);

      expect(first.execution.status).toBe('FAILED');
      expect(first.execution.error?.name).toBe('Sandbox.Timedout');
      // A crash that follows a completed import still delivered the certificate, and that is what
      // is recorded; at every earlier point the run failed, and its failure is recorded.
      const delivered = step === 'ImportToAcm' && when === 'after';
      expect(firstRecord?.status).toBe(delivered ? 'imported' : 'failed');
      expect(firstRecord?.lock).toBeUndefined();
      expect(second.execution.error).toBeUndefined();
      expect(second.execution.status).toBe('SUCCEEDED');
      // The re-run (an issue, which always runs) resumes the first order at every point before
      // the delivery; after it, that order is used up and the forced issue orders anew.
      expect(requests([first, second], NEW_ORDER)).toBe(delivered ? 2 : 1);
      expectNoDuplicateValues(aws);
      expect(aws.route53.txtValues('_acme-challenge.crash.example.org')).toEqual([]);
      expect(aws.acm.certificates.size).toBe(1);
    },
  );

  it('keeps the issued certificate when ACM refuses the import, and imports it on the next run without reissuing', async () => {
    const domains = ['keep.example.org'];
    const aws = await e2e.install(domains);
    const input = { certificateId: 'keep', domains };
    aws.acm.failNext('ImportCertificate', 'LimitExceededException', 1);

    const first = await e2e.run(input);
    const second = await e2e.run(input);

    expect(first.execution.status).toBe('FAILED');
    expect(first.execution.error?.name).toBe('AwsRequestError');
    expect(second.execution.status).toBe('SUCCEEDED');
    expect(requests([first, second], FINALIZE)).toBe(1);
    expect(requests([second], NEW_ORDER)).toBe(0);
    expect(second.acmeRequests).toBeLessThanOrEqual(2);
    const [imported] = [...aws.acm.certificates.values()];
    expect(imported?.importCount).toBe(1);
  });

  it('retries Route 53, KMS and ACM throttling with backoff and succeeds', async () => {
    const domains = ['busy.example.org', '*.busy.example.org'];
    const aws = await e2e.install(domains);
    aws.route53.failNext('ChangeResourceRecordSets', 'Throttling', 2);
    aws.route53.failNext('ListResourceRecordSets', 'PriorRequestNotComplete', 1);
    aws.kms.failNext('Sign', 'ThrottlingException', 2);
    aws.acm.failNext('ImportCertificate', 'ThrottlingException', 2);

    const run = await e2e.run({ certificateId: 'busy', domains });

    expect(run.execution.error).toBeUndefined();
    expect(run.execution.status).toBe('SUCCEEDED');
    const retried = run.execution.events.filter((event) => event.type === 'StateRetried');
    expect(retried.length).toBeGreaterThanOrEqual(4);
    expect(aws.acm.certificates.size).toBe(1);
    expect(aws.route53.txtValues('_acme-challenge.busy.example.org')).toEqual([]);
  });

  it('reports a SERVFAIL during validation with the identifier and the CA’s detail, and cleans up DNS', async () => {
    const domains = ['servfail.example.org'];
    const aws = await e2e.install(domains);
    const challtestsrv = new ChalltestsrvClient(e2e.pebble.challtestsrvUrl);
    await challtestsrv.setServfail('_acme-challenge.servfail.example.org');
    try {
      const run = await e2e.run({ certificateId: 'servfail', domains });

      expect(run.execution.status).toBe('FAILED');
      expect(run.execution.error?.name).toBe('OrderInvalidError');
      expect(run.execution.error?.cause).toContain('servfail.example.org');
      expect(run.execution.error?.cause).toMatch(/SERVFAIL|server failure|dns/i);
      expect(aws.route53.txtValues('_acme-challenge.servfail.example.org')).toEqual([]);
      expect(aws.acm.certificates.size).toBe(0);
    } finally {
      await challtestsrv.clearServfail('_acme-challenge.servfail.example.org');
    }
  });

  it('lets one of two concurrent runs for the same certificate proceed and ends the other cleanly', async () => {
    const domains = ['twice.example.org'];
    const aws = await e2e.install(domains);
    const input = { certificateId: 'twice', domains };
    let releaseFirst: () => void = () => {};
    const secondDone = new Promise<void>((resolve) => {
      releaseFirst = resolve;
    });
    let firstHoldsLock: () => void = () => {};
    const firstLocked = new Promise<void>((resolve) => {
      firstHoldsLock = resolve;
    });

    const firstRun = e2e.run(input, {
      wrapTask: (stateName, perform) => {
        if (stateName === 'RegisterAccount') {
          return async (state) => {
            const output = await perform(state);
            firstHoldsLock();
            return output;
          };
        }
        if (stateName === 'CreateOrder') {
          return async (state) => {
            await secondDone;
            return perform(state);
          };
        }
        return perform;
      },
    });
    await firstLocked;
    const second = await e2e.run(input);
    releaseFirst();
    const first = await firstRun;

    expect(first.execution.status).toBe('SUCCEEDED');
    expect(second.execution.status).toBe('SUCCEEDED');
    expect((second.execution.output as { skipped?: string }).skipped).toMatch(/Another execution/);
    expect(second.execution.events.some((event) => 'state' in event && event.state.name === 'Skipped')).toBe(
      true,
    );
    expect(requests([first], NEW_ORDER), JSON.stringify(first.acmeResponsesByStatus)).toBe(1);
    expect(aws.acm.certificates.size).toBe(1);
  });
});
