import { AcmeProtocolError, InvalidInputError } from '../errors.js';
import { MAX_URL_LENGTH, quoteForMessage } from './bounds.js';

/**
 * ACME Renewal Information (RFC 9773): the shape of the certificate identifier the CA knows a
 * certificate by, the CA's suggested renewal window, and when to renew inside it (or without it).
 * Pure: no network, no clock, no randomness of its own, so a planner can replay every decision in
 * a test. No certificate parser either, so every step that talks ACME stays small: computing a
 * CertID from a certificate is `ariCertificateId` in `../crypto/ari-certificate-id.ts`.
 */

/** A suggested renewal window (RFC 9773 §4.2), with `end` strictly after `start`. */
export interface RenewalWindow {
  readonly start: Date;
  readonly end: Date;
  /** The CA's page explaining the window (`explanationURL`), e.g. why a renewal is urgent. */
  readonly explanationUrl?: string;
}

/** What the CA said about one certificate, and when it asks to be asked again. */
export interface RenewalInfo {
  readonly window: RenewalWindow;
  /** Seconds from `Retry-After` (RFC 9773 §4.3), when the CA sent it. */
  readonly retryAfterSeconds?: number;
}

const CERT_ID = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * True when `value` has the shape of an RFC 9773 CertID, as `ariCertificateId` computes it: two
 * non-empty unpadded base64url parts joined by ".". Catches a serial in hex or a padded encoding
 * before it reaches the CA.
 */
export function isAriCertificateId(value: string): boolean {
  return CERT_ID.test(value);
}

/**
 * Reads a renewalInfo response body (RFC 9773 §4.2). Guarantees a window whose `start` and `end`
 * were valid RFC 3339 date-times with `end` after `start`; anything else is an
 * `AcmeProtocolError` naming the problem. `explanationURL` is informational only, so a value that
 * is not an absolute URL (or is longer than `MAX_URL_LENGTH`) is left out rather than failing the
 * whole answer.
 */
export function parseRenewalInfo(body: unknown): RenewalWindow {
  if (!isRecord(body)) throw new AcmeProtocolError('The renewalInfo response is not a JSON object.');
  const window = body.suggestedWindow;
  if (!isRecord(window)) {
    throw new AcmeProtocolError('The renewalInfo response has no "suggestedWindow" object.');
  }
  const start = parseRfc3339(window.start, 'start');
  const end = parseRfc3339(window.end, 'end');
  if (end.getTime() <= start.getTime()) {
    throw new AcmeProtocolError(
      `The renewalInfo suggestedWindow ends (${end.toISOString()}) no later than it starts (${start.toISOString()}).`,
    );
  }
  const explanation = body.explanationURL;
  return typeof explanation === 'string' && explanation.length <= MAX_URL_LENGTH && URL.canParse(explanation)
    ? { start, end, explanationUrl: explanation }
    : { start, end };
}

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** RFC 3339 §5.6 `date-time`, checked field by field: `Date.parse` would roll 31 Feb over to March. */
function parseRfc3339(value: unknown, field: string): Date {
  const invalid = (): never => {
    throw new AcmeProtocolError(
      `The renewalInfo suggestedWindow.${field} is not an RFC 3339 date-time: ${value === undefined ? 'absent' : quoteForMessage(value)}.`,
    );
  };
  if (typeof value !== 'string') return invalid();
  const match = RFC3339.exec(value) ?? invalid();
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as Six;
  const [fraction = '', , sign, offsetHour = '0', offsetMinute = '0'] = match.slice(7);
  const calendar = new Date(0);
  calendar.setUTCFullYear(year, month - 1, day);
  if (calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day) invalid();
  // A leap second (60) is allowed by RFC 3339; Date cannot hold it, so it becomes the next second.
  if (hour > 23 || minute > 59 || second > 60) invalid();
  if (Number(offsetHour) > 23 || Number(offsetMinute) > 59) invalid();
  const offset = sign ? (Number(offsetHour) * 60 + Number(offsetMinute)) * (sign === '-' ? -1 : 1) : 0;
  const millis = Number(fraction.padEnd(3, '0').slice(0, 3));
  const date = new Date(calendar.getTime() + ((hour * 60 + minute - offset) * 60 + second) * 1000 + millis);
  if (Number.isNaN(date.getTime())) invalid();
  return date;
}

type Six = [number, number, number, number, number, number];

/**
 * When to renew, following RFC 9773 §4.2's advice of a uniformly random time in the window: `now`
 * when the window has already ended (renew immediately); otherwise a time in
 * `[max(start, now), end)`, so a window that has begun is never scheduled in the past. `random`
 * must return values in [0, 1) like `Math.random`; values outside are clamped. Throws
 * `InvalidInputError` for a window that does not end after it starts.
 */
export function chooseRenewalTime(
  window: Pick<RenewalWindow, 'start' | 'end'>,
  random: () => number,
  now: Date,
): Date {
  const start = window.start.getTime();
  const end = window.end.getTime();
  const at = now.getTime();
  if (!(end > start) || Number.isNaN(at)) {
    throw new InvalidInputError(
      `A renewal window must end after it starts, and now must be a valid date (got ${describeDate(window.start)} to ${describeDate(window.end)}, now ${describeDate(now)}).`,
    );
  }
  if (end <= at) return new Date(at);
  const from = Math.max(start, at);
  const fraction = Math.min(Math.max(random(), 0), 1);
  // Whole milliseconds, and strictly before `end` even when `random` returns 1.
  return new Date(Math.min(from + Math.floor(fraction * (end - from)), end - 1));
}

/**
 * The renewal time when the CA offers no renewal information: when one third of the certificate's
 * lifetime remains (day 60 of a 90-day certificate, about two days before the end of a 6-day
 * one), rounded to the millisecond. Throws `InvalidInputError` unless `notAfter` is after
 * `notBefore`.
 */
export function fallbackRenewalTime(notBefore: Date, notAfter: Date): Date {
  const from = notBefore.getTime();
  const to = notAfter.getTime();
  if (!(to > from)) {
    throw new InvalidInputError(
      `A certificate's notAfter must be after its notBefore to plan its renewal (got ${describeDate(notBefore)} to ${describeDate(notAfter)}).`,
    );
  }
  return new Date(to - Math.round((to - from) / 3));
}

function describeDate(date: Date): string {
  return Number.isNaN(date.getTime()) ? 'an invalid date' : date.toISOString();
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
