import { generateCertificateKey } from '../crypto/certificate-key.js';
import { createCsr } from '../crypto/csr.js';
import type { IssuanceState } from '../state.js';
import { carryNonce, resumeAcmeClient, type StepDeps } from './deps.js';
import { orderInvalidError } from './order-problems.js';
import { orderKeyKey } from './store-keys.js';
import { requireOrder } from './wait-for-authorizations.js';

/**
 * Finalize: generates the certificate key here, stores it encrypted before the CA can issue
 * (so an issued certificate always has its key), and sends the CSR. Only the store key of the
 * private key travels on.
 */
export async function finalize(
  state: IssuanceState,
  deps: Pick<StepDeps, 'transport' | 'signer' | 'store' | 'config' | 'log'>,
): Promise<IssuanceState> {
  const order = requireOrder(state);
  const privateKeyRef = orderKeyKey(state.certificateId, order.url);
  const { privateKeyPem, keyPair } = await generateCertificateKey(state.keyType);
  const csr = await createCsr(state.domains, keyPair);
  await deps.store.put(privateKeyRef, privateKeyPem, 'application/x-pem-file');

  const client = resumeAcmeClient(state, deps);
  const { body, retryAfterSeconds } = await client.finalize(order.finalize, csr);
  if (body.status === 'invalid') throw await orderInvalidError(client, order.url, body);
  deps.log.info('Finalized order', { status: body.status, keyType: state.keyType });
  return {
    ...state,
    order: { ...order, status: body.status, ...(body.certificate ? { certificate: body.certificate } : {}) },
    privateKeyRef,
    retryAfterSeconds: retryAfterSeconds ?? deps.config.orderPollSeconds,
    polls: 0,
    ...carryNonce(client),
  };
}
