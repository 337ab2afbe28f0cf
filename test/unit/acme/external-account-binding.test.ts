import { randomBytes } from 'node:crypto';
import { base64url, decodeProtectedHeader, type FlattenedJWS, flattenedVerify } from 'jose';
import { describe, expect, it, vi } from 'vitest';
import { AcmeClient } from '../../../lambdas/core/acme/client.js';
import { signExternalAccountBinding } from '../../../lambdas/core/acme/external-account-binding.js';
import type { AcmeDirectory } from '../../../lambdas/core/acme/types.js';
import {
  ExternalAccountRequiredError,
  InvalidInputError,
  RateLimitedError,
} from '../../../lambdas/core/errors.js';
import type { EcPublicJwk } from '../../../lambdas/core/ports.js';
import { problemReply, ScriptedTransport } from '../../support/scripted-transport.js';
import { createTestSigner } from '../../support/test-signer.js';

const CA = 'https://ca.example';
const NEW_ACCOUNT = `${CA}/new-account`;
const DIRECTORY: AcmeDirectory = {
  newNonce: `${CA}/new-nonce`,
  newAccount: NEW_ACCOUNT,
  newOrder: `${CA}/new-order`,
  meta: { externalAccountRequired: true },
};
const ACCOUNT_CREATED = {
  status: 201,
  headers: { location: `${CA}/acct/1`, 'content-type': 'application/json' },
  body: { status: 'valid' },
};

/** The text forms in which the MAC key could leak. */
function keyForms(key: Uint8Array): string[] {
  const bytes = Buffer.from(key);
  return [bytes.toString('base64url'), bytes.toString('base64'), bytes.toString('hex')];
}

/** The JSON payload of the flattened JWS a request carried. */
function payloadOf(body: string | undefined): Record<string, unknown> {
  const jws = JSON.parse(body ?? '') as FlattenedJWS;
  return JSON.parse(new TextDecoder().decode(base64url.decode(jws.payload))) as Record<string, unknown>;
}

describe('signExternalAccountBinding', () => {
  it('MACs the account JWK with HS256 under the CA-issued key, with exactly alg, kid and url in the header', async () => {
    const hmacKey = new Uint8Array(randomBytes(32));
    const jwk = await (await createTestSigner()).publicJwk();

    const jws = signExternalAccountBinding({ binding: { kid: 'kid-1', hmacKey }, url: NEW_ACCOUNT, jwk });

    const verified = await flattenedVerify(jws as FlattenedJWS, hmacKey);
    expect(verified.protectedHeader).toEqual({ alg: 'HS256', kid: 'kid-1', url: NEW_ACCOUNT });
    expect(JSON.parse(new TextDecoder().decode(verified.payload))).toEqual(jwk);
  });

  it('binds only the public members of the account key, as the outer JWS shows them', async () => {
    const jwk = await (await createTestSigner()).publicJwk();
    const noisy = { ...jwk, kid: 'kms-key', use: 'sig' } as EcPublicJwk;

    const jws = signExternalAccountBinding({
      binding: { kid: 'kid-1', hmacKey: new Uint8Array(32).fill(7) },
      url: NEW_ACCOUNT,
      jwk: noisy,
    });

    expect(JSON.parse(Buffer.from(jws.payload, 'base64url').toString('utf8'))).toEqual(jwk);
  });

  it('never puts the key into the binding', async () => {
    const hmacKey = new Uint8Array(randomBytes(48));
    const jwk = await (await createTestSigner()).publicJwk();

    const text = JSON.stringify(
      signExternalAccountBinding({ binding: { kid: 'k', hmacKey }, url: NEW_ACCOUNT, jwk }),
    );

    for (const form of keyForms(hmacKey)) expect(text).not.toContain(form);
  });

  it('refuses an empty key or kid', async () => {
    const jwk = await (await createTestSigner()).publicJwk();

    expect(() =>
      signExternalAccountBinding({ binding: { kid: 'k', hmacKey: new Uint8Array() }, url: NEW_ACCOUNT, jwk }),
    ).toThrow(InvalidInputError);
    expect(() =>
      signExternalAccountBinding({
        binding: { kid: ' ', hmacKey: new Uint8Array(32) },
        url: NEW_ACCOUNT,
        jwk,
      }),
    ).toThrow(InvalidInputError);
  });
});

describe('AcmeClient.createAccount with external account binding', () => {
  async function setup(directory: AcmeDirectory = DIRECTORY) {
    const signer = await createTestSigner();
    const transport = new ScriptedTransport();
    const client = new AcmeClient({
      directoryUrl: `${CA}/directory`,
      transport,
      signer,
      directory,
      nonce: 'n0',
    });
    return { signer, transport, client, jwk: await signer.publicJwk() };
  }

  it('puts the binding for the newAccount URL and the account key into the newAccount payload', async () => {
    const { transport, client, jwk } = await setup();
    const hmacKey = new Uint8Array(randomBytes(32));
    transport.expect('POST', NEW_ACCOUNT, ACCOUNT_CREATED);

    const { url } = await client.createAccount({
      termsOfServiceAgreed: true,
      externalAccountBinding: { kid: 'kid-1', hmacKey },
    });

    expect(url).toBe(`${CA}/acct/1`);
    const outer = JSON.parse(transport.requests[0]?.body ?? '') as FlattenedJWS;
    expect(decodeProtectedHeader(outer)).toMatchObject({ url: NEW_ACCOUNT, jwk });
    const payload = payloadOf(transport.requests[0]?.body) as {
      termsOfServiceAgreed: boolean;
      externalAccountBinding: FlattenedJWS;
    };
    expect(payload.termsOfServiceAgreed).toBe(true);
    const binding = await flattenedVerify(payload.externalAccountBinding, hmacKey);
    expect(binding.protectedHeader).toEqual({ alg: 'HS256', kid: 'kid-1', url: NEW_ACCOUNT });
    expect(JSON.parse(new TextDecoder().decode(binding.payload))).toEqual(jwk);
  });

  it('re-signs only the outer JWS when a badNonce is retried, sending the same binding', async () => {
    const { transport, client } = await setup();
    transport
      .expect('POST', NEW_ACCOUNT, problemReply('badNonce', { headers: { 'replay-nonce': 'fresh' } }))
      .expect('POST', NEW_ACCOUNT, ACCOUNT_CREATED);

    await client.createAccount({
      externalAccountBinding: { kid: 'kid-1', hmacKey: new Uint8Array(32).fill(1) },
    });

    const bindings = transport.requests.map((request) => payloadOf(request.body).externalAccountBinding);
    expect(bindings).toHaveLength(2);
    expect(bindings[1]).toEqual(bindings[0]);
    expect(decodeProtectedHeader(JSON.parse(transport.requests[1]?.body ?? '') as FlattenedJWS).nonce).toBe(
      'fresh',
    );
  });

  it('refuses before any request when the CA requires a binding and none is given', async () => {
    const { transport, client } = await setup();

    await expect(client.createAccount({ termsOfServiceAgreed: true })).rejects.toThrow(
      ExternalAccountRequiredError,
    );
    expect(transport.requests).toHaveLength(0);
  });

  it('sends no binding to a CA that does not require one when none is given', async () => {
    const { transport, client } = await setup({ ...DIRECTORY, meta: {} });
    transport.expect('POST', NEW_ACCOUNT, ACCOUNT_CREATED);

    await client.createAccount({ termsOfServiceAgreed: true });

    expect(payloadOf(transport.requests[0]?.body)).toEqual({ termsOfServiceAgreed: true });
  });

  it('keeps the key out of the error when the CA refuses the binding', async () => {
    const { transport, client } = await setup();
    const hmacKey = new Uint8Array(randomBytes(32));
    transport.expect(
      'POST',
      NEW_ACCOUNT,
      problemReply('unauthorized', { status: 403, detail: 'EAB verification failed' }),
    );

    const error = (await client
      .createAccount({ externalAccountBinding: { kid: 'kid-1', hmacKey } })
      .catch((caught: unknown) => caught)) as Error;

    expect(error.name).toBe('UnauthorizedError');
    for (const form of keyForms(hmacKey))
      expect(`${error.message} ${String(error.stack)}`).not.toContain(form);
  });
});

describe('AcmeClient rateLimited messages', () => {
  it('say when the limit lifts, as an ISO instant computed from Retry-After', async () => {
    vi.useFakeTimers({ now: new Date('2026-03-01T10:00:00Z'), toFake: ['Date'] });
    try {
      const signer = await createTestSigner();
      const transport = new ScriptedTransport().expect(
        'POST',
        `${CA}/new-order`,
        problemReply('rateLimited', {
          status: 429,
          headers: { 'retry-after': '5400' },
          detail: 'too many orders',
        }),
      );
      const client = new AcmeClient({
        directoryUrl: `${CA}/directory`,
        transport,
        signer,
        directory: DIRECTORY,
        accountUrl: `${CA}/acct/1`,
        nonce: 'n0',
      });

      const error = await client.newOrder(['example.org']).catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(RateLimitedError);
      expect((error as RateLimitedError).retryAfterSeconds).toBe(5400);
      expect((error as Error).message).toContain('too many orders');
      expect((error as Error).message).toContain('retry after 2026-03-01T11:30:00.000Z');
    } finally {
      vi.useRealTimers();
    }
  });

  it('say that the CA gave no time when there is no Retry-After', async () => {
    const signer = await createTestSigner();
    const transport = new ScriptedTransport().expect(
      'POST',
      `${CA}/new-order`,
      problemReply('rateLimited', { status: 429 }),
    );
    const client = new AcmeClient({
      directoryUrl: `${CA}/directory`,
      transport,
      signer,
      directory: DIRECTORY,
      accountUrl: `${CA}/acct/1`,
      nonce: 'n0',
    });

    const error = (await client
      .newOrder(['example.org'])
      .catch((caught: unknown) => caught)) as RateLimitedError;

    expect(error.retryAfterSeconds).toBeUndefined();
    expect(error.message).toContain('did not say when the limit lifts');
    expect(error.message).not.toContain('retry after');
  });
});
