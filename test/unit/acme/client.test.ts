import { base64url, type FlattenedJWS, flattenedVerify, importJWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { AcmeClient } from '../../../lambdas/core/acme/client.js';
import {
  AcmeProtocolError,
  AcmeServerError,
  AlreadyRevokedError,
  BadNonceError,
  InvalidInputError,
  MalformedError,
  RateLimitedError,
  RejectedIdentifierError,
} from '../../../lambdas/core/errors.js';
import type { EcPublicJwk, HttpRequest } from '../../../lambdas/core/ports.js';
import {
  ACCOUNT_URL,
  acmeOrder,
  CA,
  DIRECTORY,
  DIRECTORY_URL,
  JSON_HEADERS,
  ORDER_URL,
  pendingAuthorization,
} from '../../support/acme-fixtures.js';
import { problemReply, ScriptedTransport } from '../../support/scripted-transport.js';
import { createTestSigner } from '../../support/test-signer.js';

const ORDER = acmeOrder();
const AUTHORIZATION = pendingAuthorization();

interface DecodedJws {
  readonly header: Record<string, unknown>;
  /** The decoded payload text: '' for POST-as-GET. */
  readonly payload: string;
}

/** Verifies the request body as a flattened JWS signed by `jwk` and returns its contents. */
async function verifiedJws(request: HttpRequest | undefined, jwk: EcPublicJwk): Promise<DecodedJws> {
  expect(request?.method).toBe('POST');
  expect(request?.headers?.['content-type']).toBe('application/jose+json');
  const jws = JSON.parse(request?.body ?? '') as FlattenedJWS;
  expect(Object.keys(jws).sort()).toEqual(['payload', 'protected', 'signature']);
  const result = await flattenedVerify(jws, await importJWK(jwk, 'ES256'));
  return {
    header: result.protectedHeader as Record<string, unknown>,
    payload: new TextDecoder().decode(result.payload),
  };
}

async function setup(options: { account?: boolean; nonce?: string; maxBadNonceRetries?: number } = {}) {
  const signer = await createTestSigner();
  const jwk = await signer.publicJwk();
  const transport = new ScriptedTransport();
  const client = new AcmeClient({
    directoryUrl: DIRECTORY_URL,
    transport,
    signer,
    directory: DIRECTORY,
    ...(options.account === false ? {} : { accountUrl: ACCOUNT_URL }),
    ...(options.nonce ? { nonce: options.nonce } : {}),
    ...(options.maxBadNonceRetries !== undefined ? { maxBadNonceRetries: options.maxBadNonceRetries } : {}),
  });
  return { signer, jwk, transport, client };
}

describe('AcmeClient directory', () => {
  it('fetches the directory once and then serves it from memory', async () => {
    const signer = await createTestSigner();
    const transport = new ScriptedTransport().expect('GET', DIRECTORY_URL, {
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: DIRECTORY,
    });
    const client = new AcmeClient({ directoryUrl: DIRECTORY_URL, transport, signer });

    const first = await client.directory();
    const second = await client.directory();

    expect(first).toEqual(DIRECTORY);
    expect(second).toBe(first);
    expect(transport.requests).toHaveLength(1);
  });

  it('uses a directory carried in state without any request', async () => {
    const { client, transport } = await setup();

    expect(await client.directory()).toBe(DIRECTORY);
    expect(transport.requests).toHaveLength(0);
  });

  it('refuses a directory without the mandatory endpoints', async () => {
    const signer = await createTestSigner();
    const transport = new ScriptedTransport().expect('GET', DIRECTORY_URL, {
      body: { newNonce: `${CA}/nonce` },
    });
    const client = new AcmeClient({ directoryUrl: DIRECTORY_URL, transport, signer });

    await expect(client.directory()).rejects.toThrow(AcmeProtocolError);
  });
});

describe('AcmeClient accounts', () => {
  it('finds an existing account with a jwk-signed onlyReturnExisting request and remembers its URL', async () => {
    const { client, transport, jwk } = await setup({ account: false, nonce: 'carried' });
    transport.expect('POST', DIRECTORY.newAccount, {
      headers: { ...JSON_HEADERS, location: ACCOUNT_URL },
      body: { status: 'valid' },
    });

    const found = await client.findAccount();

    expect(found).toBe(ACCOUNT_URL);
    expect(client.accountUrl).toBe(ACCOUNT_URL);
    const jws = await verifiedJws(transport.requests[0], jwk);
    expect(jws.header).toEqual({ alg: 'ES256', nonce: 'carried', url: DIRECTORY.newAccount, jwk });
    expect(JSON.parse(jws.payload)).toEqual({ onlyReturnExisting: true });
  });

  it('reports no account when the CA answers accountDoesNotExist', async () => {
    const { client, transport } = await setup({ account: false, nonce: 'carried' });
    transport.expect('POST', DIRECTORY.newAccount, problemReply('accountDoesNotExist'));

    const found = await client.findAccount();

    expect(found).toBeUndefined();
    expect(client.accountUrl).toBeUndefined();
  });

  it('creates an account and signs later requests with its URL as kid', async () => {
    const { client, transport, jwk } = await setup({ account: false, nonce: 'carried' });
    transport
      .expect('POST', DIRECTORY.newAccount, {
        status: 201,
        headers: { ...JSON_HEADERS, location: ACCOUNT_URL },
        body: { status: 'valid', contact: ['mailto:ops@example.org'] },
      })
      .expect('POST', ORDER_URL, { headers: JSON_HEADERS, body: ORDER });

    const created = await client.createAccount({
      contact: ['mailto:ops@example.org'],
      termsOfServiceAgreed: true,
    });
    await client.getOrder(ORDER_URL);

    expect(created).toEqual({
      url: ACCOUNT_URL,
      account: { status: 'valid', contact: ['mailto:ops@example.org'] },
    });
    const creation = await verifiedJws(transport.requests[0], jwk);
    expect(creation.header.jwk).toEqual(jwk);
    expect(creation.header.kid).toBeUndefined();
    expect(JSON.parse(creation.payload)).toEqual({
      contact: ['mailto:ops@example.org'],
      termsOfServiceAgreed: true,
    });
    const later = await verifiedJws(transport.requests[1], jwk);
    expect(later.header.kid).toBe(ACCOUNT_URL);
    expect(later.header.jwk).toBeUndefined();
  });

  it('refuses an account response without a Location header', async () => {
    const { client, transport } = await setup({ account: false, nonce: 'carried' });
    transport.expect('POST', DIRECTORY.newAccount, {
      status: 201,
      headers: JSON_HEADERS,
      body: { status: 'valid' },
    });

    await expect(client.createAccount({ termsOfServiceAgreed: true })).rejects.toThrow(AcmeProtocolError);
  });

  it('refuses kid-signed requests before any account URL is known, without contacting the CA', async () => {
    const { client, transport } = await setup({ account: false, nonce: 'carried' });

    await expect(client.getOrder(ORDER_URL)).rejects.toThrow(InvalidInputError);
    expect(transport.requests).toHaveLength(0);
  });
});

describe('AcmeClient orders and challenges', () => {
  it('places an order for DNS identifiers and returns its Location and Retry-After', async () => {
    const { client, transport, jwk } = await setup({ nonce: 'carried' });
    transport.expect('POST', DIRECTORY.newOrder, {
      status: 201,
      headers: { ...JSON_HEADERS, location: ORDER_URL, 'retry-after': '3' },
      body: ORDER,
    });

    const result = await client.newOrder(['example.org', '*.example.org']);

    expect(result).toEqual({ body: ORDER, location: ORDER_URL, retryAfterSeconds: 3 });
    const jws = await verifiedJws(transport.requests[0], jwk);
    expect(JSON.parse(jws.payload)).toEqual({
      identifiers: [
        { type: 'dns', value: 'example.org' },
        { type: 'dns', value: '*.example.org' },
      ],
    });
  });

  it('refuses a new order without a Location header', async () => {
    const { client, transport } = await setup({ nonce: 'carried' });
    transport.expect('POST', DIRECTORY.newOrder, { status: 201, headers: JSON_HEADERS, body: ORDER });

    await expect(client.newOrder(['example.org'])).rejects.toThrow(/Location/);
  });

  it('resolves a relative Location against the request URL', async () => {
    const { client, transport } = await setup({ nonce: 'carried' });
    transport.expect('POST', DIRECTORY.newOrder, {
      status: 201,
      headers: { ...JSON_HEADERS, location: '/order/9' },
      body: ORDER,
    });

    const result = await client.newOrder(['example.org']);

    expect(result.location).toBe(`${CA}/order/9`);
  });

  it('reads orders and authorizations with POST-as-GET, an empty payload', async () => {
    const { client, transport, jwk } = await setup({ nonce: 'carried' });
    transport
      .expect('POST', ORDER_URL, { headers: JSON_HEADERS, body: ORDER })
      .expect('POST', `${CA}/authz/1`, { headers: JSON_HEADERS, body: AUTHORIZATION });

    const order = await client.getOrder(ORDER_URL);
    const authorization = await client.getAuthorization(`${CA}/authz/1`);

    expect(order).toEqual({ body: ORDER });
    expect(authorization.body).toEqual(AUTHORIZATION);
    for (const request of transport.requests) {
      const jws = await verifiedJws(request, jwk);
      expect(jws.payload).toBe('');
      expect(jws.header.kid).toBe(ACCOUNT_URL);
    }
  });

  it('answers a challenge with an empty JSON object', async () => {
    const { client, transport, jwk } = await setup({ nonce: 'carried' });
    const challenge = { ...AUTHORIZATION.challenges[0], status: 'processing' };
    transport.expect('POST', `${CA}/chall/1`, { headers: JSON_HEADERS, body: challenge });

    const result = await client.answerChallenge(`${CA}/chall/1`);

    expect(result.body).toEqual(challenge);
    expect((await verifiedJws(transport.requests[0], jwk)).payload).toBe('{}');
  });

  it('finalizes with the CSR as base64url DER', async () => {
    const { client, transport, jwk } = await setup({ nonce: 'carried' });
    const csr = new Uint8Array([0x30, 0x82, 0x01, 0xfe, 0xff]);
    transport.expect('POST', ORDER.finalize, {
      headers: { ...JSON_HEADERS, 'retry-after': '1' },
      body: { ...ORDER, status: 'processing' },
    });

    const result = await client.finalize(ORDER.finalize, csr);

    expect(result).toEqual({ body: { ...ORDER, status: 'processing' }, retryAfterSeconds: 1 });
    expect(JSON.parse((await verifiedJws(transport.requests[0], jwk)).payload)).toEqual({
      csr: base64url.encode(csr),
    });
  });

  it('revokes with the DER certificate as base64url and the reason code, signed with the account kid', async () => {
    const { client, transport, jwk } = await setup({ nonce: 'carried' });
    const der = new Uint8Array([0x30, 0x82, 0x01, 0x0a, 0xfb, 0xff]);
    transport.expect('POST', DIRECTORY.revokeCert ?? '', { status: 200, body: '' });

    await client.revokeCertificate(der, 1);

    const jws = await verifiedJws(transport.requests[0], jwk);
    expect(jws.header).toMatchObject({ alg: 'ES256', kid: ACCOUNT_URL, url: DIRECTORY.revokeCert });
    expect(jws.header.jwk).toBeUndefined();
    expect(JSON.parse(jws.payload)).toEqual({ certificate: base64url.encode(der), reason: 1 });
  });

  it('reports a certificate the CA already revoked as AlreadyRevokedError', async () => {
    const { client, transport } = await setup({ nonce: 'carried' });
    transport.expect(
      'POST',
      DIRECTORY.revokeCert ?? '',
      problemReply('alreadyRevoked', { status: 400, detail: 'Certificate already revoked' }),
    );

    await expect(client.revokeCertificate(new Uint8Array([0x30]), 0)).rejects.toBeInstanceOf(
      AlreadyRevokedError,
    );
  });

  it('downloads the PEM chain with its alternates, asking for application/pem-certificate-chain', async () => {
    const { client, transport, jwk } = await setup({ nonce: 'carried' });
    const pem = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
    transport.expect('POST', `${CA}/cert/1`, {
      headers: {
        'content-type': 'application/pem-certificate-chain',
        link: `<${CA}/dir>;rel="index", <${CA}/cert/1/1>;rel="alternate", </cert/1/2>;rel="alternate"`,
      },
      body: pem,
    });

    const result = await client.downloadCertificate(`${CA}/cert/1`);

    expect(result).toEqual({ pem, alternates: [`${CA}/cert/1/1`, `${CA}/cert/1/2`] });
    expect(transport.requests[0]?.headers?.accept).toBe('application/pem-certificate-chain');
    expect((await verifiedJws(transport.requests[0], jwk)).payload).toBe('');
  });
});

describe('AcmeClient nonces', () => {
  it('uses a carried nonce without asking newNonce', async () => {
    const { client, transport, jwk } = await setup({ nonce: 'carried' });
    transport.expect('POST', ORDER_URL, { headers: JSON_HEADERS, body: ORDER });

    await client.getOrder(ORDER_URL);

    expect(transport.requests.map((request) => request.method)).toEqual(['POST']);
    expect((await verifiedJws(transport.requests[0], jwk)).header.nonce).toBe('carried');
  });

  it('asks newNonce with HEAD only when no nonce is at hand', async () => {
    const { client, transport, jwk } = await setup();
    transport
      .expect('HEAD', DIRECTORY.newNonce, { headers: { 'replay-nonce': 'fresh' } })
      .expect('POST', ORDER_URL, { headers: { ...JSON_HEADERS, 'replay-nonce': 'next' }, body: ORDER });

    await client.getOrder(ORDER_URL);

    expect((await verifiedJws(transport.requests[1], jwk)).header.nonce).toBe('fresh');
    expect(client.nonce).toBe('next');
  });

  it('chains each response nonce into the next request and never sends a nonce twice', async () => {
    const { client, transport, jwk } = await setup();
    transport.expect('HEAD', DIRECTORY.newNonce, {});
    for (let index = 0; index < 4; index += 1) {
      transport.expect('POST', ORDER_URL, { headers: JSON_HEADERS, body: ORDER });
    }

    for (let index = 0; index < 4; index += 1) await client.getOrder(ORDER_URL);

    const sent = await Promise.all(
      transport.requests.slice(1).map(async (request) => (await verifiedJws(request, jwk)).header.nonce),
    );
    expect(sent).toEqual(transport.issuedNonces.slice(0, 4));
    expect(new Set(sent).size).toBe(sent.length);
    expect(client.nonce).toBe(transport.issuedNonces.at(-1));
  });

  it('does not reuse a nonce after a request failed in transit', async () => {
    const { client, transport, jwk } = await setup({ nonce: 'carried' });
    transport
      .expect('POST', ORDER_URL, new Error('socket hang up'))
      .expect('HEAD', DIRECTORY.newNonce, { headers: { 'replay-nonce': 'fresh' } })
      .expect('POST', ORDER_URL, { headers: JSON_HEADERS, body: ORDER });

    await expect(client.getOrder(ORDER_URL)).rejects.toThrow('socket hang up');
    expect(client.nonce).toBeUndefined();
    await client.getOrder(ORDER_URL);

    expect((await verifiedJws(transport.requests[2], jwk)).header.nonce).toBe('fresh');
  });

  it('ignores a Replay-Nonce that is not base64url', async () => {
    const { client, transport } = await setup({ nonce: 'carried' });
    transport.expect('POST', ORDER_URL, {
      headers: { ...JSON_HEADERS, 'replay-nonce': 'not valid!' },
      body: ORDER,
    });

    await client.getOrder(ORDER_URL);

    expect(client.nonce).toBeUndefined();
  });

  it('retries a badNonce rejection with the nonce from the error response, without newNonce', async () => {
    const { client, transport, jwk } = await setup({ nonce: 'stale' });
    transport
      .expect('POST', ORDER_URL, problemReply('badNonce', { headers: { 'replay-nonce': 'from-error-1' } }))
      .expect('POST', ORDER_URL, problemReply('badNonce', { headers: { 'replay-nonce': 'from-error-2' } }))
      .expect('POST', ORDER_URL, { headers: JSON_HEADERS, body: ORDER });

    const result = await client.getOrder(ORDER_URL);

    expect(result.body).toEqual(ORDER);
    const nonces = await Promise.all(
      transport.requests.map(async (request) => (await verifiedJws(request, jwk)).header.nonce),
    );
    expect(nonces).toEqual(['stale', 'from-error-1', 'from-error-2']);
  });

  it('gives up with BadNonceError after maxBadNonceRetries retries', async () => {
    const { client, transport } = await setup({ nonce: 'stale', maxBadNonceRetries: 2 });
    for (let index = 0; index < 3; index += 1) transport.expect('POST', ORDER_URL, problemReply('badNonce'));

    const failure = client.getOrder(ORDER_URL);

    await expect(failure).rejects.toThrow(BadNonceError);
    await expect(failure).rejects.toMatchObject({ name: 'BadNonceError', code: 'BAD_NONCE' });
    expect(transport.requests).toHaveLength(3);
    expect(transport.pending).toBe(0);
  });
});

describe('AcmeClient errors', () => {
  it('turns a problem document with subproblems into the typed error, keeping every subproblem', async () => {
    const { client, transport } = await setup({ nonce: 'carried' });
    const subproblems = [
      {
        type: 'urn:ietf:params:acme:error:rejectedIdentifier',
        detail: 'policy forbids this name',
        identifier: { type: 'dns', value: 'bad.example.org' },
      },
      {
        type: 'urn:ietf:params:acme:error:malformed',
        detail: 'not a DNS name',
        identifier: { type: 'dns', value: 'under_score.example.org' },
      },
    ];
    transport.expect(
      'POST',
      DIRECTORY.newOrder,
      problemReply('rejectedIdentifier', { detail: 'some identifiers were rejected', subproblems }),
    );

    const error = await client
      .newOrder(['bad.example.org', 'under_score.example.org'])
      .catch((caught) => caught);

    expect(error).toBeInstanceOf(RejectedIdentifierError);
    expect(error).toMatchObject({
      name: 'RejectedIdentifierError',
      code: 'REJECTED_IDENTIFIER',
      status: 400,
      detail: 'some identifiers were rejected',
      subproblems,
    });
    expect(error.message).toContain('bad.example.org');
    expect(error.message).toContain('under_score.example.org');
  });

  it('carries Retry-After on a rateLimited problem, in delta-seconds or as an HTTP-date', async () => {
    const { client, transport } = await setup({ nonce: 'carried' });
    transport
      .expect(
        'POST',
        DIRECTORY.newOrder,
        problemReply('rateLimited', { status: 429, headers: { 'retry-after': '3600' } }),
      )
      .expect(
        'POST',
        DIRECTORY.newOrder,
        problemReply('rateLimited', {
          status: 429,
          headers: { date: 'Wed, 01 May 2024 12:00:00 GMT', 'retry-after': 'Wed, 01 May 2024 12:05:00 GMT' },
        }),
      );

    const first = await client.newOrder(['example.org']).catch((caught) => caught);
    const second = await client.newOrder(['example.org']).catch((caught) => caught);

    expect(first).toBeInstanceOf(RateLimitedError);
    expect(first).toMatchObject({ name: 'RateLimitedError', retryAfterSeconds: 3600 });
    expect(second).toMatchObject({ name: 'RateLimitedError', retryAfterSeconds: 300 });
  });

  it('falls back to the HTTP status when a problem document has no status', async () => {
    const { client, transport } = await setup({ nonce: 'carried' });
    transport.expect('POST', ORDER_URL, {
      status: 400,
      headers: { 'content-type': 'application/problem+json' },
      body: JSON.stringify({ type: 'urn:ietf:params:acme:error:malformed', detail: 'bad JWS' }),
    });

    const error = await client.getOrder(ORDER_URL).catch((caught) => caught);

    expect(error).toBeInstanceOf(MalformedError);
    expect(error.status).toBe(400);
  });

  it('treats a 5xx without a problem document as a server error worth retrying', async () => {
    const { client, transport } = await setup({ nonce: 'carried' });
    transport.expect('POST', ORDER_URL, {
      status: 503,
      headers: { 'content-type': 'text/html' },
      body: '<h1>down</h1>',
    });

    const error = await client.getOrder(ORDER_URL).catch((caught) => caught);

    expect(error).toBeInstanceOf(AcmeServerError);
    expect(error).toMatchObject({ name: 'AcmeServerError', status: 503 });
  });

  it.each([
    ['a 404 page', { status: 404, headers: { 'content-type': 'text/plain' }, body: 'not found' }],
    ['a redirect', { status: 302, headers: { location: 'https://elsewhere.example/' } }],
    [
      'a problem document that is not JSON',
      { status: 400, headers: { 'content-type': 'application/problem+json' }, body: '<' },
    ],
  ])('treats %s as a protocol error', async (_label, reply) => {
    const { client, transport } = await setup({ nonce: 'carried' });
    transport.expect('POST', ORDER_URL, reply);

    await expect(client.getOrder(ORDER_URL)).rejects.toThrow(AcmeProtocolError);
  });

  it.each([
    ['HTML', { headers: { 'content-type': 'text/html' }, body: '<html></html>' }],
    ['no content type', { headers: { 'content-type': '' }, body: JSON.stringify(ORDER) }],
    ['JSON that does not parse', { headers: JSON_HEADERS, body: '{"status":' }],
    ['a JSON array', { headers: JSON_HEADERS, body: '[]' }],
    ['an order without finalize', { headers: JSON_HEADERS, body: { ...ORDER, finalize: undefined } }],
  ])('refuses an order that comes as %s', async (_label, reply) => {
    const { client, transport } = await setup({ nonce: 'carried' });
    transport.expect('POST', ORDER_URL, reply);

    await expect(client.getOrder(ORDER_URL)).rejects.toThrow(AcmeProtocolError);
  });

  it('refuses a certificate that is not application/pem-certificate-chain', async () => {
    const { client, transport } = await setup({ nonce: 'carried' });
    transport.expect('POST', `${CA}/cert/1`, {
      headers: { 'content-type': 'application/pkix-cert' },
      body: 'binary',
    });

    await expect(client.downloadCertificate(`${CA}/cert/1`)).rejects.toThrow(/pem-certificate-chain/);
  });

  it('refuses an authorization whose challenges are not objects', async () => {
    const { client, transport } = await setup({ nonce: 'carried' });
    transport.expect('POST', `${CA}/authz/1`, {
      headers: JSON_HEADERS,
      body: { ...AUTHORIZATION, challenges: ['x'] },
    });

    await expect(client.getAuthorization(`${CA}/authz/1`)).rejects.toThrow(AcmeProtocolError);
  });

  it('refuses an empty order before contacting the CA', async () => {
    const { client, transport } = await setup({ nonce: 'carried' });

    await expect(client.newOrder([])).rejects.toThrow(InvalidInputError);
    expect(transport.requests).toHaveLength(0);
  });
});
