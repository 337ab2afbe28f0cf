/**
 * Size bounds for text that comes from the CA. Whatever a CA sends may end up in the Step
 * Functions state (256 KiB per state), the registry (400 KB per DynamoDB item), an EventBridge
 * event (256 KB per entry) and the logs; one oversized problem `detail` once made every Cleanup
 * fail because its failure event was refused. So every string the client keeps from a response is
 * either checked against a pattern, refused when over its bound (a URL: a shortened URL is a
 * different URL), or shortened here (text that people read: problem details, values quoted in
 * messages). Lengths are in UTF-16 code units, as `String.length` counts them.
 */

/**
 * Longest URL the client accepts from a CA. The longest ACME URLs at public CAs are under 200
 * characters (an ARI URL with its CertID). An order of 100 names puts up to 300 CA URLs into the
 * state (its authorizations, and each challenge's authorization and challenge URL): at 512
 * characters each that is at most 150 KiB, inside the 256 KiB Step Functions allows.
 */
export const MAX_URL_LENGTH = 512;

/**
 * A problem's `type` is a URI, and every ACME one is under 60 characters; a longer one is shown
 * shortened, which is harmless: it then matches no known type and becomes a plain
 * `AcmeProblemError`.
 */
export const MAX_PROBLEM_TYPE_LENGTH = 256;

/**
 * A problem's `detail` is one sentence or a few for people: Boulder's longest, a rate limit
 * naming its limit and the time it lifts, is under 400 characters. 4 KiB keeps every real one
 * whole.
 */
export const MAX_PROBLEM_DETAIL_LENGTH = 4096;

/** The detail of one subproblem, about one identifier: shorter than the problem's own. */
export const MAX_SUBPROBLEM_DETAIL_LENGTH = 1024;

/** One subproblem per identifier, and an order holds at most 100 identifiers (this workflow's limit, and Let's Encrypt's). */
export const MAX_SUBPROBLEMS = 100;

/**
 * All the subproblems of one problem together. The error's message lists them all, and that
 * message travels twice in the failure's Cause (message and trace) into the state, the registry's
 * `lastError` and the failure event: 12 KiB of subproblems and 4 KiB of detail keep that Cause
 * under 40 KiB. Subproblems past it are left out and counted in the detail.
 */
export const MAX_SUBPROBLEMS_TEXT_LENGTH = 12 * 1024;

/** A DNS name is at most 253 characters (RFC 1035 §2.3.4), 255 with a wildcard's `*.`. */
export const MAX_IDENTIFIER_LENGTH = 255;

/**
 * RFC 8555 sets no length for a `Replay-Nonce`; Boulder's are 48 characters and Pebble's fewer.
 * The nonce travels in the state to the next step, so a longer one is ignored as invalid (RFC 8555
 * §6.5.1 has clients ignore invalid nonces) and a fresh one is asked for.
 */
export const MAX_NONCE_LENGTH = 512;

/** A value of the CA's quoted in one of our messages (a status, a content type, a name). */
export const MAX_QUOTED_LENGTH = 128;

/**
 * Alternate chains followed from one certificate download (`Link: rel="alternate"`). CAs offer
 * one or two; each costs a request while the preferred chain is looked for.
 */
export const MAX_ALTERNATE_CHAINS = 10;

/**
 * `text` when it fits in `max`, else its start and a note of its full length, `max` long in all.
 * Never splits a surrogate pair, so the result is still well-formed UTF-16 (and valid UTF-8 once
 * encoded for DynamoDB or EventBridge).
 */
export function truncateText(text: string, max: number): string {
  if (text.length <= max) return text;
  const note = `… [${text.length} characters, truncated]`;
  let end = Math.max(0, max - note.length);
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}${note}`;
}

/** A CA's value as quoted in a message: JSON-quoted, and shortened to `MAX_QUOTED_LENGTH`. */
export function quoteForMessage(value: unknown, max = MAX_QUOTED_LENGTH): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return JSON.stringify(truncateText(text, max));
}

/** A URL as named in a message: whole when within `MAX_URL_LENGTH`, else its start and length. */
export function urlForMessage(url: string): string {
  return truncateText(url, MAX_URL_LENGTH);
}
