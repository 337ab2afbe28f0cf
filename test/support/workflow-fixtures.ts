import type { IssuanceState, OrderRef } from '../../lambdas/core/state.js';
import type { WorkflowLogger } from '../../lambdas/core/workflow/deps.js';
import {
  ACCOUNT_URL,
  AUTHORIZATION_URL,
  CERTIFICATE_URL,
  DIRECTORY,
  DIRECTORY_URL,
  FINALIZE_URL,
  ORDER_URL,
} from './acme-fixtures.js';

/** A logger that drops everything, for steps whose logging a test does not look at. */
export const SILENT_LOG: WorkflowLogger = { debug: () => {}, info: () => {}, warn: () => {} };

/**
 * An issuance of `example.org` by execution `exec-1` against the scripted CA, with the account and
 * a nonce in hand, as the steps after RegisterAccount see it. Tests override what they exercise.
 */
export function issuanceState(overrides: Partial<IssuanceState> = {}): IssuanceState {
  return {
    certificateId: 'web',
    action: 'issue',
    domains: ['example.org'],
    keyType: 'EC_P256',
    regions: ['eu-west-1'],
    directoryUrl: DIRECTORY_URL,
    directory: DIRECTORY,
    accountUrl: ACCOUNT_URL,
    nonce: 'carried',
    execution: { id: 'exec-1' },
    retryAfterSeconds: 0,
    polls: 0,
    ...overrides,
  };
}

/** The scripted CA's order as the state carries it, in `status`; a valid one links its certificate. */
export function orderRef(status: OrderRef['status'] = 'pending'): OrderRef {
  return {
    url: ORDER_URL,
    finalize: FINALIZE_URL,
    status,
    authorizations: [AUTHORIZATION_URL],
    ...(status === 'valid' ? { certificate: CERTIFICATE_URL } : {}),
  };
}
