import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { InvalidInputError } from '../errors.js';

/**
 * DNS identifiers as ordered from the CA: one canonical spelling per name, so that record names,
 * zone matching and de-duplication never disagree about what "the same name" is.
 */

const MAX_NAME_LENGTH = 253;
const MAX_LABEL_LENGTH = 63;
const WILDCARD_PREFIX = '*.';
const LDH_LABEL = /^[a-z0-9-]+$/;
// Characters that may appear in ASCII input at all; anything else is refused before IDN mapping,
// because `domainToASCII` would otherwise percent-decode or silently map it.
const ASCII_ALLOWED = /^[a-z0-9.-]$/;

/** Why a name is not a dns-01 identifier: what is wrong with it and what to do. */
export interface IdentifierProblem {
  readonly problem: string;
  readonly remedy: string;
}

/**
 * Returns the canonical form of a dns-01 identifier: lower-case ASCII (IDNs in punycode), no
 * trailing dot, an optional leading `*.` wildcard label.
 *
 * Guarantees the result has only LDH labels of 1–63 characters, at most 253 characters in all,
 * and is not an IP address (dns-01 cannot validate those; RFC 8738 reserves them for http-01 and
 * tls-alpn-01). Anything else throws an {@link InvalidInputError} that names the identifier and
 * says how to fix it.
 */
export function normalizeIdentifier(value: string): string {
  const checked = checkIdentifier(value);
  if ('problem' in checked) {
    throw new InvalidInputError(`Identifier ${JSON.stringify(value)} ${checked.problem}: ${checked.remedy}.`);
  }
  return checked.name;
}

/**
 * The rule behind {@link normalizeIdentifier}, without throwing: the canonical name, or the
 * problem and its remedy, so that a caller (the config schema) can name the field it came from.
 */
export function checkIdentifier(value: string): { readonly name: string } | IdentifierProblem {
  let name = value.endsWith('.') ? value.slice(0, -1) : value;
  if (name.length === 0) return invalid('is empty', 'give a DNS name such as example.org');

  const wildcard = name.startsWith(WILDCARD_PREFIX);
  if (wildcard) name = name.slice(WILDCARD_PREFIX.length);
  if (name.includes('*')) {
    return invalid('has a wildcard that is not the whole leftmost label', 'use the form *.example.org');
  }

  if (looksLikeIpAddress(name)) {
    return invalid('is an IP address', 'dns-01 validates DNS names only; order a DNS name instead');
  }
  const ascii = toAscii(name);
  if (typeof ascii !== 'string') return ascii;
  name = ascii;

  const labels = name.split('.');
  for (const label of labels) {
    const problem = labelProblem(label);
    if (problem) return problem;
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1] ?? '')) {
    return invalid(
      'ends in an all-numeric label, so it reads as an IP address',
      'dns-01 validates DNS names only; order a DNS name instead',
    );
  }

  const normalized = wildcard ? `${WILDCARD_PREFIX}${name}` : name;
  if (normalized.length > MAX_NAME_LENGTH) {
    return invalid(`is ${normalized.length} characters long`, `shorten it to ${MAX_NAME_LENGTH} or fewer`);
  }
  return { name: normalized };
}

/**
 * Normalizes every identifier of an order and drops duplicates (first spelling wins), so the
 * same name written twice (`Example.org.` and `example.org`) yields one authorization.
 * Refuses an empty list, since an order needs at least one identifier.
 */
export function normalizeIdentifiers(values: readonly string[]): string[] {
  if (values.length === 0) {
    throw new InvalidInputError('No domains were given: list at least one DNS name to certify.');
  }
  return [...new Set(values.map(normalizeIdentifier))];
}

/**
 * The name an identifier is validated at: `*.example.org` and `example.org` both prove control
 * of `example.org` (RFC 8555 §8.4). Accepts any spelling and returns the normalized base name.
 */
export function baseName(identifier: string): string {
  const normalized = normalizeIdentifier(identifier);
  return normalized.startsWith(WILDCARD_PREFIX) ? normalized.slice(WILDCARD_PREFIX.length) : normalized;
}

function looksLikeIpAddress(name: string): boolean {
  const unbracketed = name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
  return isIP(unbracketed) !== 0 || unbracketed.includes(':');
}

function toAscii(name: string): string | IdentifierProblem {
  let hasNonAscii = false;
  for (const char of name.toLowerCase()) {
    if (char.charCodeAt(0) > 0x7f) hasNonAscii = true;
    else if (!ASCII_ALLOWED.test(char)) {
      return invalid(
        `contains ${JSON.stringify(char)}`,
        'use only letters, digits, hyphens and dots (a leading *. for a wildcard)',
      );
    }
  }
  if (!hasNonAscii) return name.toLowerCase();
  const ascii = domainToASCII(name);
  if (ascii === '') return invalid('is not a valid internationalized domain name', 'check its spelling');
  return ascii;
}

function labelProblem(label: string): IdentifierProblem | undefined {
  if (label.length === 0) return invalid('has an empty label', 'remove the doubled or leading dot');
  if (label.length > MAX_LABEL_LENGTH) {
    return invalid(
      `has a label of ${label.length} characters`,
      `shorten each label to ${MAX_LABEL_LENGTH} or fewer`,
    );
  }
  if (!LDH_LABEL.test(label)) {
    return invalid(
      `has the label ${JSON.stringify(label)}`,
      'use only letters, digits and hyphens in each label',
    );
  }
  if (label.startsWith('-') || label.endsWith('-')) {
    return invalid(`has the label "${label}" starting or ending with a hyphen`, 'remove that hyphen');
  }
  return undefined;
}

function invalid(problem: string, remedy: string): IdentifierProblem {
  return { problem, remedy };
}
