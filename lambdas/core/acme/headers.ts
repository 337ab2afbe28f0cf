/**
 * Pure parsers for the HTTP header fields an ACME client acts on. They never throw: a value
 * that does not follow its grammar is reported as absent, because a malformed optional header
 * must not fail an otherwise good response.
 */

import { MAX_NONCE_LENGTH } from './bounds.js';

/** One target of a `Link` header (RFC 8288), with a single relation type. */
export interface LinkTarget {
  /** The URI reference exactly as written between `<` and `>`; resolve it against the request URL. */
  readonly url: string;
  /** One relation type, lower-case (relation types compare case-insensitively, RFC 8288 §2.1.1). */
  readonly rel: string;
}

const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const LONG_DAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAY = DAY_NAMES.join('|');
const LONG_DAY = LONG_DAY_NAMES.join('|');
const MONTH = MONTHS.join('|');
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
// RFC 9110 §5.6.7: the preferred IMF-fixdate and the two obsolete forms recipients must accept.
const IMF_FIXDATE = new RegExp(`^(?:${DAY}), (\\d{2}) (${MONTH}) (\\d{4}) ${TIME} GMT$`);
const RFC850_DATE = new RegExp(`^(?:${LONG_DAY}), (\\d{2})-(${MONTH})-(\\d{2}) ${TIME} GMT$`);
const ASCTIME_DATE = new RegExp(`^(?:${DAY}) (${MONTH}) ([ \\d]\\d) ${TIME} (\\d{4})$`);
const DELTA_SECONDS = /^\d+$/;

/**
 * Seconds to wait according to a `Retry-After` value (RFC 9110 §10.2.3), either delta-seconds
 * or an HTTP-date compared with `now`. Guarantees a non-negative integer, rounded up so the
 * caller never retries early; a date in the past gives 0. Returns `undefined` when the header is
 * absent or does not parse.
 */
export function parseRetryAfter(value: string | undefined, now: Date): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (DELTA_SECONDS.test(trimmed)) return Math.min(Number(trimmed), Number.MAX_SAFE_INTEGER);
  const at = parseHttpDate(trimmed, now);
  if (at === undefined || Number.isNaN(now.getTime())) return undefined;
  return Math.max(0, Math.ceil((at - now.getTime()) / 1000));
}

/**
 * Milliseconds since the epoch for an HTTP-date in any of its three RFC 9110 forms, or
 * `undefined`. Stricter than `Date.parse`, which accepts many non-HTTP formats and reads
 * asctime dates in local time. `now` places two-digit RFC 850 years in the right century.
 */
export function parseHttpDate(value: string, now: Date): number | undefined {
  let match = IMF_FIXDATE.exec(value);
  if (match) return utc(Number(match[3]), match[2], match[1], match[4], match[5], match[6]);
  match = ASCTIME_DATE.exec(value);
  if (match) return utc(Number(match[6]), match[1], match[2], match[3], match[4], match[5]);
  match = RFC850_DATE.exec(value);
  if (match) {
    // RFC 9110 §5.6.7: a two-digit year more than 50 years ahead belongs to the past century.
    const currentYear = now.getUTCFullYear();
    let year = currentYear - (currentYear % 100) + Number(match[3]);
    if (year > currentYear + 50) year -= 100;
    return utc(year, match[2], match[1], match[4], match[5], match[6]);
  }
  return undefined;
}

function utc(
  year: number,
  monthName: string | undefined,
  dayText: string | undefined,
  hourText: string | undefined,
  minuteText: string | undefined,
  secondText: string | undefined,
): number | undefined {
  const month = MONTHS.indexOf(monthName ?? '');
  const day = Number(dayText);
  const hour = Number(hourText);
  const minute = Number(minuteText);
  const second = Number(secondText);
  // HTTP-date allows a leap second (60); Date cannot represent it, so it becomes the next second.
  if (hour > 23 || minute > 59 || second > 60) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(year, month, day);
  date.setUTCHours(hour, minute, second, 0);
  if (date.getUTCMonth() !== month || date.getUTCDate() !== day) return undefined; // e.g. 31 Feb
  return date.getTime();
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const WHITESPACE = /[ \t]/;

/**
 * Parses a `Link` header (RFC 8288 §3), which may join several links with commas, as the
 * transport does for repeated headers. Handles quoted parameter values with escapes, commas and
 * semicolons inside them, parameter names in any case, and several relation types in one `rel`
 * (reported as one entry each). Links without `rel` are omitted; a malformed link is skipped
 * without losing the links after it.
 */
export function parseLinkHeader(value: string | undefined): LinkTarget[] {
  if (value === undefined) return [];
  const links: LinkTarget[] = [];
  let pos = 0;
  const skipWhitespace = (): void => {
    while (pos < value.length && WHITESPACE.test(value.charAt(pos))) pos += 1;
  };
  /** Moves past the current link-value to just after the next comma outside quotes and `<>`. */
  const skipToNextLink = (): void => {
    let quoted = false;
    let bracketed = false;
    for (; pos < value.length; pos += 1) {
      const char = value.charAt(pos);
      if (quoted) {
        if (char === '\\') pos += 1;
        else if (char === '"') quoted = false;
      } else if (bracketed) {
        if (char === '>') bracketed = false;
      } else if (char === '"') quoted = true;
      else if (char === '<') bracketed = true;
      else if (char === ',') {
        pos += 1;
        return;
      }
    }
  };
  const readToken = (): string => {
    const start = pos;
    while (pos < value.length && TOKEN_CHAR.test(value.charAt(pos))) pos += 1;
    return value.slice(start, pos);
  };
  const readQuoted = (): string | undefined => {
    let text = '';
    for (pos += 1; pos < value.length; pos += 1) {
      const char = value.charAt(pos);
      if (char === '"') {
        pos += 1;
        return text;
      }
      if (char === '\\') pos += 1;
      text += value.charAt(pos);
    }
    return undefined; // unterminated
  };

  while (pos < value.length) {
    skipWhitespace();
    if (value.charAt(pos) === ',') {
      pos += 1;
      continue;
    }
    if (pos >= value.length) break;
    if (value.charAt(pos) !== '<') {
      skipToNextLink();
      continue;
    }
    const close = value.indexOf('>', pos + 1);
    if (close < 0) break;
    const url = value.slice(pos + 1, close).trim();
    pos = close + 1;

    let rel: string | undefined;
    let wellFormed = true;
    for (;;) {
      skipWhitespace();
      if (pos >= value.length || value.charAt(pos) === ',') break;
      if (value.charAt(pos) !== ';') {
        wellFormed = false;
        break;
      }
      pos += 1;
      skipWhitespace();
      const name = readToken().toLowerCase();
      if (!name) {
        wellFormed = false;
        break;
      }
      skipWhitespace();
      let paramValue = '';
      if (value.charAt(pos) === '=') {
        pos += 1;
        skipWhitespace();
        const read = value.charAt(pos) === '"' ? readQuoted() : readToken();
        if (read === undefined) {
          wellFormed = false;
          break;
        }
        paramValue = read;
      }
      // RFC 8288 §3.3: occurrences of `rel` after the first are ignored.
      if (name === 'rel' && rel === undefined) rel = paramValue;
    }
    if (!wellFormed) {
      skipToNextLink();
      continue;
    }
    for (const relationType of (rel ?? '').split(/[ \t]+/)) {
      if (relationType) links.push({ url, rel: relationType.toLowerCase() });
    }
  }
  return links;
}

/**
 * The media type of a `Content-Type` value, lower-case and without parameters, so
 * `application/json; charset=utf-8` compares equal to `application/json`.
 */
export function mediaType(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  const type = contentType.split(';', 1)[0]?.trim().toLowerCase();
  return type ? type : undefined;
}

const NONCE = /^[A-Za-z0-9_-]+$/;

/**
 * The `Replay-Nonce` value if it is valid base64url of at most `MAX_NONCE_LENGTH` characters,
 * else `undefined`: RFC 8555 §6.5.1 says clients MUST ignore invalid nonces rather than send them
 * back, and a nonce travels in the state to the next step.
 */
export function parseReplayNonce(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed && trimmed.length <= MAX_NONCE_LENGTH && NONCE.test(trimmed) ? trimmed : undefined;
}
