import { CaaForbidsIssuanceError, type CaaRefusal, DnsQueryError } from '../errors.js';
import type { CaaRecord, DnsResolver } from '../ports.js';
import { canonicalDnsName } from './cname.js';
import { mapConcurrently } from './pool.js';

/**
 * CAA pre-flight: what the CA will find in DNS (RFC 8659) and whether it lets this CA issue to
 * this account by dns-01 (RFC 8657). Run before newOrder, it turns a certain `caa` failure at
 * validation, which counts against the CA's failed-validation limit, into an error that names the
 * record and the fix before anything is ordered.
 *
 * It errs towards letting the CA decide: a lookup that fails, an account URL not yet known or a
 * directory without `caaIdentities` make it check less, never refuse more.
 */

/**
 * Property tags in the IANA CAA registry that CAs know. RFC 8659 §4.1: a CA must not issue when
 * the relevant record set holds a tag it does not know with the critical flag set; a tag from
 * this list may be critical without that meaning anything to dns-01 issuance.
 */
const KNOWN_TAGS = new Set([
  'issue',
  'issuewild',
  'iodef',
  'contactemail',
  'contactphone',
  'issuemail',
  'issuevmc',
]);
/** RFC 8659 §4.1: the Issuer Critical flag is bit 0, the most significant bit of the flags octet. */
const CRITICAL_FLAG = 0x80;
/** The only validation method this workflow uses (RFC 8657 §4 names methods by ACME challenge type). */
const VALIDATION_METHOD = 'dns-01';
/** Identifiers whose CAA is looked up at once; the climbs share lookups of common ancestors. */
const CAA_CONCURRENCY = 8;

/** RFC 8659 §4.2 `label`, used by both `issuer-domain-name` and parameter `tag`. */
const LABEL = '[A-Za-z0-9](?:-*[A-Za-z0-9])*';
const ISSUER_DOMAIN_NAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);
/** `tag *WSP "=" *WSP value`, where `value` is printable ASCII except `;` and space. */
const PARAMETER = new RegExp(`^(${LABEL})[ \\t]*=[ \\t]*([\\x21-\\x3a\\x3c-\\x7e]*)$`);
/** RFC 8657 §4: `validationmethods` is `label *("," label)`. */
const METHOD_LIST = new RegExp(`^${LABEL}(?:,${LABEL})*$`);

/** An `issue` or `issuewild` value, parsed as RFC 8659 §4.2 describes. */
export interface IssueValue {
  /** The issuer-domain-name, lower-case; empty when the value names none (as in `;`). */
  readonly issuer: string;
  /** Parameters by tag, as published. */
  readonly parameters: ReadonlyMap<string, string>;
}

/** The CAA record set that governs a name, and the name it was found at. */
export interface RelevantCaaSet {
  readonly name: string;
  readonly records: readonly CaaRecord[];
}

/** Who asks for issuance, for comparison with the records. */
export interface CaaRequester {
  /**
   * The directory's `meta.caaIdentities` (RFC 8555 §7.1.1). Absent or empty: the CA does not say
   * which issuer-domain-names are its own, so any named issuer is taken to be possibly this CA, and
   * only a record set that authorizes no CA at all (such as `issue ";"`) is refused.
   */
  readonly caaIdentities?: readonly string[] | undefined;
  /** The ACME account URL, compared with `accounturi` (RFC 8657 §3); not compared when unknown. */
  readonly accountUrl?: string | undefined;
  /**
   * The validation methods this run may answer with, any of which a `validationmethods`
   * parameter must allow (RFC 8657 §4): `dns-persist-01` and, where it may fall back, `dns-01`.
   * @default ['dns-01']
   */
  readonly validationMethods?: readonly string[] | undefined;
}

/** The verdict for one identifier: permitted, or refused with the reason and the fix. */
export type CaaVerdict =
  | { readonly permitted: true }
  | { readonly permitted: false; readonly refusal: CaaRefusal };

/**
 * Parses an `issue`/`issuewild` value (RFC 8659 §4.2):
 * `*WSP [issuer-domain-name *WSP] [";" *WSP [parameters *WSP]]`, parameters separated by `;`.
 * Returns `undefined` for a value that does not match the grammar, which authorizes no one.
 */
export function parseIssueValue(value: string): IssueValue | undefined {
  const semicolon = value.indexOf(';');
  const issuer = trimWsp(semicolon === -1 ? value : value.slice(0, semicolon));
  if (issuer !== '' && !ISSUER_DOMAIN_NAME.test(issuer)) return undefined;
  const parameters = new Map<string, string>();
  const list = semicolon === -1 ? '' : trimWsp(value.slice(semicolon + 1));
  if (list !== '') {
    for (const part of list.split(';')) {
      const match = PARAMETER.exec(trimWsp(part));
      if (!match) return undefined;
      parameters.set(match[1] as string, match[2] as string);
    }
  }
  return { issuer: issuer.toLowerCase(), parameters };
}

/**
 * RFC 8659 §3: the CAA record set at the name or, when it has none, at the closest ancestor that
 * has one, climbing up to (not including) the root. A wildcard's search starts at its base name.
 * `lookup` is a recursive resolver's view, so a CNAME at a name is followed there; the climb then
 * goes on from the name's own parent, not the alias target's. `undefined` when no name has any.
 * A failed lookup rejects: the set above it is not the relevant one if the failure hid a record.
 */
export async function relevantCaaSet(
  identifier: string,
  lookup: (name: string) => Promise<readonly CaaRecord[]>,
): Promise<RelevantCaaSet | undefined> {
  const labels = canonicalDnsName(identifier.replace(/^\*\./, '')).split('.');
  for (let start = 0; start < labels.length; start += 1) {
    const name = labels.slice(start).join('.');
    const records = await lookup(name);
    if (records.length > 0) return { name, records };
  }
  return undefined;
}

/**
 * Whether the relevant record set lets this CA issue for `identifier` to this account by dns-01:
 * - a critical property with an unknown tag forbids issuance (RFC 8659 §4.1);
 * - a wildcard is governed by the `issuewild` properties when there is at least one, and by the
 *   `issue` properties otherwise; a name that is not a wildcard by `issue` only (§4.3);
 * - with no governing property at all, issuance is not restricted (§4.2, §4.3);
 * - otherwise one governing property must authorize: its value parses, names one of the CA's
 *   identities (any issuer when the CA lists none), its `accounturi` is our account (RFC 8657 §3)
 *   and its `validationmethods` include `dns-01` (RFC 8657 §4). Parameters the CA defines itself
 *   are its business and are ignored.
 */
export function evaluateCaa(identifier: string, found: RelevantCaaSet, requester: CaaRequester): CaaVerdict {
  const refuse = (records: readonly CaaRecord[], reason: string, fix: string): CaaVerdict => ({
    permitted: false,
    refusal: { identifier, caaName: found.name, records: records.map(presentation), reason, fix },
  });

  const critical = found.records.filter(
    (record) => (record.flags & CRITICAL_FLAG) !== 0 && !KNOWN_TAGS.has(record.tag.toLowerCase()),
  );
  if (critical.length > 0) {
    return refuse(
      critical,
      'hold a property marked critical whose tag is unknown, and no CA may issue past an unknown critical property (RFC 8659 §4.1)',
      `Remove ${critical.length === 1 ? 'that record' : 'those records'} at ${found.name}, or clear the critical flag.`,
    );
  }

  const tagged = (tag: string) => found.records.filter((record) => record.tag.toLowerCase() === tag);
  const wildcard = identifier.startsWith('*.');
  const issuewild = wildcard ? tagged('issuewild') : [];
  const tag = issuewild.length > 0 ? 'issuewild' : 'issue';
  const governing = issuewild.length > 0 ? issuewild : tagged('issue');
  if (governing.length === 0) return { permitted: true };

  const identities = (requester.caaIdentities ?? []).map((identity) => canonicalDnsName(identity));
  const objections: string[] = [];
  for (const record of governing) {
    const objection = objectionTo(record, identities, requester.accountUrl, requester.validationMethods);
    if (objection === undefined) return { permitted: true };
    objections.push(`${governing.length === 1 ? 'it' : presentation(record)} ${objection}`);
  }

  const pinned = governing.some((record) => parseIssueValue(record.value)?.parameters.has('accounturi'));
  const identity = identities[0] ?? "<this CA's CAA identity>";
  const pin = pinned && requester.accountUrl ? `; accounturi=${requester.accountUrl}` : '';
  const scope =
    tag === 'issuewild'
      ? 'issuewild governs wildcard names where present'
      : wildcard
        ? 'with no issuewild there, issue governs wildcard names too'
        : 'issue governs this name';
  return refuse(
    governing,
    `authorize no issuance by this CA for it (${scope}): ${objections.join('; ')}`,
    `To allow it, add \`${found.name}. CAA 0 ${tag} "${identity}${pin}"\` or remove the ${tag} records at ${found.name}.`,
  );
}

/**
 * Checks every identifier's CAA before newOrder and throws {@link CaaForbidsIssuanceError} naming
 * each one refused. Lookups are shared between identifiers with common ancestors.
 *
 * A failed lookup (SERVFAIL, timeout) does not refuse. A CA may treat its own failed lookup as
 * forbidding (RFC 8659 §5.4; the CA/Browser Forum rules let it go on only outside DNSSEC-signed
 * zones), but it asks its own resolvers, which may well succeed where the Lambda's failed, and it
 * would then issue. Refusing here would block that; letting the failure pass costs at most one
 * failed validation. So the identifier is skipped with a warning and the CA decides.
 */
export async function assertCaaPermits(
  identifiers: readonly string[],
  requester: CaaRequester,
  deps: {
    readonly resolver: Pick<DnsResolver, 'resolveCaa'>;
    readonly warn: (message: string, attributes?: Record<string, unknown>) => void;
  },
): Promise<void> {
  const lookups = new Map<string, Promise<readonly CaaRecord[]>>();
  const lookup = (name: string): Promise<readonly CaaRecord[]> => {
    let pending = lookups.get(name);
    if (!pending) {
      pending = deps.resolver.resolveCaa(name);
      lookups.set(name, pending);
    }
    return pending;
  };
  const verdicts = await mapConcurrently(identifiers, CAA_CONCURRENCY, async (identifier) => {
    let found: RelevantCaaSet | undefined;
    try {
      found = await relevantCaaSet(identifier, lookup);
    } catch (error) {
      if (!(error instanceof DnsQueryError)) throw error;
      deps.warn('CAA lookup failed; ordering anyway and leaving the CAA check to the CA', {
        identifier,
        rcode: error.rcode,
        error: error.message,
      });
      return undefined;
    }
    return found ? evaluateCaa(identifier, found, requester) : undefined;
  });
  const refusals = verdicts.flatMap((verdict) => (verdict && !verdict.permitted ? [verdict.refusal] : []));
  if (refusals.length > 0) throw new CaaForbidsIssuanceError(refusals);
}

/**
 * Why `record` does not authorize this CA for this account by dns-01, as a predicate of the record
 * ("names other.example, not this CA"), or `undefined` when it does.
 */
function objectionTo(
  record: CaaRecord,
  identities: readonly string[],
  accountUrl: string | undefined,
  validationMethods: readonly string[] = [VALIDATION_METHOD],
): string | undefined {
  const parsed = parseIssueValue(record.value);
  if (!parsed) return `is malformed (RFC 8659 §4.2), which authorizes no one`;
  if (parsed.issuer === '') return `names no CA, which authorizes no one`;
  if (identities.length > 0 && !identities.includes(parsed.issuer)) {
    return `names ${parsed.issuer}, not this CA (${identities.join(', ')})`;
  }
  const accountUri = parsed.parameters.get('accounturi');
  if (accountUri !== undefined && accountUrl !== undefined && accountUri !== accountUrl) {
    return `is for the account ${accountUri}, not this deployment's ${accountUrl} (RFC 8657 §3)`;
  }
  const methods = parsed.parameters.get('validationmethods');
  if (methods !== undefined) {
    if (!METHOD_LIST.test(methods)) return `has a malformed validationmethods (RFC 8657 §4)`;
    const allowed = methods.split(',');
    if (!validationMethods.some((method) => allowed.includes(method))) {
      return `allows ${allowed.join(', ')} only, and this run validates by ${validationMethods.join(' or ')} (RFC 8657 §4)`;
    }
  }
  return undefined;
}

/** A record as a zone file shows it: `0 issue "ca.example"`. */
function presentation(record: CaaRecord): string {
  return `${record.flags} ${record.tag} "${record.value.replace(/[\\"]/g, '\\$&')}"`;
}

/** RFC 5234 WSP is space and horizontal tab only. */
function trimWsp(text: string): string {
  return text.replace(/^[ \t]+|[ \t]+$/g, '');
}
