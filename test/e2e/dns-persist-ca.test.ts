import { webcrypto, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeHttpsTransport } from '../../lambdas/adapters/https-transport.js';
import { AcmeClient } from '../../lambdas/core/acme/client.js';
import {
  DNS_PERSIST_01,
  hashedAccountUri,
  persistRecordValue,
  validationDomainName,
} from '../../lambdas/core/acme/dns-persist.js';
import { jwkThumbprint } from '../../lambdas/core/acme/key-authorization.js';
import type { AcmeAuthorization, AcmeOrder, AcmeOrderStatus } from '../../lambdas/core/acme/types.js';
import * as x509 from '../../lambdas/core/crypto/x509.js';
import type { HttpRequest, HttpResponse, HttpTransport } from '../../lambdas/core/ports.js';
import { ChalltestsrvClient } from '../harness/challtestsrv.js';
import { type DnsPersistEnvironment, startDnsPersistCa } from '../harness/dns-persist-ca.js';
import { createTestSigner } from '../support/test-signer.js';

// Sections cited are of draft-ietf-acme-dns-persist-02.
const POLL_DEADLINE_MS = 20_000;
const POLL_MS = 100;

/** Keeps every answer, so the test can read fields the client does not keep (issuerDomainNames). */
class RecordingTransport implements HttpTransport {
  readonly exchanges: { request: HttpRequest; response: HttpResponse }[] = [];
  constructor(private readonly inner: HttpTransport) {}
  async request(request: HttpRequest): Promise<HttpResponse> {
    const response = await this.inner.request(request);
    this.exchanges.push({ request, response });
    return response;
  }
  lastBodyFrom(url: string): Record<string, unknown> {
    const exchange = this.exchanges.filter(({ request }) => request.url === url).at(-1);
    if (!exchange) throw new Error(`nothing was asked of ${url}`);
    return JSON.parse(exchange.response.body) as Record<string, unknown>;
  }
}

describe('local CA offering dns-persist-01 (Pebble always-valid behind the validating proxy)', () => {
  let env: DnsPersistEnvironment;
  let dns: ChalltestsrvClient;
  let transport: RecordingTransport;
  let client: AcmeClient;
  let accountUrl: string;
  let thumbprint: string;
  let issuer: string;
  let published: string[] = [];

  beforeAll(async () => {
    env = await startDnsPersistCa();
    dns = new ChalltestsrvClient(env.proxy.challtestsrvUrl);
    const signer = await createTestSigner();
    transport = new RecordingTransport(
      new NodeHttpsTransport({ caPem: await readFile(env.proxy.caBundlePath, 'utf8') }),
    );
    client = new AcmeClient({ directoryUrl: env.proxy.directoryUrl, transport, signer });
    accountUrl = (await client.createAccount({ termsOfServiceAgreed: true })).url;
    thumbprint = await jwkThumbprint(await signer.publicJwk());
    issuer = env.ca.issuerDomainNames[0] ?? '';
  });

  afterAll(async () => {
    for (const name of published) await dns.clearTxt(name).catch(() => undefined);
    await env?.stop();
  });

  /** Publishes `value` at the Validation Domain Name of `identifier`, as a DNS operator would. */
  async function publish(identifier: string, value: string): Promise<void> {
    const name = validationDomainName(identifier);
    published = [...published, name];
    await dns.setTxt(name, value);
  }

  function accountUri(identifier: string, url = accountUrl): string {
    return hashedAccountUri({
      accountHashPrefix: env.ca.accountHashPrefix,
      accountUrl: url,
      accountKeyThumbprint: thumbprint,
      domain: validationDomainName(identifier).replace('_validation-persist.', ''),
    });
  }

  async function pollOrder(url: string, wanted: readonly AcmeOrderStatus[]): Promise<AcmeOrder> {
    const deadline = Date.now() + POLL_DEADLINE_MS;
    for (;;) {
      const { body } = await client.getOrder(url);
      if (wanted.includes(body.status)) return body;
      if (Date.now() > deadline) throw new Error(`order still ${body.status}: ${JSON.stringify(body.error)}`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  /** Orders `names`, answers each authorization's dns-persist-01 challenge, and returns what came back. */
  async function orderAndAnswerPersist(names: readonly string[]) {
    const order = await client.newOrder(names);
    const answered: { authorization: AcmeAuthorization; challenge: Record<string, unknown> }[] = [];
    for (const authorizationUrl of order.body.authorizations) {
      const { body: authorization } = await client.getAuthorization(authorizationUrl);
      const persist = authorization.challenges.find((challenge) => challenge.type === DNS_PERSIST_01);
      if (!persist) throw new Error(`no ${DNS_PERSIST_01} challenge in ${authorizationUrl}`);
      await client.answerChallenge(persist.url);
      answered.push({ authorization, challenge: transport.lastBodyFrom(persist.url) });
    }
    return { order, answered };
  }

  async function finalAuthorization(url: string): Promise<Record<string, unknown>> {
    await client.getAuthorization(url);
    return transport.lastBodyFrom(url);
  }

  it('§3.2: advertises issuerDomainNames and accountHashPrefix in the directory', async () => {
    const response = await transport.request({ method: 'GET', url: env.proxy.directoryUrl });
    const meta = (JSON.parse(response.body) as { meta: Record<string, unknown> }).meta;

    expect(meta.issuerDomainNames).toEqual(env.ca.issuerDomainNames);
    expect(meta.accountHashPrefix).toBe(env.ca.accountHashPrefix);
  });

  it('§4.2, §10.4: a standing record authorizes a name and its wildcard, and the certificate is issued with no dns-01 TXT', async () => {
    const name = 'persist-ok.example';
    await publish(name, persistRecordValue(issuer, accountUri(name), { wildcard: true }));
    const validationsBefore = env.ca.validations.length;

    const { order, answered } = await orderAndAnswerPersist([name, `*.${name}`]);

    for (const { authorization, challenge } of answered) {
      const dns01 = authorization.challenges.find((candidate) => candidate.type === 'dns-01');
      expect(challenge).toMatchObject({ type: DNS_PERSIST_01, issuerDomainNames: env.ca.issuerDomainNames });
      expect(challenge).not.toHaveProperty('token');
      // The harness's one compromise: both challenges share Pebble's URL (see dns-persist-ca.ts).
      expect(challenge.url).toBe(dns01?.url);
    }
    for (const authorizationUrl of order.body.authorizations) {
      const body = await finalAuthorization(authorizationUrl);
      const persist = (body.challenges as Record<string, unknown>[]).find((c) => c.type === DNS_PERSIST_01);
      expect(body.status).toBe('valid');
      expect(persist).toMatchObject({ status: 'valid', issuerDomainNames: env.ca.issuerDomainNames });
    }
    await pollOrder(order.location, ['ready']);
    const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
      'verify',
    ]);
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: `CN=${name}`,
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [
        new x509.SubjectAlternativeNameExtension([
          { type: 'dns', value: name },
          { type: 'dns', value: `*.${name}` },
        ]),
      ],
    });
    await client.finalize(order.body.finalize, new Uint8Array(csr.rawData));
    const valid = await pollOrder(order.location, ['valid']);
    const { pem } = await client.downloadCertificate(valid.certificate ?? '');

    const leaf = new X509Certificate(pem);
    expect(leaf.subjectAltName?.split(', ').sort()).toEqual([`DNS:*.${name}`, `DNS:${name}`]);
    const validations = env.ca.validations.slice(validationsBefore);
    expect(validations.map(({ type, outcome }) => `${type}:${outcome}`)).toEqual([
      'dns-persist-01:valid',
      'dns-persist-01:valid',
    ]);
    expect(validations.every(({ txt }) => txt.length === 1)).toBe(true);
  });

  it.each([
    {
      section: '§4.2, §9.3.1 accounturi of another account',
      identifier: 'persist-other-account.example',
      value: (id: string) => persistRecordValue(issuer, accountUri(id, `${accountUrl}0`)),
      type: 'unauthorized',
      detail: /accounturi that does not identify account/,
    },
    {
      section: '§5.1 wildcard without policy=wildcard',
      identifier: '*.persist-no-policy.example',
      value: (id: string) => persistRecordValue(issuer, accountUri(id)),
      type: 'unauthorized',
      detail: /lacks policy=wildcard/,
    },
    {
      section: '§4.1 item 5 persistUntil in the past',
      identifier: 'persist-expired.example',
      value: (id: string) =>
        persistRecordValue(issuer, accountUri(id), { persistUntil: new Date(Date.now() - 60_000) }),
      type: 'unauthorized',
      detail: /persistUntil=\d+, which has passed/,
    },
    {
      section: '§9.3.1 duplicate parameter',
      identifier: 'persist-duplicate.example',
      value: (id: string) => `${persistRecordValue(issuer, accountUri(id))}; AccountURI=${accountUri(id)}`,
      type: 'malformed',
      detail: /duplicate "accounturi" parameter/,
    },
    {
      section: '§4.3.2 no record for this CA',
      identifier: 'persist-other-ca.example',
      value: (id: string) => persistRecordValue('other-ca.example', accountUri(id)),
      type: 'unauthorized',
      detail: /no TXT record at _validation-persist\.persist-other-ca\.example names/,
    },
  ])(
    '$section: the authorization and the order become invalid, naming why',
    async ({ identifier, value, type, detail }) => {
      await publish(identifier, value(identifier));

      const { order, answered } = await orderAndAnswerPersist([identifier]);

      const challenge: Record<string, unknown> = answered[0]?.challenge ?? {};
      expect(challenge).toMatchObject({
        type: DNS_PERSIST_01,
        status: 'invalid',
        error: { type: `urn:ietf:params:acme:error:${type}` },
      });
      expect((challenge.error as { detail: string }).detail).toMatch(detail);
      const authorization = await finalAuthorization(order.body.authorizations[0] ?? '');
      expect(authorization.status).toBe('invalid');
      const { body: invalidOrder } = await client.getOrder(order.location);
      expect(invalidOrder.status).toBe('invalid');
      expect(invalidOrder.error?.detail).toMatch(detail);
    },
  );

  it('tags in mixed case are accepted, and persistUntil caps the authorization (§4.1 item 5)', async () => {
    const identifier = '*.persist-mixed-case.example';
    const persistUntil = Math.floor(Date.now() / 1000) + 3600;
    await publish(
      identifier,
      `${issuer.toUpperCase()}; AccountUri=${accountUri(identifier)}; POLICY=Wildcard; PersistUNTIL=${persistUntil}`,
    );

    const { order, answered } = await orderAndAnswerPersist([identifier]);

    expect(answered[0]?.challenge).toMatchObject({ type: DNS_PERSIST_01, status: 'valid' });
    const authorization = await finalAuthorization(order.body.authorizations[0] ?? '');
    expect(authorization.status).toBe('valid');
    expect(Date.parse(String(authorization.expires))).toBeLessThanOrEqual(persistUntil * 1000);
    await pollOrder(order.location, ['ready']);
  });

  it('RFC 8555 §8.4: a dns-01 answer without its TXT is refused, though Pebble validates everything', async () => {
    const order = await client.newOrder(['dns01-missing.example']);
    const { body: authorization } = await client.getAuthorization(order.body.authorizations[0] ?? '');
    const dns01 = authorization.challenges.find((challenge) => challenge.type === 'dns-01');

    const { body: answered } = await client.answerChallenge(dns01?.url ?? '');

    expect(answered).toMatchObject({
      status: 'invalid',
      error: { type: 'urn:ietf:params:acme:error:unauthorized' },
    });
    expect(answered.error?.detail).toMatch(/dns-01: no TXT value at _acme-challenge\.dns01-missing\.example/);
    expect((await client.getOrder(order.location)).body.status).toBe('invalid');
  });
});
