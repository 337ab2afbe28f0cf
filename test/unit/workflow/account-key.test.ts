import { describe, expect, it } from 'vitest';
import { jwkThumbprint } from '../../../lambdas/core/acme/key-authorization.js';
import type { AcmeDirectory } from '../../../lambdas/core/acme/types.js';
import { AccountDeactivatedError, MalformedError } from '../../../lambdas/core/errors.js';
import type {
  AccountRecord,
  CertificateRegistry,
  EventPublisher,
  Signer,
} from '../../../lambdas/core/ports.js';
import { rollOverAccountKey } from '../../../lambdas/core/workflow/account-key.js';
import { manageAccount } from '../../../lambdas/core/workflow/manage-account.js';
import { problemReply, ScriptedTransport } from '../../support/scripted-transport.js';
import { createTestSigner } from '../../support/test-signer.js';
import { TEST_WORKFLOW_CONFIG } from '../../support/workflow-config.js';

const CA = 'https://ca.example';
const DIRECTORY_URL = `${CA}/directory`;
const DIRECTORY: AcmeDirectory = {
  newNonce: `${CA}/new-nonce`,
  newAccount: `${CA}/new-account`,
  newOrder: `${CA}/new-order`,
  keyChange: `${CA}/key-change`,
};
const ACCOUNT = `${CA}/acct/1`;
const NOW = new Date('2030-03-01T12:00:00Z');
const CONFIG = { ...TEST_WORKFLOW_CONFIG, defaultDirectoryUrl: DIRECTORY_URL };

/** The registry's account records in memory, keyed as the DynamoDB adapter keys them. */
function accountRegistry(initial: Record<string, AccountRecord> = {}) {
  const accounts = new Map(Object.entries(initial));
  const registry = {
    getAccount: async (directoryUrl: string, thumbprint: string) =>
      [...accounts.entries()].find(
        ([key, record]) => key === thumbprint && record.directoryUrl === directoryUrl,
      )?.[1],
    putAccount: async (thumbprint: string, record: AccountRecord) => {
      accounts.set(thumbprint, record);
    },
  } as unknown as CertificateRegistry;
  return { accounts, registry };
}

const log = { debug: () => {}, info: () => {}, warn: () => {} };
const thumbprintOf = async (signer: Signer) => jwkThumbprint(await signer.publicJwk());

async function setup(initial: (old: string, current: string) => Record<string, AccountRecord>) {
  const previousSigner = await createTestSigner();
  const signer = await createTestSigner();
  const [old, current] = [await thumbprintOf(previousSigner), await thumbprintOf(signer)];
  const { accounts, registry } = accountRegistry(initial(old, current));
  const transport = new ScriptedTransport();
  const published: { detailType: string; detail: Readonly<Record<string, unknown>> }[] = [];
  const events: EventPublisher = { publish: async (event) => void published.push(event) };
  const deps = {
    transport,
    signer,
    previousSigner,
    registry,
    events,
    clock: { now: () => NOW },
    config: CONFIG,
    log,
  };
  return { deps, transport, accounts, old, current, published };
}

describe('rollOverAccountKey', () => {
  it('moves the recorded account with one keyChange and records the new key before retiring the old one', async () => {
    const { deps, transport, accounts, old, current } = await setup((previous) => ({
      [previous]: { directoryUrl: DIRECTORY_URL, accountUrl: ACCOUNT, contact: ['mailto:ops@example.org'] },
    }));
    transport.expect('HEAD', DIRECTORY.newNonce, { status: 200 });
    transport.expect('POST', `${CA}/key-change`, { status: 200 });

    const rollover = await rollOverAccountKey(deps, DIRECTORY_URL, DIRECTORY, current);

    expect(rollover).toMatchObject({ accountUrl: ACCOUNT, changed: true });
    expect(accounts.get(current)).toMatchObject({
      accountUrl: ACCOUNT,
      status: 'valid',
      contact: ['mailto:ops@example.org'],
    });
    expect(accounts.get(old)).toMatchObject({
      accountUrl: ACCOUNT,
      status: 'rolled-over',
      rolledOverTo: current,
    });
    expect([...accounts.keys()]).toEqual([old, current]);
  });

  it('counts a keyChange the CA already applied as done when the new key finds the same account', async () => {
    const { deps, transport, accounts, current } = await setup((previous) => ({
      [previous]: { directoryUrl: DIRECTORY_URL, accountUrl: ACCOUNT },
    }));
    transport.expect('HEAD', DIRECTORY.newNonce, { status: 200 });
    // The old key no longer verifies for the account: the CA moved it earlier.
    transport.expect(
      'POST',
      `${CA}/key-change`,
      problemReply('malformed', { detail: 'JWS verification error' }),
    );
    transport.expect('POST', DIRECTORY.newAccount, {
      status: 200,
      headers: { location: ACCOUNT },
      body: { status: 'valid' },
    });

    const rollover = await rollOverAccountKey(deps, DIRECTORY_URL, DIRECTORY, current);

    expect(rollover).toMatchObject({ accountUrl: ACCOUNT, changed: false });
    expect(accounts.get(current)?.status).toBe('valid');
  });

  it('keeps the CA’s refusal when the new key does not hold the account, and records nothing', async () => {
    const { deps, transport, accounts, current } = await setup((previous) => ({
      [previous]: { directoryUrl: DIRECTORY_URL, accountUrl: ACCOUNT },
    }));
    transport.expect('HEAD', DIRECTORY.newNonce, { status: 200 });
    transport.expect('POST', `${CA}/key-change`, problemReply('malformed'));
    transport.expect('POST', DIRECTORY.newAccount, problemReply('accountDoesNotExist'));

    await expect(rollOverAccountKey(deps, DIRECTORY_URL, DIRECTORY, current)).rejects.toThrow(MalformedError);
    expect(accounts.has(current)).toBe(false);
  });

  it('has nothing to move when the previous key’s account was deactivated, or the previous key has none', async () => {
    const deactivated = await setup((previous) => ({
      [previous]: { directoryUrl: DIRECTORY_URL, accountUrl: ACCOUNT, status: 'deactivated' },
    }));
    await expect(
      rollOverAccountKey(deactivated.deps, DIRECTORY_URL, DIRECTORY, deactivated.current),
    ).resolves.toBeUndefined();

    const unknown = await setup(() => ({}));
    unknown.transport.expect('HEAD', DIRECTORY.newNonce, { status: 200 });
    unknown.transport.expect(
      'POST',
      DIRECTORY.newAccount,
      problemReply('unauthorized', {
        status: 403,
        detail: 'An account with the provided public key exists but is deactivated',
      }),
    );
    await expect(
      rollOverAccountKey(unknown.deps, DIRECTORY_URL, DIRECTORY, unknown.current),
    ).resolves.toBeUndefined();
  });
});

describe('manageAccount', () => {
  it('records a deactivation the CA had already made (our own key is unauthorized on our own account)', async () => {
    const { deps, transport, accounts, current, published } = await setup((_previous, key) => ({
      [key]: { directoryUrl: DIRECTORY_URL, accountUrl: ACCOUNT, status: 'valid' },
    }));
    transport.expect('GET', DIRECTORY_URL, { status: 200, body: DIRECTORY });
    // The directory's reply carries a nonce, so no newNonce request is needed.
    transport.expect(
      'POST',
      ACCOUNT,
      problemReply('unauthorized', { status: 403, detail: 'Account has been deactivated' }),
    );

    const outcome = await manageAccount({ action: 'deactivate-account', accountUrl: ACCOUNT }, deps);

    expect(outcome).toMatchObject({ status: 'deactivated', changed: false, accountUrl: ACCOUNT });
    expect(accounts.get(current)?.status).toBe('deactivated');
    expect(published.map((event) => event.detailType)).toEqual(['ACME Account Updated']);
  });

  it('repeats a recorded deactivation without a request to the account, and refuses issuance afterwards', async () => {
    const { deps, transport } = await setup((_previous, key) => ({
      [key]: { directoryUrl: DIRECTORY_URL, accountUrl: ACCOUNT, status: 'deactivated' },
    }));
    // No request at all: the registry answers both.

    await expect(
      manageAccount({ action: 'deactivate-account', accountUrl: ACCOUNT }, deps),
    ).resolves.toMatchObject({
      changed: false,
    });
    await expect(
      manageAccount({ action: 'update-account', contact: ['ops@example.org'] }, deps),
    ).rejects.toThrow(AccountDeactivatedError);
    expect(transport.requests).toEqual([]);
  });
});
