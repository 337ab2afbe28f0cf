import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { advertiseCaaIdentities, type CaProxy, startCaProxy } from '../harness/ca-proxy.js';
import { ChalltestsrvClient } from '../harness/challtestsrv.js';
import { usePebbleWorkflow } from '../harness/e2e-fixture.js';
import type { LocalCa } from '../harness/local-issuance.js';
import { freeTcpPort } from '../harness/loopback-ports.js';
import { type PebbleEnvironment, startPebble } from '../harness/pebble.js';

/**
 * CA fallback through the synthesized state machine: two CAs, two Pebbles that validate through
 * the same DNS (challtestsrv), each behind a proxy, listed most preferred first.
 * The first is unreachable, or rate-limits new orders, or is back again; the run must end with a
 * certificate from the CA that could serve it, say which one, and never send `replaces` to a CA
 * that did not issue the certificate being replaced.
 */

const NEW_ORDER = /^\/order-plz/;

/** The CA answers newOrder with `rateLimited` and `Retry-After`, `times` times (or always). */
function rateLimitNewOrders(proxy: CaProxy, retryAfterSeconds: number, times?: number): void {
  proxy.intercept({
    method: 'POST',
    path: NEW_ORDER,
    ...(times !== undefined ? { times } : {}),
    answer: {
      status: 429,
      headers: { 'retry-after': String(retryAfterSeconds) },
      problem: { type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many new orders recently' },
    },
  });
}

interface RegistryItem {
  readonly pk: string;
  readonly certificateId?: string;
  readonly directoryUrl?: string;
  readonly issued?: { readonly directoryUrl?: string; readonly serial: string };
}

describe('CA fallback: an ordered list of CAs', () => {
  const e2e = usePebbleWorkflow({ pebble: { env: { PEBBLE_WFE_NONCEREJECT: '0' } } });
  const proxies: CaProxy[] = [];
  let otherPebble: PebbleEnvironment | undefined;

  beforeAll(async () => {
    otherPebble = await startPebble({ env: { PEBBLE_WFE_NONCEREJECT: '0' }, sharedDns: e2e.pebble });
  });
  afterAll(async () => {
    await otherPebble?.stop();
  });

  afterEach(async () => {
    for (const proxy of proxies.splice(0)) await proxy.stop();
  });

  /** Two CAs in front of the fixture's Pebble, and a LocalCa whose bundle trusts both. */
  async function twoCas(): Promise<{ first: CaProxy; second: CaProxy; trust: LocalCa }> {
    const first = await startCaProxy(e2e.pebble);
    if (!otherPebble) throw new Error('the second Pebble did not start');
    const second = await startCaProxy(otherPebble);
    proxies.push(first, second);
    const bundle = join(tmpdir(), `ca-fallback-${process.pid}-${Date.now()}.pem`);
    await writeFile(
      bundle,
      `${await readFile(first.caBundlePath, 'utf8')}\n${await readFile(second.caBundlePath, 'utf8')}`,
    );
    return { first, second, trust: { ...second, caBundlePath: bundle } };
  }

  async function deploy(domains: readonly string[], trust: LocalCa, directoryUrls: readonly string[]) {
    await e2e.install(domains, {
      ca: trust,
      props: {
        acme: {
          certificateAuthorities: directoryUrls.map((directoryUrl) => ({ directoryUrl })),
          certificates: [{ id: 'web', domains: [...domains] }],
        },
      },
    });
  }

  async function issuedBy(): Promise<string | undefined> {
    return (await e2e.record<RegistryItem>('web'))?.issued?.directoryUrl;
  }

  function issuedEvents() {
    return e2e.aws.eventBridge.events.filter((event) =>
      ['Certificate Issued', 'Certificate Renewed'].includes(event.detailType),
    );
  }

  it('takes the second CA when the first cannot be reached, and says which one issued', async () => {
    const { second, trust } = await twoCas();
    const unreachable = `https://127.0.0.1:${await freeTcpPort()}/dir`;
    const domains = ['example.org', '*.example.org'];
    await deploy(domains, trust, [unreachable, second.directoryUrl]);

    const run = await e2e.run({ action: 'renew', certificateId: 'web' });

    expect(run.execution.error).toBeUndefined();
    expect(run.execution.status).toBe('SUCCEEDED');
    expect(run.logs).toContain('The CA cannot be reached; trying the next CA in the list');
    expect(await issuedBy()).toBe(second.directoryUrl);
    expect(issuedEvents().map((event) => event.detail)).toEqual([
      expect.objectContaining({ issuedBy: second.directoryUrl, fallbackUsed: true }),
    ]);
    // The account is the second CA's: nothing was registered at a CA that never answered.
    const accounts = (await e2e.registryItems<RegistryItem>()).filter((item) =>
      item.pk.startsWith('ACCOUNT#'),
    );
    expect(accounts.map((account) => account.directoryUrl)).toEqual([second.directoryUrl]);
  });

  it('takes the second CA when the first rate-limits new orders, then goes back to the first once it lifts', async () => {
    const { first, second, trust } = await twoCas();
    await deploy(['shop.example.org'], trust, [first.directoryUrl, second.directoryUrl]);
    // The first CA names renewal information, so a `replaces` sent to it would show.
    first.intercept({
      method: 'GET',
      path: /^\/dir$/,
      rewrite: (answer) => ({
        ...answer,
        body: {
          ...(answer.body as object),
          renewalInfo: first.directoryUrl.replace('/dir', '/renewal-info'),
        },
      }),
    });
    const newOrders: Record<string, unknown>[] = [];
    first.extend({
      async answer(request) {
        if (request.method === 'POST' && NEW_ORDER.test(request.path)) {
          const jws = JSON.parse(request.body.toString('utf8')) as { payload: string };
          newOrders.push(JSON.parse(Buffer.from(jws.payload, 'base64url').toString('utf8')));
        }
        return undefined;
      },
      rewrite: (_request, answer) => answer,
    });
    rateLimitNewOrders(first, 86_400, 1);

    const limited = await e2e.run({ action: 'renew', certificateId: 'web' });

    expect(limited.execution.error).toBeUndefined();
    expect(limited.execution.status).toBe('SUCCEEDED');
    expect(limited.execution.steps.find((step) => step.name === 'RegisterAccount')?.runs).toBe(2);
    expect(first.count('POST', NEW_ORDER)).toBe(1);
    expect(second.count('POST', NEW_ORDER)).toBe(1);
    expect(await issuedBy()).toBe(second.directoryUrl);
    // One account per CA, both under the one KMS key.
    const accounts = (await e2e.registryItems<RegistryItem>()).filter((item) =>
      item.pk.startsWith('ACCOUNT#'),
    );
    expect(accounts.map((account) => account.directoryUrl).sort()).toEqual(
      [first.directoryUrl, second.directoryUrl].sort(),
    );

    // The limit has lifted: the next renewal goes to the first CA again, without `replaces`,
    // since the certificate it replaces is the second CA's.
    const back = await e2e.run({ action: 'renew', certificateId: 'web', force: true });

    expect(back.execution.error).toBeUndefined();
    expect(back.execution.status).toBe('SUCCEEDED');
    expect(await issuedBy()).toBe(first.directoryUrl);
    expect(first.count('POST', NEW_ORDER)).toBe(2);
    expect(second.count('POST', NEW_ORDER)).toBe(1);
    expect(newOrders).toHaveLength(1);
    expect(newOrders[0]).not.toHaveProperty('replaces');
    expect(issuedEvents().at(-1)?.detail).toMatchObject({ issuedBy: first.directoryUrl });
    expect(issuedEvents().at(-1)?.detail.fallbackUsed).toBeUndefined();
  });

  it('takes the second CA when the names’ CAA records allow only it, without ordering at the first', async () => {
    const { first, second, trust } = await twoCas();
    advertiseCaaIdentities(first, ['first-ca.test']);
    advertiseCaaIdentities(second, ['second-ca.test']);
    const dns = new ChalltestsrvClient(e2e.pebble.challtestsrvUrl);
    await dns.addCaa('caa.example.org', [{ tag: 'issue', value: 'second-ca.test' }]);
    try {
      await deploy(['caa.example.org'], trust, [first.directoryUrl, second.directoryUrl]);

      const run = await e2e.run({ action: 'renew', certificateId: 'web' });

      expect(run.execution.error).toBeUndefined();
      expect(run.execution.status).toBe('SUCCEEDED');
      expect(first.count('POST', NEW_ORDER)).toBe(0);
      expect(second.count('POST', NEW_ORDER)).toBe(1);
      expect(await issuedBy()).toBe(second.directoryUrl);
    } finally {
      await dns.clearCaa('caa.example.org');
    }
  });

  it('stays with the first CA when its rate limit lifts well inside the renewal window', async () => {
    const { first, second, trust } = await twoCas();
    await deploy(['wait.example.org'], trust, [first.directoryUrl, second.directoryUrl]);
    const issued = await e2e.run({ action: 'renew', certificateId: 'web' });
    expect(issued.execution.status).toBe('SUCCEEDED');
    rateLimitNewOrders(first, 60, 1);

    const renewal = await e2e.run({ action: 'renew', certificateId: 'web', force: true });

    // A certificate months from expiry can wait a minute for its CA; no other CA is asked.
    expect(renewal.execution.status).toBe('FAILED');
    expect(renewal.execution.error?.name).toBe('RateLimitedError');
    expect(second.count('POST', NEW_ORDER)).toBe(0);
    expect(await issuedBy()).toBe(first.directoryUrl);
  });

  it('fails with the last CA’s error when every CA of the list fails', async () => {
    const { first, second, trust } = await twoCas();
    await deploy(['api.example.org'], trust, [first.directoryUrl, second.directoryUrl]);
    for (const proxy of [first, second]) rateLimitNewOrders(proxy, 86_400);

    const run = await e2e.run({ action: 'renew', certificateId: 'web' });

    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error?.name).toBe('RateLimitedError');
    expect(first.count('POST', NEW_ORDER)).toBe(1);
    expect(second.count('POST', NEW_ORDER)).toBe(1);
  });
});
