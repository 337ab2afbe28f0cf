import { base64url } from 'jose';
import { generateCertificateKey } from '../crypto/certificate-key.js';
import { cloudFrontKeyWarning } from '../crypto/cloudfront-key.js';
import { createCsr, createCsrWithKeySigner } from '../crypto/csr.js';
import { AcmeProtocolError, InvalidInputError } from '../errors.js';
import type { IssuanceState } from '../state.js';
import { carryNonce, resumeAcmeClient, type StepDeps } from './deps.js';
import { orderInvalidError } from './order-problems.js';
import { orderKeyKey } from './store-keys.js';
import { requireOrder } from './wait-for-authorizations.js';

/**
 * Finalize: generates the certificate key here (of the requested type; a type CloudFront refuses
 * is logged as a warning and listed in `warnings` when the certificate goes to us-east-1), stores it encrypted before the CA can issue
 * (so an issued certificate always has its key), and sends the CSR. Only the store key of the
 * private key travels on. An order an earlier run already finalized is not finalized again: its
 * key is already in the store. A certificate declared with a KMS key has its CSR signed in KMS
 * instead, and no private key is generated or stored.
 */
export async function finalize(
  state: IssuanceState,
  deps: Pick<StepDeps, 'transport' | 'signer' | 'certificateKeys' | 'store' | 'registry' | 'config' | 'log'>,
): Promise<IssuanceState> {
  const order = requireOrder(state);
  if (state.kmsKeyArn) return finalizeWithKmsKey(state, state.kmsKeyArn, order, deps);
  const privateKeyRef = orderKeyKey(state.certificateId, order.url);
  const warning = cloudFrontKeyWarning(state.keyType, state.regions);
  if (warning) deps.log.warn(warning, { keyType: state.keyType, regions: state.regions });
  const warnings = warning ? { warnings: withWarning(state.warnings, warning) } : {};
  if (order.status === 'processing' || order.status === 'valid') {
    if (!(await deps.store.get(privateKeyRef))) {
      await deps.registry.update(state.certificateId, { pendingOrder: null });
      throw new AcmeProtocolError(
        `Order ${order.url} was finalized by an earlier run but its key is not in the certificate store; run again for a new order.`,
      );
    }
    deps.log.info('Order already finalized by an earlier run; reusing its stored key', {
      status: order.status,
    });
    return {
      ...state,
      ...warnings,
      privateKeyRef,
      polls: 0,
      retryAfterSeconds: deps.config.orderPollSeconds,
    };
  }

  const { privateKeyPem, keyPair } = await generateCertificateKey(state.keyType);
  const csr = await createCsr(state.domains, keyPair);
  await deps.store.put(privateKeyRef, privateKeyPem, 'application/x-pem-file');
  return { ...(await sendCsr(state, order, csr, deps)), ...warnings, privateKeyRef };
}

/**
 * The CSR of a certificate whose key is a KMS key: signed in KMS, so no private key exists here
 * or in the store; the key's public half travels on for WaitForCertificate to check the
 * certificate against. An order an earlier run finalized is not finalized again.
 */
async function finalizeWithKmsKey(
  state: IssuanceState,
  kmsKeyArn: string,
  order: NonNullable<IssuanceState['order']>,
  deps: Pick<StepDeps, 'transport' | 'signer' | 'certificateKeys' | 'config' | 'log'>,
): Promise<IssuanceState> {
  const key = deps.certificateKeys.forKey(kmsKeyArn);
  const { keyType, spki } = await key.describe();
  if (keyType !== state.keyType) {
    throw new InvalidInputError(
      `The KMS key ${kmsKeyArn} of certificate "${state.certificateId}" is ${keyType}, but the certificate's keyType is ${state.keyType}. Set keyType to ${keyType} (or use a ${state.keyType} key).`,
    );
  }
  const certificatePublicKey = base64url.encode(spki);
  if (order.status === 'processing' || order.status === 'valid') {
    deps.log.info('Order already finalized by an earlier run with the KMS key', { status: order.status });
    return { ...state, certificatePublicKey, polls: 0, retryAfterSeconds: deps.config.orderPollSeconds };
  }
  const csr = await createCsrWithKeySigner(state.domains, key);
  return { ...(await sendCsr(state, order, csr, deps)), certificatePublicKey };
}

async function sendCsr(
  state: IssuanceState,
  order: NonNullable<IssuanceState['order']>,
  csr: Uint8Array,
  deps: Pick<StepDeps, 'transport' | 'signer' | 'config' | 'log'>,
): Promise<IssuanceState> {
  const client = resumeAcmeClient(state, deps);
  const { body, retryAfterSeconds } = await client.finalize(order.finalize, csr);
  if (body.status === 'invalid') throw await orderInvalidError(client, order.url, body);
  deps.log.info('Finalized order', { status: body.status, keyType: state.keyType });
  return {
    ...state,
    order: { ...order, status: body.status, ...(body.certificate ? { certificate: body.certificate } : {}) },
    retryAfterSeconds: retryAfterSeconds ?? deps.config.orderPollSeconds,
    polls: 0,
    ...carryNonce(client),
  };
}

/** `warnings` with `warning` added once, so a retried step does not repeat it. */
export function withWarning(warnings: readonly string[] | undefined, warning: string): string[] {
  return [...new Set([...(warnings ?? []), warning])];
}
