import { ariCertificateId } from '../acme/renewal-info.js';
import { verifyIssuedCertificate } from '../crypto/certificate-check.js';
import { AcmeProtocolError, PollingTimeoutError } from '../errors.js';
import { configurationFingerprint } from '../renewal/due.js';
import type { IssuanceState } from '../state.js';
import { carryNonce, resumeAcmeClient, type StepDeps } from './deps.js';
import { orderInvalidError } from './order-problems.js';
import { issuedCertificatePrefix } from './store-keys.js';
import { requireOrder } from './wait-for-authorizations.js';

/**
 * WaitForCertificate: polls the order until `valid`, downloads the chain, checks it against our
 * key and names and that it chains, then writes it to the store beside its key.
 */
export async function waitForCertificate(
  state: IssuanceState,
  deps: Pick<StepDeps, 'transport' | 'signer' | 'store' | 'registry' | 'config' | 'log'>,
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
  if (!state.privateKeyRef) throw new Error('The state has no privateKeyRef: Finalize must run first.');

  const { pem: fullchainPem } = await client.downloadCertificate(order.certificate);
  const privateKeyPem = await deps.store.get(state.privateKeyRef);
  if (!privateKeyPem) {
    throw new Error(`The private key ${state.privateKeyRef} is missing from the certificate store.`);
  }
  const issued = await verifyIssuedCertificate({ fullchainPem, privateKeyPem, domains: state.domains });
  const prefix = issuedCertificatePrefix(state.certificateId, issued.serial);
  await deps.store.put(`${prefix}/privkey.pem`, privateKeyPem, 'application/x-pem-file');
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
    },
  });
  deps.log.info('Certificate issued and verified', { serial: issued.serial, notAfter: issued.notAfter });
  return {
    ...state,
    order,
    polls: 0,
    certificate: { storeKey: prefix, serial: issued.serial, notAfter: issued.notAfter },
    ...carryNonce(client),
  };
}
