import { describe, expect, it } from 'vitest';
import type {
  CertificateRecord,
  CertificateRecordChanges,
  CertificateRegistry,
  HttpTransport,
  WorkflowMetrics,
} from '../../../lambdas/core/ports.js';
import { configurationFingerprint } from '../../../lambdas/core/renewal/due.js';
import { type PlannerDeps, planRenewals } from '../../../lambdas/core/renewal/planner.js';
import type { WorkflowConfig, WorkflowLogger } from '../../../lambdas/core/workflow/deps.js';
import { ScriptedTransport } from '../../support/scripted-transport.js';
import { createTestSigner } from '../../support/test-signer.js';

const DIRECTORY_URL = 'https://ca.test/directory';
const now = new Date('2030-02-01T00:00:00.000Z');
const config = { domains: ['example.org'], keyType: 'EC_P256', regions: ['eu-west-1'] };

/** A registry in memory, paging in insertion order like a table scan. */
class MemoryRegistry implements Pick<CertificateRegistry, 'list' | 'update'> {
  readonly records = new Map<string, CertificateRecord>();
  readonly updates: [string, CertificateRecordChanges][] = [];
  async list(options: { cursor?: string; limit: number }) {
    const all = [...this.records.values()];
    const start = options.cursor ? Number(options.cursor) : 0;
    const records = all.slice(start, start + options.limit);
    const next = start + options.limit;
    return { records, ...(next < all.length ? { cursor: String(next) } : {}) };
  }
  async update(certificateId: string, changes: CertificateRecordChanges) {
    this.updates.push([certificateId, changes]);
    const current = this.records.get(certificateId) ?? { certificateId };
    this.records.set(certificateId, { ...current, ...(changes as Partial<CertificateRecord>) });
  }
}

function importedRecord(
  certificateId: string,
  overrides: Partial<CertificateRecord> = {},
): CertificateRecord {
  return {
    certificateId,
    config,
    acmArns: { 'eu-west-1': `arn:aws:acm:eu-west-1:1:certificate/${certificateId}` },
    issued: {
      serial: '01',
      storeKey: `certificates/${certificateId}/01`,
      notBefore: '2030-01-01T00:00:00.000Z',
      notAfter: '2030-04-01T00:00:00.000Z',
      fingerprint: configurationFingerprint(config),
      importedArn: `arn:aws:acm:eu-west-1:1:certificate/${certificateId}`,
      ariCertId: 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE',
    },
    nextRenewalAt: '2030-03-02T00:00:00.000Z',
    ariCheckAfter: '2030-03-01T00:00:00.000Z',
    ...overrides,
  };
}

async function deps(
  registry: MemoryRegistry,
  transport: HttpTransport,
): Promise<{
  deps: PlannerDeps;
  metrics: [string, number, Record<string, string> | undefined][];
}> {
  const metrics: [string, number, Record<string, string> | undefined][] = [];
  const sink: WorkflowMetrics = {
    add: (name, _unit, value, dimensions) => metrics.push([name, value, dimensions]),
  };
  const silent: WorkflowLogger = { debug: () => {}, info: () => {}, warn: () => {} };
  const workflowConfig: WorkflowConfig = {
    defaultDirectoryUrl: DIRECTORY_URL,
    defaultRegion: 'eu-west-1',
    managedByTag: 'test',
    dnsPollSeconds: 1,
    orderPollSeconds: 1,
    maxPolls: 3,
    lockTtlSeconds: 60,
  };
  return {
    metrics,
    deps: {
      registry: registry as unknown as CertificateRegistry,
      transport,
      signer: await createTestSigner(),
      clock: { now: () => now },
      config: workflowConfig,
      log: silent,
      metrics: sink,
      random: () => 0.5,
    },
  };
}

describe('planRenewals', () => {
  it('lists only the due certificates, with an execution name that is the same all day', async () => {
    const registry = new MemoryRegistry();
    registry.records.set('fresh', importedRecord('fresh'));
    registry.records.set('due', importedRecord('due', { nextRenewalAt: '2030-01-31T00:00:00.000Z' }));
    registry.records.set('new', { certificateId: 'new', config });
    registry.records.set(
      'failing',
      importedRecord('failing', {
        consecutiveFailures: 3,
        nextAttemptAt: '2030-02-01T05:00:00.000Z',
        nextRenewalAt: '2030-01-01T00:00:00.000Z',
      }),
    );
    const { deps: plannerDeps, metrics } = await deps(registry, new ScriptedTransport());

    const plan = await planRenewals({}, plannerDeps);

    expect(plan.due.map((entry) => [entry.certificateId, entry.reason, entry.executionName])).toEqual([
      ['due', 'renewal-time', 'due-20300201'],
      ['new', 'never-issued', 'new-20300201'],
    ]);
    expect(plan.due[0]?.input).toEqual({ action: 'renew', certificateId: 'due', force: false });
    expect(metrics).toContainEqual(['MaxConsecutiveFailures', 3, undefined]);
    expect(metrics).toContainEqual(['MinDaysToExpiry', 59, undefined]);
    expect(metrics).toContainEqual(['DaysToExpiry', 59, { CertificateId: 'fresh' }]);
    expect(metrics).toContainEqual(['CertificatesDue', 2, undefined]);
  });

  it('reports the days left before the dns-persist-01 records certificates rely on run out', async () => {
    const registry = new MemoryRegistry();
    registry.records.set('soon', importedRecord('soon', { persistUntil: '2030-02-20T12:00:00.000Z' }));
    registry.records.set('later', importedRecord('later', { persistUntil: '2030-06-01T00:00:00.000Z' }));
    registry.records.set('dns-01', importedRecord('dns-01'));
    const { deps: plannerDeps, metrics } = await deps(registry, new ScriptedTransport());

    await planRenewals({}, plannerDeps);

    expect(metrics).toContainEqual(['PersistRecordDaysLeft', 19, { CertificateId: 'soon' }]);
    expect(metrics).toContainEqual(['PersistRecordDaysLeft', 120, { CertificateId: 'later' }]);
    expect(metrics.filter(([name]) => name === 'PersistRecordDaysLeft')).toHaveLength(2);
    expect(metrics).toContainEqual(['MinPersistRecordDaysLeft', 19, undefined]);
  });

  it('reports no dns-persist-01 days when no certificate relies on a record with a persistUntil', async () => {
    const registry = new MemoryRegistry();
    registry.records.set('dns-01', importedRecord('dns-01'));
    const { deps: plannerDeps, metrics } = await deps(registry, new ScriptedTransport());

    await planRenewals({}, plannerDeps);

    expect(metrics.map(([name]) => name)).not.toContain('MinPersistRecordDaysLeft');
  });

  it('defers first issuances past the CA’s paced budget, with a metric per limit, and names retries apart', async () => {
    const registry = new MemoryRegistry();
    for (let index = 0; index < 50; index += 1) {
      registry.records.set(`site-${index}`, {
        certificateId: `site-${index}`,
        config: { ...config, domains: [`site-${index}.example.org`] },
      });
    }
    registry.records.set('retry', {
      certificateId: 'retry',
      config: { ...config, domains: ['retry.example.net'] },
      consecutiveFailures: 2,
      nextAttemptAt: '2030-01-31T00:00:00.000Z',
    });
    const { deps: plannerDeps, metrics } = await deps(registry, new ScriptedTransport());

    const plan = await planRenewals({}, plannerDeps);

    expect(plan.due).toHaveLength(46);
    expect(plan.due.at(-1)?.executionName).toBe('retry-20300201-f2');
    expect(plan.deferred).toEqual({ certificatesPerRegisteredDomain: 5 });
    expect(metrics).toContainEqual(['CertificatesDeferred', 5, undefined]);
    expect(metrics).toContainEqual(['CertificatesDeferred', 5, { Limit: 'certificatesPerRegisteredDomain' }]);
  });

  it('pages through the registry with a cursor and carries the import forecast', async () => {
    const registry = new MemoryRegistry();
    for (let index = 0; index < 5; index += 1) registry.records.set(`c${index}`, importedRecord(`c${index}`));
    const { deps: plannerDeps } = await deps(registry, new ScriptedTransport());

    const first = await planRenewals({ pageSize: 3 }, plannerDeps);
    const second = await planRenewals(
      { pageSize: 3, cursor: first.cursor, forecast: first.forecast },
      plannerDeps,
    );

    expect(first.checked).toBe(3);
    expect(first.cursor).toBeDefined();
    expect(second.checked).toBe(2);
    expect(second.cursor).toBeUndefined();
    expect(second.forecast['eu-west-1']).toBe(Math.ceil((365 / 60) * 3) + Math.ceil((365 / 60) * 2));
  });

  it('moves the renewal time into the CA’s suggested window and asks again after Retry-After', async () => {
    const registry = new MemoryRegistry();
    registry.records.set('ari', importedRecord('ari', { ariCheckAfter: '2030-01-31T00:00:00.000Z' }));
    const transport = new ScriptedTransport()
      .expect('GET', DIRECTORY_URL, {
        body: {
          newNonce: 'https://ca.test/nonce',
          newAccount: 'https://ca.test/acct',
          newOrder: 'https://ca.test/order',
          renewalInfo: 'https://ca.test/ari',
        },
      })
      .expect('GET', 'https://ca.test/ari/aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE', {
        headers: { 'retry-after': '7200' },
        body: { suggestedWindow: { start: '2030-02-01T12:00:00Z', end: '2030-02-02T12:00:00Z' } },
      });
    const { deps: plannerDeps } = await deps(registry, transport);

    const plan = await planRenewals({}, plannerDeps);

    expect(plan.due).toEqual([]);
    expect(registry.records.get('ari')).toMatchObject({
      nextRenewalAt: '2030-02-02T00:00:00.000Z',
      ariCheckAfter: '2030-02-01T02:00:00.000Z',
    });
    expect(transport.pending).toBe(0);
  });

  it('renews at once when the CA’s window has already passed (for example after a revocation)', async () => {
    const registry = new MemoryRegistry();
    registry.records.set('urgent', importedRecord('urgent', { ariCheckAfter: '2030-01-31T00:00:00.000Z' }));
    const transport = new ScriptedTransport()
      .expect('GET', DIRECTORY_URL, {
        body: {
          newNonce: 'https://ca.test/nonce',
          newAccount: 'https://ca.test/acct',
          newOrder: 'https://ca.test/order',
          renewalInfo: 'https://ca.test/ari',
        },
      })
      .expect('GET', 'https://ca.test/ari/aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE', {
        body: { suggestedWindow: { start: '2030-01-20T00:00:00Z', end: '2030-01-21T00:00:00Z' } },
      });
    const { deps: plannerDeps } = await deps(registry, transport);

    const plan = await planRenewals({}, plannerDeps);

    expect(plan.due.map((entry) => entry.certificateId)).toEqual(['urgent']);
  });

  it('keeps the planned time when the CA cannot be reached, and still plans the rest', async () => {
    const registry = new MemoryRegistry();
    registry.records.set('ari', importedRecord('ari', { ariCheckAfter: '2030-01-31T00:00:00.000Z' }));
    registry.records.set(
      'due',
      importedRecord('due', {
        nextRenewalAt: '2030-01-31T00:00:00.000Z',
        ariCheckAfter: '2030-03-01T00:00:00.000Z',
      }),
    );
    const transport = new ScriptedTransport().expect('GET', DIRECTORY_URL, new Error('connection refused'));
    const { deps: plannerDeps } = await deps(registry, transport);

    const plan = await planRenewals({}, plannerDeps);

    expect(plan.due.map((entry) => entry.certificateId)).toEqual(['due']);
    expect(registry.records.get('ari')?.nextRenewalAt).toBe('2030-03-02T00:00:00.000Z');
  });
});
