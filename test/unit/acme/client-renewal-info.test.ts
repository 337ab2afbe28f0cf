import { webcrypto } from 'node:crypto';
import { base64url, type FlattenedJWS, flattenedVerify, importJWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { AcmeClient } from '../../../lambdas/core/acme/client.js';
import type { AcmeDirectory } from '../../../lambdas/core/acme/types.js';
import { ariCertificateId } from '../../../lambdas/core/crypto/ari-certificate-id.js';
import * as x509 from '../../../lambdas/core/crypto/x509.js';
import {
  AcmeProtocolError,
  AcmeServerError,
  InvalidInputError,
  MalformedError,
  RateLimitedError,
} from '../../../lambdas/core/errors.js';
import type { EcPublicJwk, HttpRequest } from '../../../lambdas/core/ports.js';
import { problemReply, ScriptedTransport } from '../../support/scripted-transport.js';
import { createTestSigner } from '../../support/test-signer.js';

const CA = 'https://ca.example';
const DIRECTORY_URL = `${CA}/directory`;
const RFC8555_DIRECTORY: AcmeDirectory = {
  newNonce: `${CA}/new-nonce`,
  newAccount: `${CA}/new-account`,
  newOrder: `${CA}/new-order`,
};
const DIRECTORY: AcmeDirectory = { ...RFC8555_DIRECTORY, renewalInfo: `${CA}/renewal-info` };
const ACCOUNT_URL = `${CA}/acct/1`;
const ORDER_URL = `${CA}/order/1`;
const ORDER = {
  status: 'pending',
  identifiers: [{ type: 'dns', value: 'example.org' }],
  authorizations: [`${CA}/authz/1`],
  finalize: `${CA}/order/1/finalize`,
};
// Key identifier 69885b…c8d4 and serial 0x87654321 (DER value 00 87 65 43 21).
const CERT_ID = 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE';
const RENEWAL_INFO_URL = `${CA}/renewal-info/${CERT_ID}`;
const WINDOW_BODY = {
  suggestedWindow: { start: '2025-03-01T00:00:00Z', end: '2025-03-03T00:00:00Z' },
  explanationURL: 'https://ca.example/why',
};
const WINDOW = {
  start: new Date('2025-03-01T00:00:00Z'),
  end: new Date('2025-03-03T00:00:00Z'),
  explanationUrl: 'https://ca.example/why',
};
// Real ARI responses carry no Replay-Nonce; ScriptedTransport adds one unless told not to.
const ARI_HEADERS = { 'content-type': 'application/json', 'replay-nonce': '' };

let certificatePem: string;
let certificateWithoutAkiPem: string;

beforeAll(async () => {
  const params = { name: 'ECDSA', namedCurve: 'P-256' };
  const keys = await webcrypto.subtle.generateKey(params, false, ['sign', 'verify']);
  const build = async (extensions: x509.Extension[]): Promise<string> =>
    (
      await x509.X509CertificateGenerator.create({
        serialNumber: '87654321',
        subject: 'CN=example.org',
        issuer: 'CN=test issuer',
        publicKey: keys.publicKey,
        signingKey: keys.privateKey,
        notBefore: new Date('2025-01-01T00:00:00Z'),
        notAfter: new Date('2025-04-01T00:00:00Z'),
        signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
        extensions,
      })
    ).toString('pem');
  certificatePem = await build([
    new x509.AuthorityKeyIdentifierExtension('69885b6b87464041e1b37b847ba0ae2cde01c8d4'),
  ]);
  certificateWithoutAkiPem = await build([]);
});

/** `'fetch'` leaves the directory to be fetched; otherwise it is carried, as in state. */
async function setup(directory: AcmeDirectory | 'fetch' = DIRECTORY) {
  const signer = await createTestSigner();
  const transport = new ScriptedTransport();
  const client = new AcmeClient({
    directoryUrl: DIRECTORY_URL,
    transport,
    signer,
    accountUrl: ACCOUNT_URL,
    nonce: 'carried',
    ...(directory === 'fetch' ? {} : { directory }),
  });
  return { jwk: await signer.publicJwk(), transport, client };
}

/** What a caller holding the certificate does: compute its CertID, then ask the CA by it. */
function renewalInfoOf(client: AcmeClient, pem: string) {
  return client.getRenewalInfoById(ariCertificateId(pem));
}

async function payloadOf(request: HttpRequest | undefined, jwk: EcPublicJwk): Promise<unknown> {
  const jws = JSON.parse(request?.body ?? '') as FlattenedJWS;
  const { payload } = await flattenedVerify(jws, await importJWK(jwk, 'ES256'));
  return JSON.parse(new TextDecoder().decode(payload));
}

describe('AcmeClient.getRenewalInfoById', () => {
  it('answers undefined without any request when the directory has no renewalInfo', async () => {
    const { client, transport } = await setup(RFC8555_DIRECTORY);

    const info = await renewalInfoOf(client, certificatePem);

    expect(info).toBeUndefined();
    expect(transport.requests).toHaveLength(0);
  });

  it('fetches the directory first when none was carried', async () => {
    const { client, transport } = await setup('fetch');
    transport
      .expect('GET', DIRECTORY_URL, { body: DIRECTORY })
      .expect('GET', RENEWAL_INFO_URL, { headers: ARI_HEADERS, body: WINDOW_BODY });

    const info = await renewalInfoOf(client, certificatePem);

    expect(info).toEqual({ window: WINDOW });
    expect(transport.pending).toBe(0);
  });

  it('sends a plain GET to <renewalInfo>/<CertID>, without a JWS and without spending the nonce', async () => {
    const { client, transport } = await setup();
    transport.expect('GET', RENEWAL_INFO_URL, { headers: ARI_HEADERS, body: WINDOW_BODY });

    const info = await renewalInfoOf(client, certificatePem);

    expect(info).toEqual({ window: WINDOW });
    expect(transport.requests).toEqual([
      { method: 'GET', url: RENEWAL_INFO_URL, headers: { accept: 'application/json' } },
    ]);
    expect(client.nonce).toBe('carried');
  });

  it('does not double the slash when renewalInfo ends with one', async () => {
    const { client, transport } = await setup({ ...DIRECTORY, renewalInfo: `${CA}/renewal-info/` });
    transport.expect('GET', RENEWAL_INFO_URL, { headers: ARI_HEADERS, body: WINDOW_BODY });

    await renewalInfoOf(client, certificatePem);

    expect(transport.pending).toBe(0);
  });

  it('reports Retry-After in seconds, as delta-seconds or as an HTTP-date against the server Date', async () => {
    const { client, transport } = await setup();
    transport
      .expect('GET', RENEWAL_INFO_URL, {
        headers: { ...ARI_HEADERS, 'retry-after': '21600' },
        body: WINDOW_BODY,
      })
      .expect('GET', RENEWAL_INFO_URL, {
        headers: {
          ...ARI_HEADERS,
          date: 'Sat, 01 Mar 2025 00:00:00 GMT',
          'retry-after': 'Sat, 01 Mar 2025 06:00:00 GMT',
        },
        body: WINDOW_BODY,
      });

    const delta = await renewalInfoOf(client, certificatePem);
    const dated = await renewalInfoOf(client, certificatePem);

    expect(delta).toEqual({ window: WINDOW, retryAfterSeconds: 21600 });
    expect(dated?.retryAfterSeconds).toBe(21600);
  });

  it('answers undefined when the CA does not know the certificate (404)', async () => {
    const { client, transport } = await setup();
    transport
      .expect('GET', RENEWAL_INFO_URL, problemReply('malformed', { status: 404, detail: 'not found' }))
      .expect('GET', RENEWAL_INFO_URL, { status: 404, headers: { 'content-type': 'text/plain' }, body: '' });

    expect(await renewalInfoOf(client, certificatePem)).toBeUndefined();
    expect(await renewalInfoOf(client, certificatePem)).toBeUndefined();
  });

  it('turns problem documents into typed errors, with Retry-After on rate limits', async () => {
    const { client, transport } = await setup();
    transport
      .expect(
        'GET',
        RENEWAL_INFO_URL,
        problemReply('rateLimited', { status: 429, headers: { 'retry-after': '60' } }),
      )
      .expect('GET', RENEWAL_INFO_URL, problemReply('malformed'))
      .expect('GET', RENEWAL_INFO_URL, { status: 503, body: 'unavailable' });

    const limited = await renewalInfoOf(client, certificatePem).catch((error: unknown) => error);
    const malformed = renewalInfoOf(client, certificatePem);
    await expect(malformed).rejects.toThrow(MalformedError);
    const unavailable = renewalInfoOf(client, certificatePem);
    await expect(unavailable).rejects.toThrow(AcmeServerError);

    expect(limited).toBeInstanceOf(RateLimitedError);
    expect((limited as RateLimitedError).retryAfterSeconds).toBe(60);
  });

  it('refuses an answer that is not JSON, or whose window is invalid, naming the URL', async () => {
    const { client, transport } = await setup();
    transport
      .expect('GET', RENEWAL_INFO_URL, { headers: { 'content-type': 'text/html' }, body: '<html>' })
      .expect('GET', RENEWAL_INFO_URL, {
        headers: ARI_HEADERS,
        body: { suggestedWindow: { start: '2025-03-03T00:00:00Z', end: '2025-03-01T00:00:00Z' } },
      });

    await expect(renewalInfoOf(client, certificatePem)).rejects.toThrow(AcmeProtocolError);
    const invalid = renewalInfoOf(client, certificatePem);
    await expect(invalid).rejects.toThrow(AcmeProtocolError);
    await expect(invalid).rejects.toThrow(`${RENEWAL_INFO_URL}: The renewalInfo suggestedWindow ends`);
  });

  it('refuses a certificate without an Authority Key Identifier before any request', async () => {
    const { client, transport } = await setup();

    await expect(async () => renewalInfoOf(client, certificateWithoutAkiPem)).rejects.toThrow(
      InvalidInputError,
    );
    expect(transport.requests).toHaveLength(0);
  });

  it('asks by a CertID kept from earlier, refusing one of the wrong shape before any request', async () => {
    const { client, transport } = await setup();
    transport.expect('GET', RENEWAL_INFO_URL, { headers: ARI_HEADERS, body: WINDOW_BODY });

    const info = await client.getRenewalInfoById(CERT_ID);
    const wrongShape = client.getRenewalInfoById('87654321');

    expect(info).toEqual({ window: WINDOW });
    await expect(wrongShape).rejects.toThrow(InvalidInputError);
    expect(transport.requests).toHaveLength(1);
  });

  it('refuses a directory whose renewalInfo is not a URL', async () => {
    const { client, transport } = await setup('fetch');
    transport.expect('GET', DIRECTORY_URL, { body: { ...RFC8555_DIRECTORY, renewalInfo: 7 } });

    await expect(renewalInfoOf(client, certificatePem)).rejects.toThrow(/renewalInfo is not a URL/);
  });
});

describe('AcmeClient.newOrder with replaces and profile', () => {
  const created = {
    status: 201,
    headers: { 'content-type': 'application/json', location: ORDER_URL },
    body: ORDER,
  };

  it('sends only the identifiers when neither is given', async () => {
    const { client, transport, jwk } = await setup();
    transport.expect('POST', DIRECTORY.newOrder, created);

    await client.newOrder(['example.org']);

    expect(await payloadOf(transport.requests[0], jwk)).toEqual({
      identifiers: [{ type: 'dns', value: 'example.org' }],
    });
  });

  it('adds replaces and profile to the payload when given', async () => {
    const { client, transport, jwk } = await setup();
    transport.expect('POST', DIRECTORY.newOrder, created);

    const result = await client.newOrder(['example.org'], { replaces: CERT_ID, profile: 'shortlived' });

    expect(result.location).toBe(ORDER_URL);
    expect(await payloadOf(transport.requests[0], jwk)).toEqual({
      identifiers: [{ type: 'dns', value: 'example.org' }],
      replaces: CERT_ID,
      profile: 'shortlived',
    });
  });

  it('adds each field on its own', async () => {
    const { client, transport, jwk } = await setup();
    transport.expect('POST', DIRECTORY.newOrder, created).expect('POST', DIRECTORY.newOrder, created);

    await client.newOrder(['example.org'], { profile: 'classic' });
    await client.newOrder(['example.org'], { replaces: CERT_ID });

    expect(await payloadOf(transport.requests[0], jwk)).not.toHaveProperty('replaces');
    expect(await payloadOf(transport.requests[0], jwk)).toHaveProperty('profile', 'classic');
    expect(await payloadOf(transport.requests[1], jwk)).not.toHaveProperty('profile');
    expect(await payloadOf(transport.requests[1], jwk)).toHaveProperty('replaces', CERT_ID);
  });

  it('refuses a replaces that is not a CertID, or an empty profile, before any request', async () => {
    const { client, transport } = await setup();
    const serialInHex = '87654321';
    const padded = `${base64url.encode(new Uint8Array([1, 2]))}=.AIdlQyE`;

    await expect(client.newOrder(['example.org'], { replaces: serialInHex })).rejects.toThrow(
      InvalidInputError,
    );
    await expect(client.newOrder(['example.org'], { replaces: padded })).rejects.toThrow(InvalidInputError);
    await expect(client.newOrder(['example.org'], { profile: ' ' })).rejects.toThrow(InvalidInputError);
    expect(transport.requests).toHaveLength(0);
  });
});
