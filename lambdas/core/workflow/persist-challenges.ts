import {
  accountPersistValue,
  DNS_PERSIST_01,
  evaluatePersistRecords,
  readIssuerDomainNames,
  validatedFqdn,
  validationDomainName,
} from '../acme/dns-persist.js';
import type { AcmeAuthorization, AcmeDirectory } from '../acme/types.js';
import { chooseZone, zoneContains, zoneName } from '../dns/zones.js';
import {
  DnsQueryError,
  InvalidInputError,
  type MissingPersistRecord,
  PersistRecordMissingError,
} from '../errors.js';
import type { DnsResolver, HostedZone } from '../ports.js';
import type { DnsChallenge } from '../state.js';

/**
 * dns-persist-01 (draft-ietf-acme-dns-persist-02) for one authorization: the persistent record
 * our account needs at `_validation-persist.<name>`, and whether every authoritative server of
 * its zone already returns a value that authorizes us, in which case nothing is written and
 * nothing waited for. Sections cited are of that draft.
 */

/**
 * A standing value must still count this long after the check: the CA validates after the answer
 * and may reuse the authorization, which must not outlive `persistUntil` (§4.1 item 5).
 */
const PERSIST_UNTIL_MARGIN_MS = 24 * 60 * 60 * 1000;

/** What deciding a persistent challenge needs besides the authorization. */
export interface PersistContext {
  readonly directory: AcmeDirectory;
  readonly accountUrl: string;
  /** RFC 7638 thumbprint of the account key (KMS-held), 43 base64url characters. */
  readonly accountKeyThumbprint: string;
  /** Every name of the certificate: a wildcard beside its base makes the record carry `policy=wildcard`. */
  readonly domains: readonly string[];
  readonly zones: readonly HostedZone[];
  readonly hostedZoneIds?: Readonly<Record<string, string>> | undefined;
  readonly resolver: DnsResolver;
  readonly now: Date;
  /** The stack writes none of the names' DNS: a name outside every hosted zone is looked up in public DNS. */
  readonly externalDns?: boolean;
}

/** The persistent record one authorization needs, and whether it stands. */
export type PersistChoice =
  | { readonly usable: true; readonly challenge: DnsChallenge }
  | { readonly usable: false; readonly reason: string };

/**
 * The dns-persist-01 challenge of `authorization`, or why this authorization must use dns-01: the
 * CA does not offer the challenge, names no valid issuer domain names (§3.1), or publishes no
 * `accountHashPrefix` to hash our account URI with (§3.2, §4.1 item 3).
 *
 * The record names the CA's first issuer domain name and the hashed URI of our account for this
 * FQDN. A base name ordered with its wildcard gets one value with `policy=wildcard` (§5.1), which
 * answers both authorizations at the one Validation Domain Name. No `persistUntil` is written:
 * the record is for as long as the certificate is declared.
 */
export async function choosePersistChallenge(
  authorization: AcmeAuthorization,
  authorizationUrl: string,
  context: PersistContext,
): Promise<PersistChoice> {
  const identifier = `${authorization.wildcard ? '*.' : ''}${authorization.identifier.value}`;
  const offered = authorization.challenges.find((candidate) => candidate.type === DNS_PERSIST_01);
  if (!offered) return { usable: false, reason: 'the CA does not offer dns-persist-01 for it' };
  const issuerDomainNames = offered.issuerDomainNames ?? [];
  const issuer = issuerDomainNames[0];
  if (issuer === undefined) {
    return {
      usable: false,
      reason: 'its dns-persist-01 challenge names no valid issuer domain names (§3.1)',
    };
  }
  const accountHashPrefix = context.directory.meta?.accountHashPrefix;
  if (typeof accountHashPrefix !== 'string' || accountHashPrefix.length === 0) {
    return { usable: false, reason: 'the directory gives no meta.accountHashPrefix (§3.2)' };
  }
  const recordName = validationDomainName(identifier);
  const zone = await persistZone(identifier, context);
  const ours = ourPersistValue(identifier, issuer, accountHashPrefix, context);
  const standing = await standingValue(identifier, recordName, zone.name, issuerDomainNames, {
    accountHashPrefix,
    ...context,
  });
  return {
    usable: true,
    challenge: {
      identifier,
      authorizationUrl,
      challengeUrl: offered.url,
      zoneId: zone.id ?? '',
      zoneName: zone.name,
      recordName,
      type: DNS_PERSIST_01,
      value: 'value' in standing ? standing.value : ours,
      ...('value' in standing ? { inPlace: true } : {}),
      ...('value' in standing && standing.persistUntil
        ? { persistUntil: standing.persistUntil.toISOString() }
        : {}),
    },
  };
}

/**
 * Checks, before newOrder, that every name of a certificate whose DNS the stack does not write
 * (`externalDns`) has a persistent record authorizing this account on every authoritative server,
 * judged with the issuer domain names and account hash prefix of the CA's directory (§3.2), and
 * throws {@link PersistRecordMissingError} listing the records to create. So a missing record
 * costs no order and no failed validation. A CA whose directory does not advertise dns-persist-01
 * is refused the same way, since no other challenge is possible without DNS writes.
 */
export async function assertPersistRecordsStand(context: PersistContext): Promise<void> {
  const meta = context.directory.meta;
  const names = readIssuerDomainNames(meta?.issuerDomainNames);
  const accountHashPrefix = meta?.accountHashPrefix;
  if (!Array.isArray(names) || typeof accountHashPrefix !== 'string' || accountHashPrefix.length === 0) {
    throw new InvalidInputError(
      'The CA does not advertise dns-persist-01 (its directory has no valid meta.issuerDomainNames and meta.accountHashPrefix, draft-ietf-acme-dns-persist-02 §3.2), ' +
        'and this certificate is declared with externalDns, so no challenge can be answered without writing DNS. Use a CA that offers dns-persist-01, or remove externalDns.',
    );
  }
  const issuers: readonly string[] = names;
  const missing: MissingPersistRecord[] = [];
  const checked = new Set<string>();
  // A wildcard and its base share one record, which then needs policy=wildcard: judged as the wildcard.
  const identifiers = [...context.domains].sort(
    (a, b) => Number(b.startsWith('*.')) - Number(a.startsWith('*.')),
  );
  for (const identifier of identifiers) {
    const recordName = validationDomainName(identifier);
    if (checked.has(recordName)) continue;
    checked.add(recordName);
    const zone = await persistZone(identifier, context);
    const standing = await standingValue(identifier, recordName, zone.name, issuers, {
      accountHashPrefix,
      ...context,
    });
    if ('value' in standing) continue;
    missing.push({
      recordName,
      value: ourPersistValue(identifier, issuers[0] ?? '', accountHashPrefix, context),
      found: standing.found,
    });
  }
  if (missing.length > 0) throw new PersistRecordMissingError(missing);
}

/** Our record's value for `identifier` (see `accountPersistValue`). */
function ourPersistValue(
  identifier: string,
  issuer: string,
  accountHashPrefix: string,
  context: PersistContext,
): string {
  return accountPersistValue(identifier, {
    issuerDomainName: issuer,
    accountHashPrefix,
    accountUrl: context.accountUrl,
    accountKeyThumbprint: context.accountKeyThumbprint,
    domains: context.domains,
  });
}

/**
 * The zone whose authoritative servers answer for the record: the hosted zone that would hold it
 * (by longest suffix, or the certificate's `hostedZoneIds`), else, for DNS outside Route 53
 * (`externalDns`), the closest enclosing name that public DNS lists name servers for.
 */
async function persistZone(
  identifier: string,
  context: PersistContext,
): Promise<{ readonly id?: string; readonly name: string }> {
  const recordName = validationDomainName(identifier);
  let zone: HostedZone | undefined;
  try {
    zone = chooseZone(identifier, context.zones, context.hostedZoneIds);
  } catch (error) {
    if (!(error instanceof InvalidInputError && context.externalDns)) throw error;
  }
  if (zone) {
    if (!zoneContains(zone, recordName)) {
      throw new InvalidInputError(
        `hostedZoneIds sends ${JSON.stringify(identifier)} to ${zoneName(zone)} (${zone.id}), which cannot hold ` +
          `${recordName}: map it to the zone that contains that name.`,
      );
    }
    return { id: zone.id, name: zoneName(zone) };
  }
  const labels = validatedFqdn(identifier).split('.');
  for (let start = 0; start < labels.length - 1; start += 1) {
    const candidate = labels.slice(start).join('.');
    try {
      if ((await context.resolver.authoritativeServers(candidate)).length > 0) return { name: candidate };
    } catch (error) {
      if (!(error instanceof DnsQueryError)) throw error;
    }
  }
  throw new InvalidInputError(
    `No name servers answer for ${validatedFqdn(identifier)} or any zone above it, so its persistent record cannot be checked: is the domain delegated in public DNS?`,
  );
}

/**
 * The value that authorizes us at `recordName` on every authoritative server of the zone, as the
 * CA will judge it (§4.2), or what a server returned instead when one of them lacks one or does
 * not answer: then the record is written (or, for external DNS, reported missing).
 */
async function standingValue(
  identifier: string,
  recordName: string,
  zone: string,
  issuerDomainNames: readonly string[],
  context: PersistContext & { readonly accountHashPrefix: string },
): Promise<{ readonly value: string; readonly persistUntil?: Date } | { readonly found: string }> {
  let servers: Awaited<ReturnType<DnsResolver['authoritativeServers']>>;
  try {
    servers = await context.resolver.authoritativeServers(zone);
  } catch (error) {
    if (error instanceof DnsQueryError) return { found: `the NS lookup of ${zone} failed (${error.rcode})` };
    throw error;
  }
  if (servers.length === 0) return { found: `public DNS lists no name servers for ${zone}` };
  let found: string | undefined;
  let persistUntil: Date | undefined;
  for (const server of servers) {
    let values: string[];
    try {
      values = await context.resolver.resolveTxt(recordName, server.address);
    } catch (error) {
      if (error instanceof DnsQueryError) return { found: `${server.name}: no answer (${error.rcode})` };
      throw error;
    }
    const judge = (at: Date) =>
      evaluatePersistRecords(values, {
        identifier,
        issuerDomainNames,
        accountHashPrefix: context.accountHashPrefix,
        accountUrl: context.accountUrl,
        accountKeyThumbprints: [context.accountKeyThumbprint],
        now: at,
      });
    const verdict = judge(new Date(context.now.getTime() + PERSIST_UNTIL_MARGIN_MS));
    if (!verdict.authorized) {
      const today = judge(context.now);
      return {
        found: today.authorized
          ? `${server.name}: its value runs out at ${today.persistUntil?.toISOString()}, less than a day from now`
          : `${server.name}: ${today.detail}`,
      };
    }
    found ??= verdict.value;
    if (verdict.persistUntil && (!persistUntil || verdict.persistUntil < persistUntil)) {
      persistUntil = verdict.persistUntil;
    }
  }
  if (found === undefined) return { found: 'no server answered' };
  return persistUntil ? { value: found, persistUntil } : { value: found };
}

/** The pattern that grants every `_validation-persist` name (see the construct's step permissions). */
const ANY_PERSIST_RECORD = '_validation-persist.*';

/**
 * Why PublishChallenges may not write `challenge`'s persistent record, or `undefined` when it may
 * (or need not: the record stands). IAM grants the write only at the names of certificates the
 * construct declares with `challenge: 'dns-persist-01'`, so an `issue` input asking for it
 * elsewhere answers dns-01, with the exact record an operator can create to change that.
 */
export function persistWriteRefusal(
  challenge: DnsChallenge,
  grantedNames: readonly string[] | undefined,
): string | undefined {
  if (challenge.inPlace) return undefined;
  const granted = grantedNames ?? [];
  if (granted.includes(ANY_PERSIST_RECORD) || granted.includes(challenge.recordName)) return undefined;
  return (
    `the stack may not write ${challenge.recordName}: declare the certificate with challenge 'dns-persist-01' ` +
    `in the construct, or create the TXT record ${challenge.recordName} "${challenge.value}" yourself`
  );
}
