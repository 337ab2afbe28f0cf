import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeHttpsTransport } from '../../lambdas/adapters/https-transport.js';
import { AcmeClient } from '../../lambdas/core/acme/client.js';
import { AccountKeyInUseError, type AcmeProblemError, UnauthorizedError } from '../../lambdas/core/errors.js';
import type { HttpTransport, Signer } from '../../lambdas/core/ports.js';
import { type PebbleEnvironment, startPebble } from '../harness/pebble.js';
import { createTestSigner } from '../support/test-signer.js';

const UNAUTHORIZED = 'urn:ietf:params:acme:error:unauthorized';

// Pebble's default 5% nonce rejection stays on, so every step also goes through badNonce retries.
describe('account lifecycle against Pebble', () => {
  let pebble: PebbleEnvironment;
  let transport: HttpTransport;

  beforeAll(async () => {
    pebble = await startPebble();
    transport = new NodeHttpsTransport({ caPem: pebble.caBundlePem });
  });

  afterAll(async () => {
    await pebble?.stop();
  });

  function clientFor(signer: Signer, accountUrl?: string): AcmeClient {
    return new AcmeClient({
      directoryUrl: pebble.directoryUrl,
      transport,
      signer,
      maxBadNonceRetries: 10,
      ...(accountUrl ? { accountUrl } : {}),
    });
  }

  async function registered(signer: Signer): Promise<{ client: AcmeClient; url: string }> {
    const client = clientFor(signer);
    const { url } = await client.createAccount({ termsOfServiceAgreed: true });
    return { client, url };
  }

  it('moves the account to a new key: the new key finds it, the old key finds nothing, orders go on', async () => {
    const keyA = await createTestSigner();
    const keyB = await createTestSigner();
    const { client, url } = await registered(keyA);

    await client.changeKey(keyB);

    expect(client.accountUrl).toBe(url);
    expect(await clientFor(keyB).findAccount()).toBe(url);
    expect(await clientFor(keyA).findAccount()).toBeUndefined();
    const order = await client.newOrder(['example.org']);
    expect(order.body.status).toBe('pending');
    expect((await client.getAccount()).status).toBe('valid');
  });

  it('refuses to move the account to a key that holds its own account, naming that account', async () => {
    const { client, url } = await registered(await createTestSigner());
    const keyC = await createTestSigner();
    const other = await registered(keyC);

    const error = await client.changeKey(keyC).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(AccountKeyInUseError);
    // Pebble 2.4 answers 500 serverInternal here, not 409; the client asks who holds the key.
    expect(error).toMatchObject({
      name: 'AccountKeyInUseError',
      existingAccountUrl: other.url,
      status: 500,
      type: 'urn:ietf:params:acme:error:serverInternal',
    });
    expect(await clientFor(keyC).findAccount()).toBe(other.url);
    expect((await client.getAccount()).status).toBe('valid');
    expect(client.accountUrl).toBe(url);
  });

  it('replaces the contacts, shows them on the account, and removes them with an empty list', async () => {
    const { client } = await registered(await createTestSigner());

    const updated = await client.updateAccount({ contact: ['ops@example.org', 'mailto:sec@example.org'] });
    const fetched = await client.getAccount();
    await client.updateAccount({ contact: [] });
    const cleared = await client.getAccount();

    expect(updated.contact).toEqual(['mailto:ops@example.org', 'mailto:sec@example.org']);
    expect(fetched.contact).toEqual(['mailto:ops@example.org', 'mailto:sec@example.org']);
    expect(cleared.contact ?? []).toEqual([]);
  });

  it('deactivates the account for good: orders, lookups and registration with its key are refused', async () => {
    const key = await createTestSigner();
    const { client } = await registered(key);

    const account = await client.deactivateAccount();

    expect(account.status).toBe('deactivated');
    for (const attempt of [
      () => client.newOrder(['example.org']),
      () => client.getAccount(),
      () => clientFor(key).findAccount(),
      () => clientFor(key).createAccount({ termsOfServiceAgreed: true }),
    ]) {
      const error = (await attempt().catch((caught: unknown) => caught)) as AcmeProblemError;
      expect(error).toBeInstanceOf(UnauthorizedError);
      expect(error).toMatchObject({ name: 'UnauthorizedError', status: 403, type: UNAUTHORIZED });
    }
  });

  it('refuses to move an account to the key of a deactivated account', async () => {
    const retired = await createTestSigner();
    await (await registered(retired)).client.deactivateAccount();
    const { client } = await registered(await createTestSigner());

    const error = (await client
      .changeKey(retired)
      .catch((caught: unknown) => caught)) as AccountKeyInUseError;

    expect(error).toBeInstanceOf(AccountKeyInUseError);
    expect(error.existingAccountUrl).toBeUndefined();
    expect((await client.getAccount()).status).toBe('valid');
  });
});
