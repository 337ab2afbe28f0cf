import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DynamoDbRegistry } from '../../lambdas/adapters/dynamodb-registry.js';
import { NodeHttpsTransport } from '../../lambdas/adapters/https-transport.js';
import { syncDeclaredCertificates } from '../../lambdas/core/renewal/declared.js';
import { type AriStandIn, startAriStandIn } from '../harness/ari-stand-in.js';
import { installLocalAws, type LocalAws, type LocalCa, runLocalIssuance } from '../harness/local-issuance.js';
import { type PebbleEnvironment, startPebble } from '../harness/pebble.js';
import { LocalExecutions, runRenewals } from '../harness/renewals.js';
import { type SynthesizedWorkflow, synthesizeWorkflow } from '../harness/state-machine.js';
import { captureOutput } from '../support/capture.js';

const DAY = 24 * 60 * 60 * 1000;
// The failure test reads the metric documents the planner writes; Powertools reads this setting
// once, when the handlers are first loaded in this file.
process.env.ACME_LOCAL_METRICS = '1';
const withMetrics = { POWERTOOLS_METRICS_DISABLED: 'false' };
const silent = { debug: () => {}, info: () => {}, warn: () => {} };

describe('renewals that never silently fail', () => {
  let pebble: PebbleEnvironment;
  let standIn: AriStandIn;
  let ca: LocalCa;
  let issuance: SynthesizedWorkflow;
  let renewals: SynthesizedWorkflow;
  let aws: LocalAws | undefined;
  const pastWindows = new Set<string>();

  beforeAll(async () => {
    // Authorization reuse would let a renewal skip DNS, where the failure test injects its fault.
    pebble = await startPebble({ env: { PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' } });
    const directory = await new NodeHttpsTransport({ caPem: pebble.caBundlePem }).request({
      method: 'GET',
      url: pebble.directoryUrl,
    });
    // Debian's Pebble 2.4 has no ARI: a stand-in serves Pebble's directory plus `renewalInfo`.
    standIn = await startAriStandIn({
      upstreamDirectory: JSON.parse(directory.body) as object,
      retryAfterSeconds: 3600,
      windows: (certId) =>
        pastWindows.has(certId)
          ? { start: new Date(Date.now() - 2 * DAY), end: new Date(Date.now() - DAY) }
          : { start: new Date(Date.now() + 60 * DAY), end: new Date(Date.now() + 62 * DAY) },
    });
    const bundlePath = join(tmpdir(), `acme-renewals-ca-${process.pid}.pem`);
    writeFileSync(bundlePath, `${pebble.caBundlePem}\n${standIn.caPem}\n`);
    ca = {
      directoryUrl: standIn.directoryUrl,
      caBundlePath: bundlePath,
      challtestsrvUrl: pebble.challtestsrvUrl,
    };
    issuance = synthesizeWorkflow();
    renewals = synthesizeWorkflow({}, 'Renewals');
  });
  afterAll(async () => {
    await standIn?.stop();
    await pebble?.stop();
  });
  afterEach(() => {
    aws?.restore();
    aws = undefined;
    pastWindows.clear();
    vi.useRealTimers();
  });

  function registry(local: LocalAws): DynamoDbRegistry {
    const tableName = String(issuance.environment.REGISTRY_TABLE);
    if (!local.dynamodb.hasTable(tableName)) local.dynamodb.createTable(tableName);
    return new DynamoDbRegistry({ client: new DynamoDBClient({ region: 'us-east-1' }), tableName });
  }

  it('renews only the due certificates of a fleet of 50, and a second run the same day starts nothing', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date());
    const fleet = Array.from({ length: 50 }, (_, index) => ({
      id: `site-${index}`,
      domains: [`site-${index}.fleet.example.org`],
      keyType: 'EC_P256',
      regions: ['us-east-1'],
    }));
    aws = installLocalAws(
      ca,
      fleet.flatMap((certificate) => certificate.domains),
    );
    await syncDeclaredCertificates(fleet, { registry: registry(aws), log: silent });
    const executions = new LocalExecutions();

    // Pages of 20: the 50 certificates and the account record take three executions, each
    // starting the next one itself.
    const first = await runRenewals({ renewals, issuance, ca, aws, executions, input: { pageSize: 20 } });
    expect(first.pages).toHaveLength(3);
    expect(first.pages.every((page) => page.status === 'SUCCEEDED')).toBe(true);
    expect(first.started).toHaveLength(50);
    expect(aws.eventBridge.events.filter((event) => event.detailType === 'Certificate Issued')).toHaveLength(
      50,
    );

    // A day later the CA asks for ten of them to be renewed now (RFC 9773 windows in the past).
    vi.setSystemTime(new Date(Date.now() + DAY));
    const due = aws.dynamodb
      .items(String(issuance.environment.REGISTRY_TABLE))
      .filter((item) => String(item.certificateId ?? '').match(/^site-[0-9]$/))
      .map((item) => (item.issued as { ariCertId: string }).ariCertId);
    for (const certId of due) pastWindows.add(certId);
    const before = new Map(
      [...aws.acm.certificates].map(([arn, certificate]) => [arn, certificate.certificatePem]),
    );

    const second = await runRenewals({ renewals, issuance, ca, aws, executions });

    expect(second.started.map((name) => name.replace(/-\d{8}$/, '')).sort()).toEqual(
      Array.from({ length: 10 }, (_, index) => `site-${index}`).sort(),
    );
    const renewed = aws.eventBridge.events.filter((event) => event.detailType === 'Certificate Renewed');
    expect(renewed).toHaveLength(10);
    const changed = [...aws.acm.certificates].filter(
      ([arn, certificate]) => before.get(arn) !== certificate.certificatePem,
    );
    expect(changed).toHaveLength(10);
    expect(aws.acm.certificates.size).toBe(50);

    const third = await runRenewals({ renewals, issuance, ca, aws, executions });
    expect(third.started).toEqual([]);
    expect(third.pages.every((page) => page.status === 'SUCCEEDED')).toBe(true);
  });

  it('announces a renewal that fails three times, raises the failure metric, and keeps the old certificate', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date());
    const domains = ['flaky.example.org'];
    aws = installLocalAws(ca, domains);
    const issued = await runLocalIssuance({
      workflow: issuance,
      ca,
      aws,
      input: { action: 'issue', certificateId: 'flaky', domains },
    });
    expect(issued.execution.status).toBe('SUCCEEDED');
    const arn = (issued.execution.output as { certificateArn: string }).certificateArn;
    const original = aws.acm.certificates.get(arn)?.certificatePem;
    const record = aws.dynamodb
      .items(String(issuance.environment.REGISTRY_TABLE))
      .find((item) => item.certificateId === 'flaky');
    const issuedRecord = record?.issued as { ariCertId: string } | undefined;
    if (!issuedRecord) throw new Error('flaky was not recorded as issued');
    pastWindows.add(issuedRecord.ariCertId);
    const executions = new LocalExecutions();
    const output = captureOutput();
    // The fault is ACM's, which every renewal reaches: Pebble reuses a valid authorization now and
    // then even with PEBBLE_AUTHZREUSE=0, so a DNS fault could be skipped.
    try {
      for (let attempt = 1; attempt <= 3; attempt += 1) {
        vi.setSystemTime(new Date(Date.now() + DAY));
        aws.acm.failNext('ImportCertificate', 'LimitExceededException', 1);
        const run = await runRenewals({ renewals, issuance, ca, aws, executions, environment: withMetrics });
        expect(run.started).toHaveLength(1);
      }
      expect(aws.acm.certificates.get(arn)?.certificatePem).toBe(original);
      // The next scheduled run reports the streak before it tries again.
      vi.setSystemTime(new Date(Date.now() + DAY));
      aws.acm.failNext('ImportCertificate', 'LimitExceededException', 1);
      await runRenewals({ renewals, issuance, ca, aws, executions, environment: withMetrics });
    } finally {
      output.stop();
    }

    const failures = aws.eventBridge.events.filter(
      (event) => event.detailType === 'Certificate Renewal Failed',
    );
    expect(failures.map((event) => event.detail.consecutiveFailures)).toEqual([1, 2, 3, 4]);
    expect(failures[3]?.detail).toMatchObject({
      certificateId: 'flaky',
      error: 'AwsRequestError',
      currentCertificate: { acmArns: { 'us-east-1': arn } },
    });
    expect(String(failures[3]?.detail.problem)).toContain('LimitExceededException');
    const emitted = output.lines
      .flatMap((chunk) => chunk.split('\n'))
      .filter((line) => line.includes('"MaxConsecutiveFailures"'))
      .map((line) => (JSON.parse(line) as { MaxConsecutiveFailures: number }).MaxConsecutiveFailures);
    expect(emitted).toContain(3);
    expect(aws.acm.certificates.get(arn)?.certificatePem).toBe(original);
    expect(aws.acm.certificates.size).toBe(1);
  });

  it('imports one certificate into every target region and renews it under the same ARNs', async () => {
    const domains = ['global.example.org'];
    aws = installLocalAws(ca, domains);
    const input = { action: 'issue', certificateId: 'global', domains, regions: ['us-east-1', 'eu-west-1'] };

    const first = await runLocalIssuance({ workflow: issuance, ca, aws, input });
    const second = await runLocalIssuance({
      workflow: issuance,
      ca,
      aws,
      input: { action: 'renew', certificateId: 'global', force: true },
    });

    expect(first.execution.status).toBe('SUCCEEDED');
    expect(second.execution.status).toBe('SUCCEEDED');
    const firstArns = (first.execution.output as { certificateArns: Record<string, string> }).certificateArns;
    const secondArns = (second.execution.output as { certificateArns: Record<string, string> })
      .certificateArns;
    expect(Object.keys(firstArns).sort()).toEqual(['eu-west-1', 'us-east-1']);
    expect(secondArns).toEqual(firstArns);
    for (const region of ['us-east-1', 'eu-west-1']) {
      const inRegion = [...aws.acm.certificatesIn(region).values()];
      expect(inRegion).toHaveLength(1);
      expect(inRegion[0]?.importCount).toBe(2);
      expect(firstArns[region]).toContain(`:acm:${region}:`);
    }
    expect(aws.eventBridge.events.map((event) => event.detailType)).toEqual([
      'Certificate Issued',
      'Certificate Renewed',
    ]);
  });

  it('gives a certificate new ARNs when its key type changes, and says so', async () => {
    const domains = ['rekey.example.org'];
    aws = installLocalAws(ca, domains);
    const first = await runLocalIssuance({
      workflow: issuance,
      ca,
      aws,
      input: { action: 'issue', certificateId: 'rekey', domains },
    });
    const second = await runLocalIssuance({
      workflow: issuance,
      ca,
      aws,
      input: { action: 'issue', certificateId: 'rekey', domains, keyType: 'RSA_2048' },
    });

    expect(second.execution.status).toBe('SUCCEEDED');
    const before = (first.execution.output as { certificateArn: string }).certificateArn;
    const after = (second.execution.output as { certificateArn: string }).certificateArn;
    expect(after).not.toBe(before);
    const renewed = aws.eventBridge.events.find((event) => event.detailType === 'Certificate Renewed');
    expect(renewed?.detail.arnReplaced).toMatchObject({ previousArn: before, region: 'us-east-1' });
    expect(String((renewed?.detail.arnReplaced as { reason?: string } | undefined)?.reason)).toMatch(
      /key type changed from EC_P256 to RSA_2048/,
    );
    const record = aws.dynamodb
      .items(String(issuance.environment.REGISTRY_TABLE))
      .find((item) => item.certificateId === 'rekey');
    expect(record?.arnReplaced).toMatchObject({ previousArn: before });
  });

  it('ends a renew that is not due without touching the CA, unless forced', async () => {
    const domains = ['steady.example.org'];
    aws = installLocalAws(ca, domains);
    await runLocalIssuance({
      workflow: issuance,
      ca,
      aws,
      input: { action: 'issue', certificateId: 'steady', domains },
    });

    const notDue = await runLocalIssuance({
      workflow: issuance,
      ca,
      aws,
      input: { action: 'renew', certificateId: 'steady' },
    });
    const forced = await runLocalIssuance({
      workflow: issuance,
      ca,
      aws,
      input: { action: 'renew', certificateId: 'steady', force: true },
    });

    expect(notDue.execution.status).toBe('SUCCEEDED');
    expect((notDue.execution.output as { skipped: string }).skipped).toMatch(
      /^Not due \(not-due\); next renewal at /,
    );
    expect(notDue.acmeRequests).toBe(0);
    expect(forced.execution.status).toBe('SUCCEEDED');
    expect((forced.execution.output as { certificateArn?: string }).certificateArn).toBeDefined();
  });

  it('refuses to renew a certificate the registry does not know, naming how to declare it', async () => {
    aws = installLocalAws(ca, ['example.org']);

    const run = await runLocalIssuance({
      workflow: issuance,
      ca,
      aws,
      input: { action: 'renew', certificateId: 'ghost' },
    });

    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error?.name).toBe('InvalidInputError');
    expect(run.execution.error?.cause).toMatch(/no certificate "ghost" in the registry/);
    expect(run.acmeRequests).toBe(0);
  });
});
