import { createPublicKey, webcrypto } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_PROBLEM_DETAIL_LENGTH } from '../../lambdas/core/acme/bounds.js';
import { type CaProxy, startCaProxy } from '../harness/ca-proxy.js';
import type { TaskPerformer } from '../harness/cloud/step-functions.js';
import { usePebbleWorkflow } from '../harness/e2e-fixture.js';
import type { LocalIssuanceResult } from '../harness/local-issuance.js';
import { createUntrustedIssuer } from '../unit/crypto/untrusted-issuer.js';

/**
 * The CA is not trusted. A proxy in front of Pebble makes it lie in the ways a real CA, a
 * compromised one or a broken middlebox could; every run goes through the shipped bundles, and
 * each must fail cleanly (Cleanup ran: no TXT record left, the failure recorded and announced, the
 * lock released) without losing what the user had.
 */

// Pebble 2.4's endpoints.
const NEW_ORDER = /^\/order-plz$/;
const AUTHORIZATION = /^\/authZ\//;
const FINALIZE = /^\/finalize-order\//;
const CERTIFICATE = /^\/certZ\//;
const ORDERS_CREATED = 'POST /order-plz 201';
const DAY_MS = 24 * 60 * 60 * 1000;

interface RegistryItem {
  readonly certificateId?: string;
  readonly lock?: unknown;
  readonly pendingOrder?: unknown;
  readonly issued?: { readonly serial: string };
  readonly lastError?: { readonly name: string; readonly message: string };
}

/** A network whose DNS checks ask the CA's mock DNS server, as the CA itself does. */
function caDnsNetwork(ca: { readonly dnsResolver: string }): Record<string, string> {
  return { DNS_RESOLVERS: ca.dnsResolver, DNS_AUTHORITATIVE_SERVERS: ca.dnsResolver };
}

/** A TCP listener standing for another host: it counts connections and answers none. */
async function startForeignHost(): Promise<{
  readonly origin: string;
  connections: number;
  stop(): Promise<void>;
}> {
  const host = { origin: '', connections: 0, stop: async () => {} };
  const server: Server = createServer((socket) => {
    host.connections += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  host.origin = `https://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  host.stop = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return host;
}

describe('a CA that is not trusted, through a proxy', () => {
  const e2e = usePebbleWorkflow({ pebble: { env: { PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' } } });
  let proxy: CaProxy | undefined;
  const stops: (() => Promise<void>)[] = [];

  afterEach(async () => {
    await proxy?.stop();
    proxy = undefined;
    for (const stop of stops.splice(0)) await stop();
  });

  const install = async (
    domains: readonly string[],
    zones: readonly string[] = domains,
  ): Promise<CaProxy> => {
    const ca = await startCaProxy(e2e.pebble);
    proxy = ca;
    await e2e.install(zones, { ca, network: caDnsNetwork(e2e.pebble) });
    return ca;
  };

  /** What every failed run must leave: no TXT value, the lock released, the failure recorded and announced. */
  const expectCleanFailure = async (
    run: LocalIssuanceResult,
    input: { readonly certificateId: string; readonly domains: readonly string[] },
    errorName: string,
  ) => {
    const { certificateId, domains } = input;
    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error?.name, run.execution.error?.cause).toBe(errorName);
    expect(run.execution.events.some((event) => 'state' in event && event.state.name === 'Cleanup')).toBe(
      true,
    );
    for (const domain of domains) {
      expect(e2e.aws.route53.txtValues(`_acme-challenge.${domain.replace(/^\*\./, '')}`)).toEqual([]);
    }
    const record = await e2e.record<RegistryItem>(certificateId);
    expect(record?.lock).toBeUndefined();
    expect(record?.lastError?.name).toBe(errorName);
    const failed = e2e.aws.eventBridge.events.filter(
      (event) =>
        event.detailType === 'Certificate Renewal Failed' && event.detail.certificateId === certificateId,
    );
    expect(failed).toHaveLength(1);
    return { record, failed: failed[0] };
  };

  it('bounds a 900 KB problem detail: the run fails cleanly, announced, with a bounded lastError', async () => {
    const domains = ['verbose.example.org'];
    const ca = await install(domains);
    ca.intercept({
      method: 'POST',
      path: FINALIZE,
      times: 1,
      answer: {
        status: 400,
        problem: {
          type: 'urn:ietf:params:acme:error:badCSR',
          detail: `CSR refused: ${'x'.repeat(900 * 1024)}`,
        },
      },
    });

    const run = await e2e.run({ certificateId: 'verbose', domains });

    const { record, failed } = await expectCleanFailure(
      run,
      { certificateId: 'verbose', domains },
      'AcmeProblemError',
    );
    expect(record?.lastError?.message).toContain('CSR refused: xxx');
    expect(record?.lastError?.message.length).toBeLessThan(MAX_PROBLEM_DETAIL_LENGTH + 500);
    expect(String(failed?.detail.problem).length).toBeLessThan(MAX_PROBLEM_DETAIL_LENGTH + 500);
    expect(run.execution.error?.cause?.length).toBeLessThan(3 * MAX_PROBLEM_DETAIL_LENGTH);
  });

  it('refuses an authorization for a name that is not in the order, before any Route 53 write', async () => {
    const domains = ['shop.example.org'];
    const ca = await install(domains, [...domains, 'victim.example.net']);
    ca.intercept({
      method: 'POST',
      path: AUTHORIZATION,
      times: 1,
      rewrite: (answer) => {
        const body = answer.body as { identifier: { type: string; value: string } };
        return { ...answer, body: { ...body, identifier: { type: 'dns', value: 'victim.example.net' } } };
      },
    });

    const run = await e2e.run({ certificateId: 'shop', domains });

    await expectCleanFailure(run, { certificateId: 'shop', domains }, 'OrderMismatchError');
    expect(run.execution.error?.cause).toContain(
      'is for \\"victim.example.net\\", which is not an identifier of the order',
    );
    expect(run.route53ChangeCalls).toBe(0);
    expect(e2e.aws.route53.changeBatches).toEqual([]);
  });

  it('sends nothing to a finalize URL on another host, and fails before any Route 53 write', async () => {
    const domains = ['steer.example.org'];
    const ca = await install(domains);
    const foreign = await startForeignHost();
    stops.push(() => foreign.stop());
    ca.intercept({
      method: 'POST',
      path: NEW_ORDER,
      times: 1,
      rewrite: (answer) => {
        const body = answer.body as { finalize: string };
        return {
          ...answer,
          body: { ...body, finalize: `${foreign.origin}${new URL(body.finalize).pathname}` },
        };
      },
    });

    const run = await e2e.run({ certificateId: 'steer', domains });

    await expectCleanFailure(run, { certificateId: 'steer', domains }, 'CrossOriginUrlError');
    expect(run.execution.error?.cause).toContain(`${foreign.origin}/finalize-order/`);
    expect(foreign.connections).toBe(0);
    expect(run.route53ChangeCalls).toBe(0);
  });

  it('refuses a leaf served without its chain: nothing imported, and the next run orders again', async () => {
    const domains = ['alone.example.org'];
    const ca = await install(domains);
    ca.intercept({
      method: 'POST',
      path: CERTIFICATE,
      times: 1,
      rewrite: (answer) => ({
        ...answer,
        body:
          /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/.exec(String(answer.body))?.[0] ??
          '',
      }),
    });
    const input = { certificateId: 'alone', domains };

    const refused = await e2e.run(input);
    const { record } = await expectCleanFailure(refused, input, 'CertificateMismatchError');
    const next = await e2e.run(input);

    expect(refused.execution.error?.cause).toContain('without the certificate that issued it');
    expect(refused.acmCalls).toBe(0);
    expect(record?.issued).toBeUndefined();
    expect(record?.pendingOrder).toBeUndefined();
    expect(next.execution.error).toBeUndefined();
    expect(next.execution.status).toBe('SUCCEEDED');
    expect(next.acmeResponsesByStatus[ORDERS_CREATED]).toBe(1);
    expect(e2e.aws.acm.certificates.size).toBe(1);
  });

  it('refuses a renewal that is not valid yet: the ACM certificate is untouched, no Renewed event, and the next run orders again', async () => {
    const domains = ['early.example.org'];
    const ca = await install(domains);
    const input = { certificateId: 'early', domains };
    const first = await e2e.run(input);
    expect(first.execution.status).toBe('SUCCEEDED');
    const [arn, imported] = [...e2e.aws.acm.certificates.entries()][0] ?? [];
    const goodLeaf = imported?.certificatePem;
    const goodSerial = (await e2e.record<RegistryItem>('early'))?.issued?.serial;

    // The lie: a certificate for our key and names, right in every way but its dates. It must be
    // made once Finalize has stored the key the CSR was signed with, so it is made just before
    // WaitForCertificate downloads the CA's chain, which the proxy then replaces with it.
    const issuer = await createUntrustedIssuer('Early Issuer CA');
    let lied = false;
    const lieOnDownload = (stateName: string, perform: TaskPerformer): TaskPerformer =>
      stateName !== 'WaitForCertificate'
        ? perform
        : async (state) => {
            const { privateKeyRef } = state as { privateKeyRef: string };
            if (!lied) {
              lied = true;
              const privateKeyPem = e2e.aws.s3.text(e2e.stack.certificateBucket, privateKeyRef) ?? '';
              const spki = createPublicKey(privateKeyPem).export({ type: 'spki', format: 'der' });
              const publicKey = await webcrypto.subtle.importKey(
                'spki',
                spki,
                { name: 'ECDSA', namedCurve: 'P-256' },
                true,
                ['verify'],
              );
              const leafPem = await issuer.issue({
                publicKey,
                domains,
                notBefore: new Date(Date.now() + 2 * DAY_MS),
                notAfter: new Date(Date.now() + 92 * DAY_MS),
              });
              ca.intercept({
                method: 'POST',
                path: CERTIFICATE,
                times: 1,
                rewrite: (answer) => ({ ...answer, body: `${leafPem}${issuer.pem}\n` }),
              });
            }
            return perform(state);
          };

    const refused = await e2e.run(input, { wrapTask: lieOnDownload });
    const { record } = await expectCleanFailure(refused, input, 'CertificateMismatchError');
    const inAcmAfterRefusal = e2e.aws.acm.certificates.get(arn ?? '')?.certificatePem;
    const next = await e2e.run(input);

    expect(lied).toBe(true);
    expect(refused.execution.error?.cause).toContain('it is not valid yet');
    expect(refused.acmCalls).toBe(0);
    expect(inAcmAfterRefusal).toBe(goodLeaf);
    expect(record?.issued?.serial).toBe(goodSerial);
    expect(record?.pendingOrder).toBeUndefined();
    const renewed = e2e.aws.eventBridge.events.filter((event) => event.detailType === 'Certificate Renewed');
    expect(next.execution.error).toBeUndefined();
    expect(next.execution.status).toBe('SUCCEEDED');
    expect(next.acmeResponsesByStatus[ORDERS_CREATED]).toBe(1);
    expect(renewed).toHaveLength(1);
    expect(renewed[0]?.detail.executionId).toBe(next.execution.executionArn);
    expect(e2e.aws.acm.certificates.get(arn ?? '')?.importCount).toBe(2);
  });
});
