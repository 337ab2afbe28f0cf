import { KMSClient } from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { NodeHttpsTransport } from '../../lambdas/adapters/https-transport.js';
import { KmsSigner } from '../../lambdas/adapters/kms-signer.js';
import { AcmeClient } from '../../lambdas/core/acme/client.js';
import { jwkThumbprint } from '../../lambdas/core/acme/key-authorization.js';
import { usePebbleWorkflow } from '../harness/e2e-fixture.js';
import { accountKeyIdOf } from '../harness/local-issuance.js';

interface AccountItem {
  readonly accountUrl?: string;
  readonly status?: string;
  readonly contact?: string[];
  readonly rolledOverTo?: string;
}

interface AccountOutput {
  readonly action: string;
  readonly accountUrl: string;
  readonly status: string;
  readonly keyThumbprint: string;
  readonly contact?: string[];
  readonly changed: boolean;
}

/**
 * Account actions through the synthesized state machine against Pebble: key rollover to a new
 * KMS key (`keyChange`), contact update and deactivation, with the account keys in the KMS fake.
 * A new key comes as it does on AWS: the stack is deployed again with `accountKeyGeneration`
 * raised, which adds the new generation's key and keeps the previous one beside it.
 * Pebble itself is asked which key holds which account.
 */
describe('account actions through the synthesized state machine against Pebble', () => {
  const e2e = usePebbleWorkflow();

  /** A client for one KMS key, talking to Pebble directly, to ask which account the key holds. */
  function clientFor(keyId: string, accountUrl?: string): AcmeClient {
    return new AcmeClient({
      directoryUrl: e2e.pebble.directoryUrl,
      transport: new NodeHttpsTransport({ caPem: e2e.pebble.caBundlePem }),
      signer: new KmsSigner({ client: new KMSClient({ region: 'us-east-1' }), keyId }),
      ...(accountUrl ? { accountUrl } : {}),
    });
  }

  async function accountItems(): Promise<AccountItem[]> {
    return (await e2e.registryItems<AccountItem>()).filter((item) => item.accountUrl !== undefined);
  }

  /**
   * Deploys the stack again with account key generation 2, as an operator raising
   * `accountKeyGeneration` would; returns the new key and the one it replaces.
   */
  async function deployGeneration2(): Promise<{ newKey: string; previousKey: string }> {
    const previousKey = accountKeyIdOf(e2e.stack);
    await e2e.redeploy({ acme: { accountKeyGeneration: 2 } });
    const newKey = accountKeyIdOf(e2e.stack);
    // The deployment keeps generation 1's key beside the new one, for the rollover only.
    expect(newKey).not.toBe(previousKey);
    expect(e2e.stack.environmentOf('manage-account').PREVIOUS_ACCOUNT_KEY_ID).toBe(previousKey);
    expect(e2e.stack.environmentOf('register-account').PREVIOUS_ACCOUNT_KEY_ID).toBe(previousKey);
    return { newKey, previousKey };
  }

  async function issueFirst(domains: string[]): Promise<string> {
    const first = await e2e.run({ certificateId: 'web', domains });
    expect(first.execution.status).toBe('SUCCEEDED');
    return (first.execution.output as { accountUrl: string }).accountUrl;
  }

  it('rolls the account over to a new KMS key on demand, and the account keeps its URL', async () => {
    const domains = ['rollover.example.org'];
    const aws = await e2e.install(domains);
    const accountUrl = await issueFirst(domains);
    const { newKey, previousKey } = await deployGeneration2();

    const rollover = await e2e.run({ action: 'rollover-account-key' });

    expect(rollover.execution.status).toBe('SUCCEEDED');
    const output = rollover.execution.output as AccountOutput;
    expect(output).toMatchObject({
      action: 'rollover-account-key',
      accountUrl,
      status: 'valid',
      changed: true,
    });
    expect(rollover.acmeResponsesByStatus['POST /rollover-account-key 200']).toBe(1);
    // The CA now knows the account by the new key only.
    expect(await clientFor(newKey).findAccount()).toBe(accountUrl);
    expect(await clientFor(previousKey).findAccount()).toBeUndefined();
    const newThumbprint = await jwkThumbprint(
      await new KmsSigner({ client: new KMSClient({}), keyId: newKey }).publicJwk(),
    );
    expect(output.keyThumbprint).toBe(newThumbprint);
    const accounts = await accountItems();
    expect(accounts.map((item) => item.status).sort()).toEqual(['rolled-over', 'valid']);
    expect(accounts.find((item) => item.status === 'rolled-over')?.rolledOverTo).toBe(newThumbprint);
    expect(aws.eventBridge.events.map((event) => event.detailType)).toContain('ACME Account Updated');

    // Renewals go on with the new key, from the same account, without registering again.
    const renewal = await e2e.run({ action: 'renew', certificateId: 'web', force: true });
    expect(renewal.execution.status).toBe('SUCCEEDED');
    expect((renewal.execution.output as { accountUrl: string }).accountUrl).toBe(accountUrl);
    expect(renewal.acmeRequestsByPath['POST /sign-me-up']).toBeUndefined();

    // Asking again changes nothing and sends no keyChange.
    const again = await e2e.run({ action: 'rollover-account-key' });
    expect(again.execution.status).toBe('SUCCEEDED');
    expect(again.execution.output).toMatchObject({ accountUrl, changed: false });
    expect(again.acmeRequestsByPath['POST /rollover-account-key']).toBeUndefined();
  });

  it('rolls over on the first issuance after a new account key generation is deployed', async () => {
    const domains = ['auto-rollover.example.org'];
    await e2e.install(domains);
    const accountUrl = await issueFirst(domains);
    const { newKey } = await deployGeneration2();

    const renewal = await e2e.run({ action: 'renew', certificateId: 'web', force: true });

    expect(renewal.execution.status).toBe('SUCCEEDED');
    expect((renewal.execution.output as { accountUrl: string }).accountUrl).toBe(accountUrl);
    expect(renewal.acmeResponsesByStatus['POST /rollover-account-key 200']).toBe(1);
    expect(renewal.acmeRequestsByPath['POST /sign-me-up']).toBeUndefined();
    expect(await clientFor(newKey).findAccount()).toBe(accountUrl);
  });

  it('completes a rollover the CA already made but the registry never recorded, without a second keyChange succeeding', async () => {
    const domains = ['half-rollover.example.org'];
    await e2e.install(domains);
    const accountUrl = await issueFirst(domains);
    const { newKey, previousKey } = await deployGeneration2();
    // The CA moved the account, then the Lambda died before writing the registry.
    const direct = clientFor(previousKey, accountUrl);
    await direct.changeKey(new KmsSigner({ client: new KMSClient({}), keyId: newKey }));

    const rollover = await e2e.run({ action: 'rollover-account-key' });

    expect(rollover.execution.status).toBe('SUCCEEDED');
    expect(rollover.execution.output).toMatchObject({ accountUrl, status: 'valid', changed: false });
    expect(rollover.acmeResponsesByStatus['POST /rollover-account-key 200']).toBeUndefined();
    expect((await accountItems()).map((item) => item.status).sort()).toEqual(['rolled-over', 'valid']);
  });

  it('retries KMS throttling during a rollover and moves the account exactly once', async () => {
    const domains = ['throttled-rollover.example.org'];
    const aws = await e2e.install(domains);
    const accountUrl = await issueFirst(domains);
    const { newKey } = await deployGeneration2();
    aws.kms.failNext('Sign', 'ThrottlingException', 2);

    const rollover = await e2e.run({ action: 'rollover-account-key' });

    expect(rollover.execution.status).toBe('SUCCEEDED');
    expect(rollover.execution.output).toMatchObject({ accountUrl, changed: true });
    expect(rollover.acmeResponsesByStatus['POST /rollover-account-key 200']).toBe(1);
    expect(await clientFor(newKey).findAccount()).toBe(accountUrl);
  });

  it('explains that a rollover needs a new key generation when there is no previous key', async () => {
    // Generation 1 has no previous key, and its key has no account yet: there is nothing to roll
    // over from, and the operator learns how to get a key to roll over to.
    await e2e.install(['no-previous.example.org']);
    expect(e2e.stack.environmentOf('manage-account').PREVIOUS_ACCOUNT_KEY_ID).toBeUndefined();

    const run = await e2e.run({ action: 'rollover-account-key' });

    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error?.name).toBe('InvalidInputError');
    expect(run.execution.error?.cause).toContain('Raise accountKeyGeneration in the stack and deploy');
    expect(run.acmeRequestsByPath['POST /rollover-account-key']).toBeUndefined();
  });

  it('updates the account contact at the CA, and refuses a bad address before any request', async () => {
    const domains = ['contact.example.org'];
    await e2e.install(domains);
    const accountUrl = await issueFirst(domains);

    const bad = await e2e.run({ action: 'update-account', contact: ['ops at example.org'] });
    expect(bad.execution.status).toBe('FAILED');
    expect(bad.execution.error?.name).toBe('InvalidInputError');
    expect(bad.execution.error?.cause).toContain('ops at example.org');
    expect(bad.acmeRequests).toBe(0);

    const run = await e2e.run({
      action: 'update-account',
      contact: ['ops@example.org', 'mailto:security@example.org'],
    });

    expect(run.execution.status).toBe('SUCCEEDED');
    expect(run.execution.output).toMatchObject({
      accountUrl,
      contact: ['mailto:ops@example.org', 'mailto:security@example.org'],
      changed: true,
    });
    const atCa = await clientFor(accountKeyIdOf(e2e.stack), accountUrl).getAccount();
    expect(atCa.contact).toEqual(['mailto:ops@example.org', 'mailto:security@example.org']);
    expect((await accountItems())[0]?.contact).toEqual([
      'mailto:ops@example.org',
      'mailto:security@example.org',
    ]);
  });

  it('deactivates only the account the operator names, then stops issuance until a new key generation', async () => {
    const domains = ['deactivate.example.org'];
    await e2e.install(domains);
    const accountUrl = await issueFirst(domains);

    const unconfirmed = await e2e.run({ action: 'deactivate-account' });
    expect(unconfirmed.execution.status).toBe('FAILED');
    expect(unconfirmed.execution.error?.cause).toContain('deactivate-account is permanent');
    expect(unconfirmed.acmeRequests).toBe(0);

    const wrong = await e2e.run({ action: 'deactivate-account', accountUrl: `${accountUrl}0` });
    expect(wrong.execution.status).toBe('FAILED');
    expect(wrong.execution.error?.cause).toContain('nothing was deactivated');
    expect((await clientFor(accountKeyIdOf(e2e.stack), accountUrl).getAccount()).status).toBe('valid');

    const run = await e2e.run({ action: 'deactivate-account', accountUrl });
    expect(run.execution.status).toBe('SUCCEEDED');
    expect(run.execution.output).toMatchObject({ accountUrl, status: 'deactivated', changed: true });

    const blocked = await e2e.run({ action: 'renew', certificateId: 'web', force: true });
    expect(blocked.execution.status).toBe('FAILED');
    expect(blocked.execution.error?.name).toBe('AccountDeactivatedError');
    expect(blocked.execution.error?.cause).toContain('raise accountKeyGeneration');
    expect(Object.keys(blocked.acmeRequestsByPath).filter((path) => path.startsWith('POST'))).toEqual([]);

    // A new key generation registers a new account; the deactivated one is not rolled over.
    await deployGeneration2();
    const fresh = await e2e.run({ action: 'renew', certificateId: 'web', force: true });
    expect(fresh.execution.status).toBe('SUCCEEDED');
    const freshAccount = (fresh.execution.output as { accountUrl: string }).accountUrl;
    expect(freshAccount).not.toBe(accountUrl);
    expect(fresh.acmeRequestsByPath['POST /rollover-account-key']).toBeUndefined();
  });
});
