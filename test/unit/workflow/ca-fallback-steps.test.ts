import { base64url, type FlattenedJWS } from 'jose';
import { describe, expect, it } from 'vitest';
import { jwkThumbprint } from '../../../lambdas/core/acme/key-authorization.js';
import type { AcmeDirectory } from '../../../lambdas/core/acme/types.js';
import {
  AcmeConnectionError,
  CaUnavailableError,
  ExternalAccountRequiredError,
  InvalidInputError,
  RateLimitedError,
} from '../../../lambdas/core/errors.js';
import type { CertificateRecord, HttpRequest } from '../../../lambdas/core/ports.js';
import type { IssuanceState } from '../../../lambdas/core/state.js';
import { createOrder } from '../../../lambdas/core/workflow/create-order.js';
import { registerAccount } from '../../../lambdas/core/workflow/register-account.js';
import { FakeDnsResolver } from '../../fakes/dns-resolver-fake.js';
import {
  ACCOUNT_URL,
  DIRECTORY,
  DIRECTORY_URL,
  JSON_HEADERS,
  ORDER_URL,
} from '../../support/acme-fixtures.js';
import { problemReply, type ScriptedReply, ScriptedTransport } from '../../support/scripted-transport.js';
import { createTestSigner } from '../../support/test-signer.js';
import { TEST_WORKFLOW_CONFIG } from '../../support/workflow-config.js';
import { issuanceState, SILENT_LOG } from '../../support/workflow-fixtures.js';
import { MemoryDnsZones } from '../fakes/memory-dns-zones.js';
import { MemoryRegistry } from '../fakes/memory-registry.js';

/**
 * CA fallback in the two steps that talk to the CA before an order exists: RegisterAccount walks
 * the list from the input's `caIndex`, leaving a CA only when it cannot be reached; CreateOrder
 * keeps orders and `replaces` to the CA they belong to, and turns a rate limit that outlasts the
 * renewal window into `CaUnavailableError`, which the state machine answers with the next CA.
 */

const NOW = new Date('2030-03-01T12:00:00.000Z');
const DAY_MS = 24 * 60 * 60 * 1000;
/** The scripted CA of the fixtures is the first of the list; this one is the second. */
const SECOND_CA = 'https://second-ca.example';
const SECOND_URL = `${SECOND_CA}/directory`;
const SECOND_DIRECTORY: AcmeDirectory = {
  newNonce: `${SECOND_CA}/new-nonce`,
  newAccount: `${SECOND_CA}/new-account`,
  newOrder: `${SECOND_CA}/new-order`,
  revokeCert: `${SECOND_CA}/revoke-cert`,
};
const SECOND_ACCOUNT_URL = `${SECOND_CA}/acct/7`;
const SECOND_ORDER_URL = `${SECOND_CA}/order/5`;
const SECOND_AUTHORIZATION_URL = `${SECOND_CA}/authz/5`;
const BOTH_CAS = [{ directoryUrl: DIRECTORY_URL }, { directoryUrl: SECOND_URL }];
const EXECUTION = { id: 'exec-1' };
const ISSUE = { certificateId: 'web', domains: ['example.org'], execution: EXECUTION };
const CONFIG = { domains: ['example.org'], keyType: 'EC_P256', regions: ['eu-west-1'] };
const FINGERPRINT = 'EC_P256:example.org';
// Key identifier 69885b…c8d4 and serial 0x87654321, as RFC 9773 spells a CertID.
const CERT_ID = 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE';

function daysFromNow(days: number): string {
  return new Date(NOW.getTime() + days * DAY_MS).toISOString();
}

/** Each request as `METHOD url`, in order. */
function sent(transport: ScriptedTransport): string[] {
  return transport.requests.map((request) => `${request.method} ${request.url}`);
}

/** The JSON payload of the JWS a POST carried. */
function payloadOf(request: HttpRequest | undefined): Record<string, unknown> {
  const jws = JSON.parse(request?.body ?? '') as FlattenedJWS;
  return JSON.parse(new TextDecoder().decode(base64url.decode(jws.payload))) as Record<string, unknown>;
}

/** The certificate an earlier run issued (and imported) at `directoryUrl`, expiring in `days`. */
function issuedAt(directoryUrl: string | undefined, days = 60): NonNullable<CertificateRecord['issued']> {
  return {
    storeKey: 'web/01',
    serial: '01',
    notAfter: daysFromNow(days),
    fingerprint: FINGERPRINT,
    ariCertId: CERT_ID,
    importedArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/0000aaaa-00aa-00aa-00aa-000000000000',
    ...(directoryUrl ? { directoryUrl } : {}),
  };
}

describe('RegisterAccount with a list of CAs', () => {
  async function setup(
    options: {
      record?: Omit<CertificateRecord, 'certificateId'>;
      /** The CA at which our key's account is recorded. */
      accountAt?: string;
    } = {},
  ) {
    const signer = await createTestSigner();
    const thumbprint = await jwkThumbprint(await signer.publicJwk());
    const registry = new MemoryRegistry(options.record ? [{ certificateId: 'web', ...options.record }] : []);
    if (options.accountAt) {
      registry.accounts.set(thumbprint, {
        directoryUrl: options.accountAt,
        accountUrl: options.accountAt === SECOND_URL ? SECOND_ACCOUNT_URL : ACCOUNT_URL,
      });
    }
    const transport = new ScriptedTransport();
    const deps = {
      transport,
      signer,
      registry,
      clock: { now: () => NOW },
      config: { ...TEST_WORKFLOW_CONFIG, certificateAuthorities: BOTH_CAS },
      log: SILENT_LOG,
    };
    return { deps, registry, transport, thumbprint };
  }

  /** The second CA's side of a first registration there. */
  function scriptNewAccountAtSecond(transport: ScriptedTransport): void {
    transport
      .expect('GET', SECOND_URL, { body: SECOND_DIRECTORY })
      .expect('HEAD', SECOND_DIRECTORY.newNonce, { status: 200 })
      .expect('POST', SECOND_DIRECTORY.newAccount, {
        status: 201,
        headers: { location: SECOND_ACCOUNT_URL },
        body: { status: 'valid' },
      });
  }

  it('points the state at the next CA when the first answers', async () => {
    const { deps, transport } = await setup({ accountAt: DIRECTORY_URL });
    transport.expect('GET', DIRECTORY_URL, { body: DIRECTORY });

    const state = await registerAccount(ISSUE, deps);

    expect(state).toMatchObject({ directoryUrl: DIRECTORY_URL, accountUrl: ACCOUNT_URL });
    expect(state.caFallback).toEqual({ index: 0, count: 2, next: { caIndex: 1, execution: EXECUTION } });
    expect(sent(transport)).toEqual([`GET ${DIRECTORY_URL}`]);
  });

  it.each<[string, ScriptedReply | Error]>([
    ['cannot be connected to', new AcmeConnectionError(`GET ${DIRECTORY_URL} failed: connect ECONNREFUSED`)],
    ['answers 503', { status: 503, headers: { 'content-type': 'text/html' }, body: '<h1>down</h1>' }],
  ])('moves on to the second CA when the first %s, and registers there only', async (_, failure) => {
    const { deps, registry, transport, thumbprint } = await setup();
    transport.expect('GET', DIRECTORY_URL, failure);
    scriptNewAccountAtSecond(transport);

    const state = await registerAccount(ISSUE, deps);

    expect(state).toMatchObject({
      directoryUrl: SECOND_URL,
      directory: SECOND_DIRECTORY,
      accountUrl: SECOND_ACCOUNT_URL,
    });
    expect(state.caFallback).toEqual({ index: 1, count: 2 });
    expect(transport.pending).toBe(0);
    expect([...registry.accounts]).toEqual([
      [thumbprint, { directoryUrl: SECOND_URL, accountUrl: SECOND_ACCOUNT_URL }],
    ]);
    expect([...registry.directories.keys()]).toEqual([SECOND_URL]);
  });

  it('fails with the last CA’s error when no CA of the list can be reached', async () => {
    const { deps, registry, transport } = await setup();
    transport
      .expect('GET', DIRECTORY_URL, new AcmeConnectionError('first: timed out'))
      .expect('GET', SECOND_URL, new AcmeConnectionError('second: connect ECONNREFUSED'));

    const failure = registerAccount(ISSUE, deps);

    await expect(failure).rejects.toThrow('second: connect ECONNREFUSED');
    expect(transport.pending).toBe(0);
    expect(registry.accounts.size).toBe(0);
  });

  it('starts at the CA the input’s caIndex names, sending the first nothing', async () => {
    const { deps, transport } = await setup({ record: { config: CONFIG }, accountAt: SECOND_URL });
    transport.expect('GET', SECOND_URL, { body: SECOND_DIRECTORY });

    const state = await registerAccount(
      { action: 'renew', certificateId: 'web', force: true, caIndex: 1, execution: EXECUTION },
      deps,
    );

    expect(sent(transport)).toEqual([`GET ${SECOND_URL}`]);
    expect(state).toMatchObject({ directoryUrl: SECOND_URL, accountUrl: SECOND_ACCOUNT_URL });
    expect(state.caFallback).toEqual({ index: 1, count: 2 });
  });

  it('uses the last CA when caIndex is past the end of a list that was shortened meanwhile', async () => {
    const { deps, transport } = await setup({
      record: { config: { ...CONFIG, certificateAuthorities: [{ directoryUrl: SECOND_URL }] } },
      accountAt: SECOND_URL,
    });
    transport.expect('GET', SECOND_URL, { body: SECOND_DIRECTORY });

    const state = await registerAccount(
      { action: 'renew', certificateId: 'web', force: true, caIndex: 1, execution: EXECUTION },
      deps,
    );

    expect(state.directoryUrl).toBe(SECOND_URL);
    expect(state.caFallback).toBeUndefined();
  });

  it('revokes at the CA that issued the certificate, not at the first of the list', async () => {
    const { deps, transport } = await setup({
      record: { config: CONFIG, issued: issuedAt(SECOND_URL) },
      accountAt: SECOND_URL,
    });
    transport.expect('GET', SECOND_URL, { body: SECOND_DIRECTORY });

    const state = await registerAccount(
      { action: 'revoke', certificateId: 'web', reason: 'superseded', execution: EXECUTION },
      deps,
    );

    expect(sent(transport)).toEqual([`GET ${SECOND_URL}`]);
    expect(state).toMatchObject({
      action: 'revoke',
      directoryUrl: SECOND_URL,
      accountUrl: SECOND_ACCOUNT_URL,
      certificate: { serial: '01' },
    });
    expect(state.caFallback).toBeUndefined();
  });

  it('does not revoke at another CA when the issuing one cannot be reached', async () => {
    const { deps, transport } = await setup({
      record: { config: CONFIG, issued: issuedAt(SECOND_URL) },
      accountAt: SECOND_URL,
    });
    transport.expect('GET', SECOND_URL, new AcmeConnectionError('second: timed out'));

    const failure = registerAccount({ action: 'revoke', certificateId: 'web', execution: EXECUTION }, deps);

    await expect(failure).rejects.toBeInstanceOf(AcmeConnectionError);
    expect(sent(transport)).toEqual([`GET ${SECOND_URL}`]);
  });

  it('stays at the first CA when it requires a binding this deployment lacks', async () => {
    const { deps, transport } = await setup();
    const requiresBinding = { ...DIRECTORY, meta: { externalAccountRequired: true } };
    transport
      .expect('GET', DIRECTORY_URL, { body: requiresBinding })
      .expect('HEAD', DIRECTORY.newNonce, { status: 200 })
      .expect('POST', DIRECTORY.newAccount, problemReply('accountDoesNotExist'));

    const failure = registerAccount(ISSUE, deps);

    await expect(failure).rejects.toBeInstanceOf(ExternalAccountRequiredError);
    expect(transport.pending).toBe(0);
    expect(sent(transport).filter((request) => request.includes(SECOND_CA))).toEqual([]);
  });

  it('stays at the first CA when it does not offer the profile an issue asks for, recording nothing', async () => {
    const { deps, registry, transport } = await setup();
    transport.expect('GET', DIRECTORY_URL, { body: DIRECTORY });

    const failure = registerAccount({ ...ISSUE, profile: 'shortlived' }, deps);

    await expect(failure).rejects.toThrow(InvalidInputError);
    await expect(failure).rejects.toThrow('does not offer the profile "shortlived"');
    expect(sent(transport)).toEqual([`GET ${DIRECTORY_URL}`]);
    expect(registry.updates).toEqual([]);
  });

  it('checks the profile the CA entry asks for, not the certificate’s, before recording an issue', async () => {
    const { deps, transport } = await setup({ accountAt: DIRECTORY_URL });
    const offersShortlived = {
      ...DIRECTORY,
      meta: { profiles: { shortlived: 'https://ca.example/docs/shortlived' } },
    };
    transport.expect('GET', DIRECTORY_URL, { body: offersShortlived });
    const perCa = [{ directoryUrl: DIRECTORY_URL, profile: 'shortlived' }];

    const state = await registerAccount(
      { ...ISSUE, profile: 'classic', certificateAuthorities: perCa },
      deps,
    );

    expect(state).toMatchObject({ directoryUrl: DIRECTORY_URL, profile: 'shortlived' });
  });

  it('never sends the deployment’s one binding to a CA other than its default', async () => {
    const { deps, transport } = await setup();
    let bindingRead = false;
    const withBinding = {
      ...deps,
      config: { ...TEST_WORKFLOW_CONFIG },
      externalAccountBinding: {
        async read() {
          bindingRead = true;
          return { kid: 'default-ca-kid', hmacKey: new Uint8Array(32) };
        },
      },
    };
    scriptNewAccountAtSecond(transport);

    const state = await registerAccount(
      { ...ISSUE, certificateAuthorities: [{ directoryUrl: SECOND_URL }] },
      withBinding,
    );

    expect(state.accountUrl).toBe(SECOND_ACCOUNT_URL);
    expect(bindingRead).toBe(false);
    expect(payloadOf(transport.requests.at(-1))).not.toHaveProperty('externalAccountBinding');
  });

  it('stays at the first CA when it answers newAccount with a rate limit', async () => {
    const { deps, transport } = await setup();
    transport
      .expect('GET', DIRECTORY_URL, { body: DIRECTORY })
      .expect('HEAD', DIRECTORY.newNonce, { status: 200 })
      .expect('POST', DIRECTORY.newAccount, problemReply('rateLimited', { status: 429 }));

    const failure = registerAccount(ISSUE, deps);

    await expect(failure).rejects.toBeInstanceOf(RateLimitedError);
    expect(transport.pending).toBe(0);
  });
});

describe('CreateOrder with a list of CAs', () => {
  /** The run at the second CA, after RegisterAccount moved there. */
  const AT_SECOND = issuanceState({
    directoryUrl: SECOND_URL,
    directory: SECOND_DIRECTORY,
    accountUrl: SECOND_ACCOUNT_URL,
    caFallback: { index: 1, count: 2 },
  });
  /** The run at the first CA, with the second to fall back on. */
  const AT_FIRST = issuanceState({
    caFallback: { index: 0, count: 2, next: { caIndex: 1, execution: EXECUTION } },
  });

  async function setup(record?: Omit<CertificateRecord, 'certificateId'>) {
    const transport = new ScriptedTransport();
    const registry = new MemoryRegistry(record ? [{ certificateId: 'web', ...record }] : []);
    const deps = {
      transport,
      signer: await createTestSigner(),
      dns: new MemoryDnsZones([{ id: 'ZORG', name: 'example.org.', privateZone: false }]),
      resolver: new FakeDnsResolver(),
      registry,
      clock: { now: () => NOW },
      config: TEST_WORKFLOW_CONFIG,
      log: SILENT_LOG,
    };
    return { deps, registry, transport };
  }

  const SECOND_ORDER = {
    status: 'pending',
    identifiers: [{ type: 'dns', value: 'example.org' }],
    authorizations: [SECOND_AUTHORIZATION_URL],
    finalize: `${SECOND_ORDER_URL}/finalize`,
  };
  const SECOND_AUTHORIZATION = {
    headers: JSON_HEADERS,
    body: {
      identifier: { type: 'dns', value: 'example.org' },
      status: 'pending',
      challenges: [{ type: 'dns-01', url: `${SECOND_CA}/chall/5`, status: 'pending', token: 'tok' }],
    },
  };

  /** The second CA's side of a new order and its one authorization. */
  function scriptNewOrderAtSecond(transport: ScriptedTransport, directory = SECOND_DIRECTORY): void {
    transport
      .expect('POST', directory.newOrder, {
        status: 201,
        headers: { ...JSON_HEADERS, location: SECOND_ORDER_URL },
        body: SECOND_ORDER,
      })
      .expect('POST', SECOND_AUTHORIZATION_URL, SECOND_AUTHORIZATION);
  }

  it('places a new order instead of resuming one an earlier attempt placed at another CA', async () => {
    const { deps, registry, transport } = await setup({
      pendingOrder: { url: ORDER_URL, fingerprint: FINGERPRINT, directoryUrl: DIRECTORY_URL },
    });
    scriptNewOrderAtSecond(transport);

    const state = await createOrder(AT_SECOND, deps);

    expect(sent(transport)).toEqual([
      `POST ${SECOND_DIRECTORY.newOrder}`,
      `POST ${SECOND_AUTHORIZATION_URL}`,
    ]);
    expect(state.order?.url).toBe(SECOND_ORDER_URL);
    expect(registry.records.get('web')?.pendingOrder).toEqual({
      url: SECOND_ORDER_URL,
      fingerprint: FINGERPRINT,
      directoryUrl: SECOND_URL,
    });
  });

  it('resumes an order placed at the same CA', async () => {
    const { deps, transport } = await setup({
      pendingOrder: { url: SECOND_ORDER_URL, fingerprint: FINGERPRINT, directoryUrl: SECOND_URL },
    });
    transport
      .expect('POST', SECOND_ORDER_URL, { headers: JSON_HEADERS, body: SECOND_ORDER })
      .expect('POST', SECOND_AUTHORIZATION_URL, SECOND_AUTHORIZATION);

    const state = await createOrder(AT_SECOND, deps);

    expect(sent(transport)).not.toContain(`POST ${SECOND_DIRECTORY.newOrder}`);
    expect(state.order?.url).toBe(SECOND_ORDER_URL);
  });

  describe('replaces (RFC 9773 §5)', () => {
    const WITH_RENEWAL_INFO = { ...SECOND_DIRECTORY, renewalInfo: `${SECOND_CA}/renewal-info` };
    const RENEWING_AT_SECOND = { ...AT_SECOND, directory: WITH_RENEWAL_INFO };

    it('leaves replaces out when another CA issued the certificate being renewed', async () => {
      const { deps, transport } = await setup({ config: CONFIG, issued: issuedAt(DIRECTORY_URL) });
      scriptNewOrderAtSecond(transport, WITH_RENEWAL_INFO);

      await createOrder(RENEWING_AT_SECOND, deps);

      expect(payloadOf(transport.requests[0])).not.toHaveProperty('replaces');
    });

    it('names the certificate being replaced to the CA that issued it', async () => {
      const { deps, transport } = await setup({ config: CONFIG, issued: issuedAt(SECOND_URL) });
      scriptNewOrderAtSecond(transport, WITH_RENEWAL_INFO);

      await createOrder(RENEWING_AT_SECOND, deps);

      expect(payloadOf(transport.requests[0])).toHaveProperty('replaces', CERT_ID);
    });
  });

  describe('a rate limit on newOrder', () => {
    const limited = (retryAfter?: string) =>
      problemReply('rateLimited', {
        status: 429,
        detail: 'too many new orders recently',
        ...(retryAfter ? { headers: { 'retry-after': retryAfter } } : {}),
      });

    it.each<[string, IssuanceState, CertificateRecord['issued'], string | undefined]>([
      ['a first issuance, whatever the wait', AT_FIRST, undefined, '60'],
      [
        'a renewal when the CA does not say when the limit lifts',
        AT_FIRST,
        issuedAt(DIRECTORY_URL),
        undefined,
      ],
      ['a renewal already within 14 days of expiry', AT_FIRST, issuedAt(DIRECTORY_URL, 10), '60'],
    ])(
      'hands %s to the next CA as CaUnavailableError, recording no order',
      async (_, state, issued, retry) => {
        const { deps, registry, transport } = await setup({ config: CONFIG, ...(issued ? { issued } : {}) });
        transport.expect('POST', DIRECTORY.newOrder, limited(retry));

        const failure = await createOrder(state, deps).catch((error: unknown) => error);

        expect(failure).toBeInstanceOf(CaUnavailableError);
        expect((failure as Error).message).toContain(`The CA at ${DIRECTORY_URL} rate-limits new orders`);
        expect(registry.updates).toEqual([]);
      },
    );

    it.each<[string, IssuanceState, CertificateRecord['issued'], string | undefined]>([
      ['there is a single CA', issuanceState(), undefined, undefined],
      ['the run is at the last CA of the list', AT_SECOND, undefined, undefined],
      ['a renewal far from expiry waits a minute', AT_FIRST, issuedAt(DIRECTORY_URL, 60), '60'],
    ])('stays a RateLimitedError when %s', async (_, state, issued, retry) => {
      const { deps, registry, transport } = await setup({ config: CONFIG, ...(issued ? { issued } : {}) });
      transport.expect('POST', state.directory?.newOrder ?? '', limited(retry));

      const failure = await createOrder(state, deps).catch((error: unknown) => error);

      expect(failure).toBeInstanceOf(RateLimitedError);
      expect(registry.updates).toEqual([]);
    });
  });
});
