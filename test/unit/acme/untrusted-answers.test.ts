import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_NONCE_LENGTH,
  MAX_PROBLEM_DETAIL_LENGTH,
  MAX_SUBPROBLEM_DETAIL_LENGTH,
  MAX_SUBPROBLEMS,
  MAX_URL_LENGTH,
  truncateText,
} from '../../../lambdas/core/acme/bounds.js';
import { AcmeClient } from '../../../lambdas/core/acme/client.js';
import type { AcmeDirectory } from '../../../lambdas/core/acme/types.js';
import {
  AcmeProblemError,
  AcmeProtocolError,
  CrossOriginUrlError,
  UrlTooLongError,
} from '../../../lambdas/core/errors.js';
import {
  ACCOUNT_URL,
  DIRECTORY as ACME_DIRECTORY,
  acmeOrder,
  CA,
  DIRECTORY_URL,
  JSON_HEADERS,
  ORDER_URL,
  PEM_HEADERS,
  pendingAuthorization,
} from '../../support/acme-fixtures.js';
import { problemReply, ScriptedTransport } from '../../support/scripted-transport.js';
import { createTestSigner } from '../../support/test-signer.js';

/**
 * The CA is not trusted: what it says is bounded before it reaches the state, the registry, events
 * or logs, and the URLs it hands out are followed only to the CA's own origin.
 */

const ELSEWHERE = 'https://elsewhere.example';
const DIRECTORY: AcmeDirectory = {
  ...ACME_DIRECTORY,
  keyChange: `${CA}/key-change`,
  renewalInfo: `${CA}/renewal-info`,
};
const ORDER = acmeOrder();
const AUTHORIZATION = pendingAuthorization();
/** The 900 KB problem detail that once broke Cleanup four times. */
const HUGE = 'x'.repeat(900 * 1024);

async function setup(options: { directory?: AcmeDirectory; directoryUrl?: string } = {}) {
  const transport = new ScriptedTransport();
  const client = new AcmeClient({
    directoryUrl: options.directoryUrl ?? DIRECTORY_URL,
    transport,
    signer: await createTestSigner(),
    directory: options.directory ?? DIRECTORY,
    accountUrl: ACCOUNT_URL,
    nonce: 'carried',
  });
  return { client, transport };
}

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(outcome instanceof Error)) throw new Error('expected a failure');
  return outcome;
}

describe('text from the CA is bounded', () => {
  it('shortens a 900 KB problem detail, keeping its start and saying it was cut', async () => {
    const { client, transport } = await setup();
    transport.expect(
      'POST',
      ORDER_URL,
      problemReply('malformed', { detail: `The order is bad because ${HUGE}` }),
    );

    const error = await failureOf(client.getOrder(ORDER_URL));

    expect(error).toBeInstanceOf(AcmeProblemError);
    const problem = error as AcmeProblemError;
    expect(problem.name).toBe('MalformedError');
    expect(problem.detail?.length).toBeLessThanOrEqual(MAX_PROBLEM_DETAIL_LENGTH);
    expect(problem.detail).toMatch(/^The order is bad because x+… \[921625 characters, truncated\]$/);
    expect(problem.message.length).toBeLessThan(MAX_PROBLEM_DETAIL_LENGTH + 200);
  });

  it('keeps at most the subproblem budget of 10,000 huge subproblems, and counts the rest', async () => {
    const { client, transport } = await setup();
    const subproblems = Array.from({ length: 10_000 }, (_, index) => ({
      type: 'urn:ietf:params:acme:error:dns',
      detail: `${index}: ${HUGE.slice(0, 5000)}`,
      identifier: { type: 'dns', value: `n${index}.example.org` },
    }));
    transport.expect('POST', ORDER_URL, problemReply('rejectedIdentifier', { detail: 'no', subproblems }));

    const error = (await failureOf(client.getOrder(ORDER_URL))) as AcmeProblemError;

    expect(error.subproblems.length).toBeGreaterThan(0);
    expect(error.subproblems.length).toBeLessThanOrEqual(MAX_SUBPROBLEMS);
    for (const subproblem of error.subproblems) {
      expect(subproblem.detail?.length).toBeLessThanOrEqual(MAX_SUBPROBLEM_DETAIL_LENGTH);
    }
    expect(error.detail).toBe(`no (${10_000 - error.subproblems.length} more subproblems not shown)`);
    expect(error.message.length).toBeLessThan(20 * 1024);
  });

  it('keeps the message of any problem document, however large, under 20 KiB', async () => {
    const big = fc.oneof(fc.string({ maxLength: 20 }), fc.constant(HUGE.slice(0, 70_000)));
    const subproblem = fc.record({
      type: big,
      detail: big,
      identifier: fc.record({ type: big, value: big }),
    });
    await fc.assert(
      fc.asyncProperty(
        big,
        big,
        fc.array(subproblem, { maxLength: 150 }),
        async (type, detail, subproblems) => {
          const { client, transport } = await setup();
          transport.expect('POST', ORDER_URL, {
            status: 400,
            headers: { 'content-type': 'application/problem+json' },
            body: JSON.stringify({ type, detail, subproblems }),
          });

          const error = await failureOf(client.getOrder(ORDER_URL));

          expect(error.message.length).toBeLessThan(20 * 1024);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("shortens an order's own error and a challenge's error", async () => {
    const { client, transport } = await setup();
    transport
      .expect('POST', ORDER_URL, {
        headers: JSON_HEADERS,
        body: {
          ...ORDER,
          status: 'invalid',
          error: { type: 'urn:ietf:params:acme:error:caa', detail: HUGE },
        },
      })
      .expect('POST', `${CA}/authz/1`, {
        headers: JSON_HEADERS,
        body: {
          ...AUTHORIZATION,
          status: 'invalid',
          challenges: [
            { ...AUTHORIZATION.challenges[0], status: 'invalid', error: { type: 'urn:x', detail: HUGE } },
          ],
        },
      });

    const order = await client.getOrder(ORDER_URL);
    const authorization = await client.getAuthorization(`${CA}/authz/1`);

    expect(order.body.error?.detail?.length).toBeLessThanOrEqual(MAX_PROBLEM_DETAIL_LENGTH);
    expect(authorization.body.challenges[0]?.error?.detail?.length).toBeLessThanOrEqual(
      MAX_SUBPROBLEM_DETAIL_LENGTH,
    );
  });

  it('refuses a status that is not a short word, quoting it shortened', async () => {
    const { client, transport } = await setup();
    transport.expect('POST', ORDER_URL, { headers: JSON_HEADERS, body: { ...ORDER, status: HUGE } });

    const error = await failureOf(client.getOrder(ORDER_URL));

    expect(error).toBeInstanceOf(AcmeProtocolError);
    expect(error.message).toMatch(/answered with the status "x+… \[921600 characters, truncated\]"/);
    expect(error.message.length).toBeLessThan(400);
  });

  it("drops an order's expires that is not a timestamp, rather than recording it", async () => {
    const { client, transport } = await setup();
    transport.expect('POST', ORDER_URL, { headers: JSON_HEADERS, body: { ...ORDER, expires: HUGE } });

    const { body } = await client.getOrder(ORDER_URL);

    expect(body.expires).toBeUndefined();
  });

  it('ignores a Replay-Nonce longer than the bound and asks newNonce for the next request', async () => {
    const { client, transport } = await setup();
    transport
      .expect('POST', ORDER_URL, {
        headers: { ...JSON_HEADERS, 'replay-nonce': 'n'.repeat(MAX_NONCE_LENGTH + 1) },
        body: ORDER,
      })
      .expect('HEAD', DIRECTORY.newNonce, { headers: { 'replay-nonce': 'fresh' } })
      .expect('POST', ORDER_URL, { headers: JSON_HEADERS, body: ORDER });

    await client.getOrder(ORDER_URL);
    const carried = client.nonce;
    await client.getOrder(ORDER_URL);

    expect(carried).toBeUndefined();
    expect(transport.pending).toBe(0);
  });

  it('quotes a huge content type shortened in a protocol error', async () => {
    const { client, transport } = await setup();
    transport.expect('POST', ORDER_URL, { status: 404, headers: { 'content-type': HUGE }, body: '' });

    const error = await failureOf(client.getOrder(ORDER_URL));

    expect(error).toBeInstanceOf(AcmeProtocolError);
    expect(error.message.length).toBeLessThan(400);
  });

  it('shortens text without splitting a surrogate pair', () => {
    const text = `${'a'.repeat(10)}${'😀'.repeat(100)}`;

    const cut = truncateText(text, 60);

    expect(cut.length).toBeLessThanOrEqual(60);
    expect(cut).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });
});

describe('URLs longer than the bound are refused, never cut', () => {
  const longUrl = `${CA}/order/${'9'.repeat(MAX_URL_LENGTH)}`;

  it('refuses an order Location over the bound, naming its length', async () => {
    const { client, transport } = await setup();
    transport.expect('POST', DIRECTORY.newOrder, {
      status: 201,
      headers: { ...JSON_HEADERS, location: longUrl },
      body: ORDER,
    });

    const error = await failureOf(client.newOrder(['example.org']));

    expect(error).toBeInstanceOf(UrlTooLongError);
    expect(error.message).toContain(`a URL of ${longUrl.length} characters as the order URL (Location)`);
    expect(error.message.length).toBeLessThan(MAX_URL_LENGTH + 300);
  });

  it('refuses a finalize URL over the bound before any request goes to it', async () => {
    const { client, transport } = await setup();
    transport.expect('POST', ORDER_URL, { headers: JSON_HEADERS, body: { ...ORDER, finalize: longUrl } });

    await expect(client.getOrder(ORDER_URL)).rejects.toBeInstanceOf(UrlTooLongError);
    await expect(client.finalize(longUrl, new Uint8Array([0x30]))).rejects.toBeInstanceOf(UrlTooLongError);
    expect(transport.requests).toHaveLength(1);
  });
});

describe('URLs the CA hands out must be on its own origin', () => {
  it.each([
    ['finalize', { ...ORDER, finalize: `${ELSEWHERE}/finalize/1` }],
    ['an authorization', { ...ORDER, authorizations: [`${ELSEWHERE}/authz/1`] }],
    ['the certificate', { ...ORDER, status: 'valid', certificate: `${ELSEWHERE}/cert/1` }],
    ['another port', { ...ORDER, finalize: 'https://ca.example:8443/finalize/1' }],
    ['another scheme', { ...ORDER, finalize: 'http://ca.example/finalize/1' }],
  ])('refuses an order whose %s URL is elsewhere, naming it', async (_label, order) => {
    const { client, transport } = await setup();
    transport.expect('POST', ORDER_URL, { headers: JSON_HEADERS, body: order });

    const error = await failureOf(client.getOrder(ORDER_URL));

    expect(error).toBeInstanceOf(CrossOriginUrlError);
    expect(error.message).toMatch(/not on its origin \(https:\/\/ca\.example\); nothing was sent there/);
    expect((error as CrossOriginUrlError).allowedOrigins).toEqual([CA]);
    expect(transport.requests).toHaveLength(1);
  });

  it('accepts a URL that spells the default port out', async () => {
    const { client, transport } = await setup();
    transport.expect('POST', ORDER_URL, {
      headers: JSON_HEADERS,
      body: { ...ORDER, finalize: 'https://CA.example:443/order/1/finalize' },
    });

    const { body } = await client.getOrder(ORDER_URL);

    expect(body.finalize).toBe('https://CA.example:443/order/1/finalize');
  });

  it('refuses an order Location elsewhere', async () => {
    const { client, transport } = await setup();
    transport.expect('POST', DIRECTORY.newOrder, {
      status: 201,
      headers: { ...JSON_HEADERS, location: `${ELSEWHERE}/order/1` },
      body: ORDER,
    });

    const error = await failureOf(client.newOrder(['example.org']));

    expect(error).toBeInstanceOf(CrossOriginUrlError);
    expect(error.message).toContain(`The CA gave ${ELSEWHERE}/order/1 as the order URL (Location)`);
  });

  it('refuses an account Location elsewhere, and keeps no account URL', async () => {
    const transport = new ScriptedTransport().expect('POST', DIRECTORY.newAccount, {
      status: 201,
      headers: { ...JSON_HEADERS, location: `${ELSEWHERE}/acct/1` },
      body: { status: 'valid' },
    });
    const client = new AcmeClient({
      directoryUrl: DIRECTORY_URL,
      transport,
      signer: await createTestSigner(),
      directory: DIRECTORY,
      nonce: 'carried',
    });

    await expect(client.createAccount({ termsOfServiceAgreed: true })).rejects.toBeInstanceOf(
      CrossOriginUrlError,
    );
    expect(client.accountUrl).toBeUndefined();
  });

  it('refuses an account whose orders URL is elsewhere', async () => {
    const { client, transport } = await setup();
    transport.expect('POST', ACCOUNT_URL, {
      headers: JSON_HEADERS,
      body: { status: 'valid', orders: `${ELSEWHERE}/orders` },
    });

    await expect(client.getAccount()).rejects.toBeInstanceOf(CrossOriginUrlError);
  });

  it('refuses an authorization whose challenge URL is elsewhere', async () => {
    const { client, transport } = await setup();
    transport.expect('POST', `${CA}/authz/1`, {
      headers: JSON_HEADERS,
      body: {
        ...AUTHORIZATION,
        challenges: [{ ...AUTHORIZATION.challenges[0], url: `${ELSEWHERE}/chall/1` }],
      },
    });

    await expect(client.getAuthorization(`${CA}/authz/1`)).rejects.toBeInstanceOf(CrossOriginUrlError);
  });

  it('lists an alternate chain elsewhere, but refuses to download it, sending nothing', async () => {
    const { client, transport } = await setup();
    transport.expect('POST', `${CA}/cert/1`, {
      headers: { ...PEM_HEADERS, link: `<${ELSEWHERE}/cert/1/1>;rel="alternate"` },
      body: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
    });

    const { alternates } = await client.downloadCertificate(`${CA}/cert/1`);
    const error = await failureOf(client.downloadCertificate(alternates[0] ?? ''));

    expect(alternates).toEqual([`${ELSEWHERE}/cert/1/1`]);
    expect(error).toBeInstanceOf(CrossOriginUrlError);
    expect(error.message).toContain(`${ELSEWHERE}/cert/1/1`);
    expect(transport.requests).toHaveLength(1);
  });

  it('follows at most ten alternate chains', async () => {
    const { client, transport } = await setup();
    const links = Array.from({ length: 50 }, (_, index) => `<${CA}/cert/1/${index}>;rel="alternate"`);
    transport.expect('POST', `${CA}/cert/1`, {
      headers: { ...PEM_HEADERS, link: links.join(', ') },
      body: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
    });

    const { alternates } = await client.downloadCertificate(`${CA}/cert/1`);

    expect(alternates).toHaveLength(10);
  });

  it.each([
    ['keyChange', async (client: AcmeClient) => client.changeKey(await createTestSigner())],
    ['revokeCert', (client: AcmeClient) => client.revokeCertificate(new Uint8Array([0x30]), 0)],
    ['renewalInfo', (client: AcmeClient) => client.getRenewalInfoById('aaaa.bbbb')],
  ] as const)('sends nothing to a directory %s elsewhere', async (endpoint, call) => {
    const { client, transport } = await setup({
      directory: { ...DIRECTORY, [endpoint]: `${ELSEWHERE}/${endpoint}` },
    });

    const error = await failureOf(call(client));

    expect(error).toBeInstanceOf(CrossOriginUrlError);
    expect(transport.requests).toHaveLength(0);
  });

  it('refuses to send a request to a URL elsewhere, whoever passed it', async () => {
    const { client, transport } = await setup();

    await expect(client.getOrder(`${ELSEWHERE}/order/1`)).rejects.toBeInstanceOf(CrossOriginUrlError);
    expect(transport.requests).toHaveLength(0);
  });

  it("accepts the CA's origin as its directory names it, when the directory is served apart", async () => {
    const upstream = 'https://acme.ca.example:14000';
    const directory: AcmeDirectory = {
      newNonce: `${upstream}/nonce-plz`,
      newAccount: `${upstream}/sign-me-up`,
      newOrder: `${upstream}/order-plz`,
      renewalInfo: `${CA}/renewal-info`,
    };
    const { client, transport } = await setup({ directory });
    transport.expect('POST', `${upstream}/my-order/1`, {
      headers: JSON_HEADERS,
      body: { ...ORDER, finalize: `${upstream}/finalize-order/1`, authorizations: [`${upstream}/authZ/1`] },
    });

    const { body } = await client.getOrder(`${upstream}/my-order/1`);

    expect(body.finalize).toBe(`${upstream}/finalize-order/1`);
    expect(client.caOrigins()).toEqual([CA, upstream]);
  });

  it('learns the directory first when a URL is not on the directory origin and no directory is at hand', async () => {
    const upstream = 'https://acme.ca.example:14000';
    const transport = new ScriptedTransport()
      .expect('GET', DIRECTORY_URL, {
        body: {
          newNonce: `${upstream}/nonce`,
          newAccount: `${upstream}/acct`,
          newOrder: `${upstream}/order`,
        },
      })
      .expect('POST', `${upstream}/order/1`, {
        headers: JSON_HEADERS,
        body: { ...ORDER, finalize: `${upstream}/f/1`, authorizations: [] },
      });
    const client = new AcmeClient({
      directoryUrl: DIRECTORY_URL,
      transport,
      signer: await createTestSigner(),
      accountUrl: `${upstream}/acct/1`,
      nonce: 'carried',
    });

    await client.getOrder(`${upstream}/order/1`);

    expect(transport.pending).toBe(0);
  });
});
