import { AcmeClient } from '../acme/client.js';
import { jwkThumbprint } from '../acme/key-authorization.js';
import { REVOCATION_REASONS } from '../acme/revocation-reasons.js';
import { ExternalAccountRequiredError, InvalidInputError } from '../errors.js';
import type { CertificateAuthorityEntry } from '../ports.js';
import { renewalDecision } from '../renewal/due.js';
import type { IssuanceState, KeyType } from '../state.js';
import { recordedAccount, rollOverAccountKey } from './account-key.js';
import { caFallbackState, caUnreachable, certificateAuthoritiesFor } from './ca-fallback.js';
import { carryNonce, type StepDeps } from './deps.js';
import { directoryForRun } from './directory-cache.js';
import { parseIssuanceRequest } from './input.js';

/**
 * RegisterAccount: validates the whole request before anything is written, then takes the
 * certificate's lock (a second execution for the same certificate ends here, changing nothing). A
 * `renew` reads the configuration from the registry and, unless forced, ends without changes when
 * the certificate is not due; an `issue` records the declared configuration once the CA's
 * directory has answered and offers its profile, so a request the CA cannot serve never replaces
 * the configuration later renewals use. A `revoke` needs the registry to hold an issued certificate,
 * which it puts in the state for RevokeCertificate. Then it makes sure the CA knows our KMS-held key: a recorded
 * account URL costs no account request; otherwise one `newAccount` registers the key or returns
 * the account the CA already holds for it. Where an external account binding is configured or the
 * CA requires one, the key is looked up first (`onlyReturnExisting`); the binding's MAC key is read
 * only when an account is really created, and a CA that requires a binding this deployment lacks
 * fails with `ExternalAccountRequiredError` before any account is created.
 *
 * The directory comes from the registry when an earlier run kept it (`directoryForRun`: less than
 * a day old, and not suspect after a failure), so a run with a recorded account sends the CA
 * nothing here; otherwise it is fetched and kept.
 */
export async function registerAccount(
  raw: unknown,
  deps: Pick<
    StepDeps,
    | 'transport'
    | 'signer'
    | 'previousSigner'
    | 'registry'
    | 'clock'
    | 'config'
    | 'log'
    | 'externalAccountBinding'
    | 'externalAccountBindingFor'
  >,
): Promise<IssuanceState> {
  const request = parseIssuanceRequest(raw, deps.config);
  const { certificateId } = request;
  const record = await deps.registry.get(certificateId);
  const config = request.config ?? record?.config;
  if (!config) {
    throw new InvalidInputError(
      `There is no certificate "${certificateId}" in the registry to ${request.action === 'revoke' ? 'revoke' : 'renew'}. Declare it in the stack's certificates, or start {"action":"issue","certificateId":"${certificateId}","domains":[...]}.`,
    );
  }
  const keptKmsKey = record?.config?.kmsKeyArn;
  const requestedKmsKey = request.config?.kmsKeyArn;
  // Only the key the deployment declared for this certificate is in the Finalize role's policy:
  // any other would fail at KMS after the order was placed.
  if (requestedKmsKey && requestedKmsKey !== keptKmsKey) {
    throw new InvalidInputError(
      keptKmsKey
        ? `kmsKeyArn ${requestedKmsKey} is not the KMS key the stack declares for certificate "${certificateId}" (${keptKmsKey}). Use that key, or declare the certificate with another kmsKey in the stack's certificates and deploy.`
        : `kmsKeyArn ${requestedKmsKey} cannot be used for certificate "${certificateId}": the stack declares no KMS key for it. Declare the certificate with kmsKey in the stack's certificates and deploy; the Finalize step may only sign with keys declared there.`,
    );
  }
  if (request.config && keptKmsKey && !request.config.kmsKeyArn) {
    throw new InvalidInputError(
      `Certificate "${certificateId}" uses the KMS key ${keptKmsKey} as its key, and this issue names none, which would switch it to a generated key imported into ACM. To keep the KMS key, add "kmsKeyArn":"${keptKmsKey}" (or renew instead); to switch, remove kmsKey from its declaration in the stack and deploy.`,
    );
  }
  const issued = record?.issued;
  if (request.action === 'revoke' && !issued) {
    throw new InvalidInputError(
      `Certificate "${certificateId}" has no issued certificate in the registry to revoke${record?.status === 'revoked' ? ' (its last one was revoked already; the replacement was not issued yet)' : ''}: start {"action":"renew","certificateId":"${certificateId}","force":true} to issue one.`,
    );
  }
  if (
    request.action === 'revoke' &&
    request.revokeReason === REVOCATION_REASONS.keyCompromise &&
    issued?.kmsKeyArn !== undefined &&
    issued.kmsKeyArn === config.kmsKeyArn
  ) {
    throw new InvalidInputError(
      `Certificate "${certificateId}" uses the KMS key ${issued.kmsKeyArn}, and a keyCompromise revocation is followed by a replacement: that replacement must not use the compromised key. Declare the certificate with a new kmsKey and deploy first (the next run issues with it), then revoke the old certificate with keyCompromise; or revoke with another reason.`,
    );
  }
  const state: IssuanceState = {
    certificateId,
    action: request.action,
    ...(request.action === 'revoke' && issued
      ? {
          revokeReason: request.revokeReason ?? 0,
          certificate: { storeKey: issued.storeKey, serial: issued.serial, notAfter: issued.notAfter },
        }
      : {}),
    domains: config.domains,
    keyType: config.keyType as KeyType,
    regions: config.regions.length > 0 ? config.regions : [deps.config.defaultRegion],
    ...(config.hostedZoneIds ? { hostedZoneIds: config.hostedZoneIds } : {}),
    ...(config.zoneRoles ? { zoneRoles: config.zoneRoles } : {}),
    ...(config.profile ? { profile: config.profile } : {}),
    ...(config.preferredChain ? { preferredChain: config.preferredChain } : {}),
    ...(config.challenge ? { challenge: config.challenge } : {}),
    ...(config.externalDns ? { externalDns: true } : {}),
    ...(config.pinCaa ? { pinCaa: true } : {}),
    ...(config.kmsKeyArn ? { kmsKeyArn: config.kmsKeyArn } : {}),
    directoryUrl: config.directoryUrl ?? deps.config.defaultDirectoryUrl,
    ...(request.execution ? { execution: request.execution } : {}),
    retryAfterSeconds: 0,
    polls: 0,
  };
  const now = deps.clock.now();
  if (request.execution) {
    // Counted from the execution's start, so the lock expires when the execution times out.
    const startedAt = request.execution.startedAt ? Date.parse(request.execution.startedAt) : Number.NaN;
    const elapsedSeconds = Number.isNaN(startedAt) ? 0 : Math.max(0, (now.getTime() - startedAt) / 1000);
    const acquired = await deps.registry.acquireLock(
      certificateId,
      request.execution.id,
      now,
      Math.max(1, Math.ceil(deps.config.lockTtlSeconds - elapsedSeconds)),
    );
    if (!acquired) {
      deps.log.warn('Another execution is working on this certificate; ending without changes');
      return { ...state, skipped: 'Another execution holds the lock for this certificate.' };
    }
  }
  if (!request.force && record) {
    const decision = renewalDecision(record, now);
    if (!decision.due) {
      if (request.execution) await deps.registry.releaseLock(certificateId, request.execution.id);
      deps.log.info('Certificate is not due; ending without changes', { ...decision });
      return {
        ...state,
        skipped: `Not due (${decision.reason})${decision.nextCheckAt ? `; next renewal at ${decision.nextCheckAt}` : ''}. Use "force": true to renew now.`,
      };
    }
  }
  // Revocation goes to the CA that issued the certificate; anything else tries the list in order.
  const cas: readonly CertificateAuthorityEntry[] =
    request.action === 'revoke'
      ? [{ directoryUrl: issued?.directoryUrl ?? state.directoryUrl }]
      : certificateAuthoritiesFor(config, deps.config);
  let index = Math.min(request.caIndex ?? 0, cas.length - 1);
  for (;;) {
    const ca = cas[index] ?? { directoryUrl: state.directoryUrl };
    const profile = ca.profile ?? config.profile;
    const atCa: IssuanceState = {
      ...state,
      directoryUrl: ca.directoryUrl,
      ...(profile ? { profile } : {}),
    };
    const fallback = caFallbackState(index, cas.length, state.execution);
    try {
      const registered = await registerWithCa(atCa);
      return { ...registered, ...(fallback ? { caFallback: fallback } : {}) };
    } catch (error) {
      if (index + 1 >= cas.length || !caUnreachable(error)) throw error;
      deps.log.warn('The CA cannot be reached; trying the next CA in the list', {
        directoryUrl: ca.directoryUrl,
        next: cas[index + 1]?.directoryUrl,
        error: error.name,
        detail: error.message,
      });
      index += 1;
    }
  }

  /** Makes sure the CA at `state.directoryUrl` knows our key, and records an issue's configuration. */
  async function registerWithCa(state: IssuanceState): Promise<IssuanceState> {
    const directory = await directoryForRun(deps, state.directoryUrl, {
      ...(state.profile ? { profile: state.profile } : {}),
      ...(record?.lastError ? { lastError: record.lastError } : {}),
    });
    const client = new AcmeClient({
      directoryUrl: state.directoryUrl,
      transport: deps.transport,
      signer: deps.signer,
      directory,
    });
    // An `issue` replaces the recorded configuration, which every later renewal uses: only one the
    // CA can serve is recorded, so a bad request fails alone and leaves the next renewal working.
    if (request.config) {
      // The profile this run asks this CA for: the CA entry's own, else the certificate's.
      const profile = state.profile;
      if (profile !== undefined && !directory.meta?.profiles?.[profile]) {
        const offered = Object.keys(directory.meta?.profiles ?? {});
        throw new InvalidInputError(
          `The CA at ${state.directoryUrl} does not offer the profile "${profile}"; ${offered.length > 0 ? `it offers ${offered.join(', ')}` : 'it offers no profiles'}. Change the certificate's profile. The recorded configuration was left as it was.`,
        );
      }
      // The delivery targets come from the stack's declaration only; an issue keeps them.
      const delivery = record?.config?.delivery;
      await deps.registry.update(certificateId, {
        config: { ...request.config, ...(delivery ? { delivery } : {}) },
      });
    }
    const thumbprint = await jwkThumbprint(await deps.signer.publicJwk());
    const recorded = await recordedAccount(deps, state.directoryUrl, thumbprint);
    if (recorded) {
      deps.log.info('Using the recorded ACME account', { accountUrl: recorded.accountUrl });
      return { ...state, directory, accountUrl: recorded.accountUrl, ...carryNonce(client) };
    }
    // A new accountKeyGeneration was deployed: the account moves to the new key on its first run.
    const rollover = await rollOverAccountKey(deps, state.directoryUrl, directory, thumbprint);
    if (rollover) {
      return { ...state, directory, accountUrl: rollover.accountUrl, ...carryNonce(rollover.client) };
    }

    // newAccount with a key the CA already knows returns that account (RFC 8555 §7.3.1), so one
    // request is enough. Where creating needs external account binding, look the key up first so
    // an existing account is found without it, and a CA's single-use binding is not spent on it.
    // A binding belongs to one CA: the deployment's single one is its default CA's, never another's.
    const binding = deps.externalAccountBindingFor
      ? deps.externalAccountBindingFor(state.directoryUrl)
      : state.directoryUrl === deps.config.defaultDirectoryUrl
        ? deps.externalAccountBinding
        : undefined;
    const bindingRequired = directory.meta?.externalAccountRequired === true;
    let accountUrl = bindingRequired || binding ? await client.findAccount() : undefined;
    if (accountUrl) {
      deps.log.info('Found the existing ACME account for this key', { accountUrl });
    } else {
      if (bindingRequired && !binding) {
        throw new ExternalAccountRequiredError({
          type: 'urn:ietf:params:acme:error:externalAccountRequired',
          detail: `The CA at ${state.directoryUrl} creates accounts only with an external account binding (RFC 8555 §7.3.4), and this deployment has none. Store the key identifier and MAC key the CA gave you as {"kid":"...","hmacKey":"<base64url>"} in a Secrets Manager secret and set the construct's externalAccountBindingSecret to it.`,
        });
      }
      const externalAccountBinding = binding ? await binding.read() : undefined;
      const contact = deps.config.contactEmail ? [`mailto:${deps.config.contactEmail}`] : undefined;
      const created = await client.createAccount({
        termsOfServiceAgreed: true,
        ...(contact ? { contact } : {}),
        ...(externalAccountBinding ? { externalAccountBinding } : {}),
      });
      accountUrl = created.url;
      deps.log.info('Registered the ACME account', {
        accountUrl,
        status: created.account.status,
        externalAccountBinding: externalAccountBinding !== undefined,
      });
    }
    await deps.registry.putAccount(thumbprint, { directoryUrl: state.directoryUrl, accountUrl });
    return { ...state, directory, accountUrl, ...carryNonce(client) };
  }
}
