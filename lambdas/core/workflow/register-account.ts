import { AcmeClient } from '../acme/client.js';
import { jwkThumbprint } from '../acme/key-authorization.js';
import type { IssuanceState } from '../state.js';
import { carryNonce, type StepDeps } from './deps.js';
import { parseIssuanceInput } from './input.js';

/**
 * RegisterAccount: validates the input, takes the certificate's lock (a second execution for the
 * same certificate ends here, changing nothing), then makes sure the CA knows our KMS-held key.
 * A recorded account URL costs no account request; otherwise one `newAccount` registers the key
 * or returns the account the CA already holds for it.
 */
export async function registerAccount(
  raw: unknown,
  deps: Pick<StepDeps, 'transport' | 'signer' | 'registry' | 'clock' | 'config' | 'log'>,
): Promise<IssuanceState> {
  const state = parseIssuanceInput(raw, deps.config);
  if (state.execution) {
    const acquired = await deps.registry.acquireLock(
      state.certificateId,
      state.execution.id,
      deps.clock.now(),
      deps.config.lockTtlSeconds,
    );
    if (!acquired) {
      deps.log.warn('Another execution is working on this certificate; ending without changes');
      return { ...state, skipped: 'Another execution holds the lock for this certificate.' };
    }
  }
  const client = new AcmeClient({
    directoryUrl: state.directoryUrl,
    transport: deps.transport,
    signer: deps.signer,
  });
  const directory = await client.directory();

  const thumbprint = await jwkThumbprint(await deps.signer.publicJwk());
  const recorded = await deps.registry.getAccount(state.directoryUrl, thumbprint);
  if (recorded) {
    deps.log.info('Using the recorded ACME account', { accountUrl: recorded.accountUrl });
    return { ...state, directory, accountUrl: recorded.accountUrl, ...carryNonce(client) };
  }

  // newAccount with a key the CA already knows returns that account (RFC 8555 §7.3.1), so one
  // request is enough. Where creating needs external account binding, look the key up first so
  // an existing account is found without it.
  let accountUrl = directory.meta?.externalAccountRequired ? await client.findAccount() : undefined;
  if (accountUrl) {
    deps.log.info('Found the existing ACME account for this key', { accountUrl });
  } else {
    const contact = deps.config.contactEmail ? [`mailto:${deps.config.contactEmail}`] : undefined;
    const created = await client.createAccount({
      termsOfServiceAgreed: true,
      ...(contact ? { contact } : {}),
    });
    accountUrl = created.url;
    deps.log.info('Registered the ACME account', { accountUrl, status: created.account.status });
  }
  await deps.registry.putAccount(thumbprint, { directoryUrl: state.directoryUrl, accountUrl });
  return { ...state, directory, accountUrl, ...carryNonce(client) };
}
