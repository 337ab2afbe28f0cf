/** Short enough for a record that changes rarely, long enough not to load the provider's servers. */
export const PERSIST_RECORD_TTL_SECONDS = 300;
/** RFC 1035 §3.3: one character-string holds at most 255 octets. */
const MAX_CHARACTER_STRING = 255;

/**
 * A TXT record as a zone file line (RFC 1035 §5.1), for an operator to paste: the absolute name,
 * and the value as quoted character-strings of at most 255 octets each, `"` and `\` escaped.
 */
export function txtZoneFileLine(
  name: string,
  value: string,
  ttlSeconds = PERSIST_RECORD_TTL_SECONDS,
): string {
  const strings: string[] = [];
  for (let start = 0; start < value.length || start === 0; start += MAX_CHARACTER_STRING) {
    const part = value.slice(start, start + MAX_CHARACTER_STRING);
    strings.push(`"${part.replace(/[\\"]/g, (character) => `\\${character}`)}"`);
  }
  return `${name}. ${ttlSeconds} IN TXT ${strings.join(' ')}`;
}
