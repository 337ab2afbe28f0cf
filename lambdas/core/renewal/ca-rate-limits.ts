import { InvalidInputError } from '../errors.js';

/** At most `count` events in any `windowMs` (a sliding window). */
export interface RateLimit {
  readonly count: number;
  readonly windowMs: number;
}

/**
 * The issuance limits a CA publishes, each optional: a CA that publishes none has none. Limits the
 * planner cannot influence (accounts per IP, requests per second) are left out.
 */
export interface CaRateLimits {
  /** Shown in logs and metrics. */
  readonly name: string;
  /** New orders one ACME account may create. */
  readonly newOrdersPerAccount?: RateLimit;
  /** Certificates naming one registered domain (public suffix + one label), across all accounts. */
  readonly certificatesPerRegisteredDomain?: RateLimit;
  /** Certificates for one exact set of names. */
  readonly certificatesPerExactSet?: RateLimit;
  /** Failed authorizations for one name, per account. */
  readonly failedAuthorizationsPerIdentifier?: RateLimit;
}

export type LimitName = Exclude<keyof CaRateLimits, 'name'>;

export const HOUR_MS = 60 * 60 * 1000;
export const DAY_MS = 24 * HOUR_MS;

/**
 * Let's Encrypt's published limits (https://letsencrypt.org/docs/rate-limits/): 300 new orders
 * per account per 3 hours, 50 certificates per registered domain per 7 days, 5 certificates per
 * exact set of identifiers per 7 days, 5 failed authorizations per identifier per account per
 * hour. Let's Encrypt enforces them as token buckets that refill at limit/window; a schedule that
 * keeps every sliding window at or below the limit never empties such a bucket. Renewals that
 * name the certificate they replace (RFC 9773 §5, ARI `replaces`) are exempt from all of them;
 * other renewals of the same exact set are exempt from the first two only.
 */
export const LETS_ENCRYPT_RATE_LIMITS: CaRateLimits = {
  name: 'letsencrypt',
  newOrdersPerAccount: { count: 300, windowMs: 3 * HOUR_MS },
  certificatesPerRegisteredDomain: { count: 50, windowMs: 7 * DAY_MS },
  certificatesPerExactSet: { count: 5, windowMs: 7 * DAY_MS },
  failedAuthorizationsPerIdentifier: { count: 5, windowMs: HOUR_MS },
};

/** For a CA that publishes no issuance limits, or a local test CA: nothing is paced. */
export const NO_RATE_LIMITS: CaRateLimits = { name: 'none' };

/** Named limit tables an override may refer to. */
const NAMED_LIMITS: Readonly<Record<string, CaRateLimits>> = {
  letsencrypt: LETS_ENCRYPT_RATE_LIMITS,
  none: NO_RATE_LIMITS,
};

const LIMIT_NAMES: readonly LimitName[] = [
  'newOrdersPerAccount',
  'certificatesPerRegisteredDomain',
  'certificatesPerExactSet',
  'failedAuthorizationsPerIdentifier',
];

/** Directory URL → limits, set by the operator for a CA whose limits differ from the default. */
export type RateLimitOverrides = Readonly<Record<string, CaRateLimits>>;

/**
 * The limits to pace a CA's orders by: the operator's override for its directory URL; none for a
 * CA on the loopback interface (a local test CA such as Pebble, which limits nothing); otherwise
 * Let's Encrypt's, the strictest widely used public CA's, so a CA whose limits are unknown is
 * paced rather than answered with 429s.
 */
export function rateLimitsFor(directoryUrl: string, overrides: RateLimitOverrides = {}): CaRateLimits {
  const override = overrides[directoryUrl];
  if (override) return override;
  let host = '';
  try {
    host = new URL(directoryUrl).hostname;
  } catch {
    return LETS_ENCRYPT_RATE_LIMITS;
  }
  const loopback = host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
  return loopback ? NO_RATE_LIMITS : LETS_ENCRYPT_RATE_LIMITS;
}

/**
 * Reads the operator's overrides: a JSON object from directory URL to `"none"`, `"letsencrypt"`,
 * or an object of limits `{ "newOrdersPerAccount": { "count": 100, "windowSeconds": 3600 }, … }`
 * (limits left out are not paced). Throws `InvalidInputError` naming what is wrong.
 */
export function parseRateLimitOverrides(json: string | undefined): RateLimitOverrides {
  if (json === undefined || json.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new InvalidInputError(
      'The CA rate limits are not valid JSON; give an object from directory URL to "none", "letsencrypt" or limits.',
    );
  }
  if (!isObject(parsed)) {
    throw new InvalidInputError('The CA rate limits must be a JSON object from directory URL to limits.');
  }
  const overrides: Record<string, CaRateLimits> = {};
  for (const [directoryUrl, value] of Object.entries(parsed)) {
    if (!URL.canParse(directoryUrl)) {
      throw new InvalidInputError(`The CA rate limits name "${directoryUrl}", which is not a directory URL.`);
    }
    if (typeof value === 'string') {
      const named = NAMED_LIMITS[value];
      if (!named) {
        throw new InvalidInputError(
          `The CA rate limits for ${directoryUrl} are "${value}"; use "none", "letsencrypt" or an object of limits.`,
        );
      }
      overrides[directoryUrl] = named;
      continue;
    }
    if (!isObject(value)) {
      throw new InvalidInputError(
        `The CA rate limits for ${directoryUrl} must be "none", "letsencrypt" or an object.`,
      );
    }
    const limits: { -readonly [K in keyof CaRateLimits]: CaRateLimits[K] } = { name: directoryUrl };
    for (const [key, limit] of Object.entries(value)) {
      if (!(LIMIT_NAMES as readonly string[]).includes(key)) {
        throw new InvalidInputError(
          `The CA rate limits for ${directoryUrl} name an unknown limit "${key}"; known: ${LIMIT_NAMES.join(', ')}.`,
        );
      }
      const count = isObject(limit) ? limit.count : undefined;
      const seconds = isObject(limit) ? limit.windowSeconds : undefined;
      if (
        !Number.isInteger(count) ||
        (count as number) < 1 ||
        !Number.isInteger(seconds) ||
        (seconds as number) < 1
      ) {
        throw new InvalidInputError(
          `The CA rate limit ${key} for ${directoryUrl} needs a positive integer "count" and "windowSeconds".`,
        );
      }
      limits[key as LimitName] = { count: count as number, windowMs: (seconds as number) * 1000 };
    }
    overrides[directoryUrl] = limits;
  }
  return overrides;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One limit as an operator writes it: at most `count` in any `windowSeconds`. */
export interface RateLimitSetting {
  /** Events the CA allows in the window; a positive whole number. */
  readonly count: number;
  /** The window's length in seconds; a positive whole number. */
  readonly windowSeconds: number;
}

/**
 * The limits an operator sets for one CA: a named table, or the limits themselves (a limit left
 * out is not paced).
 */
export type CaRateLimitsSetting =
  | 'none'
  | 'letsencrypt'
  | {
      /** New orders one ACME account may create. */
      readonly newOrdersPerAccount?: RateLimitSetting;
      /** Certificates naming one registered domain, across all accounts. */
      readonly certificatesPerRegisteredDomain?: RateLimitSetting;
      /** Certificates for one exact set of names. */
      readonly certificatesPerExactSet?: RateLimitSetting;
      /** Failed authorizations for one name, per account. */
      readonly failedAuthorizationsPerIdentifier?: RateLimitSetting;
    };
