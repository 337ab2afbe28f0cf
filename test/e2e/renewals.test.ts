import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { NodeHttpsTransport } from '../../lambdas/adapters/https-transport.js';
import { type AriStandIn, startAriStandIn } from '../harness/ari-stand-in.js';
import type { StackPropsForTest } from '../harness/cloud/assembly.js';
import {
  deployLocally,
  installLocalAws,
  type LocalAws,
  type LocalCa,
  type LocalDeployment,
  runLocalIssuance,
  synthesizeFor,
} from '../harness/local-issuance.js';
import { type PebbleEnvironment, startPebble } from '../harness/pebble.js';
import { runRenewals } from '../harness/renewals.js';

const DAY = 24 * 60 * 60 * 1000;

describe('renewals that never silently fail', () => {
  let pebble: PebbleEnvironment;
  let standIn: AriStandIn;
  let ca: LocalCa;
  let aws: LocalAws | undefined;
  let deployment: LocalDeployment | undefined;
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
      dnsResolver: pebble.dnsResolver,
    };
    // Synthesize (and bundle) once up front, so the first test does not pay for it alone.
    synthesizeFor(ca);
  });
  afterAll(async () => {
    await standIn?.stop();
    await pebble?.stop();
  });
  afterEach(async () => {
    await deployment?.cloud.shutdown();
    aws?.restore();
    aws = undefined;
    deployment = undefined;
    pastWindows.clear();
    vi.useRealTimers();
  });

  /**
   * Moves this process's clock a day ahead, as if a day had passed: `Date` is faked from then on,
   * and keeps running meanwhile, as on AWS. The local Lambda environments follow this process's
   * `Date`. Certificates Pebble issues carry its real clock, which stays behind.
   */
  function aDayLater(): void {
    if (!vi.isFakeTimers()) vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    vi.setSystemTime(new Date(Date.now() + DAY));
  }

  /** Installs the AWS fakes for `domains` and deploys the stack into them, against the ARI stand-in. */
  async function deploy(domains: readonly string[], props?: StackPropsForTest): Promise<LocalDeployment> {
    aws = installLocalAws(ca, domains);
    deployment = await deployLocally(ca, aws, props ? { props } : {});
    return deployment;
  }

  function issue(input: Record<string, unknown>) {
    if (!deployment) throw new Error('deploy first');
    return runLocalIssuance({ deployment, input });
  }

  async function registryItems(local: LocalDeployment): Promise<Record<string, unknown>[]> {
    return local.aws.dynamodb.items(local.stack.registryTable);
  }

  // Sixty issuances, each through the deployed functions' Lambda environments, five at a time.
  it('renews only the due certificates of a fleet of 50, and a second run the same day starts nothing', {
    timeout: 5 * 60_000,
  }, async () => {
    const fleet = Array.from({ length: 50 }, (_, index) => ({
      id: `site-${index}`,
      domains: [`site-${index}.fleet.example.org`],
      keyType: 'EC_P256' as const,
      regions: ['us-east-1'],
    }));
    // The stack declares the fleet: its custom resource records the 50 certificates at deploy time.
    const fleetDeployment = await deploy(
      fleet.flatMap((certificate) => certificate.domains),
      { acme: { certificates: fleet } },
    );
    const local = fleetDeployment.aws;

    // Pages of 20: the 50 certificates and the account record take three executions, each
    // starting the next one itself.
    const first = await runRenewals(fleetDeployment, { input: { pageSize: 20 } });
    expect(first.pages).toHaveLength(3);
    expect(first.pages.every((page) => page.status === 'SUCCEEDED')).toBe(true);
    expect(first.started).toHaveLength(50);
    expect(
      local.eventBridge.events.filter((event) => event.detailType === 'Certificate Issued'),
    ).toHaveLength(50);

    // A day later the CA asks for ten of them to be renewed now (RFC 9773 windows in the past).
    aDayLater();
    const due = (await registryItems(fleetDeployment))
      .filter((item) => String(item.certificateId ?? '').match(/^site-[0-9]$/))
      .map((item) => (item.issued as { ariCertId: string }).ariCertId);
    for (const certId of due) pastWindows.add(certId);
    const before = new Map(
      [...local.acm.certificates].map(([arn, certificate]) => [arn, certificate.certificatePem]),
    );

    const second = await runRenewals(fleetDeployment);

    expect(second.started.map((name) => name.replace(/-\d{8}$/, '')).sort()).toEqual(
      Array.from({ length: 10 }, (_, index) => `site-${index}`).sort(),
    );
    const renewed = local.eventBridge.events.filter((event) => event.detailType === 'Certificate Renewed');
    expect(renewed).toHaveLength(10);
    const changed = [...local.acm.certificates].filter(
      ([arn, certificate]) => before.get(arn) !== certificate.certificatePem,
    );
    expect(changed).toHaveLength(10);
    expect(local.acm.certificates.size).toBe(50);

    const third = await runRenewals(fleetDeployment);
    expect(third.started).toEqual([]);
    expect(third.pages.every((page) => page.status === 'SUCCEEDED')).toBe(true);
  });

  it('announces a renewal that fails three times, raises the failure metric, and keeps the old certificate', async () => {
    const domains = ['flaky.example.org'];
    const flakyDeployment = await deploy(domains);
    const local = flakyDeployment.aws;
    const issued = await issue({ action: 'issue', certificateId: 'flaky', domains });
    expect(issued.execution.status).toBe('SUCCEEDED');
    const arn = (issued.execution.output as { certificateArn: string }).certificateArn;
    const original = local.acm.certificates.get(arn)?.certificatePem;
    const record = (await registryItems(flakyDeployment)).find((item) => item.certificateId === 'flaky');
    const issuedRecord = record?.issued as { ariCertId: string } | undefined;
    if (!issuedRecord) throw new Error('flaky was not recorded as issued');
    pastWindows.add(issuedRecord.ariCertId);
    const logsBefore = flakyDeployment.cloud.logs.length;

    // The fault is ACM's, which every renewal reaches: Pebble reuses a valid authorization now and
    // then even with PEBBLE_AUTHZREUSE=0, so a DNS fault could be skipped.
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      aDayLater();
      local.acm.failNext('ImportCertificate', 'LimitExceededException', 1);
      const run = await runRenewals(flakyDeployment);
      expect(run.started).toHaveLength(1);
    }
    expect(local.acm.certificates.get(arn)?.certificatePem).toBe(original);
    // The next scheduled run reports the streak before it tries again.
    aDayLater();
    local.acm.failNext('ImportCertificate', 'LimitExceededException', 1);
    await runRenewals(flakyDeployment);

    const failures = local.eventBridge.events.filter(
      (event) => event.detailType === 'Certificate Renewal Failed',
    );
    expect(failures.map((event) => event.detail.consecutiveFailures)).toEqual([1, 2, 3, 4]);
    expect(failures[3]?.detail).toMatchObject({
      certificateId: 'flaky',
      error: 'AwsRequestError',
      currentCertificate: { acmArns: { 'us-east-1': arn } },
    });
    expect(String(failures[3]?.detail.problem)).toContain('LimitExceededException');
    // The planner's metrics are EMF documents in its log group, as CloudWatch would extract them.
    const planner = flakyDeployment.cloud.lambda.functions.find(
      (fn) => fn.environment.ACME_STEP === 'plan-renewals',
    );
    const emitted = flakyDeployment.cloud.logs
      .slice(logsBefore)
      .filter((line) => line.functionName === planner?.functionName)
      .map((line) => line.text)
      .join('')
      .split('\n')
      .filter((line) => line.includes('"MaxConsecutiveFailures"'))
      .map((line) => (JSON.parse(line) as { MaxConsecutiveFailures: number }).MaxConsecutiveFailures);
    expect(emitted).toContain(3);
    expect(local.acm.certificates.get(arn)?.certificatePem).toBe(original);
    expect(local.acm.certificates.size).toBe(1);
  });

  it('imports one certificate into every target region and renews it under the same ARNs', async () => {
    const domains = ['global.example.org'];
    const { aws: local } = await deploy(domains);
    const input = { action: 'issue', certificateId: 'global', domains, regions: ['us-east-1', 'eu-west-1'] };

    const first = await issue(input);
    const second = await issue({ action: 'renew', certificateId: 'global', force: true });

    expect(first.execution.status).toBe('SUCCEEDED');
    expect(second.execution.status).toBe('SUCCEEDED');
    const firstArns = (first.execution.output as { certificateArns: Record<string, string> }).certificateArns;
    const secondArns = (second.execution.output as { certificateArns: Record<string, string> })
      .certificateArns;
    expect(Object.keys(firstArns).sort()).toEqual(['eu-west-1', 'us-east-1']);
    expect(secondArns).toEqual(firstArns);
    for (const region of ['us-east-1', 'eu-west-1']) {
      const inRegion = [...local.acm.certificatesIn(region).values()];
      expect(inRegion).toHaveLength(1);
      expect(inRegion[0]?.importCount).toBe(2);
      expect(firstArns[region]).toContain(`:acm:${region}:`);
    }
    expect(local.eventBridge.events.map((event) => event.detailType)).toEqual([
      'Certificate Issued',
      'Certificate Renewed',
    ]);
  });

  it('gives a certificate new ARNs when its key type changes, and says so', async () => {
    const domains = ['rekey.example.org'];
    const rekeyDeployment = await deploy(domains);
    const first = await issue({ action: 'issue', certificateId: 'rekey', domains });
    const second = await issue({ action: 'issue', certificateId: 'rekey', domains, keyType: 'RSA_2048' });

    expect(second.execution.status).toBe('SUCCEEDED');
    const before = (first.execution.output as { certificateArn: string }).certificateArn;
    const after = (second.execution.output as { certificateArn: string }).certificateArn;
    expect(after).not.toBe(before);
    const renewed = rekeyDeployment.aws.eventBridge.events.find(
      (event) => event.detailType === 'Certificate Renewed',
    );
    expect(renewed?.detail.arnReplaced).toMatchObject({ previousArn: before, region: 'us-east-1' });
    expect(String((renewed?.detail.arnReplaced as { reason?: string } | undefined)?.reason)).toMatch(
      /key type changed from EC_P256 to RSA_2048/,
    );
    const record = (await registryItems(rekeyDeployment)).find((item) => item.certificateId === 'rekey');
    expect(record?.arnReplaced).toMatchObject({ previousArn: before });
  });

  it('ends a renew that is not due without touching the CA, unless forced', async () => {
    const domains = ['steady.example.org'];
    await deploy(domains);
    await issue({ action: 'issue', certificateId: 'steady', domains });

    const notDue = await issue({ action: 'renew', certificateId: 'steady' });
    const forced = await issue({ action: 'renew', certificateId: 'steady', force: true });

    expect(notDue.execution.status).toBe('SUCCEEDED');
    expect((notDue.execution.output as { skipped: string }).skipped).toMatch(
      /^Not due \(not-due\); next renewal at /,
    );
    expect(notDue.acmeRequests).toBe(0);
    expect(forced.execution.status).toBe('SUCCEEDED');
    expect((forced.execution.output as { certificateArn?: string }).certificateArn).toBeDefined();
  });

  it('refuses to renew a certificate the registry does not know, naming how to declare it', async () => {
    await deploy(['example.org']);

    const run = await issue({ action: 'renew', certificateId: 'ghost' });

    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error?.name).toBe('InvalidInputError');
    // The Cause is Lambda's error payload as JSON; the message in it names the certificate.
    const { errorMessage } = JSON.parse(run.execution.error?.cause ?? '{}') as { errorMessage?: string };
    expect(errorMessage).toMatch(/no certificate "ghost" in the registry/);
    expect(run.acmeRequests).toBe(0);
  });
});
