import { InvalidInputError } from '../errors.js';
import { baseName } from './identifiers.js';

const CHALLENGE_LABEL = '_acme-challenge';
const MAX_NAME_LENGTH = 253;

/**
 * The TXT record name a dns-01 challenge is answered at (RFC 8555 §8.4):
 * `_acme-challenge.<base name>`, lower-case and without the trailing dot. A wildcard and its
 * apex share one name (`*.example.org` and `example.org` both give
 * `_acme-challenge.example.org`), which is why the plan merges their values into one record set.
 *
 * Throws {@link InvalidInputError} when the identifier is invalid, or so long that the prefixed
 * name would exceed DNS's 253-character limit.
 */
export function challengeRecordName(identifier: string): string {
  const name = `${CHALLENGE_LABEL}.${baseName(identifier)}`;
  if (name.length > MAX_NAME_LENGTH) {
    throw new InvalidInputError(
      `Identifier ${JSON.stringify(identifier)} is too long for dns-01: its challenge record ${name} would be ` +
        `${name.length} characters, over DNS's ${MAX_NAME_LENGTH}; shorten the name.`,
    );
  }
  return name;
}
