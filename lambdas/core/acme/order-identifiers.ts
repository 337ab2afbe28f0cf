import { OrderMismatchError } from '../errors.js';
import { quoteForMessage } from './bounds.js';
import type { AcmeAuthorization, AcmeOrder } from './types.js';

/**
 * What the CA says an order is for must be what was asked for: otherwise a TXT record would be
 * written for a name nobody ordered, possibly in another hosted zone. Two checks, run by CreateOrder
 * before any DNS write: the order against the request, then each authorization against the order.
 * Together they make the authorizations and the requested names correspond one to one. Names
 * compare case-insensitively (RFC 4343).
 */

/** Names listed in one message: a lying order may hold thousands. */
const MAX_NAMES_SHOWN = 10;

const NO_DNS_WRITTEN =
  'Nothing was written to DNS. Start a new run for a fresh order, and report it to the CA if it happens again.';

/**
 * Checks that the order's identifiers are exactly the requested DNS names, and that it lists one
 * authorization URL per identifier, each once (RFC 8555 §7.1.3). Throws `OrderMismatchError`
 * naming every difference.
 */
export function assertOrderMatchesRequest(
  order: Pick<AcmeOrder, 'identifiers' | 'authorizations'>,
  requested: readonly string[],
  orderUrl: string,
): void {
  const differences: string[] = [];
  const notDns = order.identifiers.filter((identifier) => identifier.type !== 'dns');
  if (notDns.length > 0) {
    differences.push(
      `identifiers of a type other than dns: ${listForMessage(notDns.map((identifier) => `${quoteForMessage(identifier.type)} ${quoteForMessage(identifier.value)}`))}`,
    );
  }
  const ordered = new Set(order.identifiers.map((identifier) => identifier.value.toLowerCase()));
  const asked = new Set(requested.map((name) => name.toLowerCase()));
  const missing = [...asked].filter((name) => !ordered.has(name));
  const unexpected = [...ordered].filter((name) => !asked.has(name));
  if (missing.length > 0) differences.push(`missing the requested names ${missing.join(', ')}`);
  if (unexpected.length > 0) {
    differences.push(
      `names that were not requested: ${listForMessage(unexpected.map((name) => quoteForMessage(name)))}`,
    );
  }
  if (new Set(order.authorizations).size !== order.authorizations.length) {
    differences.push('the same authorization URL listed twice');
  } else if (order.authorizations.length !== ordered.size) {
    differences.push(
      `${order.authorizations.length} authorizations for ${ordered.size} identifiers (one each is expected)`,
    );
  }
  if (differences.length > 0) {
    throw new OrderMismatchError(
      `The order ${orderUrl} is not the one requested for ${requested.join(', ')}: it has ${differences.join('; ')}. ${NO_DNS_WRITTEN}`,
    );
  }
}

/**
 * The identifier an authorization is for (`*.` and the name for a wildcard, RFC 8555 §7.1.4), once
 * checked to be a DNS identifier of `order` that no other authorization of the order was for:
 * `seen` holds the names returned so far for this order. Throws `OrderMismatchError` otherwise,
 * naming the authorization and the name.
 */
export function authorizationIdentifier(
  authorization: Pick<AcmeAuthorization, 'identifier' | 'wildcard'>,
  order: Pick<AcmeOrder, 'identifiers'>,
  seen: ReadonlySet<string>,
  authorizationUrl: string,
): string {
  const { type, value } = authorization.identifier;
  const name = `${authorization.wildcard ? '*.' : ''}${value}`.toLowerCase();
  const inOrder = order.identifiers.some(
    (identifier) => identifier.type === 'dns' && identifier.value.toLowerCase() === name,
  );
  const problem =
    type !== 'dns'
      ? `is for a ${quoteForMessage(type)} identifier, not a DNS name`
      : !inOrder
        ? `is for ${quoteForMessage(name)}, which is not an identifier of the order (${listForMessage([...new Set(order.identifiers.map((identifier) => identifier.value))])})`
        : seen.has(name)
          ? `is a second authorization for ${name}`
          : undefined;
  if (problem) {
    throw new OrderMismatchError(`The authorization ${authorizationUrl} ${problem}. ${NO_DNS_WRITTEN}`);
  }
  return name;
}

/** The first `MAX_NAMES_SHOWN` entries, comma-separated, and how many more there are. */
function listForMessage(entries: readonly string[]): string {
  const shown = entries.slice(0, MAX_NAMES_SHOWN).join(', ');
  return entries.length > MAX_NAMES_SHOWN ? `${shown} and ${entries.length - MAX_NAMES_SHOWN} more` : shown;
}
