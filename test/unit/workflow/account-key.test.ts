import { describe, expect, it } from 'vitest';
import { jwkThumbprint } from '../../../lambdas/core/acme/key-authorization.js';
import { AccountDeactivatedError, MalformedError } from '../../../lambdas/core/errors.js';
import type { AccountRecord, EventPublisher, Signer } from '../../../lambdas/core/ports.js';
import { rollOverAccountKey } from '../../../lambdas/core/workflow/account-key.js';
import { manageAccount } from '../../../lambdas/core/workflow/manage-account.js';
import { ACCOUNT_URL, DIRECTORY as ACME_DIRECTORY, CA, DIRECTORY_URL } from '../../support/acme-fixtures.js';
import { problemReply, ScriptedTransport } from '../../support/scripted-transport.js';
import { createTestSigner } from '../../support/test-signer.js';
import { TEST_WORKFLOW_CONFIG } from '../../support/workflow-config.js';
import { SILENT_LOG } from '../../support/workflow-fixtures.js';
import { MemoryRegistry } from '../fakes/memory-registry.js';

const DIRECTORY = { ...ACME_DIRECTORY, keyChange: `${CA}/key-change` };
const NOW = new Date('2030-03-01T12:00:00Z');
const CONFIG = { ...TEST_WORKFLOW_CONFIG, defaultDirectoryUrl: DIRECTORY_URL };
const log = SILENT_LOG;
const thumbprintOf = async (signer: Signer) => jwkThumbprint(await signer.publicJwk());

async function setup(initial: (old: string, current: string) => Record<string, AccountRecord>) {
  const previousSigner = await createTestSigner();
  const signer = await createTestSigner();
  const [old, current] = [await thumbprintOf(previousSigner), await thumbprintOf(signer)];
  const registry = new MemoryRegistry();
  for (const [thumbprint, account] of Object.entries(initial(old, current))) {
    registry.accounts.set(thumbprint, account);
  }
  const accounts = registry.accounts;
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
      [previous]: {
        directoryUrl: DIRECTORY_URL,
        accountUrl: ACCOUNT_URL,
        contact: ['mailto:ops@example.org'],
      },
    }));
    transport.expect('HEAD', DIRECTORY.newNonce, { status: 200 });
    transport.expect('POST', `${CA}/key-change`, { status: 200 });

    const rollover = await rollOverAccountKey(deps, DIRECTORY_URL, DIRECTORY, current);

    expect(rollover).toMatchObject({ accountUrl: ACCOUNT_URL, changed: true });
    expect(accounts.get(current)).toMatchObject({
      accountUrl: ACCOUNT_URL,
      status: 'valid',
      contact: ['mailto:ops@example.org'],
    });
    expect(accounts.get(old)).toMatchObject({
      accountUrl: ACCOUNT_URL,
      status: 'rolled-over',
      rolledOverTo: current,
    });
    expect([...accounts.keys()]).toEqual([old, current]);
  });

  it('counts a keyChange the CA already applied as done when the new key finds the same account', async () => {
    const { deps, transport, accounts, current } = await setup((previous) => ({
      [previous]: { directoryUrl: DIRECTORY_URL, accountUrl: ACCOUNT_URL },
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
      headers: { location: ACCOUNT_URL },
      body: { status: 'valid' },
    });

    const rollover = await rollOverAccountKey(deps, DIRECTORY_URL, DIRECTORY, current);

    expect(rollover).toMatchObject({ accountUrl: ACCOUNT_URL, changed: false });
    expect(accounts.get(current)?.status).toBe('valid');
  });

  it('keeps the CA’s refusal when the new key does not hold the account, and records nothing', async () => {
    const { deps, transport, accounts, current } = await setup((previous) => ({
      [previous]: { directoryUrl: DIRECTORY_URL, accountUrl: ACCOUNT_URL },
    }));
    transport.expect('HEAD', DIRECTORY.newNonce, { status: 200 });
    transport.expect('POST', `${CA}/key-change`, problemReply('malformed'));
    transport.expect('POST', DIRECTORY.newAccount, problemReply('accountDoesNotExist'));

    await expect(rollOverAccountKey(deps, DIRECTORY_URL, DIRECTORY, current)).rejects.toThrow(MalformedError);
    expect(accounts.has(current)).toBe(false);
  });

  it('has nothing to move when the previous key’s account was deactivated, or the previous key has none', async () => {
    const deactivated = await setup((previous) => ({
      [previous]: { directoryUrl: DIRECTORY_URL, accountUrl: ACCOUNT_URL, status: 'deactivated' },
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
      [key]: { directoryUrl: DIRECTORY_URL, accountUrl: ACCOUNT_URL, status: 'valid' },
    }));
    transport.expect('GET', DIRECTORY_URL, { status: 200, body: DIRECTORY });
    // The directory's reply carries a nonce, so no newNonce request is needed.
    transport.expect(
      'POST',
      ACCOUNT_URL,
      problemReply('unauthorized', { status: 403, detail: 'Account has been deactivated' }),
    );

    const outcome = await manageAccount({ action: 'deactivate-account', accountUrl: ACCOUNT_URL }, deps);

    expect(outcome).toMatchObject({ status: 'deactivated', changed: false, accountUrl: ACCOUNT_URL });
    expect(accounts.get(current)?.status).toBe('deactivated');
    expect(published.map((event) => event.detailType)).toEqual(['ACME Account Updated']);
  });

  it('repeats a recorded deactivation without a request to the account, and refuses issuance afterwards', async () => {
    const { deps, transport } = await setup((_previous, key) => ({
      [key]: { directoryUrl: DIRECTORY_URL, accountUrl: ACCOUNT_URL, status: 'deactivated' },
    }));
    // No request at all: the registry answers both.

    await expect(
      manageAccount({ action: 'deactivate-account', accountUrl: ACCOUNT_URL }, deps),
    ).resolves.toMatchObject({
      changed: false,
    });
    await expect(
      manageAccount({ action: 'update-account', contact: ['ops@example.org'] }, deps),
    ).rejects.toThrow(AccountDeactivatedError);
    expect(transport.requests).toEqual([]);
  });
});
