import { base64url } from 'jose';
import { MAX_QUOTED_LENGTH, truncateText } from '../acme/bounds.js';
import type { AcmeClient } from '../acme/client.js';
import { ariCertificateId } from '../crypto/ari-certificate-id.js';
import { verifyIssuedCertificate } from '../crypto/certificate-check.js';
import { matchesPreferredChain, topmostIssuerCommonName } from '../crypto/preferred-chain.js';
import {
  AcmeProtocolError,
  CertificateMismatchError,
  InvalidInputError,
  PollingTimeoutError,
} from '../errors.js';
import { configurationFingerprint } from '../renewal/due.js';
import type { IssuanceState } from '../state.js';
import { carryNonce, resumeAcmeClient, type StepDeps, type WorkflowLogger } from './deps.js';
import { withWarning } from './finalize.js';
import { orderInvalidError } from './order-problems.js';
import { issuedCertificatePrefix } from './store-keys.js';
import { requireOrder } from './wait-for-authorizations.js';

/**
 * WaitForCertificate: polls the order until `valid`, downloads the chain, checks it against our
 * key and names, that it chains to its issuer and that it is valid now (`verifyIssuedCertificate`),
 * then writes it to the store beside its key. A certificate refused by those checks is neither
 * stored nor recorded as issued, so nothing imports it; its order is dropped from the registry, so
 * the next run places a new order instead of downloading the same certificate again. With a
 * `preferredChain`, the alternates the CA links to are fetched one by one (only while the chain at
 * hand does not match) and the first whose topmost issuer CN matches is kept; when none does, the
 * CA's default chain is kept with a warning, as certbot and lego do. A certificate whose key is a
 * KMS key is checked against that key's public half, and stored without a private key.
 */
export async function waitForCertificate(
  state: IssuanceState,
  deps: Pick<StepDeps, 'transport' | 'signer' | 'store' | 'registry' | 'clock' | 'config' | 'log'>,
): Promise<IssuanceState> {
  let order = requireOrder(state);
  const client = resumeAcmeClient(state, deps);
  if (order.status !== 'valid' || !order.certificate) {
    const { body, retryAfterSeconds } = await client.getOrder(order.url);
    if (body.status === 'invalid') throw await orderInvalidError(client, order.url, body);
    order = { ...order, status: body.status, ...(body.certificate ? { certificate: body.certificate } : {}) };
    if (body.status !== 'valid') {
      const polls = state.polls + 1;
      if (polls >= deps.config.maxPolls) {
        throw new PollingTimeoutError(`Order ${order.url} was still ${body.status} after ${polls} polls.`);
      }
      deps.log.info('Certificate not issued yet', { status: body.status, polls });
      return {
        ...state,
        order,
        polls,
        retryAfterSeconds: retryAfterSeconds ?? deps.config.orderPollSeconds,
        ...carryNonce(client),
      };
    }
  }
  if (!order.certificate)
    throw new AcmeProtocolError(`Order ${order.url} is valid but has no certificate URL.`);
  const chosen = await chooseChain(client, order.certificate, state.preferredChain, deps.log);
  const fullchainPem = chosen.pem;
  // A KMS-held key stays in KMS: the certificate is checked against its public half, and stored alone.
  const privateKeyPem = state.kmsKeyArn ? undefined : await storedPrivateKey(state, deps);
  const issued = await verifyIssuedCertificate({
    fullchainPem,
    domains: state.domains,
    now: deps.clock.now(),
    ...(privateKeyPem ? { privateKeyPem } : { publicKeySpki: kmsPublicKey(state) }),
  }).catch(async (error: unknown) => {
    if (error instanceof CertificateMismatchError || error instanceof InvalidInputError) {
      await deps.registry.update(state.certificateId, { pendingOrder: null });
      deps.log.warn('Certificate refused; the next run orders anew', {
        orderUrl: order.url,
        error: error.name,
      });
    }
    throw error;
  });
  const prefix = issuedCertificatePrefix(state.certificateId, issued.serial);
  if (privateKeyPem) await deps.store.put(`${prefix}/privkey.pem`, privateKeyPem, 'application/x-pem-file');
  await deps.store.put(`${prefix}/fullchain.pem`, fullchainPem, 'application/pem-certificate-chain');
  await deps.registry.update(state.certificateId, {
    status: 'issued',
    pendingOrder: null,
    issued: {
      serial: issued.serial,
      storeKey: prefix,
      notAfter: issued.notAfter,
      notBefore: issued.notBefore,
      fingerprint: configurationFingerprint(state),
      ariCertId: ariCertificateId(fullchainPem),
      directoryUrl: state.directoryUrl,
      ...(state.kmsKeyArn ? { kmsKeyArn: state.kmsKeyArn } : {}),
    },
  });
  deps.log.info('Certificate issued and verified', { serial: issued.serial, notAfter: issued.notAfter });
  return {
    ...state,
    ...(chosen.warning ? { warnings: withWarning(state.warnings, chosen.warning) } : {}),
    order,
    polls: 0,
    certificate: { storeKey: prefix, serial: issued.serial, notAfter: issued.notAfter },
    ...carryNonce(client),
  };
}

/** The key Finalize generated and stored for this order. */
async function storedPrivateKey(state: IssuanceState, deps: Pick<StepDeps, 'store'>): Promise<string> {
  if (!state.privateKeyRef) throw new Error('The state has no privateKeyRef: Finalize must run first.');
  const privateKeyPem = await deps.store.get(state.privateKeyRef);
  if (!privateKeyPem) {
    throw new Error(`The private key ${state.privateKeyRef} is missing from the certificate store.`);
  }
  return privateKeyPem;
}

/** The public half of the KMS key Finalize signed the CSR with. */
function kmsPublicKey(state: IssuanceState): Uint8Array {
  if (!state.certificatePublicKey) {
    throw new Error('The state has no certificatePublicKey: Finalize must run first.');
  }
  return base64url.decode(state.certificatePublicKey);
}

/**
 * The chain to keep: the default one unless `preferredChain` names the topmost issuer of one of
 * the alternates. Each alternate costs one POST-as-GET, so they are fetched only until one matches.
 */
async function chooseChain(
  client: AcmeClient,
  certificateUrl: string,
  preferredChain: string | undefined,
  log: WorkflowLogger,
): Promise<{ pem: string; warning?: string }> {
  const byDefault = await client.downloadCertificate(certificateUrl);
  if (preferredChain === undefined) return { pem: byDefault.pem };
  if (matchesPreferredChain({ url: certificateUrl, pem: byDefault.pem }, preferredChain)) {
    log.info('The default chain is the preferred one', { preferredChain });
    return { pem: byDefault.pem };
  }
  const offered = [issuerNameForMessage(byDefault.pem)];
  for (const url of byDefault.alternates) {
    const alternate = await client.downloadCertificate(url);
    if (matchesPreferredChain({ url, pem: alternate.pem }, preferredChain)) {
      log.info('Using the preferred alternate chain', { preferredChain, url });
      return { pem: alternate.pem };
    }
    offered.push(issuerNameForMessage(alternate.pem));
  }
  const warning = `No chain the CA offers ends at an issuer named "${preferredChain}" (it offers ${offered.map((name) => `"${name}"`).join(', ')}); kept the CA's default chain.`;
  log.warn(warning, { preferredChain, offered });
  return { pem: byDefault.pem, warning };
}

/** The topmost issuer CN of a chain as named in the warning, shortened: the CA wrote it. */
function issuerNameForMessage(pem: string): string {
  return truncateText(topmostIssuerCommonName(pem) ?? '(no issuer CN)', MAX_QUOTED_LENGTH);
}
