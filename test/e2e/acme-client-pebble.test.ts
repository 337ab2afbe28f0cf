import { webcrypto, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeHttpsTransport } from '../../lambdas/adapters/https-transport.js';
import { AcmeClient } from '../../lambdas/core/acme/client.js';
import { dns01TxtValue } from '../../lambdas/core/acme/key-authorization.js';
import type { AcmeOrder, AcmeOrderStatus } from '../../lambdas/core/acme/types.js';
import * as x509 from '../../lambdas/core/crypto/x509.js';
import type { HttpRequest, HttpResponse, HttpTransport, Signer } from '../../lambdas/core/ports.js';
import { type PebbleEnvironment, startPebble } from '../harness/pebble.js';
import { createTestSigner } from '../support/test-signer.js';

const DOMAIN = 'example.org';
const WILDCARD = `*.${DOMAIN}`;
// challtestsrv matches hosts verbatim as fully qualified names, trailing dot included.
const TXT_HOST = `_acme-challenge.${DOMAIN}.`;
const POLL_DEADLINE_MS = 20_000;
const DEFAULT_POLL_MS = 100;

/** Wraps the real transport and keeps every exchange, so the test can audit nonces and retries. */
class RecordingTransport implements HttpTransport {
  readonly exchanges: { request: HttpRequest; response: HttpResponse }[] = [];
  constructor(private readonly inner: HttpTransport) {}

  async request(request: HttpRequest): Promise<HttpResponse> {
    const response = await this.inner.request(request);
    this.exchanges.push({ request, response });
    return response;
  }

  /** The nonce in every JWS sent, in order. */
  sentNonces(): string[] {
    return this.exchanges
      .filter(({ request }) => request.method === 'POST')
      .map(({ request }) => {
        const jws = JSON.parse(request.body ?? '{}') as { protected: string };
        return (JSON.parse(Buffer.from(jws.protected, 'base64url').toString('utf8')) as { nonce: string })
          .nonce;
      });
  }

  count(predicate: (exchange: { request: HttpRequest; response: HttpResponse }) => boolean): number {
    return this.exchanges.filter(predicate).length;
  }
}

function isBadNonce({ response }: { response: HttpResponse }): boolean {
  return response.status === 400 && response.body.includes('urn:ietf:params:acme:error:badNonce');
}

async function challtestsrv(
  pebble: PebbleEnvironment,
  path: string,
  body: Record<string, string>,
): Promise<void> {
  const response = await fetch(`${pebble.challtestsrvUrl}${path}`, {
    method: 'POST',
    body: JSON.stringify(body),
  });
  expect(response.status, `${path} ${JSON.stringify(body)}`).toBe(200);
}

/** Polls until the order reaches one of `wanted`, waiting as long as Retry-After asks. */
async function pollOrder(
  client: AcmeClient,
  url: string,
  wanted: readonly AcmeOrderStatus[],
): Promise<AcmeOrder> {
  const deadline = Date.now() + POLL_DEADLINE_MS;
  for (;;) {
    const { body, retryAfterSeconds } = await client.getOrder(url);
    if (wanted.includes(body.status)) return body;
    if (body.status === 'invalid') throw new Error(`order became invalid: ${JSON.stringify(body.error)}`);
    if (Date.now() > deadline) throw new Error(`order still ${body.status} after ${POLL_DEADLINE_MS} ms`);
    await new Promise((resolve) =>
      setTimeout(resolve, retryAfterSeconds !== undefined ? retryAfterSeconds * 1000 : DEFAULT_POLL_MS),
    );
  }
}

async function createCsr(
  names: readonly string[],
): Promise<{ der: Uint8Array; publicKeyJwk: webcrypto.JsonWebKey }> {
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ]);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${names[0]}`,
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [
      new x509.SubjectAlternativeNameExtension(names.map((value) => ({ type: 'dns' as const, value }))),
    ],
  });
  return {
    der: new Uint8Array(csr.rawData),
    publicKeyJwk: await webcrypto.subtle.exportKey('jwk', keys.publicKey),
  };
}

function splitPemChain(pem: string): X509Certificate[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(
    (block) => new X509Certificate(block),
  );
}

describe('AcmeClient against Pebble (default 5% nonce rejection)', () => {
  let pebble: PebbleEnvironment;

  beforeAll(async () => {
    pebble = await startPebble({ env: { PEBBLE_ALTERNATE_ROOTS: '1' } });
  });

  afterAll(async () => {
    await pebble?.stop();
  });

  it('issues a certificate for a name and its wildcard through dns-01', async () => {
    const signer: Signer = await createTestSigner();
    const jwk = await signer.publicJwk();
    const transport = new RecordingTransport(new NodeHttpsTransport({ caPem: pebble.caBundlePem }));
    const registration = new AcmeClient({ directoryUrl: pebble.directoryUrl, transport, signer });

    // Account: absent, created, then found again by a client resuming from carried state.
    expect(await registration.findAccount()).toBeUndefined();
    const created = await registration.createAccount({
      contact: ['mailto:ops@example.org'],
      termsOfServiceAgreed: true,
    });
    expect(created.account.status).toBe('valid');
    const directory = await registration.directory();
    const exchangesBeforeResume = transport.exchanges.length;
    const lookup = new AcmeClient({
      directoryUrl: pebble.directoryUrl,
      transport,
      signer,
      directory,
      ...(registration.nonce ? { nonce: registration.nonce } : {}),
    });
    expect(await lookup.findAccount()).toBe(created.url);
    expect(
      transport.exchanges.slice(exchangesBeforeResume).every(({ request }) => request.method === 'POST'),
    ).toBe(true);

    const client = new AcmeClient({
      directoryUrl: pebble.directoryUrl,
      transport,
      signer,
      directory,
      accountUrl: created.url,
      ...(lookup.nonce ? { nonce: lookup.nonce } : {}),
    });
    const order = await client.newOrder([DOMAIN, WILDCARD]);
    expect(order.body.status).toBe('pending');
    expect(order.body.authorizations).toHaveLength(2);

    const challengeUrls: string[] = [];
    try {
      for (const authorizationUrl of order.body.authorizations) {
        const { body: authorization } = await client.getAuthorization(authorizationUrl);
        expect(authorization.status).toBe('pending');
        expect(authorization.identifier.value).toBe(DOMAIN);
        const challenge = authorization.challenges.find((candidate) => candidate.type === 'dns-01');
        if (!challenge) throw new Error(`no dns-01 challenge in ${authorizationUrl}`);
        // Both authorizations publish at the same name; set-txt adds a value beside the other.
        await challtestsrv(pebble, '/set-txt', {
          host: TXT_HOST,
          value: await dns01TxtValue(challenge.token, jwk),
        });
        challengeUrls.push(challenge.url);
      }
      for (const url of challengeUrls) {
        const { body: answered } = await client.answerChallenge(url);
        expect(['pending', 'processing', 'valid']).toContain(answered.status);
      }
      await pollOrder(client, order.location, ['ready']);
    } finally {
      await challtestsrv(pebble, '/clear-txt', { host: TXT_HOST });
    }

    const csr = await createCsr([DOMAIN, WILDCARD]);
    const finalized = await client.finalize(order.body.finalize, csr.der);
    expect(['processing', 'valid']).toContain(finalized.body.status);
    const valid = await pollOrder(client, order.location, ['valid']);
    if (!valid.certificate) throw new Error('a valid order without a certificate URL');
    const { pem, alternates } = await client.downloadCertificate(valid.certificate);

    const chain = splitPemChain(pem);
    const leaf = chain[0];
    expect(leaf?.subjectAltName?.split(', ').sort()).toEqual([`DNS:${WILDCARD}`, `DNS:${DOMAIN}`]);
    expect(leaf?.publicKey.export({ format: 'jwk' })).toMatchObject({
      x: csr.publicKeyJwk.x,
      y: csr.publicKeyJwk.y,
    });
    const root = new X509Certificate(await pebble.rootCertificatePem());
    const issuers = [...chain.slice(1), root];
    chain.forEach((certificate, index) => {
      const issuer = issuers[index];
      if (!issuer) throw new Error('chain shorter than expected');
      expect(certificate.checkIssued(issuer)).toBe(true);
      expect(certificate.verify(issuer.publicKey)).toBe(true);
    });
    expect(alternates).toHaveLength(1);

    // Across every step: one newNonce request at the very start, and no nonce ever sent twice.
    const nonces = transport.sentNonces();
    expect(new Set(nonces).size).toBe(nonces.length);
    expect(transport.count(({ request }) => request.method === 'HEAD')).toBe(1);
  });
});

describe('AcmeClient against Pebble rejecting half of all nonces', () => {
  let pebble: PebbleEnvironment;

  beforeAll(async () => {
    pebble = await startPebble({ env: { PEBBLE_WFE_NONCEREJECT: '50' } });
  });

  afterAll(async () => {
    await pebble?.stop();
  });

  it('recovers from every badNonce with the nonce from the rejection itself', async () => {
    const signer = await createTestSigner();
    const transport = new RecordingTransport(new NodeHttpsTransport({ caPem: pebble.caBundlePem }));
    // 25 retries: the chance of 26 rejections in a row at 50% is about 1 in 67 million.
    const client = new AcmeClient({
      directoryUrl: pebble.directoryUrl,
      transport,
      signer,
      maxBadNonceRetries: 25,
    });

    const { url } = await client.createAccount({ termsOfServiceAgreed: true });
    const order = await client.newOrder([DOMAIN]);
    for (let index = 0; index < 20; index += 1) await client.getOrder(order.location);

    expect(client.accountUrl).toBe(url);
    // 22 requests at 50%: all accepted first time happens about once in 4 million runs.
    expect(transport.count(isBadNonce)).toBeGreaterThan(0);
    expect(transport.count(({ request }) => request.method === 'HEAD')).toBe(1);
    const nonces = transport.sentNonces();
    expect(new Set(nonces).size).toBe(nonces.length);
  });
});
