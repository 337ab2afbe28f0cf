import { PollingTimeoutError } from '../errors.js';
import type { IssuanceState } from '../state.js';
import { carryNonce, resumeAcmeClient, type StepDeps } from './deps.js';
import { orderInvalidError } from './order-problems.js';
import { pauseForCa } from './wait-budget.js';

/**
 * WaitForAuthorizations: polls the order (one request, not one per authorization) until it is
 * `ready`; on `invalid`, fails with every identifier's problem. Honours `Retry-After` within the
 * run's budget (`pauseForCa`): a CA that asks for a longer pause ends the run with
 * `RetryLaterError`, and the next attempt comes after the time it gave.
 */
export async function waitForAuthorizations(
  state: IssuanceState,
  deps: Pick<StepDeps, 'transport' | 'signer' | 'clock' | 'config' | 'log'>,
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
  // Only a pending order is waited for; from ready on, Finalize runs next whatever the CA says.
  const pause = waiting
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
    polls: waiting ? polls : 0,
    ...carryNonce(client),
  };
}

export function requireOrder(state: IssuanceState): NonNullable<IssuanceState['order']> {
  if (!state.order) throw new Error('The state has no order: CreateOrder must run first.');
  return state.order;
}
