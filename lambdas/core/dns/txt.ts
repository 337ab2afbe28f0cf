import { InvalidInputError } from '../errors.js';

/**
 * TXT values in DNS presentation format (RFC 1035 §5.1), which is what Route 53 reads and writes
 * in `ResourceRecords[].Value`.
 */

/** A TXT character-string holds at most 255 bytes (RFC 1035 §3.3). */
const MAX_STRING_BYTES = 255;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const encoder = new TextEncoder();

/**
 * Renders a raw TXT value as Route 53 requires: enclosed in double quotes, with `"` and `\`
 * escaped and bytes outside printable ASCII written as `\ddd`. Values longer than 255 bytes are
 * split into several quoted strings (`"…" "…"`), which resolvers join back into one value.
 * `unquoteTxtValue(quoteTxtValue(v)) === v` for every well-formed string `v` (no lone surrogates).
 */
export function quoteTxtValue(value: string): string {
  const bytes = encoder.encode(value);
  const strings: string[] = [];
  for (let start = 0; start === 0 || start < bytes.length; start += MAX_STRING_BYTES) {
    strings.push(`"${escapeBytes(bytes.subarray(start, start + MAX_STRING_BYTES))}"`);
  }
  return strings.join(' ');
}

/**
 * Reads a TXT value as Route 53 returns it back into the raw value: strips the quotes, resolves
 * `\"`, `\\` and `\ddd` escapes, and joins multi-string values (`"a" "b"` → `ab`). Unquoted
 * tokens are accepted too, as presentation format allows.
 *
 * Throws {@link InvalidInputError} for text that is not valid presentation format, such as an
 * unterminated quote, since guessing would risk deleting a value that is not ours.
 */
export function unquoteTxtValue(quoted: string): string {
  const bytes: number[] = [];
  let index = 0;
  const fail = (problem: string): never => {
    throw new InvalidInputError(`TXT value ${JSON.stringify(quoted)} ${problem}.`);
  };

  while (index < quoted.length) {
    const char = quoted[index] ?? '';
    if (/\s/.test(char)) {
      index += 1;
      continue;
    }
    const inQuotes = char === '"';
    if (inQuotes) index += 1;
    let closed = !inQuotes;
    while (index < quoted.length) {
      const current = quoted[index] ?? '';
      if (inQuotes && current === '"') {
        closed = true;
        index += 1;
        break;
      }
      if (!inQuotes && (/\s/.test(current) || current === '"')) break;
      if (current === '\\') {
        index = readEscape(quoted, index + 1, bytes, fail);
        continue;
      }
      const literal = String.fromCodePoint(quoted.codePointAt(index) ?? 0);
      bytes.push(...encoder.encode(literal));
      index += literal.length;
    }
    if (!closed) fail('has an unterminated quoted string');
  }
  return new TextDecoder().decode(Uint8Array.from(bytes));
}

function readEscape(text: string, start: number, bytes: number[], fail: (problem: string) => never): number {
  const digits = text.slice(start, start + 3);
  if (/^[0-9]{3}$/.test(digits)) {
    const byte = Number(digits);
    if (byte > 255) fail(`has the escape \\${digits}, above 255`);
    bytes.push(byte);
    return start + 3;
  }
  const codePoint = text.codePointAt(start);
  if (codePoint === undefined) return fail('ends with a lone backslash');
  const escaped = String.fromCodePoint(codePoint);
  bytes.push(...encoder.encode(escaped));
  return start + escaped.length;
}

function escapeBytes(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) {
    if (byte === QUOTE || byte === BACKSLASH) out += `\\${String.fromCharCode(byte)}`;
    else if (byte >= 0x20 && byte < 0x7f) out += String.fromCharCode(byte);
    else out += `\\${byte.toString().padStart(3, '0')}`;
  }
  return out;
}
