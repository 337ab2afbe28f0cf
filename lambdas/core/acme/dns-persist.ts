import { createHash } from 'node:crypto';
import { InvalidInputError } from '../errors.js';

/**
 * The persistent DNS validation record of `dns-persist-01`, as a pure model: where it lives, how
 * its value is written and read, and whether a set of values authorizes an account.
 *
 * Every rule here follows {@link DNS_PERSIST_DRAFT}; sections cited as "§n" are of that draft.
 * The record reuses the CAA issue-value grammar of RFC 8659 §4.2. Since -02 the `accounturi` is a
 * hashed URI bound to the account key and the domain (§4.1 item 3), not the bare account URL.
 */

/** The draft version this module implements. Bump it only with a review of every rule below. */
export const DNS_PERSIST_DRAFT = 'draft-ietf-acme-dns-persist-02';

/** The challenge type (§3.1, §8.1). */
export const DNS_PERSIST_01 = 'dns-persist-01';

/** The label prepended to the validated FQDN (§2 "Validation Domain Name", §8.2). */
export const VALIDATION_PERSIST_LABEL = '_validation-persist';

/** The hash algorithm every client and CA must support (§4.1 item 3), as its RFC 6920 name. */
export const PERSIST_HASH_ALGORITHM = 'sha-256';

/** §3.1: a challenge offers one to ten issuer domain names, each at most 253 octets. */
export const MAX_ISSUER_DOMAIN_NAMES = 10;
const MAX_DOMAIN_OCTETS = 253;
const SHA256_BASE64URL_LENGTH = 43;

const WSP = /[ \t]/;
/** RFC 8659 §4.2 `label` and `parameter-tag`: letters and digits, inner hyphens only. */
const LDH = '[A-Za-z0-9](?:-*[A-Za-z0-9])*';
const ISSUER_DOMAIN_NAME = new RegExp(`^${LDH}(?:\\.${LDH})*`);
const PARAMETER_TAG = new RegExp(`^${LDH}`);
/** RFC 8659 §4.2 `parameter-value`: printable US-ASCII except `;`. */
const PARAMETER_VALUE = /^[\x21-\x3A\x3C-\x7E]*/;
/** §3.1's normalized form: lower-case A-labels, no trailing dot. */
const LOWER_LDH = '[a-z0-9](?:-*[a-z0-9])*';
const NORMALIZED_ISSUER = new RegExp(`^${LOWER_LDH}(?:\\.${LOWER_LDH})*$`);
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const UNIX_SECONDS = /^[0-9]+$/;

/**
 * The Validation Domain Name for an identifier (§2, §4): `_validation-persist.` before the FQDN.
 * A wildcard identifier is validated at its base name (§5, §10.4), so `*.` is dropped; the name is
 * lower-cased and loses a trailing dot, as §9.2 normalizes it.
 */
export function validationDomainName(identifier: string): string {
  return `${VALIDATION_PERSIST_LABEL}.${validatedFqdn(identifier)}`;
}

/** The FQDN a record at the Validation Domain Name speaks for (§4.1 item 3.2): no `*.`, no trailing dot. */
export function validatedFqdn(identifier: string): string {
  const name = identifier.trim().toLowerCase().replace(/\.$/, '');
  const base = name.startsWith('*.') ? name.slice(2) : name;
  if (base.length === 0 || base.includes('*')) {
    throw new InvalidInputError(
      `"${identifier}" is not a DNS name a dns-persist-01 record can be published for; give a name such as example.org or *.example.org.`,
    );
  }
  return base;
}

/** What the hashed account URI of §4.1 item 3 is computed from. */
export interface HashedAccountUriInput {
  /** The CA's directory `meta.accountHashPrefix` (§3.2, §4.1 item 3). */
  readonly accountHashPrefix: string;
  /** The account URL, as the newAccount `Location` gave it (RFC 8555 §7.3). */
  readonly accountUrl: string;
  /** The unpadded base64url SHA-256 JWK thumbprint of the account key (RFC 7638), 43 characters. */
  readonly accountKeyThumbprint: string;
  /**
   * The FQDN the record is published for, or `'*'` for the domain-omitted form that may be reused
   * across domains (§4.1 item 3.2, §7.2.2).
   */
  readonly domain: string;
}

/**
 * The hashed account URI of §4.1 item 3:
 * `<accountHashPrefix>sha-256/<base64url(SHA-256(len(domain) || domain || thumbprint || accountUrl))>`.
 * Only SHA-256 is produced: it is the one algorithm every CA must accept.
 */
export function hashedAccountUri(input: HashedAccountUriInput): string {
  const domain = input.domain === '*' ? '*' : validatedFqdn(input.domain);
  const domainOctets = Buffer.from(domain, 'ascii');
  if (!/^[\x21-\x7E]+$/.test(domain) || domainOctets.length > 255) {
    throw new InvalidInputError(
      `"${input.domain}" is not an A-label DNS name; convert it to its A-label (xn--) form first (draft §9.2).`,
    );
  }
  if (
    input.accountKeyThumbprint.length !== SHA256_BASE64URL_LENGTH ||
    !BASE64URL.test(input.accountKeyThumbprint)
  ) {
    throw new InvalidInputError(
      `The account key thumbprint must be the 43-character unpadded base64url SHA-256 JWK thumbprint (RFC 7638), got "${input.accountKeyThumbprint}".`,
    );
  }
  if (!/^[\x21-\x7E]+$/.test(input.accountUrl)) {
    throw new InvalidInputError(
      `The account URL must be a US-ASCII URI without spaces, got "${input.accountUrl}".`,
    );
  }
  const digest = createHash('sha256')
    .update(Uint8Array.of(domainOctets.length))
    .update(domainOctets)
    .update(input.accountKeyThumbprint, 'ascii')
    .update(input.accountUrl, 'ascii')
    .digest('base64url');
  return `${input.accountHashPrefix}${PERSIST_HASH_ALGORITHM}/${digest}`;
}

/** What goes into a record value besides the issuer and the account (§4.1 items 4 and 5). */
export interface PersistRecordOptions {
  /** Adds `policy=wildcard`, which the CA needs for `*.name` and for subdomains (§5.1). */
  readonly wildcard?: boolean;
  /** Adds `persistUntil=<unix seconds>`: the CA stops relying on the record after it (§4.1 item 5). */
  readonly persistUntil?: Date;
}

/**
 * The TXT value to publish at the Validation Domain Name (§4.1, Figures 2, 8, 10):
 * `<issuer-domain-name>; accounturi=<hashed URI>[; policy=wildcard][; persistUntil=<seconds>]`.
 * Refuses an issuer name that is not in the normalized form of §3.1, and an account URI that the
 * RFC 8659 §4.2 value grammar cannot carry.
 */
export function persistRecordValue(
  issuerDomainName: string,
  accountUri: string,
  options: PersistRecordOptions = {},
): string {
  requireNormalizedIssuer(issuerDomainName);
  if (!/^[\x21-\x3A\x3C-\x7E]+$/.test(accountUri)) {
    throw new InvalidInputError(
      `The accounturi "${accountUri}" cannot be written in a dns-persist-01 record: it must be printable US-ASCII without spaces or ";" (RFC 8659 §4.2).`,
    );
  }
  const parts = [issuerDomainName, `accounturi=${accountUri}`];
  if (options.wildcard) parts.push('policy=wildcard');
  if (options.persistUntil !== undefined) {
    const seconds = Math.floor(options.persistUntil.getTime() / 1000);
    if (!Number.isSafeInteger(seconds) || seconds < 0) {
      throw new InvalidInputError(
        `persistUntil must be a date after 1970, got ${String(options.persistUntil)}.`,
      );
    }
    parts.push(`persistUntil=${seconds}`);
  }
  return parts.join('; ');
}

/** What our account's record for one name is made of. */
export interface AccountPersistRecordInput {
  /** The issuer domain name to name: the first the challenge (or directory, §3.2) offers. */
  readonly issuerDomainName: string;
  readonly accountHashPrefix: string;
  readonly accountUrl: string;
  readonly accountKeyThumbprint: string;
  /** Every name of the certificate: a wildcard beside the base name adds `policy=wildcard` (§5.1). */
  readonly domains: readonly string[];
}

/**
 * The value our account publishes for `identifier`: the issuer, the hashed account URI for the
 * FQDN (§4.1 item 3), and `policy=wildcard` when the certificate also holds `*.<base>`, so one
 * value answers the apex and the wildcard at their shared Validation Domain Name. No
 * `persistUntil`: the record is meant to last as long as the certificate is renewed.
 */
export function accountPersistValue(identifier: string, input: AccountPersistRecordInput): string {
  const fqdn = validatedFqdn(identifier);
  const accountUri = hashedAccountUri({
    accountHashPrefix: input.accountHashPrefix,
    accountUrl: input.accountUrl,
    accountKeyThumbprint: input.accountKeyThumbprint,
    domain: fqdn,
  });
  return persistRecordValue(input.issuerDomainName, accountUri, {
    wildcard: input.domains.includes(`*.${fqdn}`),
  });
}

/**
 * Checks the `issuerDomainNames` of a challenge or directory against §3.1: one to ten lower-case
 * A-label names without a trailing dot, none over 253 octets. A client must refuse a challenge
 * that breaks this, so the result is the list or a reason.
 */
export function readIssuerDomainNames(value: unknown): readonly string[] | { readonly reason: string } {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_ISSUER_DOMAIN_NAMES) {
    return { reason: `issuerDomainNames must list 1 to ${MAX_ISSUER_DOMAIN_NAMES} names (draft §3.1)` };
  }
  for (const name of value) {
    if (typeof name !== 'string' || name.length > MAX_DOMAIN_OCTETS || !NORMALIZED_ISSUER.test(name)) {
      return {
        reason: `issuerDomainNames holds ${JSON.stringify(name)}, not a lower-case A-label name without a trailing dot (draft §3.1)`,
      };
    }
  }
  return value as string[];
}

/** A TXT value read with the RFC 8659 §4.2 issue-value grammar. */
export interface PersistRecord {
  /** Lower-cased for comparison (§4.2 applies §3.1's normalization); absent when the value names none. */
  readonly issuerDomainName?: string;
  /** Parameters by lower-cased tag; each tag appears once (§9.3.1 refuses duplicates). */
  readonly parameters: ReadonlyMap<string, string>;
}

/** Why a TXT value is not a record at all. */
export interface PersistRecordSyntaxError {
  readonly malformed: string;
  /** The issuer name, when the value got that far: it tells whether the record was meant for this CA. */
  readonly issuerDomainName?: string;
}

/**
 * Reads one TXT value (its character-strings already joined, RFC 1035 §3.3.14) with the
 * issue-value grammar of RFC 8659 §4.2, as §4.1 item 1 requires:
 *
 *     issue-value = *WSP [issuer-domain-name *WSP] [";" *WSP [parameters *WSP]]
 *     parameters  = (parameter *WSP ";" *WSP parameters) / parameter
 *     parameter   = parameter-tag *WSP "=" *WSP parameter-value
 *
 * Tags compare case-insensitively, so `accounturi` and `AccountURI` are the same tag, and a tag
 * given twice makes the value malformed (§9.3.1 "duplicate parameters").
 */
export function parsePersistRecord(value: string): PersistRecord | PersistRecordSyntaxError {
  let rest = value;
  const skipWsp = (): void => {
    while (rest.length > 0 && WSP.test(rest[0] ?? '')) rest = rest.slice(1);
  };
  skipWsp();
  const issuer = ISSUER_DOMAIN_NAME.exec(rest)?.[0];
  const issuerDomainName = issuer?.toLowerCase();
  const fail = (malformed: string): PersistRecordSyntaxError => ({
    malformed,
    ...(issuerDomainName !== undefined ? { issuerDomainName } : {}),
  });
  if (issuer !== undefined) rest = rest.slice(issuer.length);
  skipWsp();
  const parameters = new Map<string, string>();
  const record = (): PersistRecord => ({
    ...(issuerDomainName !== undefined ? { issuerDomainName } : {}),
    parameters,
  });
  if (rest.length === 0) return record();
  if (!rest.startsWith(';'))
    return fail(`unexpected ${JSON.stringify(rest[0])} after the issuer domain name`);
  rest = rest.slice(1);
  skipWsp();
  if (rest.length === 0) return record();
  for (;;) {
    const tag = PARAMETER_TAG.exec(rest)?.[0];
    if (tag === undefined) return fail(`expected a parameter tag at ${JSON.stringify(rest.slice(0, 20))}`);
    rest = rest.slice(tag.length);
    skipWsp();
    if (!rest.startsWith('=')) return fail(`the parameter "${tag}" has no "="`);
    rest = rest.slice(1);
    skipWsp();
    const parameterValue = PARAMETER_VALUE.exec(rest)?.[0] ?? '';
    rest = rest.slice(parameterValue.length);
    const key = tag.toLowerCase();
    if (parameters.has(key)) return fail(`the parameter "${key}" appears more than once`);
    parameters.set(key, parameterValue);
    skipWsp();
    if (rest.length === 0) return record();
    if (!rest.startsWith(';'))
      return fail(`unexpected ${JSON.stringify(rest[0])} after the parameter "${tag}"`);
    rest = rest.slice(1);
    skipWsp();
    // The grammar has no empty parameter: a ";" must be followed by another one.
    if (rest.length === 0) return fail('a ";" ends the value without a parameter after it');
  }
}

/** What a CA checks a record set against (§4.2). */
export interface PersistAuthorizationRequest {
  /** The identifier being authorized; `*.name` asks for a wildcard (§5). */
  readonly identifier: string;
  /** The challenge's `issuerDomainNames` (§3.1). */
  readonly issuerDomainNames: readonly string[];
  /** The directory's `meta.accountHashPrefix` (§3.2). */
  readonly accountHashPrefix: string;
  readonly accountUrl: string;
  /** Thumbprints of the account's keys, current first, then older ones the CA retains (§4.2). */
  readonly accountKeyThumbprints: readonly string[];
  /** The moment of the validation attempt, for `persistUntil` (§4.1 item 5). */
  readonly now: Date;
}

/** A TXT value that authorizes the request. */
export interface PersistAuthorized {
  readonly authorized: true;
  readonly value: string;
  /** The record's `persistUntil`: the authorization must not expire later (§4.1 item 5). */
  readonly persistUntil?: Date;
  /** The record carries `policy=wildcard` (§5.1). */
  readonly wildcardPolicy: boolean;
}

/** One TXT value that does not authorize, and the ACME error §9.3.1 gives for it. */
export interface PersistRejection {
  readonly value: string;
  readonly problem: 'malformed' | 'unauthorized';
  readonly reason: string;
}

/** No TXT value authorizes; `problem` and `detail` are what the CA should answer (§9.3.1). */
export interface PersistNotAuthorized {
  readonly authorized: false;
  readonly problem: 'malformed' | 'unauthorized';
  readonly detail: string;
  /** Every value at the name, with why it did not count. */
  readonly rejections: readonly PersistRejection[];
}

/**
 * Whether the TXT values at the Validation Domain Name authorize the account for the identifier,
 * following §4.3.2: values naming another issuer are ignored; each one naming one of ours must
 * parse (§4.1 item 1), carry an `accounturi` that recomputes for this account over one of its
 * keys, with the domain or `*` (§4.1 item 3, §4.2), carry `policy=wildcard` for a wildcard
 * (§5.1), and not be past its `persistUntil` (§4.1 item 5). One such value suffices.
 *
 * When none does, the answer is `malformed` if every value meant for us was malformed, otherwise
 * `unauthorized` (§9.3.1); a name without any value for us is `unauthorized`.
 */
export function evaluatePersistRecords(
  values: readonly string[],
  request: PersistAuthorizationRequest,
): PersistAuthorized | PersistNotAuthorized {
  const fqdn = validatedFqdn(request.identifier);
  const wildcard = request.identifier.trim().startsWith('*.');
  const issuers = new Set(request.issuerDomainNames.map((name) => name.toLowerCase().replace(/\.$/, '')));
  const expected = new Set(
    request.accountKeyThumbprints.flatMap((accountKeyThumbprint) =>
      [fqdn, '*'].map((domain) =>
        hashedAccountUri({
          accountHashPrefix: request.accountHashPrefix,
          accountUrl: request.accountUrl,
          accountKeyThumbprint,
          domain,
        }),
      ),
    ),
  );
  const nowSeconds = Math.floor(request.now.getTime() / 1000);
  const rejections: PersistRejection[] = [];
  const ours: PersistRejection[] = [];
  for (const value of values) {
    const parsed = parsePersistRecord(value);
    const issuer = parsed.issuerDomainName;
    if (issuer === undefined || !issuers.has(issuer)) {
      rejections.push({
        value,
        problem: 'unauthorized',
        reason:
          issuer === undefined
            ? 'names no issuer domain name'
            : `names the issuer "${issuer}", not one of ${[...issuers].join(', ')}`,
      });
      continue;
    }
    const reject = (problem: PersistRejection['problem'], reason: string): void => {
      const rejection = { value, problem, reason };
      rejections.push(rejection);
      ours.push(rejection);
    };
    if ('malformed' in parsed) {
      reject('malformed', parsed.malformed);
      continue;
    }
    const accountUri = parsed.parameters.get('accounturi');
    if (accountUri === undefined) {
      reject('malformed', 'has no accounturi parameter');
      continue;
    }
    const hashProblem = hashedUriSyntaxProblem(accountUri, request.accountHashPrefix);
    if (hashProblem) {
      reject('malformed', hashProblem);
      continue;
    }
    const persistUntilText = parsed.parameters.get('persistuntil');
    if (persistUntilText !== undefined && !UNIX_SECONDS.test(persistUntilText)) {
      reject('malformed', `has persistUntil=${persistUntilText}, not a base-10 integer`);
      continue;
    }
    const persistUntil = persistUntilText === undefined ? undefined : Number(persistUntilText);
    if (persistUntil !== undefined && !Number.isSafeInteger(persistUntil)) {
      reject('malformed', `has persistUntil=${persistUntilText}, out of range`);
      continue;
    }
    if (!expected.has(accountUri)) {
      reject('unauthorized', `has an accounturi that is not the hashed URI of account ${request.accountUrl}`);
      continue;
    }
    const wildcardPolicy = parsed.parameters.get('policy')?.toLowerCase() === 'wildcard';
    if (wildcard && !wildcardPolicy) {
      reject('unauthorized', `lacks policy=wildcard, which ${request.identifier} needs`);
      continue;
    }
    if (persistUntil !== undefined && nowSeconds > persistUntil) {
      reject('unauthorized', `has persistUntil=${persistUntil}, which has passed`);
      continue;
    }
    return {
      authorized: true,
      value,
      wildcardPolicy,
      ...(persistUntil !== undefined ? { persistUntil: new Date(persistUntil * 1000) } : {}),
    };
  }
  const name = validationDomainName(request.identifier);
  if (ours.length === 0) {
    return {
      authorized: false,
      problem: 'unauthorized',
      detail:
        values.length === 0
          ? `No TXT record at ${name}.`
          : `No TXT record at ${name} names the issuer ${[...issuers].join(' or ')}.`,
      rejections,
    };
  }
  const problem = ours.every((rejection) => rejection.problem === 'malformed') ? 'malformed' : 'unauthorized';
  return {
    authorized: false,
    problem,
    detail: `No TXT record at ${name} authorizes account ${request.accountUrl}: ${ours
      .map((rejection) => `"${rejection.value}" ${rejection.reason}`)
      .join('; ')}.`,
    rejections,
  };
}

/** Why `accountUri` is not a well-formed SHA-256 hashed URI under the prefix (§9.3.1), or undefined. */
function hashedUriSyntaxProblem(accountUri: string, accountHashPrefix: string): string | undefined {
  if (!accountUri.startsWith(accountHashPrefix)) {
    return `has an accounturi outside the CA's accountHashPrefix ${accountHashPrefix}`;
  }
  const [algorithm, hash, ...extra] = accountUri.slice(accountHashPrefix.length).split('/');
  if (algorithm !== PERSIST_HASH_ALGORITHM) {
    return `has an accounturi with the hash algorithm "${algorithm ?? ''}", not ${PERSIST_HASH_ALGORITHM}`;
  }
  if (
    extra.length > 0 ||
    hash === undefined ||
    hash.length !== SHA256_BASE64URL_LENGTH ||
    !BASE64URL.test(hash)
  ) {
    return 'has an accounturi whose hash is not 43 base64url characters';
  }
  return undefined;
}

function requireNormalizedIssuer(name: string): void {
  if (name.length > MAX_DOMAIN_OCTETS || !NORMALIZED_ISSUER.test(name)) {
    throw new InvalidInputError(
      `"${name}" is not an issuer domain name as the CA lists them: lower-case A-labels, no trailing dot (draft §3.1). Use one of the challenge's issuerDomainNames.`,
    );
  }
}
