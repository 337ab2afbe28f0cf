import type { AcmeClient } from '../acme/client.js';
import type { AcmeOrder } from '../acme/types.js';
import { type AcmeSubproblem, OrderInvalidError } from '../errors.js';

/**
 * Builds the error for an `invalid` order, naming each failed identifier with the CA's own
 * detail: from the order's subproblems, else from each invalid authorization's challenge error.
 */
export async function orderInvalidError(
  client: AcmeClient,
  orderUrl: string,
  order: AcmeOrder,
): Promise<OrderInvalidError> {
  const subproblems: AcmeSubproblem[] = [...(order.error?.subproblems ?? [])];
  if (subproblems.length === 0) {
    for (const authorizationUrl of order.authorizations) {
      const { body: authorization } = await client.getAuthorization(authorizationUrl);
      if (authorization.status !== 'invalid') continue;
      const failed = authorization.challenges.find((challenge) => challenge.error);
      const identifier = {
        type: 'dns',
        value: `${authorization.wildcard ? '*.' : ''}${authorization.identifier.value}`,
      };
      subproblems.push({
        type: failed?.error?.type ?? 'urn:ietf:params:acme:error:unauthorized',
        detail: failed?.error?.detail ?? `authorization ${authorizationUrl} is invalid`,
        identifier,
      });
    }
  }
  return new OrderInvalidError({
    type: order.error?.type ?? 'urn:ietf:params:acme:error:unauthorized',
    detail: order.error?.detail ?? `Order ${orderUrl} is invalid`,
    subproblems,
  });
}
