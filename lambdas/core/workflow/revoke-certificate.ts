import { parsePem } from '../crypto/pem.js';
import { AlreadyRevokedError } from '../errors.js';
import type { IssuanceState } from '../state.js';
import { carryNonce, resumeAcmeClient, type StepDeps } from './deps.js';

/**
 * RevokeCertificate: revokes the certificate RegisterAccount put in the state (RFC 8555 §7.6,
 * signed by the account key, with the RFC 5280 reason code), then makes the certificate due at
 * once, so the same execution goes on to order its replacement as a `renew`, and ImportToAcm puts
 * the replacement into the same ACM ARNs. A certificate the CA had already revoked counts as
 * revoked, so a retried step succeeds. The registry forgets the revoked certificate (`issued`),
 * so no later run can import it again.
 */
export async function revokeCertificate(
  state: IssuanceState,
  deps: Pick<StepDeps, 'transport' | 'signer' | 'store' | 'registry' | 'clock' | 'log'>,
): Promise<IssuanceState> {
  const certificate = state.certificate;
  if (state.action !== 'revoke' || !certificate) {
    throw new Error('The state has no certificate to revoke: RegisterAccount must run first.');
  }
  const reason = state.revokeReason ?? 0;
  const fullchainPem = await deps.store.get(`${certificate.storeKey}/fullchain.pem`);
  if (!fullchainPem) {
    throw new Error(
      `The certificate ${certificate.storeKey}/fullchain.pem is missing from the certificate store.`,
    );
  }
  // RFC 8555 §7.4.2: the chain starts with the end-entity certificate.
  const leaf = parsePem(fullchainPem).find((block) => block.label === 'CERTIFICATE');
  if (!leaf) {
    throw new Error(`${certificate.storeKey}/fullchain.pem holds no certificate.`);
  }

  const client = resumeAcmeClient(state, deps);
  try {
    await client.revokeCertificate(leaf.der, reason);
    deps.log.info('Revoked the certificate', { serial: certificate.serial, reason });
  } catch (error) {
    if (!(error instanceof AlreadyRevokedError)) throw error;
    deps.log.info('The CA had already revoked the certificate', { serial: certificate.serial });
  }
  await deps.registry.update(state.certificateId, {
    status: 'revoked',
    issued: null,
    nextRenewalAt: deps.clock.now().toISOString(),
    nextAttemptAt: null,
  });

  const { certificate: _revoked, revokeReason: _reason, ...rest } = state;
  return {
    ...rest,
    action: 'renew',
    revoked: { serial: certificate.serial, reason },
    ...carryNonce(client),
  };
}
