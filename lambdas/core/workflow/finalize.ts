import { base64url } from 'jose';
import type { AcmeClient } from '../acme/client.js';
import type { AcmeOrder } from '../acme/types.js';
import {
  type CertificateKeyPair,
  generateCertificateKey,
  importCertificateKey,
} from '../crypto/certificate-key.js';
import { cloudFrontKeyWarning } from '../crypto/cloudfront-key.js';
import { createCsr, createCsrWithKeySigner } from '../crypto/csr.js';
import { AcmeProtocolError, InvalidInputError, OrderNotReadyError } from '../errors.js';
import type { IssuanceState } from '../state.js';
import { carryNonce, resumeAcmeClient, type StepDeps } from './deps.js';
import { orderInvalidError } from './order-problems.js';
import { orderKeyKey } from './store-keys.js';
import { pauseForCa } from './wait-budget.js';
import { requireOrder } from './wait-for-authorizations.js';

/**
 * Finalize: generates the certificate key here (of the requested type; a type CloudFront refuses
 * is logged as a warning and listed in `warnings` when the certificate goes to us-east-1), stores it encrypted before the CA can issue
 * (so an issued certificate always has its key), and sends the CSR. Only the store key of the
 * private key travels on. A certificate declared with a KMS key has its CSR signed in KMS
 * instead, and no private key is generated or stored.
 *
 * An order's key is written once and never replaced (a conditional write), so whatever the CA
 * issues for the order matches the key in the store:
 * - an order an earlier run already finalized is not finalized again: its key is in the store;
 * - when the key is already stored for a `ready` order, an earlier attempt may have sent the CSR
 *   and lost the CA's answer: the CA is asked where the order is first, and an order it is
 *   `processing` (or has made `valid`) is not finalized again; a `ready` one is finalized with
 *   the stored key;
 * - a CA that answers `orderNotReady` because it is already processing the order (a lost answer
 *   raced with the retry) is asked again, and the order goes on as finalized.
 */
export async function finalize(
  state: IssuanceState,
  deps: Pick<
    StepDeps,
    'transport' | 'signer' | 'certificateKeys' | 'store' | 'registry' | 'clock' | 'config' | 'log'
  >,
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

  const client = resumeAcmeClient(state, deps);
  let storedPem = await deps.store.get(privateKeyRef);
  let keyPair: CertificateKeyPair | undefined;
  if (storedPem === undefined) {
    const generated = await generateCertificateKey(state.keyType);
    const written = await deps.store.create(privateKeyRef, generated.privateKeyPem, 'application/x-pem-file');
    if (written === 'created') keyPair = generated.keyPair;
    else storedPem = await deps.store.get(privateKeyRef);
  }
  if (keyPair === undefined) {
    if (storedPem === undefined) {
      throw new AcmeProtocolError(
        `The certificate store reported a key for order ${order.url} at ${privateKeyRef} but returned none; run again.`,
      );
    }
    // The key was stored by an earlier attempt, which may have sent the CSR and lost the answer.
    const { body } = await client.getOrder(order.url);
    if (body.status === 'invalid') throw await orderInvalidError(client, order.url, body);
    if (body.status === 'processing' || body.status === 'valid') {
      deps.log.info(
        'The CA already has this order’s CSR (an earlier answer was lost); not finalizing again',
        {
          status: body.status,
        },
      );
      return {
        ...finalized(state, order, body, undefined, deps),
        ...warnings,
        privateKeyRef,
        ...carryNonce(client),
      };
    }
    if (body.status !== 'ready') {
      throw new AcmeProtocolError(
        `Order ${order.url} is ${body.status}, but its authorizations were done and its key is stored; run again for a new order.`,
      );
    }
    deps.log.info('Finalizing with the key an earlier attempt stored for this order');
    keyPair = await importCertificateKey(storedPem, state.keyType);
  }
  const csr = await createCsr(state.domains, keyPair);
  return { ...(await sendCsr(client, state, order, csr, deps)), ...warnings, privateKeyRef };
}

/**
 * The CSR of a certificate whose key is a KMS key: signed in KMS, so no private key exists here
 * or in the store; the key's public half travels on for WaitForCertificate to check the
 * certificate against. An order an earlier run finalized is not finalized again, and one the CA
 * reports as already processing (a lost answer) goes on as finalized: its key is the same KMS key.
 */
async function finalizeWithKmsKey(
  state: IssuanceState,
  kmsKeyArn: string,
  order: NonNullable<IssuanceState['order']>,
  deps: Pick<StepDeps, 'transport' | 'signer' | 'certificateKeys' | 'clock' | 'config' | 'log'>,
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
  const client = resumeAcmeClient(state, deps);
  return { ...(await sendCsr(client, state, order, csr, deps)), certificatePublicKey };
}

/**
 * Sends the CSR. A CA that answers `orderNotReady` is asked for the order: when it is already
 * `processing` or `valid`, an earlier request with the same key got through and its answer was
 * lost, so the order goes on as finalized.
 */
async function sendCsr(
  client: AcmeClient,
  state: IssuanceState,
  order: NonNullable<IssuanceState['order']>,
  csr: Uint8Array,
  deps: Pick<StepDeps, 'clock' | 'config' | 'log'>,
): Promise<IssuanceState> {
  let result: Awaited<ReturnType<AcmeClient['finalize']>>;
  try {
    result = await client.finalize(order.finalize, csr);
  } catch (error) {
    if (!(error instanceof OrderNotReadyError)) throw error;
    const { body } = await client.getOrder(order.url);
    if (body.status !== 'processing' && body.status !== 'valid') throw error;
    deps.log.info('The CA had already received a CSR for this order; going on as finalized', {
      status: body.status,
    });
    return { ...finalized(state, order, body, undefined, deps), ...carryNonce(client) };
  }
  const { body, retryAfterSeconds } = result;
  if (body.status === 'invalid') throw await orderInvalidError(client, order.url, body);
  deps.log.info('Finalized order', { status: body.status, keyType: state.keyType });
  return { ...finalized(state, order, body, retryAfterSeconds, deps), ...carryNonce(client) };
}

/**
 * The state once the CA has the order's CSR: its status and certificate URL, and the pause before
 * WaitForCertificate polls, within the run's budget when the CA is still processing.
 */
function finalized(
  state: IssuanceState,
  order: NonNullable<IssuanceState['order']>,
  body: AcmeOrder,
  retryAfterSeconds: number | undefined,
  deps: Pick<StepDeps, 'clock' | 'config'>,
): IssuanceState {
  const pause =
    body.status === 'processing'
      ? pauseForCa(
          `order ${order.url}`,
          retryAfterSeconds,
          deps.config.orderPollSeconds,
          state,
          deps.clock.now(),
        )
      : deps.config.orderPollSeconds;
  return {
    ...state,
    order: { ...order, status: body.status, ...(body.certificate ? { certificate: body.certificate } : {}) },
    retryAfterSeconds: pause,
    polls: 0,
  };
}

/** `warnings` with `warning` added once, so a retried step does not repeat it. */
export function withWarning(warnings: readonly string[] | undefined, warning: string): string[] {
  return [...new Set([...(warnings ?? []), warning])];
}
