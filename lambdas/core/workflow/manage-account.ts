import { AcmeClient } from '../acme/client.js';
import { jwkThumbprint } from '../acme/key-authorization.js';
import { InvalidInputError, UnauthorizedError } from '../errors.js';
import { recordedAccount, rollOverAccountKey } from './account-key.js';
import type { StepDeps } from './deps.js';
import { type AccountAction, parseAccountRequest } from './input.js';

/** EventBridge detail type of every account action's outcome. */
export const EVENT_ACCOUNT_UPDATED = 'ACME Account Updated';

/** What an account action did; the execution's output and the event's detail. */
export interface AccountOutcome {
  readonly action: AccountAction;
  readonly directoryUrl: string;
  readonly accountUrl: string;
  readonly status: 'valid' | 'deactivated';
  /** RFC 7638 thumbprint of the account key that now signs for the account (public). */
  readonly keyThumbprint: string;
  readonly contact?: readonly string[];
  /** False when the account already was as asked (a repeated action), so nothing was sent. */
  readonly changed: boolean;
}

type ManageAccountDeps = Pick<
  StepDeps,
  'transport' | 'signer' | 'previousSigner' | 'registry' | 'events' | 'clock' | 'config' | 'log'
>;

/**
 * ManageAccount: runs an account action on demand, for the account this deployment holds at one
 * CA (the default directory unless `directoryUrl` names another).
 * - `rollover-account-key` moves the account to the current `accountKeyGeneration`'s key with
 *   `keyChange`, signed by the previous key (RFC 8555 §7.3.5);
 * - `update-account` replaces the account's contact (§7.3.2);
 * - `deactivate-account` deactivates it (§7.3.6), permanently, once the operator names it.
 * Input is checked before any call. Each outcome is recorded in the registry and published as an
 * `ACME Account Updated` event; repeating an action that is already done changes nothing.
 */
export async function manageAccount(raw: unknown, deps: ManageAccountDeps): Promise<AccountOutcome> {
  const request = parseAccountRequest(raw, deps.config);
  const { directoryUrl } = request;
  // The directory is fetched only once the registry cannot answer alone: a repeated action is free.
  const client = new AcmeClient({ directoryUrl, transport: deps.transport, signer: deps.signer });
  const keyThumbprint = await jwkThumbprint(await deps.signer.publicJwk());

  let outcome: AccountOutcome;
  const existing =
    request.action === 'deactivate-account'
      ? await deps.registry.getAccount(directoryUrl, keyThumbprint)
      : undefined;
  if (existing?.status === 'deactivated' && existing.accountUrl === request.accountUrl) {
    deps.log.info('The account was already deactivated', { accountUrl: existing.accountUrl });
    outcome = {
      action: request.action,
      directoryUrl,
      accountUrl: existing.accountUrl,
      status: 'deactivated',
      keyThumbprint,
      changed: false,
    };
  } else if (request.action === 'rollover-account-key') {
    outcome = await rollOver(deps, client, directoryUrl, keyThumbprint);
  } else {
    const account = await currentAccount(deps, client, directoryUrl, keyThumbprint);
    if (request.action === 'update-account') {
      const contact = request.contact ?? [];
      const updated = await account.client.updateAccount({ contact });
      await deps.registry.putAccount(keyThumbprint, {
        directoryUrl,
        accountUrl: account.accountUrl,
        status: 'valid',
        contact: updated.contact ?? contact,
        updatedAt: deps.clock.now().toISOString(),
      });
      deps.log.info('Updated the ACME account contact', {
        accountUrl: account.accountUrl,
        contacts: contact.length,
      });
      outcome = {
        action: request.action,
        directoryUrl,
        accountUrl: account.accountUrl,
        status: 'valid',
        keyThumbprint,
        contact: updated.contact ?? contact,
        changed: true,
      };
    } else {
      if (request.accountUrl !== account.accountUrl) {
        throw new InvalidInputError(
          `accountUrl ${request.accountUrl} is not the account this deployment holds at ${directoryUrl} (${account.accountUrl}); nothing was deactivated. Pass that URL to confirm.`,
        );
      }
      let changed = true;
      try {
        await account.client.deactivateAccount();
      } catch (error) {
        // Our own key, on our own account URL: `unauthorized` means the CA already deactivated it
        // (an earlier attempt that crashed before recording it), as RFC 8555 §7.3.6 prescribes.
        if (!(error instanceof UnauthorizedError)) throw error;
        changed = false;
      }
      await deps.registry.putAccount(keyThumbprint, {
        directoryUrl,
        accountUrl: account.accountUrl,
        status: 'deactivated',
        updatedAt: deps.clock.now().toISOString(),
      });
      deps.log.warn('Deactivated the ACME account; this deployment cannot issue from it again', {
        accountUrl: account.accountUrl,
      });
      outcome = {
        action: request.action,
        directoryUrl,
        accountUrl: account.accountUrl,
        status: 'deactivated',
        keyThumbprint,
        changed,
      };
    }
  }
  await deps.events.publish({
    detailType: EVENT_ACCOUNT_UPDATED,
    detail: { ...outcome, ...(request.execution ? { executionId: request.execution.id } : {}) },
  });
  return outcome;
}

async function rollOver(
  deps: ManageAccountDeps,
  client: AcmeClient,
  directoryUrl: string,
  keyThumbprint: string,
): Promise<AccountOutcome> {
  const recorded = await recordedAccount(deps, directoryUrl, keyThumbprint);
  if (recorded) {
    deps.log.info('The account already uses the current account key', { accountUrl: recorded.accountUrl });
    return {
      action: 'rollover-account-key',
      directoryUrl,
      accountUrl: recorded.accountUrl,
      status: 'valid',
      keyThumbprint,
      ...(recorded.contact ? { contact: recorded.contact } : {}),
      changed: false,
    };
  }
  if (!deps.previousSigner) {
    throw new InvalidInputError(
      'There is no previous account key to roll over from. Raise accountKeyGeneration in the stack and deploy: the deployment then holds a new KMS key beside the current one, and this action moves the account to it.',
    );
  }
  const rollover = await rollOverAccountKey(deps, directoryUrl, await client.directory(), keyThumbprint);
  if (!rollover) {
    throw new InvalidInputError(
      `The previous account key has no live account at ${directoryUrl}, so there is nothing to roll over; the next issuance registers the current key.`,
    );
  }
  return {
    action: 'rollover-account-key',
    directoryUrl,
    accountUrl: rollover.accountUrl,
    status: 'valid',
    keyThumbprint,
    changed: rollover.changed,
  };
}

/**
 * The account the current key signs for: recorded, or moved to it by a pending rollover, or
 * found at the CA. An account action never creates an account.
 */
async function currentAccount(
  deps: ManageAccountDeps,
  client: AcmeClient,
  directoryUrl: string,
  keyThumbprint: string,
): Promise<{ accountUrl: string; client: AcmeClient }> {
  const recorded = await recordedAccount(deps, directoryUrl, keyThumbprint);
  const directory = await client.directory();
  if (recorded) {
    return {
      accountUrl: recorded.accountUrl,
      client: new AcmeClient({
        directoryUrl,
        directory,
        transport: deps.transport,
        signer: deps.signer,
        accountUrl: recorded.accountUrl,
        ...(client.nonce ? { nonce: client.nonce } : {}),
      }),
    };
  }
  const rollover = await rollOverAccountKey(deps, directoryUrl, directory, keyThumbprint);
  if (rollover) return { accountUrl: rollover.accountUrl, client: rollover.client };
  const found = await client.findAccount();
  if (!found) {
    throw new InvalidInputError(
      `This deployment's account key has no account at ${directoryUrl} yet; nothing to change. An issuance registers it.`,
    );
  }
  await deps.registry.putAccount(keyThumbprint, { directoryUrl, accountUrl: found });
  return { accountUrl: found, client };
}
