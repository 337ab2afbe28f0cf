import { InvalidInputError } from '../errors.js';

const MAILTO = 'mailto:';
const URI_SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;
const MAX_LOCAL_PART = 64;
const MAX_DOMAIN = 253;
// RFC 6068 §2: outside these, a mailto address needs percent-encoding, and a percent-escape can
// hide a comma, i.e. a second address; so those addresses are refused rather than encoded.
const LOCAL_PART = /^[A-Za-z0-9!$'*+_~-]+(?:\.[A-Za-z0-9!$'*+_~-]+)*$/;
const DOMAIN_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/**
 * Turns account contacts as people write them (`ops@example.org` or `mailto:ops@example.org`)
 * into the `mailto:` URIs RFC 8555 §7.3 sends, so a bad address fails here, naming itself,
 * rather than as an `invalidContact` problem from the CA in the middle of a run.
 *
 * Guarantees: every result is `mailto:` followed by exactly one plain ASCII address `local@domain`
 * (no display name, no second address, no `?` header fields, no percent-escapes); only the scheme
 * is lower-cased, the address is kept as given (its local part may be case-sensitive); duplicates
 * are dropped, keeping the first; order is kept otherwise; an empty list stays empty (RFC 8555
 * §7.3.2: no contacts). Throws `InvalidInputError` for the first value that fails.
 */
export function normalizeContacts(values: readonly string[]): string[] {
  const normalized = new Set<string>();
  for (const value of values) normalized.add(`${MAILTO}${contactAddress(value)}`);
  return [...normalized];
}

/** The address of one contact, or `InvalidInputError` saying what is wrong with it. */
function contactAddress(value: string): string {
  const problem = (reason: string): InvalidInputError =>
    new InvalidInputError(
      `Contact ${JSON.stringify(value)} ${reason}. Give each contact as one email address, e.g. ops@example.org or mailto:ops@example.org.`,
    );
  const scheme = URI_SCHEME.exec(value)?.[1];
  if (scheme !== undefined && scheme.toLowerCase() !== 'mailto') {
    throw problem(`uses the URI scheme "${scheme}:"; only mailto: contacts are supported`);
  }
  const address = scheme === undefined ? value : value.slice(MAILTO.length);
  if (address === '') throw problem('is empty');
  if (/\s/.test(address)) throw problem('contains whitespace');
  if (/[,;]/.test(address)) throw problem('lists more than one address; give each as its own contact');
  if (address.includes('?')) throw problem('carries mailto header fields ("?..."); give only the address');
  if (address.includes('%')) throw problem('contains a percent-escape');
  const at = address.indexOf('@');
  if (at < 0 || at !== address.lastIndexOf('@')) throw problem('is not one address of the form local@domain');
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (local.length > MAX_LOCAL_PART || !LOCAL_PART.test(local)) {
    throw problem(`has a local part ("${local}") that is not a plain ASCII mailbox name`);
  }
  const labels = domain.split('.');
  if (domain.length > MAX_DOMAIN || labels.length < 2 || !labels.every((label) => DOMAIN_LABEL.test(label))) {
    throw problem(`has a domain ("${domain}") that is not a fully qualified ASCII host name`);
  }
  return address;
}
