import { PollingTimeoutError } from '../errors.js';
import type { IssuanceState } from '../state.js';
import { carryNonce, resumeAcmeClient, type StepDeps } from './deps.js';
import { orderInvalidError } from './order-problems.js';

/**
 * WaitForAuthorizations: polls the order (one request, not one per authorization) until it is
 * `ready`; on `invalid`, fails with every identifier's problem. Honours `Retry-After`.
 */
export async function waitForAuthorizations(
  state: IssuanceState,
  deps: Pick<StepDeps, 'transport' | 'signer' | 'config' | 'log'>,
): Promise<IssuanceState> {
  const order = requireOrder(state);
  const client = resumeAcmeClient(state, deps);
  const { body, retryAfterSeconds } = await client.getOrder(order.url);
  if (body.status === 'invalid') throw await orderInvalidError(client, order.url, body);
  const polls = state.polls + 1;
  const waiting = body.status === 'pending';
  if (waiting && polls >= deps.config.maxPolls) {
    throw new PollingTimeoutError(`Order ${order.url} was still pending after ${polls} polls.`);
  }
  deps.log.info('Polled order', { status: body.status, polls });
  return {
    ...state,
    order: { ...order, status: body.status, ...(body.certificate ? { certificate: body.certificate } : {}) },
    retryAfterSeconds: retryAfterSeconds ?? deps.config.orderPollSeconds,
    polls: waiting ? polls : 0,
    ...carryNonce(client),
  };
}

export function requireOrder(state: IssuanceState): NonNullable<IssuanceState['order']> {
  if (!state.order) throw new Error('The state has no order: CreateOrder must run first.');
  return state.order;
}
