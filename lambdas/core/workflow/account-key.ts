import { AcmeClient } from '../acme/client.js';
import { jwkThumbprint } from '../acme/key-authorization.js';
import type { AcmeDirectory } from '../acme/types.js';
import {
  AccountDeactivatedError,
  AccountKeyInUseError,
  InvalidInputError,
  UnauthorizedError,
} from '../errors.js';
import type { AccountRecord } from '../ports.js';
import type { StepDeps } from './deps.js';

/**
 * The account this deployment's key holds at one CA, and the rollover that moves it from the
 * previous `accountKeyGeneration`'s key to the current one (RFC 8555 §7.3.5). Shared by
 * RegisterAccount, which rolls over on the first run after a new key is deployed, and
 * ManageAccount, which does it on demand.
 */

type AccountDeps = Pick<StepDeps, 'transport' | 'signer' | 'previousSigner' | 'registry' | 'clock' | 'log'>;

/** The current key's account record, after refusing one that can no longer sign. */
export async function recordedAccount(
  deps: Pick<StepDeps, 'registry'>,
  directoryUrl: string,
  thumbprint: string,
): Promise<AccountRecord | undefined> {
  const recorded = await deps.registry.getAccount(directoryUrl, thumbprint);
  if (recorded?.status === 'deactivated') {
    throw new AccountDeactivatedError(
      `The ACME account ${recorded.accountUrl} at ${directoryUrl} was deactivated${recorded.updatedAt ? ` at ${recorded.updatedAt}` : ''}, and deactivation is permanent: the CA refuses every request from it. To issue again, raise accountKeyGeneration in the stack and deploy; the new key registers a new account.`,
    );
  }
  if (recorded?.status === 'rolled-over') {
    throw new InvalidInputError(
      `The ACME account ${recorded.accountUrl} at ${directoryUrl} was rolled over from this account key to the key with thumbprint ${recorded.rolledOverTo ?? 'unknown'}, so this key no longer signs for it. Deploy the accountKeyGeneration that holds that key.`,
    );
  }
  return recorded;
}

/** What a rollover did. */
export interface Rollover {
  readonly accountUrl: string;
  /** The client, now signing with the current key, so the caller carries its nonce on. */
  readonly client: AcmeClient;
  /** False when the CA already had the account on the current key (a retried or concurrent rollover). */
  readonly changed: boolean;
}

/**
 * Moves the account of `previousSigner` at `directoryUrl` to `signer` with `keyChange`, when the
 * previous key has a live account there; `undefined` when it has none (nothing to move: the
 * current key registers a new account) or when its account was deactivated.
 *
 * Safe to repeat and to race: when `keyChange` fails, the current key is looked up, and an account
 * already on it with the same URL (moved by an earlier attempt that crashed before recording it,
 * or by a concurrent execution) counts as done. The current key's record is written before the
 * previous key's is marked `rolled-over`, so the registry never lacks a usable record.
 */
export async function rollOverAccountKey(
  deps: AccountDeps,
  directoryUrl: string,
  directory: AcmeDirectory,
  currentThumbprint: string,
): Promise<Rollover | undefined> {
  const previousSigner = deps.previousSigner;
  if (!previousSigner) return undefined;
  const previousThumbprint = await jwkThumbprint(await previousSigner.publicJwk());
  if (previousThumbprint === currentThumbprint) return undefined;
  const previous = await deps.registry.getAccount(directoryUrl, previousThumbprint);
  if (previous?.status === 'deactivated' || previous?.status === 'rolled-over') return undefined;

  const oldKey = new AcmeClient({
    directoryUrl,
    directory,
    transport: deps.transport,
    signer: previousSigner,
    ...(previous ? { accountUrl: previous.accountUrl } : {}),
  });
  const accountUrl = previous?.accountUrl ?? (await liveAccountOf(oldKey));
  if (!accountUrl) return undefined;

  let changed = true;
  let signingClient = oldKey;
  try {
    await oldKey.changeKey(deps.signer);
  } catch (error) {
    // The client has already asked the CA which account holds the new key, and it is another one.
    if (error instanceof AccountKeyInUseError) throw error;
    const current = new AcmeClient({
      directoryUrl,
      directory,
      transport: deps.transport,
      signer: deps.signer,
      ...(oldKey.nonce ? { nonce: oldKey.nonce } : {}),
    });
    if ((await liveAccountOf(current)) !== accountUrl) throw error;
    deps.log.info('The account was already on the new key', { accountUrl });
    changed = false;
    signingClient = current;
  }

  const updatedAt = deps.clock.now().toISOString();
  await deps.registry.putAccount(currentThumbprint, {
    directoryUrl,
    accountUrl,
    status: 'valid',
    ...(previous?.contact ? { contact: previous.contact } : {}),
    updatedAt,
  });
  await deps.registry.putAccount(previousThumbprint, {
    directoryUrl,
    accountUrl,
    status: 'rolled-over',
    rolledOverTo: currentThumbprint,
    updatedAt,
  });
  deps.log.info('Rolled the ACME account over to the new account key', {
    accountUrl,
    previousKeyThumbprint: previousThumbprint,
    keyThumbprint: currentThumbprint,
    changed,
  });
  return { accountUrl, client: signingClient, changed };
}

/**
 * The account a key holds, or `undefined` when it holds none or only a deactivated one: CAs
 * answer a lookup by a deactivated account's key with `unauthorized` (RFC 8555 §7.3.6).
 */
async function liveAccountOf(client: AcmeClient): Promise<string | undefined> {
  try {
    return await client.findAccount();
  } catch (error) {
    if (error instanceof UnauthorizedError) return undefined;
    throw error;
  }
}
