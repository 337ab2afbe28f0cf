import fc from 'fast-check';
import { type FlattenedJWS, flattenedVerify, importJWK } from 'jose';
import { describe, expect, it, vi } from 'vitest';
import { AcmeClient } from '../../../lambdas/core/acme/client.js';
import { normalizeContacts } from '../../../lambdas/core/acme/contacts.js';
import { signKeyChangeJws } from '../../../lambdas/core/acme/jws.js';
import type { AcmeDirectory } from '../../../lambdas/core/acme/types.js';
import {
  AccountKeyInUseError,
  AcmeProtocolError,
  AcmeServerError,
  InvalidInputError,
  UnauthorizedError,
} from '../../../lambdas/core/errors.js';
import type { EcPublicJwk, HttpRequest, Signer } from '../../../lambdas/core/ports.js';
import { problemReply, ScriptedTransport } from '../../support/scripted-transport.js';
import { createTestSigner } from '../../support/test-signer.js';

const CA = 'https://ca.example';
const DIRECTORY_URL = `${CA}/directory`;
const KEY_CHANGE = `${CA}/key-change`;
const DIRECTORY: AcmeDirectory = {
  newNonce: `${CA}/new-nonce`,
  newAccount: `${CA}/new-account`,
  newOrder: `${CA}/new-order`,
  keyChange: KEY_CHANGE,
};
const ACCOUNT_URL = `${CA}/acct/1`;
const OTHER_ACCOUNT_URL = `${CA}/acct/2`;
const ORDER_URL = `${CA}/order/1`;
const JSON_HEADERS = { 'content-type': 'application/json' };
const ACCOUNT = { status: 'valid', contact: ['mailto:ops@example.org'], orders: `${CA}/acct/1/orders` };
const ORDER = {
  status: 'pending',
  identifiers: [{ type: 'dns', value: 'example.org' }],
  authorizations: [`${CA}/authz/1`],
  finalize: `${CA}/order/1/finalize`,
};

interface VerifiedJws {
  readonly header: Record<string, unknown>;
  /** The decoded payload text: '' for POST-as-GET. */
  readonly payload: string;
}

/** Verifies `jws` as signed by `jwk` and returns its header and payload. */
async function verify(jws: FlattenedJWS, jwk: EcPublicJwk): Promise<VerifiedJws> {
  expect(Object.keys(jws).sort()).toEqual(['payload', 'protected', 'signature']);
  const result = await flattenedVerify(jws, await importJWK(jwk, 'ES256'));
  return {
    header: result.protectedHeader as Record<string, unknown>,
    payload: new TextDecoder().decode(result.payload),
  };
}

/** The request body as a flattened JWS, verified as signed by `jwk`. */
async function verifiedRequest(request: HttpRequest | undefined, jwk: EcPublicJwk): Promise<VerifiedJws> {
  expect(request?.method).toBe('POST');
  expect(request?.headers?.['content-type']).toBe('application/jose+json');
  return verify(JSON.parse(request?.body ?? '') as FlattenedJWS, jwk);
}

async function setup(options: { account?: boolean; directory?: AcmeDirectory } = {}) {
  const oldSigner = await createTestSigner();
  const newSigner = await createTestSigner();
  const transport = new ScriptedTransport();
  const client = new AcmeClient({
    directoryUrl: DIRECTORY_URL,
    transport,
    signer: oldSigner,
    directory: options.directory ?? DIRECTORY,
    ...(options.account === false ? {} : { accountUrl: ACCOUNT_URL }),
    nonce: 'carried',
  });
  return {
    client,
    transport,
    oldSigner,
    newSigner,
    oldJwk: await oldSigner.publicJwk(),
    newJwk: await newSigner.publicJwk(),
  };
}

describe('normalizeContacts', () => {
  it('turns bare addresses into mailto URIs and keeps mailto URIs as they are', () => {
    expect(normalizeContacts(['ops@example.org', 'mailto:security+acme@sub.example.org'])).toEqual([
      'mailto:ops@example.org',
      'mailto:security+acme@sub.example.org',
    ]);
  });

  it('lower-cases the scheme and nothing else', () => {
    expect(normalizeContacts(['MailTo:Ops.Team@Example.ORG'])).toEqual(['mailto:Ops.Team@Example.ORG']);
  });

  it('drops duplicates after normalizing, keeping the first of each in order', () => {
    expect(
      normalizeContacts(['b@example.org', 'a@example.org', 'mailto:b@example.org', 'MAILTO:a@example.org']),
    ).toEqual(['mailto:b@example.org', 'mailto:a@example.org']);
  });

  it('keeps an empty list empty, which removes every contact', () => {
    expect(normalizeContacts([])).toEqual([]);
  });

  it.each([
    ['an empty value', ''],
    ['a scheme without an address', 'mailto:'],
    ['leading whitespace', ' ops@example.org'],
    ['trailing whitespace', 'mailto:ops@example.org\n'],
    ['inner whitespace', 'ops @example.org'],
    ['two comma-separated addresses', 'mailto:a@example.org,b@example.org'],
    ['two semicolon-separated addresses', 'a@example.org;b@example.org'],
    ['mailto header fields', 'mailto:ops@example.org?subject=certs'],
    ['a percent-escape', 'mailto:a%2Cb@example.org'],
    ['another URI scheme', 'tel:+15555550100'],
    ['an https URL', 'https://example.org/contact'],
    ['no @', 'ops.example.org'],
    ['two @', 'a@b@example.org'],
    ['a display name', 'Ops <ops@example.org>'],
    ['an unqualified domain', 'ops@localhost'],
    ['a domain with an empty label', 'ops@example..org'],
    ['a non-ASCII domain', 'ops@exämple.org'],
    ['a local part with a leading dot', '.ops@example.org'],
  ])('refuses %s, naming the value', (_case, value) => {
    expect(() => normalizeContacts(['ok@example.org', value])).toThrow(InvalidInputError);
    expect(() => normalizeContacts([value])).toThrow(JSON.stringify(value));
  });

  it('accepts every plain address, bare or as mailto, as the same URI (property)', () => {
    const local = fc.stringMatching(/^[A-Za-z0-9+_~!$'*-]{1,20}(\.[A-Za-z0-9+_-]{1,10}){0,2}$/);
    fc.assert(
      fc.property(local, fc.domain(), (name, domain) => {
        const address = `${name}@${domain}`;

        expect(normalizeContacts([address, `mailto:${address}`])).toEqual([`mailto:${address}`]);
      }),
    );
  });

  it('never lets through more than one address, whitespace, header fields or escapes (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.emailAddress(),
          fc.string(),
          fc.emailAddress().map((a) => `mailto:${a}`),
        ),
        (value) => {
          let result: string[];
          try {
            result = normalizeContacts([value]);
          } catch (error) {
            expect(error).toBeInstanceOf(InvalidInputError);
            return;
          }
          expect(result).toHaveLength(1);
          expect(result[0]).toMatch(/^mailto:[^\s,;?%@:<>]+@[A-Za-z0-9.-]+$/);
          expect(normalizeContacts(result)).toEqual(result);
        },
      ),
    );
  });
});

describe('signKeyChangeJws', () => {
  it('signs {account, oldKey} with the new key under exactly alg, jwk and url', async () => {
    const { oldJwk, newSigner, newJwk } = await setup();

    const jws = await signKeyChangeJws(newSigner, {
      url: KEY_CHANGE,
      account: ACCOUNT_URL,
      oldKey: oldJwk,
      newKey: newJwk,
    });

    const inner = await verify(jws, newJwk);
    expect(inner.header).toEqual({ alg: 'ES256', jwk: newJwk, url: KEY_CHANGE });
    expect(JSON.parse(inner.payload)).toEqual({ account: ACCOUNT_URL, oldKey: oldJwk });
  });

  it('shows only the public members of both keys', async () => {
    const { oldJwk, newSigner, newJwk } = await setup();
    const noisy = (jwk: EcPublicJwk) => ({ ...jwk, kid: 'kms-key', use: 'sig' }) as EcPublicJwk;

    const jws = await signKeyChangeJws(newSigner, {
      url: KEY_CHANGE,
      account: ACCOUNT_URL,
      oldKey: noisy(oldJwk),
      newKey: noisy(newJwk),
    });

    const inner = await verify(jws, newJwk);
    expect(inner.header.jwk).toEqual(newJwk);
    expect(JSON.parse(inner.payload).oldKey).toEqual(oldJwk);
  });

  it('refuses a signer that returns a DER signature instead of r||s', async () => {
    const { oldJwk, newSigner, newJwk } = await setup();
    const derSigner: Signer = { ...newSigner, sign: async () => new Uint8Array(72) };

    await expect(
      signKeyChangeJws(derSigner, { url: KEY_CHANGE, account: ACCOUNT_URL, oldKey: oldJwk, newKey: newJwk }),
    ).rejects.toThrow(/64-byte/);
  });
});

describe('AcmeClient.getAccount', () => {
  it('fetches the account with a kid-signed POST-as-GET to the account URL', async () => {
    const { client, transport, oldJwk } = await setup();
    transport.expect('POST', ACCOUNT_URL, { headers: JSON_HEADERS, body: ACCOUNT });

    const account = await client.getAccount();

    expect(account).toEqual(ACCOUNT);
    const jws = await verifiedRequest(transport.requests[0], oldJwk);
    expect(jws.header).toEqual({ alg: 'ES256', nonce: 'carried', url: ACCOUNT_URL, kid: ACCOUNT_URL });
    expect(jws.payload).toBe('');
  });

  it('refuses before any request when no account URL is known', async () => {
    const { client, transport } = await setup({ account: false });

    await expect(client.getAccount()).rejects.toThrow(InvalidInputError);
    expect(transport.requests).toHaveLength(0);
  });

  it('refuses an account without a status', async () => {
    const { client, transport } = await setup();
    transport.expect('POST', ACCOUNT_URL, { headers: JSON_HEADERS, body: { contact: [] } });

    await expect(client.getAccount()).rejects.toThrow(AcmeProtocolError);
  });
});

describe('AcmeClient.updateAccount', () => {
  it('posts the normalized contacts to the account URL and returns the updated account', async () => {
    const { client, transport, oldJwk } = await setup();
    const updated = { ...ACCOUNT, contact: ['mailto:ops@example.org', 'mailto:sec@example.org'] };
    transport.expect('POST', ACCOUNT_URL, { headers: JSON_HEADERS, body: updated });

    const account = await client.updateAccount({
      contact: ['ops@example.org', 'mailto:sec@example.org', 'MAILTO:ops@example.org'],
    });

    expect(account).toEqual(updated);
    const jws = await verifiedRequest(transport.requests[0], oldJwk);
    expect(jws.header).toMatchObject({ kid: ACCOUNT_URL, url: ACCOUNT_URL });
    expect(JSON.parse(jws.payload)).toEqual({
      contact: ['mailto:ops@example.org', 'mailto:sec@example.org'],
    });
  });

  it('sends an empty contact list to remove every contact', async () => {
    const { client, transport, oldJwk } = await setup();
    transport.expect('POST', ACCOUNT_URL, { headers: JSON_HEADERS, body: { status: 'valid' } });

    await client.updateAccount({ contact: [] });

    expect(JSON.parse((await verifiedRequest(transport.requests[0], oldJwk)).payload)).toEqual({
      contact: [],
    });
  });

  it('refuses a contact that is not one email address before any request, naming it', async () => {
    const { client, transport } = await setup();

    const error = await client
      .updateAccount({ contact: ['ops@example.org', 'a@example.org,b@example.org'] })
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as Error).message).toContain('"a@example.org,b@example.org"');
    expect(transport.requests).toHaveLength(0);
  });
});

describe('AcmeClient.deactivateAccount', () => {
  it('posts {status: "deactivated"} to the account URL and returns the deactivated account', async () => {
    const { client, transport, oldJwk } = await setup();
    transport.expect('POST', ACCOUNT_URL, { headers: JSON_HEADERS, body: { status: 'deactivated' } });

    const account = await client.deactivateAccount();

    expect(account).toEqual({ status: 'deactivated' });
    const jws = await verifiedRequest(transport.requests[0], oldJwk);
    expect(jws.header).toMatchObject({ kid: ACCOUNT_URL, url: ACCOUNT_URL });
    expect(JSON.parse(jws.payload)).toEqual({ status: 'deactivated' });
  });

  it('refuses an answer whose account is not deactivated', async () => {
    const { client, transport } = await setup();
    transport.expect('POST', ACCOUNT_URL, { headers: JSON_HEADERS, body: { status: 'valid' } });

    await expect(client.deactivateAccount()).rejects.toThrow(/"valid", not "deactivated"/);
  });

  it('reports a CA refusal as its typed error', async () => {
    const { client, transport } = await setup();
    transport.expect('POST', ACCOUNT_URL, problemReply('unauthorized', { status: 403 }));

    await expect(client.deactivateAccount()).rejects.toBeInstanceOf(UnauthorizedError);
  });
});

describe('AcmeClient.changeKey', () => {
  it('sends an outer JWS signed by the old key whose payload is the inner JWS signed by the new key', async () => {
    const { client, transport, oldJwk, newSigner, newJwk } = await setup();
    transport.expect('POST', KEY_CHANGE, { status: 200, body: '' });

    await client.changeKey(newSigner);

    const outer = await verifiedRequest(transport.requests[0], oldJwk);
    expect(outer.header).toEqual({ alg: 'ES256', nonce: 'carried', url: KEY_CHANGE, kid: ACCOUNT_URL });
    const inner = await verify(JSON.parse(outer.payload) as FlattenedJWS, newJwk);
    expect(inner.header).toEqual({ alg: 'ES256', jwk: newJwk, url: KEY_CHANGE });
    expect(JSON.parse(inner.payload)).toEqual({ account: ACCOUNT_URL, oldKey: oldJwk });
    expect(client.accountUrl).toBe(ACCOUNT_URL);
  });

  it('signs every later request with the new key under the same kid', async () => {
    const { client, transport, oldJwk, newSigner, newJwk } = await setup();
    transport
      .expect('POST', KEY_CHANGE, { status: 200, body: '' })
      .expect('POST', ORDER_URL, { headers: JSON_HEADERS, body: ORDER })
      .expect('POST', DIRECTORY.newAccount, {
        headers: { ...JSON_HEADERS, location: ACCOUNT_URL },
        body: ACCOUNT,
      });

    await client.changeKey(newSigner);
    await client.getOrder(ORDER_URL);
    await client.findAccount();

    const later = await verifiedRequest(transport.requests[1], newJwk);
    expect(later.header.kid).toBe(ACCOUNT_URL);
    await expect(verifiedRequest(transport.requests[1], oldJwk)).rejects.toThrow();
    expect((await verifiedRequest(transport.requests[2], newJwk)).header.jwk).toEqual(newJwk);
  });

  it('re-signs only the outer JWS on badNonce, sending the very same inner JWS', async () => {
    const { client, transport, oldJwk, newSigner, newJwk } = await setup();
    const newKeySignatures = vi.spyOn(newSigner, 'sign');
    transport
      .expect('POST', KEY_CHANGE, problemReply('badNonce', { headers: { 'replay-nonce': 'fresh' } }))
      .expect('POST', KEY_CHANGE, { status: 200, body: '' });

    await client.changeKey(newSigner);

    const [first, second] = await Promise.all(
      transport.requests.map((request) => verifiedRequest(request, oldJwk)),
    );
    expect(first?.header.nonce).toBe('carried');
    expect(second?.header.nonce).toBe('fresh');
    expect(second?.payload).toBe(first?.payload);
    await verify(JSON.parse(second?.payload ?? '') as FlattenedJWS, newJwk);
    expect(newKeySignatures).toHaveBeenCalledTimes(1);
  });

  it('reports 409 Conflict as AccountKeyInUseError naming the account from Location, keeping the old key', async () => {
    const { client, transport, oldJwk, newSigner } = await setup();
    transport
      .expect('POST', KEY_CHANGE, { status: 409, headers: { location: OTHER_ACCOUNT_URL }, body: '' })
      .expect('POST', ORDER_URL, { headers: JSON_HEADERS, body: ORDER });

    const error = await client.changeKey(newSigner).catch((caught: unknown) => caught);
    await client.getOrder(ORDER_URL);

    expect(error).toBeInstanceOf(AccountKeyInUseError);
    const inUse = error as AccountKeyInUseError;
    expect(inUse).toMatchObject({
      name: 'AccountKeyInUseError',
      code: 'ACCOUNT_KEY_IN_USE',
      status: 409,
      existingAccountUrl: OTHER_ACCOUNT_URL,
    });
    expect(inUse.message).toContain(OTHER_ACCOUNT_URL);
    expect(inUse.message).toMatch(/no account uses/);
    expect((await verifiedRequest(transport.requests[1], oldJwk)).header.kid).toBe(ACCOUNT_URL);
  });

  it('keeps the problem document of a 409 and resolves a relative Location', async () => {
    const { client, transport, newSigner } = await setup();
    transport.expect(
      'POST',
      KEY_CHANGE,
      problemReply('conflict', { status: 409, detail: 'key in use', headers: { location: '/acct/2' } }),
    );

    const error = (await client
      .changeKey(newSigner)
      .catch((caught: unknown) => caught)) as AccountKeyInUseError;

    expect(error).toBeInstanceOf(AccountKeyInUseError);
    expect(error.type).toBe('urn:ietf:params:acme:error:conflict');
    expect(error.detail).toBe('key in use');
    expect(error.existingAccountUrl).toBe(OTHER_ACCOUNT_URL);
  });

  it('asks who holds the new key after a 5xx, and reports the other account as AccountKeyInUseError', async () => {
    const { client, transport, newSigner, newJwk } = await setup();
    transport
      .expect(
        'POST',
        KEY_CHANGE,
        problemReply('serverInternal', { status: 500, detail: 'New public key is already in use' }),
      )
      .expect('POST', DIRECTORY.newAccount, {
        headers: { ...JSON_HEADERS, location: OTHER_ACCOUNT_URL },
        body: { status: 'valid' },
      });

    const error = (await client
      .changeKey(newSigner)
      .catch((caught: unknown) => caught)) as AccountKeyInUseError;

    expect(error).toBeInstanceOf(AccountKeyInUseError);
    expect(error.existingAccountUrl).toBe(OTHER_ACCOUNT_URL);
    expect(error.status).toBe(500);
    expect(error.cause).toBeInstanceOf(AcmeServerError);
    const lookup = await verifiedRequest(transport.requests[1], newJwk);
    expect(lookup.header).toMatchObject({ jwk: newJwk, url: DIRECTORY.newAccount });
    expect(lookup.header.kid).toBeUndefined();
    expect(JSON.parse(lookup.payload)).toEqual({ onlyReturnExisting: true });
    expect(client.accountUrl).toBe(ACCOUNT_URL);
  });

  it('counts a 5xx after which the new key holds this very account as a completed rollover', async () => {
    const { client, transport, newSigner, newJwk } = await setup();
    transport
      .expect('POST', KEY_CHANGE, problemReply('serverInternal', { status: 500 }))
      .expect('POST', DIRECTORY.newAccount, {
        headers: { ...JSON_HEADERS, location: ACCOUNT_URL },
        body: { status: 'valid' },
      })
      .expect('POST', ORDER_URL, { headers: JSON_HEADERS, body: ORDER });

    await client.changeKey(newSigner);
    await client.getOrder(ORDER_URL);

    expect((await verifiedRequest(transport.requests[2], newJwk)).header.kid).toBe(ACCOUNT_URL);
  });

  it('throws the 5xx as AcmeServerError, keeping the old key, when the new key holds no account', async () => {
    const { client, transport, oldJwk, newSigner } = await setup();
    transport
      .expect('POST', KEY_CHANGE, problemReply('serverInternal', { status: 500 }))
      .expect('POST', DIRECTORY.newAccount, problemReply('accountDoesNotExist'))
      .expect('POST', ORDER_URL, { headers: JSON_HEADERS, body: ORDER });

    await expect(client.changeKey(newSigner)).rejects.toBeInstanceOf(AcmeServerError);
    await client.getOrder(ORDER_URL);

    await verifiedRequest(transport.requests[2], oldJwk);
  });

  it('reports a new key the CA refuses as a deactivated account key as AccountKeyInUseError without a URL', async () => {
    const { client, transport, newSigner } = await setup();
    transport
      .expect('POST', KEY_CHANGE, problemReply('serverInternal', { status: 500 }))
      .expect(
        'POST',
        DIRECTORY.newAccount,
        problemReply('unauthorized', { status: 403, detail: 'exists but is deactivated' }),
      );

    const error = (await client
      .changeKey(newSigner)
      .catch((caught: unknown) => caught)) as AccountKeyInUseError;

    expect(error).toBeInstanceOf(AccountKeyInUseError);
    expect(error.existingAccountUrl).toBeUndefined();
    expect(error.message).toContain('another account');
  });

  it('passes other refusals through as their typed error without asking who holds the key', async () => {
    const { client, transport, newSigner } = await setup();
    transport.expect('POST', KEY_CHANGE, problemReply('unauthorized', { status: 403 }));

    await expect(client.changeKey(newSigner)).rejects.toBeInstanceOf(UnauthorizedError);
    expect(transport.requests).toHaveLength(1);
  });

  it('refuses before any request when the directory has no keyChange, naming the directory', async () => {
    const { keyChange: _, ...withoutKeyChange } = DIRECTORY;
    const { client, transport, newSigner } = await setup({ directory: withoutKeyChange });

    const error = await client.changeKey(newSigner).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(AcmeProtocolError);
    expect((error as Error).message).toContain(DIRECTORY_URL);
    expect(transport.requests).toHaveLength(0);
  });

  it('refuses before any request when no account URL is known', async () => {
    const { client, transport, newSigner } = await setup({ account: false });

    await expect(client.changeKey(newSigner)).rejects.toThrow(InvalidInputError);
    expect(transport.requests).toHaveLength(0);
  });

  it('refuses before any request to roll over to the key the account already has', async () => {
    const { client, transport, oldSigner } = await setup();

    await expect(client.changeKey(oldSigner)).rejects.toThrow(InvalidInputError);
    expect(transport.requests).toHaveLength(0);
  });
});
