import type { AcmeDirectory } from '../../lambdas/core/acme/types.js';

/**
 * The CA that unit tests script with {@link ScriptedTransport}: its URLs, and the order and
 * authorization it hands out, for one name and one pending dns-01 challenge unless told otherwise.
 */

export const CA = 'https://ca.example';
export const DIRECTORY_URL = `${CA}/directory`;
export const DIRECTORY: AcmeDirectory = {
  newNonce: `${CA}/new-nonce`,
  newAccount: `${CA}/new-account`,
  newOrder: `${CA}/new-order`,
  revokeCert: `${CA}/revoke-cert`,
};
export const ACCOUNT_URL = `${CA}/acct/1`;
export const ORDER_URL = `${CA}/order/1`;
export const FINALIZE_URL = `${ORDER_URL}/finalize`;
export const AUTHORIZATION_URL = `${CA}/authz/1`;
export const CERTIFICATE_URL = `${CA}/cert/1`;
export const JSON_HEADERS = { 'content-type': 'application/json' };
export const PEM_HEADERS = { 'content-type': 'application/pem-certificate-chain' };

/** The order as the CA shows it, in `status`, for `names`; a valid one links its certificate. */
export function acmeOrder(status = 'pending', names: readonly string[] = ['example.org']) {
  return {
    status,
    identifiers: names.map((value) => ({ type: 'dns', value })),
    authorizations: [AUTHORIZATION_URL],
    finalize: FINALIZE_URL,
    ...(status === 'valid' ? { certificate: CERTIFICATE_URL } : {}),
  };
}

/** A pending authorization for `name`, with one pending dns-01 challenge (token `tok`). */
export function pendingAuthorization(name = 'example.org') {
  return {
    identifier: { type: 'dns', value: name },
    status: 'pending',
    challenges: [{ type: 'dns-01', url: `${CA}/chall/1`, status: 'pending', token: 'tok' }],
  };
}
