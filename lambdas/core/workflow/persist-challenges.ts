import {
  DNS_PERSIST_01,
  evaluatePersistRecords,
  hashedAccountUri,
  persistRecordValue,
  validatedFqdn,
  validationDomainName,
} from '../acme/dns-persist.js';
import type { AcmeAuthorization, AcmeChallenge, AcmeDirectory } from '../acme/types.js';
import { chooseZone, zoneContains, zoneName } from '../dns/zones.js';
import { DnsQueryError, InvalidInputError } from '../errors.js';
import type { DnsResolver, HostedZone } from '../ports.js';
import type { DnsChallenge } from '../state.js';

/**
 * dns-persist-01 (draft-ietf-acme-dns-persist-02) for one authorization: the persistent record
 * our account needs at `_validation-persist.<name>`, and whether every authoritative server of
 * its zone already returns a value that authorizes us, in which case nothing is written and
 * nothing waited for. Sections cited are of that draft.
 */

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
  const fqdn = validatedFqdn(identifier);
  const recordName = validationDomainName(identifier);
  const zone = chooseZone(identifier, context.zones, context.hostedZoneIds);
  if (!zoneContains(zone, recordName)) {
    throw new InvalidInputError(
      `hostedZoneIds sends ${JSON.stringify(identifier)} to ${zoneName(zone)} (${zone.id}), which cannot hold ` +
        `${recordName}: map it to the zone that contains that name.`,
    );
  }
  const wildcard = context.domains.includes(`*.${fqdn}`);
  const accountUri = hashedAccountUri({
    accountHashPrefix,
    accountUrl: context.accountUrl,
    accountKeyThumbprint: context.accountKeyThumbprint,
    domain: fqdn,
  });
  const ours = persistRecordValue(issuer, accountUri, { wildcard });
  const standing = await authorizingValue(identifier, recordName, zoneName(zone), offered, {
    accountHashPrefix,
    ...context,
  });
  return {
    usable: true,
    challenge: {
      identifier,
      authorizationUrl,
      challengeUrl: offered.url,
      zoneId: zone.id,
      zoneName: zoneName(zone),
      recordName,
      type: DNS_PERSIST_01,
      value: standing ?? ours,
      ...(standing !== undefined ? { inPlace: true } : {}),
    },
  };
}

/**
 * The value that authorizes us at `recordName` on every authoritative server of the zone, as the
 * CA will judge it (§4.2), or `undefined` when one of them lacks one or does not answer: then the
 * record is written and its propagation awaited like a dns-01 value.
 */
async function authorizingValue(
  identifier: string,
  recordName: string,
  zone: string,
  challenge: AcmeChallenge,
  context: PersistContext & { readonly accountHashPrefix: string },
): Promise<string | undefined> {
  let servers: Awaited<ReturnType<DnsResolver['authoritativeServers']>>;
  try {
    servers = await context.resolver.authoritativeServers(zone);
  } catch (error) {
    if (error instanceof DnsQueryError) return undefined;
    throw error;
  }
  if (servers.length === 0) return undefined;
  let found: string | undefined;
  for (const server of servers) {
    let values: string[];
    try {
      values = await context.resolver.resolveTxt(recordName, server.address);
    } catch (error) {
      if (error instanceof DnsQueryError) return undefined;
      throw error;
    }
    const verdict = evaluatePersistRecords(values, {
      identifier,
      issuerDomainNames: challenge.issuerDomainNames ?? [],
      accountHashPrefix: context.accountHashPrefix,
      accountUrl: context.accountUrl,
      accountKeyThumbprints: [context.accountKeyThumbprint],
      now: context.now,
    });
    if (!verdict.authorized) return undefined;
    found ??= verdict.value;
  }
  return found;
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
