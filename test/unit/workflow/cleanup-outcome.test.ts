import { beforeEach, describe, expect, it } from 'vitest';
import type { CertificateRecord } from '../../../lambdas/core/ports.js';
import type { IssuanceState } from '../../../lambdas/core/state.js';
import {
  cleanup,
  EVENT_FAILED,
  EVENT_ISSUED,
  EVENT_RENEWED,
} from '../../../lambdas/core/workflow/cleanup.js';
import { importToAcm } from '../../../lambdas/core/workflow/import-to-acm.js';
import { issuanceState, SILENT_LOG } from '../../support/workflow-fixtures.js';
import { MemoryRegistry } from '../fakes/memory-registry.js';

const NOW = new Date('2030-01-01T12:00:00.000Z');
const EXECUTION = 'arn:aws:states:eu-west-1:123456789012:execution:Issuance:run-2';
const log = SILENT_LOG;
const crashed = {
  Error: 'Sandbox.Timedout',
  Cause: JSON.stringify({
    errorType: 'Sandbox.Timedout',
    errorMessage: 'RequestId: 1 Error: Task timed out after 60.00 seconds',
  }),
};

let registry: MemoryRegistry;
let events: { detailType: string; detail: Readonly<Record<string, unknown>> }[];
let failPublish: number;

/** The certificate's record as the registry holds it now. */
function record(): CertificateRecord {
  const found = registry.records.get('web');
  if (!found) throw new Error('the registry lost the record');
  return found;
}

function deps() {
  return {
    dns: {} as never,
    leases: {} as never,
    registry,
    events: {
      publish: async (event: { detailType: string; detail: Readonly<Record<string, unknown>> }) => {
        if (failPublish > 0) {
          failPublish -= 1;
          throw Object.assign(new Error('EventBridge PutEvents failed'), { name: 'AwsTransientError' });
        }
        events.push(event);
      },
    },
    metrics: { add: () => {} },
    clock: { now: () => NOW },
    log,
  };
}

const locked = { lock: { executionId: EXECUTION, expiresAt: '2030-01-01T15:00:00.000Z' } };
const previous = {
  serial: '01',
  storeKey: 'certificates/web/01',
  notBefore: '2029-10-01T00:00:00.000Z',
  notAfter: '2029-12-30T00:00:00.000Z',
  fingerprint: 'EC_P256:example.org',
  importedArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/web',
};

function state(overrides: Partial<IssuanceState> = {}): IssuanceState {
  return issuanceState({ action: 'renew', execution: { id: EXECUTION }, ...overrides });
}

beforeEach(() => {
  events = [];
  failPublish = 0;
  registry = new MemoryRegistry([
    {
      certificateId: 'web',
      status: 'imported',
      config: { domains: ['example.org'], keyType: 'EC_P256', regions: ['eu-west-1'] },
      acmArns: { 'eu-west-1': previous.importedArn },
      issued: previous,
      nextRenewalAt: '2029-12-01T00:00:00.000Z',
      ...locked,
    },
  ]);
});

describe('Cleanup counts a failed run once', () => {
  it('counts one failure when its PutEvents fails and the state machine retries it', async () => {
    const failed = state({ error: { Error: 'OrderInvalidError', Cause: 'the CA found no TXT record' } });
    failPublish = 1;

    await expect(cleanup(failed, deps())).rejects.toThrow('PutEvents');
    await cleanup(failed, deps());

    expect(record()).toMatchObject({
      status: 'failed',
      consecutiveFailures: 1,
      lastError: { name: 'OrderInvalidError', executionId: EXECUTION },
    });
    expect(record().lock).toBeUndefined();
    expect(events.map((event) => [event.detailType, event.detail.consecutiveFailures])).toEqual([
      [EVENT_FAILED, 1],
    ]);
  });

  it('keeps the next attempt it scheduled on the first try when retried later', async () => {
    const failed = state({ error: { Error: 'OrderInvalidError', Cause: 'no TXT record' } });
    failPublish = 2;
    await cleanup(failed, deps()).catch(() => {});
    const scheduled = record().nextAttemptAt;

    await cleanup(failed, { ...deps(), clock: { now: () => new Date(NOW.getTime() + 60_000) } }).catch(
      () => {},
    );
    await cleanup(failed, deps());

    expect(record().nextAttemptAt).toBe(scheduled);
    expect(record().consecutiveFailures).toBe(1);
  });

  it('counts the failure of another execution on top', async () => {
    registry.records.set('web', {
      ...record(),
      consecutiveFailures: 1,
      lastError: {
        name: 'OrderInvalidError',
        message: 'x',
        at: '2029-12-31T00:00:00.000Z',
        executionId: 'run-1',
      },
    });

    await cleanup(state({ error: { Error: 'OrderInvalidError', Cause: 'again' } }), deps());

    expect(record().consecutiveFailures).toBe(2);
  });
});

describe('Cleanup after a failure that followed a delivered certificate', () => {
  /** What ImportToAcm leaves in the registry when it imported this run's certificate. */
  async function imported(renewal: boolean) {
    const issued = {
      serial: '02',
      storeKey: 'certificates/web/02',
      notBefore: '2030-01-01T00:00:00.000Z',
      notAfter: '2030-03-31T00:00:00.000Z',
      fingerprint: 'EC_P256:example.org',
    };
    const { nextRenewalAt, ...rest } = record();
    registry.records.set('web', {
      ...rest,
      status: 'issued',
      issued,
      ...(renewal ? { nextRenewalAt } : { acmArns: {} }),
    });
    const input = state({
      certificate: { storeKey: issued.storeKey, serial: issued.serial, notAfter: issued.notAfter },
    });
    await importToAcm(input, {
      store: {
        get: async (key: string) => (key.endsWith('fullchain.pem') ? LEAF_AND_CHAIN : 'KEY'),
      } as never,
      importers: {
        forRegion: () => ({
          importCertificate: async () => ({ arn: 'arn:aws:acm:eu-west-1:123456789012:certificate/web' }),
        }),
      },
      registry,
      clock: { now: () => NOW },
      config: { managedByTag: 'acme-aws' } as never,
      log,
    });
    // The Lambda crashed after the import: the Catch hands Cleanup the step's input and the error.
    return { ...input, error: crashed };
  }

  it('announces Certificate Renewed, not Renewal Failed, and records no failure', async () => {
    const afterCrash = await imported(true);

    await cleanup(afterCrash, deps());

    expect(events.map((event) => event.detailType)).toEqual([EVENT_RENEWED]);
    expect(events[0]?.detail).toMatchObject({
      serial: '02',
      notAfter: '2030-03-31T00:00:00.000Z',
      acmArns: { 'eu-west-1': 'arn:aws:acm:eu-west-1:123456789012:certificate/web' },
      executionId: EXECUTION,
    });
    expect(record()).toMatchObject({ status: 'imported', consecutiveFailures: 0 });
    expect(record().lastError).toBeUndefined();
    expect(new Date(record().nextRenewalAt ?? 0) > NOW).toBe(true);
    expect(record().lock).toBeUndefined();
  });

  it('announces Certificate Issued for a first certificate', async () => {
    const afterCrash = await imported(false);

    await cleanup(afterCrash, deps());

    expect(events.map((event) => event.detailType)).toEqual([EVENT_ISSUED]);
  });

  it('still reports the failure of a run that delivered nothing, even with an imported certificate in the state', async () => {
    // A revoke that failed before revoking carries the current (imported) certificate in its state.
    registry.records.set('web', {
      ...record(),
      issued: { ...previous, deliveredBy: { executionId: 'run-1', renewal: false, arnReplaced: false } },
    });
    const failedRevoke = state({
      action: 'revoke',
      certificate: { storeKey: previous.storeKey, serial: previous.serial, notAfter: previous.notAfter },
      error: { Error: 'UnauthorizedError', Cause: 'not allowed' },
    });

    await cleanup(failedRevoke, deps());

    expect(events.map((event) => event.detailType)).toEqual([EVENT_FAILED]);
  });
});

/** Any parseable chain: ImportToAcm only splits it into leaf and chain here. */
const LEAF_AND_CHAIN = `-----BEGIN CERTIFICATE-----
MAA=
-----END CERTIFICATE-----
-----BEGIN CERTIFICATE-----
MAA=
-----END CERTIFICATE-----
`;
