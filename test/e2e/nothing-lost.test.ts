import { createPublicKey, type KeyObject, randomUUID, X509Certificate } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_WAIT_SECONDS } from '../../lambdas/core/workflow/wait-budget.js';
import { type CaProxy, startCaProxy } from '../harness/ca-proxy.js';
import { type EventLog, lambdaErrorCause, type TaskPerformer } from '../harness/cloud/step-functions.js';
import { usePebbleWorkflow } from '../harness/e2e-fixture.js';

// Pebble 2.4's endpoints, as the proxy sees them.
const NEW_ORDER = /^\/order-plz$/;
const ORDER = /^\/my-order\//;
const FINALIZE = /^\/finalize-order\//;
const EVENT_FAILED = 'Certificate Renewal Failed';
const EVENT_RENEWED = 'Certificate Renewed';

/** A network whose DNS checks ask the CA's mock DNS server, as the CA itself does. */
function caDnsNetwork(ca: { readonly dnsResolver: string }): Record<string, string> {
  return { DNS_RESOLVERS: ca.dnsResolver, DNS_AUTHORITATIVE_SERVERS: ca.dnsResolver };
}

interface RegistryItem {
  readonly certificateId?: string;
  readonly status?: string;
  readonly config?: Record<string, unknown>;
  readonly consecutiveFailures?: number;
  readonly nextAttemptAt?: string;
  readonly lastError?: { readonly name: string; readonly message: string; readonly executionId?: string };
  readonly lock?: unknown;
  readonly issued?: { readonly serial: string; readonly importedArn?: string };
}

/** The input of each entry into any Wait state, in order. */
function pauses(events: readonly EventLog[]): number[] {
  return events
    .filter(
      (event) => event.type === 'StateEntered' && 'state' in event && event.state.name.startsWith('PauseFor'),
    )
    .map((event) =>
      'state' in event ? ((event.state.input as { retryAfterSeconds?: number }).retryAfterSeconds ?? 0) : 0,
    );
}

/**
 * A Lambda that dies after doing its work, on every attempt, as Step Functions reports a
 * timed-out invocation: the state machine's retries of platform errors run out.
 */
function crashAfterEveryAttempt(step: string) {
  const crash = {
    attempts: 0,
    wrapTask: (stateName: string, perform: TaskPerformer): TaskPerformer =>
      stateName !== step
        ? perform
        : async (input) => {
            crash.attempts += 1;
            await perform(input);
            const errorType = 'Sandbox.Timedout';
            const errorMessage = `RequestId: ${randomUUID()} Error: Task timed out after 60.00 seconds`;
            throw Object.assign(new Error(lambdaErrorCause({ errorType, errorMessage })), {
              name: errorType,
            });
          },
  };
  return crash;
}

/**
 * Lets `parties` callers through together: each waits until all have arrived (or `timeoutMs`
 * passed, so a run that failed earlier cannot hold the others forever).
 */
function barrier(parties: number, timeoutMs: number): () => Promise<void> {
  let arrived = 0;
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  const timer = setTimeout(open, timeoutMs);
  return async () => {
    arrived += 1;
    if (arrived >= parties) {
      clearTimeout(timer);
      open();
    }
    await opened;
  };
}

describe('nothing is lost when the CA, the network or the clock misbehave', () => {
  const e2e = usePebbleWorkflow({ pebble: { env: { PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' } } });
  let proxy: CaProxy | undefined;

  afterEach(async () => {
    await proxy?.stop();
    proxy = undefined;
  });

  const behindProxy = async (domains: readonly string[]): Promise<CaProxy> => {
    proxy = await startCaProxy(e2e.pebble);
    await e2e.install(domains, { ca: proxy, network: caDnsNetwork(e2e.pebble) });
    return proxy;
  };

  it('issues on the same order with the key it stored first when the answer to finalize is lost, and renews after', async () => {
    const domains = ['lost.example.org'];
    const ca = await behindProxy(domains);
    ca.intercept({ method: 'POST', path: FINALIZE, drop: 'after', times: 1 });

    const run = await e2e.run({ certificateId: 'lost', domains });

    expect(run.execution.error).toBeUndefined();
    expect(run.execution.status).toBe('SUCCEEDED');
    expect(
      ca.exchanges.filter((exchange) => FINALIZE.test(exchange.path) && exchange.status === 0),
    ).toHaveLength(1);
    expect(ca.count('POST', NEW_ORDER)).toBe(1);
    // One key for the order, written once: the certificate in ACM is for it.
    const bucket = e2e.aws.s3.objects.get(e2e.stack.certificateBucket) ?? new Map();
    const orderKeys = [...bucket.entries()].filter(([key]) => key.startsWith('orders/lost/'));
    expect(orderKeys).toHaveLength(1);
    expect(orderKeys[0]?.[1]).toHaveLength(1);
    const storedKey = Buffer.from(orderKeys[0]?.[1][0]?.body ?? new Uint8Array()).toString('utf8');
    const [imported] = [...e2e.aws.acm.certificates.values()];
    const spki = (key: KeyObject) => key.export({ format: 'der', type: 'spki' }).toString('base64');
    expect(spki(new X509Certificate(imported?.certificatePem ?? '').publicKey)).toBe(
      spki(createPublicKey(storedKey)),
    );

    const renewed = await e2e.run({ action: 'renew', certificateId: 'lost', force: true });

    expect(renewed.execution.error).toBeUndefined();
    expect(renewed.execution.status).toBe('SUCCEEDED');
    expect(ca.count('POST', NEW_ORDER)).toBe(2);
  });

  it('ends a run whose CA asks to wait 999999 s cleanly, and comes back after that time', async () => {
    const domains = ['patient.example.org'];
    const ca = await behindProxy(domains);
    ca.intercept({ method: 'POST', path: ORDER, times: 1, retryAfter: 999_999, holdOrderAs: 'pending' });
    const startedAt = Date.now();

    const run = await e2e.run({ certificateId: 'patient', domains });

    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error?.name).toBe('RetryLaterError');
    expect(run.execution.error?.cause).toMatch(/999999 s.*retry after \d{4}-/);
    expect(Math.max(...pauses(run.execution.events))).toBeLessThanOrEqual(MAX_WAIT_SECONDS);
    expect(run.execution.events.some((event) => 'state' in event && event.state.name === 'Cleanup')).toBe(
      true,
    );
    expect(e2e.aws.route53.txtValues('_acme-challenge.patient.example.org')).toEqual([]);
    const record = await e2e.record<RegistryItem>('patient');
    expect(record?.lock).toBeUndefined();
    expect(record).toMatchObject({
      status: 'failed',
      consecutiveFailures: 1,
      lastError: { name: 'RetryLaterError' },
    });
    const comeBack = Date.parse(record?.nextAttemptAt ?? '');
    expect(comeBack).toBeGreaterThanOrEqual(startedAt + 999_999_000 - 5_000);
    expect(e2e.aws.eventBridge.events.map((event) => [event.detailType, event.detail.nextAttemptAt])).toEqual(
      [[EVENT_FAILED, record?.nextAttemptAt]],
    );

    const scheduled = await e2e.run({ action: 'renew', certificateId: 'patient' });

    expect(scheduled.execution.status).toBe('SUCCEEDED');
    expect((scheduled.execution.output as { skipped?: string }).skipped).toMatch(/backing-off/);
  });

  it('keeps every TXT value of certificates that share _acme-challenge.<name> when their runs publish and clean up at once', async () => {
    const name = '_acme-challenge.share.example.org';
    await e2e.install(['share.example.org', '*.share.example.org']);
    // Two apex certificates and a wildcard one: three writers, three values in one record set.
    // (A certificate with both names would make four values, and Pebble 2.4's DNS client fails
    // to read a TXT answer with more than three: "dns: overflowing header size".)
    const certificates = [
      { certificateId: 'share-apex', domains: ['share.example.org'] },
      { certificateId: 'share-wildcard', domains: ['*.share.example.org'] },
      { certificateId: 'share-apex-too', domains: ['share.example.org'] },
    ];
    const trials = 10;
    const missing: string[] = [];

    for (let trial = 0; trial < trials; trial += 1) {
      const publish = barrier(certificates.length, 20_000);
      const validate = barrier(certificates.length, 20_000);
      const clean = barrier(certificates.length, 20_000);
      const runs = await Promise.all(
        certificates.map((certificate) =>
          e2e.run(certificate, {
            wrapTask: (stateName, perform) => {
              if (stateName === 'PublishChallenges' || stateName === 'Cleanup') {
                const aligned = stateName === 'Cleanup' ? clean : publish;
                return async (input) => {
                  await aligned();
                  return perform(input);
                };
              }
              if (stateName === 'AnswerChallenges') {
                // Every run has published and seen its values in sync: all of them are there now.
                return async (input) => {
                  await validate();
                  const present = new Set(e2e.aws.route53.txtValues(name));
                  const ours = ((input as { challenges?: { value: string }[] }).challenges ?? []).map(
                    (challenge) => challenge.value,
                  );
                  missing.push(
                    ...ours.filter((value) => !present.has(value)).map((value) => `${trial}:${value}`),
                  );
                  return perform(input);
                };
              }
              return perform;
            },
          }),
        ),
      );

      for (const run of runs) {
        expect(run.execution.error, `trial ${trial}`).toBeUndefined();
        expect(run.execution.status).toBe('SUCCEEDED');
      }
      expect(missing, `trial ${trial}`).toEqual([]);
      expect(e2e.aws.route53.txtValues(name), `trial ${trial}`).toEqual([]);
    }
    // Every lease was given back: only the certificates and the account remain in the registry.
    const leases = (await e2e.registryItems<{ pk?: string }>()).filter((item) =>
      item.pk?.startsWith('LEASE#'),
    );
    expect(leases).toEqual([]);
  }, 400_000);

  it('counts a failed run once when its Cleanup is retried after PutEvents failed', async () => {
    await e2e.install(['count.example.org']);
    e2e.aws.eventBridge.failNext('PutEvents', 'InternalException', 1);

    // No hosted zone holds example.net: CreateOrder fails after the lock is taken.
    const run = await e2e.run({
      certificateId: 'count',
      domains: ['count.example.org', 'nozone.example.net'],
    });

    expect(run.execution.status).toBe('FAILED');
    expect(e2e.aws.eventBridge.calls.PutEvents).toBe(2);
    const record = await e2e.record<RegistryItem>('count');
    expect(record).toMatchObject({ status: 'failed', consecutiveFailures: 1 });
    expect(record?.lock).toBeUndefined();
    expect(
      e2e.aws.eventBridge.events.map((event) => [event.detailType, event.detail.consecutiveFailures]),
    ).toEqual([[EVENT_FAILED, 1]]);
  });

  it('leaves the recorded configuration untouched when an issue is refused, and the next renewal works', async () => {
    const domains = ['config.example.org'];
    await e2e.install(domains);
    const first = await e2e.run({ certificateId: 'config', domains });
    expect(first.execution.status).toBe('SUCCEEDED');
    const recorded = (await e2e.record<RegistryItem>('config'))?.config;

    for (const bad of [
      { directoryUrl: 'htps://acme-v02.api.letsencrypt.org/directory' },
      { preferredChain: 'R'.repeat(200_000) },
      { hostedZoneIds: JSON.parse('{"__proto__":"Z0123456789ABC"}') },
    ]) {
      const refused = await e2e.run({ action: 'issue', certificateId: 'config', domains, ...bad });

      expect(refused.execution.status).toBe('FAILED');
      expect(refused.execution.error?.name).toBe('InvalidInputError');
      expect(refused.execution.error?.cause).toContain(Object.keys(bad)[0]);
      expect(refused.execution.error?.cause.length).toBeLessThan(2_000);
      expect((await e2e.record<RegistryItem>('config'))?.config).toEqual(recorded);
    }

    const renewed = await e2e.run({ action: 'renew', certificateId: 'config', force: true });

    expect(renewed.execution.error).toBeUndefined();
    expect(renewed.execution.status).toBe('SUCCEEDED');
  });

  it('announces Certificate Renewed, not Renewal Failed, when the run crashed after the import, and the next run has nothing to do', async () => {
    const domains = ['delivered.example.org'];
    await e2e.install(domains);
    const first = await e2e.run({ certificateId: 'delivered', domains });
    expect(first.execution.status).toBe('SUCCEEDED');
    const issuedEvents = e2e.aws.eventBridge.events.length;

    const crash = crashAfterEveryAttempt('ImportToAcm');
    const crashed = await e2e.run(
      { action: 'renew', certificateId: 'delivered', force: true },
      { wrapTask: crash.wrapTask },
    );
    const next = await e2e.run({ action: 'renew', certificateId: 'delivered' });

    expect(crashed.execution.status).toBe('FAILED');
    expect(crashed.execution.error?.name).toBe('Sandbox.Timedout');
    const record = await e2e.record<RegistryItem>('delivered');
    const [imported] = [...e2e.aws.acm.certificates.values()];
    expect(e2e.aws.acm.certificates.size).toBe(1);
    // The first issuance, then every attempt of the crashing step: each re-imported the renewal.
    expect(crash.attempts).toBeGreaterThan(1);
    expect(imported?.importCount).toBe(1 + crash.attempts);
    const later = e2e.aws.eventBridge.events.slice(issuedEvents);
    expect(later.map((event) => event.detailType)).toEqual([EVENT_RENEWED]);
    expect(later[0]?.detail).toMatchObject({ serial: record?.issued?.serial, certificateId: 'delivered' });
    expect(record).toMatchObject({ status: 'imported', consecutiveFailures: 0 });
    expect(record?.lastError).toBeUndefined();
    expect(record?.lock).toBeUndefined();
    expect(next.execution.status).toBe('SUCCEEDED');
    expect((next.execution.output as { skipped?: string }).skipped).toMatch(/Not due \(not-due\)/);
  });
});
