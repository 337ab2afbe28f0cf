import { normalizeContacts } from '../acme/contacts.js';
import { isRevocationReason, REVOCATION_REASONS } from '../acme/revocation-reasons.js';
import { normalizeIdentifier, normalizeIdentifiers } from '../dns/identifiers.js';
import { InvalidInputError } from '../errors.js';
import type { CertificateConfig } from '../ports.js';
import type { IssuanceAction, KeyType } from '../state.js';
import type { WorkflowConfig } from './deps.js';

const KEY_TYPES: readonly KeyType[] = ['EC_P256', 'EC_P384', 'RSA_2048', 'RSA_3072', 'RSA_4096'];
const CERTIFICATE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
/** A bare Route 53 hosted zone id. */
const ZONE_ID = /^[A-Z0-9]{1,32}$/;

/*
 * Bounds on every string and list of an execution input. The input travels in the state of
 * every step (256 KiB each, what Step Functions allows) and is recorded in the registry, so
 * nothing in it may be arbitrarily long: each bound is well above any real value.
 */

/** Names per certificate: what ACME CAs accept (Let's Encrypt: 100), and what the CLI checks too. */
export const MAX_DOMAINS = 100;
/** Characters of a URL (`directoryUrl`, `accountUrl`): directories are short, browsers take 2,048. */
export const MAX_URL_LENGTH = 2048;
/** Characters of an ACME profile name: Let's Encrypt's are `classic`, `tlsserver`, `shortlived`. */
export const MAX_PROFILE_LENGTH = 64;
/** Characters of `preferredChain`, an issuer common name: X.509's `ub-common-name` (RFC 5280). */
export const MAX_PREFERRED_CHAIN_LENGTH = 64;
/** ACM regions to import into: more than AWS has. */
export const MAX_REGIONS = 50;
/** Entries of `hostedZoneIds` or `zoneRoles`: one per name of a 100-name certificate. */
export const MAX_ZONE_ENTRIES = MAX_DOMAINS;
/** Characters of an ARN (`kmsKeyArn`) or an execution id: IAM's limit on ARNs. */
export const MAX_ARN_LENGTH = 2048;
/** Characters of an input value repeated in an error message. */
const SHOWN_LENGTH = 80;
/**
 * Keys that name the prototype machinery of a JavaScript object: `__proto__` would be dropped
 * silently when the map is built, the others shadow what every object has.
 */
const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
/** The fields that make up a certificate's configuration: `issue` sets them, `renew` reads them. */
const CONFIGURATION_FIELDS = [
  'domains',
  'keyType',
  'hostedZoneIds',
  'zoneRoles',
  'regions',
  'directoryUrl',
  'profile',
  'preferredChain',
  'kmsKeyArn',
] as const;
const KNOWN_FIELDS = new Set<string>([
  'action',
  'certificateId',
  'force',
  'reason',
  'execution',
  ...CONFIGURATION_FIELDS,
]);

/** Actions on the CA account itself rather than on one certificate; ManageAccount runs them. */
export const ACCOUNT_ACTIONS = ['rollover-account-key', 'update-account', 'deactivate-account'] as const;
export type AccountAction = (typeof ACCOUNT_ACTIONS)[number];

const EXAMPLES =
  'Examples: {"action":"issue","certificateId":"web","domains":["example.org","*.example.org"]} or {"action":"renew","certificateId":"web","force":true} or {"action":"revoke","certificateId":"web","reason":"keyCompromise"}.';

/** A checked execution input: what to do, to which certificate, and (for `issue`) its configuration. */
export interface IssuanceRequest {
  readonly action: IssuanceAction;
  readonly certificateId: string;
  /** Renew even when the certificate is not due. Always true for `issue`. */
  readonly force: boolean;
  /** The declared configuration, for `issue`; `renew` and `revoke` read it from the registry. */
  readonly config?: CertificateConfig;
  /** For `revoke`: the RFC 5280 reason code (`unspecified`, 0, unless named). */
  readonly revokeReason?: number;
  readonly execution?: { readonly id: string; readonly startedAt?: string };
}

/**
 * Checks an execution input before any ACME or AWS call. Every refusal names the field, what is
 * wrong and what to do. Without `action`, an input with `domains` is an `issue` and one without is
 * a `renew`, so `{"certificateId":"web","domains":[...]}` keeps working.
 */
export function parseIssuanceRequest(raw: unknown, config: WorkflowConfig): IssuanceRequest {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidInputError(`The execution input must be a JSON object. ${EXAMPLES}`);
  }
  const input = raw as Record<string, unknown>;
  const unknown = Object.keys(input).filter((key) => !KNOWN_FIELDS.has(key));
  if (unknown.length > 0) {
    throw new InvalidInputError(
      `Unknown input field${unknown.length > 1 ? 's' : ''} ${unknown
        .slice(0, 5)
        .map(shown)
        .join(
          ', ',
        )}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ''}. Known fields: ${[...KNOWN_FIELDS].filter((key) => key !== 'execution').join(', ')}.`,
    );
  }
  const action = input.action ?? (input.domains === undefined ? 'renew' : 'issue');
  if (typeof action === 'string' && (ACCOUNT_ACTIONS as readonly string[]).includes(action)) {
    throw new InvalidInputError(
      `action "${action}" is an account action, which RegisterAccount does not run: start it as the execution input itself, e.g. {"action":"${action}"}.`,
    );
  }
  if (action !== 'issue' && action !== 'renew' && action !== 'revoke') {
    throw new InvalidInputError(
      `action ${shown(action)} is not supported: use "issue", "renew" or "revoke" for a certificate, or ${ACCOUNT_ACTIONS.map((name) => `"${name}"`).join(', ')} for the CA account. ${EXAMPLES}`,
    );
  }
  if (action !== 'revoke' && input.reason !== undefined) {
    throw new InvalidInputError(`reason is only for {"action":"revoke",...}. ${EXAMPLES}`);
  }
  if (input.force !== undefined && typeof input.force !== 'boolean') {
    throw new InvalidInputError('force must be true or false.');
  }
  const execution = parseExecution(input.execution);

  if (action === 'revoke') {
    for (const field of [...CONFIGURATION_FIELDS, 'force'] as const) {
      if (input[field] !== undefined) {
        throw new InvalidInputError(
          `revoke revokes the certificate in the registry and renews it with its recorded configuration, so "${field}" is not allowed. Example: {"action":"revoke","certificateId":"web","reason":"keyCompromise"}.`,
        );
      }
    }
    return {
      action,
      certificateId: parseCertificateId(input.certificateId, true, action),
      force: true,
      revokeReason: parseRevocationReason(input.reason),
      ...(execution ? { execution } : {}),
    };
  }

  if (action === 'renew') {
    for (const field of CONFIGURATION_FIELDS) {
      if (input[field] !== undefined) {
        throw new InvalidInputError(
          `renew takes the certificate's configuration from the registry, so "${field}" is not allowed; use {"action":"issue",...} to change it.`,
        );
      }
    }
    return {
      action,
      certificateId: parseCertificateId(input.certificateId, true, action),
      force: input.force === true,
      ...(execution ? { execution } : {}),
    };
  }

  if (!Array.isArray(input.domains) || input.domains.some((domain) => typeof domain !== 'string')) {
    throw new InvalidInputError(
      `domains must be a list of DNS names, e.g. ["example.org","*.example.org"]. ${EXAMPLES}`,
    );
  }
  const domains = parseDomains(input.domains as string[]);
  const keyType = input.keyType ?? 'EC_P256';
  if (!KEY_TYPES.includes(keyType as KeyType)) {
    throw new InvalidInputError(
      `keyType ${shown(keyType)} is not supported: use one of ${KEY_TYPES.join(', ')}.`,
    );
  }
  const hostedZoneIds = parseZoneOverrides(input.hostedZoneIds);
  const zoneRoles = parseZoneRoles(input.zoneRoles);
  const regions = parseRegions(input.regions, config.defaultRegion);
  const directoryUrl =
    input.directoryUrl === undefined ? undefined : parseDirectoryUrl(input.directoryUrl, 'directoryUrl');
  const profile = parseProfile(input.profile);
  const preferredChain = parsePreferredChain(input.preferredChain);
  const kmsKeyArn = parseKmsKeyArn(input.kmsKeyArn);
  return {
    action,
    certificateId:
      input.certificateId === undefined
        ? certificateIdFor(domains)
        : parseCertificateId(input.certificateId, false),
    force: true,
    config: {
      domains,
      keyType: keyType as KeyType,
      regions,
      ...(hostedZoneIds ? { hostedZoneIds } : {}),
      ...(zoneRoles ? { zoneRoles } : {}),
      ...(directoryUrl ? { directoryUrl } : {}),
      ...(profile ? { profile } : {}),
      ...(preferredChain ? { preferredChain } : {}),
      ...(kmsKeyArn ? { kmsKeyArn } : {}),
    },
    ...(execution ? { execution } : {}),
  };
}

/**
 * The names of one certificate, as the state machine and the CLI both check them: normalized
 * (lower case, punycode, no trailing dot), duplicates dropped, and at most {@link MAX_DOMAINS}.
 */
export function parseDomains(values: readonly string[]): string[] {
  const domains = normalizeIdentifiers(values);
  if (domains.length > MAX_DOMAINS) {
    throw new InvalidInputError(
      `domains has ${domains.length} names; ACME CAs accept at most ${MAX_DOMAINS} per certificate. Split them over several certificates.`,
    );
  }
  return domains;
}

/**
 * An ACME directory URL: HTTPS (RFC 8555 §6.1 requires TLS), at most {@link MAX_URL_LENGTH}
 * characters. `field` names it in the message (`directoryUrl`, or the CLI's `--directory`).
 */
export function parseDirectoryUrl(value: unknown, field: string): string {
  const example = 'e.g. https://acme-v02.api.letsencrypt.org/directory';
  if (typeof value !== 'string' || value === '') {
    throw new InvalidInputError(`${field} must be the https URL of an ACME directory, ${example}.`);
  }
  if (value.length > MAX_URL_LENGTH) {
    throw new InvalidInputError(
      `${field} is ${value.length} characters long; an ACME directory URL has at most ${MAX_URL_LENGTH}.`,
    );
  }
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (url?.protocol !== 'https:' || url.hostname === '') {
    throw new InvalidInputError(
      `${field} ${shown(value)} is not an https URL: ACME requires TLS to the CA. Use the directory's https URL, ${example}.`,
    );
  }
  return value;
}

/** An ACME profile name: visible ASCII, at most {@link MAX_PROFILE_LENGTH} characters. */
function parseProfile(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^[\x21-\x7e]+$/.test(value) || value.length > MAX_PROFILE_LENGTH) {
    throw new InvalidInputError(
      `profile ${shown(value)} is not a profile name: give the name of one of the CA’s profiles (1 to ${MAX_PROFILE_LENGTH} characters, no spaces), such as "classic".`,
    );
  }
  return value;
}

/** An issuer common name: no control characters, at most {@link MAX_PREFERRED_CHAIN_LENGTH}. */
function parsePreferredChain(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const example = 'the common name of the issuer the chain should end at, such as "ISRG Root X1"';
  if (typeof value !== 'string' || value.trim() === '' || /\p{Cc}/u.test(value)) {
    throw new InvalidInputError(`preferredChain must be ${example}.`);
  }
  if (value.length > MAX_PREFERRED_CHAIN_LENGTH) {
    throw new InvalidInputError(
      `preferredChain is ${value.length} characters long, but a certificate's common name has at most ${MAX_PREFERRED_CHAIN_LENGTH} (RFC 5280): give ${example}.`,
    );
  }
  return value;
}

/** An input value as an error message repeats it: JSON, cut to a readable length. */
function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > SHOWN_LENGTH ? `${text.slice(0, SHOWN_LENGTH)}… (${text.length} characters)` : text;
}

/**
 * The entries of a map-like input field (`hostedZoneIds`, `zoneRoles`), refusing more than
 * {@link MAX_ZONE_ENTRIES} and any key of the prototype machinery, with a message naming it.
 */
function mapEntries(value: object, field: string, example: string): [string, unknown][] {
  const entries = Object.entries(value);
  if (entries.length > MAX_ZONE_ENTRIES) {
    throw new InvalidInputError(
      `${field} has ${entries.length} entries; at most ${MAX_ZONE_ENTRIES} are accepted (one per name of a certificate).`,
    );
  }
  const reserved = entries.find(([key]) => PROTOTYPE_KEYS.has(key));
  if (reserved) {
    throw new InvalidInputError(
      `${field} has the key ${JSON.stringify(reserved[0])}, which cannot be a name here: keys must be ${example}. Remove it.`,
    );
  }
  return entries;
}

/** A KMS key ARN (`key/<id>`, multi-Region `mrk-` ids included); aliases cannot sign a CSR here. */
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;

/**
 * The shape of a certificate's KMS key. Whether the deployment declared that key for the
 * certificate (only declared keys are in the Finalize role's policy) is RegisterAccount's check,
 * against the certificate's declared record.
 */
function parseKmsKeyArn(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length > MAX_ARN_LENGTH || !KMS_KEY_ARN.test(value)) {
    throw new InvalidInputError(
      `kmsKeyArn ${shown(value)} is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>). Give the ARN of the key the stack declares for the certificate (its kmsKey).`,
    );
  }
  return value;
}

/**
 * The execution id and start time the state machine's Prepare state adds; anything else is
 * ignored. Both are bounded: an id is an execution ARN, a start time an ISO 8601 instant.
 */
function parseExecution(value: unknown): { id: string; startedAt?: string } | undefined {
  const execution = value as { id?: unknown; startedAt?: unknown } | undefined;
  if (typeof execution?.id !== 'string') return undefined;
  if (execution.id.length > MAX_ARN_LENGTH) {
    throw new InvalidInputError(
      `execution.id is ${execution.id.length} characters long; the state machine sets it to the execution ARN (at most ${MAX_ARN_LENGTH}). Do not set execution in the input.`,
    );
  }
  const startedAt =
    typeof execution.startedAt === 'string' &&
    execution.startedAt.length <= 64 &&
    Number.isFinite(Date.parse(execution.startedAt))
      ? execution.startedAt
      : undefined;
  return { id: execution.id, ...(startedAt ? { startedAt } : {}) };
}

function parseCertificateId(value: unknown, required: boolean, action?: IssuanceAction): string {
  if (typeof value !== 'string' || !CERTIFICATE_ID.test(value)) {
    throw new InvalidInputError(
      `certificateId ${shown(value)} is ${value === undefined && required ? `required to ${action}` : 'invalid'}: use 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit.`,
    );
  }
  return value;
}

/** The RFC 5280 code of a reason name; no reason is `unspecified` (0). */
function parseRevocationReason(value: unknown): number {
  if (value === undefined) return REVOCATION_REASONS.unspecified;
  if (isRevocationReason(value)) return REVOCATION_REASONS[value];
  throw new InvalidInputError(
    `reason ${shown(value)} is not an RFC 5280 revocation reason: use one of ${Object.keys(REVOCATION_REASONS).join(', ')}.`,
  );
}

/** A readable, stable id for an `issue` without one: `*.example.org` becomes `wildcard.example.org`. */
function certificateIdFor(domains: readonly string[]): string {
  const first = domains[0] ?? 'certificate';
  return first
    .replace(/^\*\./, 'wildcard.')
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .slice(0, 64);
}

function parseRegions(value: unknown, defaultRegion: string): string[] {
  if (value === undefined) return [defaultRegion];
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    value.length > MAX_REGIONS ||
    value.some((region) => typeof region !== 'string' || region.length > 32 || !REGION.test(region))
  ) {
    throw new InvalidInputError(
      `regions must be a list of 1 to ${MAX_REGIONS} AWS regions, e.g. ["us-east-1","eu-west-1"].`,
    );
  }
  return [...new Set(value as string[])];
}

/**
 * `hostedZoneIds` maps a name (a domain, a parent of one, or a CNAME target's domain) to the
 * hosted zone that holds its challenge record. Keys must be DNS names and values zone ids, so a
 * typo fails here, before the lock, the recorded configuration or any order.
 */
function parseZoneOverrides(value: unknown): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  const example = 'e.g. {"example.org":"Z0123456789ABC"}';
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidInputError(`hostedZoneIds must map a domain to a Route 53 hosted zone id, ${example}.`);
  }
  const overrides: [string, string][] = [];
  for (const [key, zoneId] of mapEntries(value, 'hostedZoneIds', `DNS names, ${example}`)) {
    let name: string;
    try {
      name = normalizeIdentifier(key);
    } catch (error) {
      throw new InvalidInputError(
        `hostedZoneIds has the key ${shown(key)}, which is not a DNS name: use a domain or a parent of one, ${example}.`,
        { cause: error },
      );
    }
    const id = typeof zoneId === 'string' ? zoneId.replace(/^\/?hostedzone\//, '') : '';
    if (!ZONE_ID.test(id)) {
      throw new InvalidInputError(
        `hostedZoneIds[${shown(key)}] must be a hosted zone id such as "Z0123456789ABC", not ${shown(zoneId)}.`,
      );
    }
    const previous = overrides.find(([known]) => known === name);
    if (previous && previous[1] !== id) {
      throw new InvalidInputError(
        `hostedZoneIds maps ${name} to both ${previous[1]} and ${id}: keep one entry per name.`,
      );
    }
    if (!previous) overrides.push([name, id]);
  }
  return Object.fromEntries(overrides);
}

const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;

/**
 * `zoneRoles` maps a hosted zone id to the IAM role that reaches it in another account. Keys are
 * zone ids (with or without `/hostedzone/`) because the role belongs to where the zone lives, not
 * to the names in it: one entry serves every name of the zone and every CNAME target inside it.
 */
function parseZoneRoles(value: unknown): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  const example =
    'e.g. {"Z0123456789ABC":"arn:aws:iam::111122223333:role/acme-dns"} for a hosted zone in account 111122223333';
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidInputError(`zoneRoles must map a hosted zone id to an IAM role ARN, ${example}.`);
  }
  const roles: [string, string][] = [];
  for (const [key, roleArn] of mapEntries(value, 'zoneRoles', `hosted zone ids, ${example}`)) {
    const zoneId = key.replace(/^\/?hostedzone\//, '');
    if (!ZONE_ID.test(zoneId)) {
      throw new InvalidInputError(
        `zoneRoles has the key ${shown(key)}, which is not a hosted zone id: ${example}.`,
      );
    }
    if (typeof roleArn !== 'string' || !ROLE_ARN.test(roleArn)) {
      throw new InvalidInputError(
        `zoneRoles[${shown(key)}] must be the ARN of an IAM role in the zone's account, ${example}.`,
      );
    }
    roles.push([zoneId, roleArn]);
  }
  return roles.length > 0 ? Object.fromEntries(roles) : undefined;
}

/** A checked account action: what to do to the account this deployment holds at one CA. */
export interface AccountRequest {
  readonly action: AccountAction;
  readonly directoryUrl: string;
  /** For `update-account`: the new contact URIs (`mailto:`); empty removes every contact. */
  readonly contact?: readonly string[];
  /** For `deactivate-account`: the account URL the operator confirmed. */
  readonly accountUrl?: string;
  readonly execution?: { readonly id: string; readonly startedAt?: string };
}

const ACCOUNT_EXAMPLES =
  'Examples: {"action":"rollover-account-key"}, {"action":"update-account","contact":["ops@example.org"]} or {"action":"deactivate-account","accountUrl":"https://ca.example/acme/acct/123"}.';

/**
 * Checks the input of an account action before any ACME or AWS call. `directoryUrl` picks the
 * CA (the deployment's default otherwise). `update-account` takes `contact` (emails or `mailto:`
 * URIs; `[]` removes them), and without it re-sends the deployment's `contactEmail`.
 * `deactivate-account` is permanent, so it must name the account it deactivates in `accountUrl`.
 */
export function parseAccountRequest(raw: unknown, config: WorkflowConfig): AccountRequest {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidInputError(`The execution input must be a JSON object. ${ACCOUNT_EXAMPLES}`);
  }
  const input = raw as Record<string, unknown>;
  const action = input.action;
  if (typeof action !== 'string' || !(ACCOUNT_ACTIONS as readonly string[]).includes(action)) {
    throw new InvalidInputError(
      `action ${shown(action)} is not an account action: use ${ACCOUNT_ACTIONS.map((name) => `"${name}"`).join(', ')}. ${ACCOUNT_EXAMPLES}`,
    );
  }
  const allowed = new Set(['action', 'directoryUrl', 'execution']);
  if (action === 'update-account') allowed.add('contact');
  if (action === 'deactivate-account') allowed.add('accountUrl');
  const unknown = Object.keys(input).filter((key) => !allowed.has(key));
  if (unknown.length > 0) {
    throw new InvalidInputError(
      `${action} does not take ${unknown.slice(0, 5).map(shown).join(', ')}: it takes ${[...allowed].filter((key) => key !== 'execution').join(', ')}. ${ACCOUNT_EXAMPLES}`,
    );
  }
  const directoryUrl =
    input.directoryUrl === undefined
      ? config.defaultDirectoryUrl
      : parseDirectoryUrl(input.directoryUrl, 'directoryUrl');
  const execution = parseExecution(input.execution);
  const base = { action: action as AccountAction, directoryUrl, ...(execution ? { execution } : {}) };

  if (action === 'update-account') {
    let contact: string[];
    if (input.contact === undefined) {
      contact = config.contactEmail ? [config.contactEmail] : [];
    } else if (Array.isArray(input.contact) && input.contact.every((value) => typeof value === 'string')) {
      contact = input.contact as string[];
    } else {
      throw new InvalidInputError(
        `contact must be a list of email addresses (or mailto: URIs), e.g. ["ops@example.org"]; [] removes every contact. ${ACCOUNT_EXAMPLES}`,
      );
    }
    return { ...base, contact: normalizeContacts(contact) };
  }
  if (action === 'deactivate-account') {
    if (
      typeof input.accountUrl !== 'string' ||
      input.accountUrl.length > MAX_URL_LENGTH ||
      !URL.canParse(input.accountUrl)
    ) {
      throw new InvalidInputError(
        `deactivate-account is permanent: the CA will refuse every later request from this account, and renewals stop until a new account key is deployed. To confirm, pass the account URL as accountUrl (npx acme-aws account shows it; RegisterAccount logs it). ${ACCOUNT_EXAMPLES}`,
      );
    }
    return { ...base, accountUrl: input.accountUrl };
  }
  return base;
}
