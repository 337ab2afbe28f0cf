import { InvalidInputError } from '../errors.js';
import type { HostedZone } from '../ports.js';
import { baseName, normalizeIdentifier } from './identifiers.js';

const HOSTED_ZONE_PREFIX = '/hostedzone/';

/**
 * Picks the hosted zone that must hold an identifier's dns-01 record.
 *
 * An explicit zone id from `overrides` always wins. Its key may be the identifier itself, its base
 * name without `*.`, or any parent name; the most specific key applies, so `{ 'example.org': A,
 * 'dev.example.org': B }` sends `x.dev.example.org` to B. The override must be one of `zones` and
 * public. (A delegated `_acme-challenge` is placed by {@link chooseZoneForDelegatedRecord}.)
 *
 * Otherwise the longest public zone whose name is the base name or a whole-label suffix of it is
 * chosen: `example.org` serves `a.example.org` but never `notexample.org`. Private zones are never
 * chosen implicitly: the CA resolves public DNS only.
 *
 * Throws {@link InvalidInputError} when nothing matches (listing the zones considered), when two
 * public zones share the winning name, or when an override id is unknown or private.
 */
export function chooseZone(
  identifier: string,
  zones: readonly HostedZone[],
  overrides?: Readonly<Record<string, string>>,
): HostedZone {
  const normalized = normalizeIdentifier(identifier);
  const base = baseName(normalized);

  const overrideId = findOverride(normalized, base, overrides ?? {});
  if (overrideId !== undefined) return overriddenZone(identifier, overrideId, zones);

  const publicZones = zones.filter((zone) => !zone.privateZone);
  const best = longestContaining(base, publicZones);
  const [chosen, ...others] = best;
  if (chosen === undefined) {
    const considered = publicZones.map(describeZone).join(', ') || 'none';
    throw new InvalidInputError(
      `No public hosted zone can hold the dns-01 record for ${JSON.stringify(identifier)}: ` +
        `considered ${considered}. Create a public zone for ${base} or a parent of it, ` +
        'or map the name to a zone id in hostedZoneIds.',
    );
  }
  if (others.length > 0) {
    throw new InvalidInputError(
      `Several public hosted zones are named ${canonicalZoneName(chosen.name)} ` +
        `(${best.map((zone) => zone.id).join(', ')}), so the zone for ${JSON.stringify(identifier)} is ambiguous: ` +
        'map the name to one zone id in hostedZoneIds.',
    );
  }
  return chosen;
}

/**
 * Picks the hosted zone for the TXT record of a delegated challenge: `recordName` is where the
 * CNAME chain of `identifier`'s `_acme-challenge` name ends, typically in a dedicated validation
 * zone, possibly of another domain or account.
 *
 * An override keyed by `recordName` or one of its parents wins, and must name a zone that contains
 * it. Failing that, the identifier's own override is used if its zone contains `recordName` (the
 * operator named the validation zone for the identifier); an identifier override for a zone that
 * cannot hold the record only said where the identifier lives, and is passed over. Otherwise the
 * longest public zone containing `recordName` is chosen, as for identifiers.
 *
 * Throws {@link InvalidInputError} naming the CNAME when no zone matches, when two public zones share
 * the winning name, or when an override keyed by the record's names cannot hold it.
 */
export function chooseZoneForDelegatedRecord(
  recordName: string,
  identifier: string,
  zones: readonly HostedZone[],
  overrides?: Readonly<Record<string, string>>,
): HostedZone {
  const target = canonicalZoneName(recordName);
  const normalized = normalizeIdentifier(identifier);
  const base = baseName(normalized);
  const delegation = `_acme-challenge.${base} is a CNAME to ${target}`;

  const byName = overrideIds(overrides ?? {});
  for (const candidate of ancestors(target)) {
    const id = byName.get(candidate);
    if (id === undefined) continue;
    const zone = overriddenZone(identifier, id, zones);
    if (!isWithin(target, canonicalZoneName(zone.name))) {
      throw new InvalidInputError(
        `hostedZoneIds sends ${candidate} to ${describeZone(zone)}, which cannot hold ${target} (${delegation}): ` +
          `map ${candidate} to the zone that contains it.`,
      );
    }
    return zone;
  }
  const identifierOverride = findOverride(normalized, base, overrides ?? {});
  if (identifierOverride !== undefined) {
    const zone = overriddenZone(identifier, identifierOverride, zones);
    if (isWithin(target, canonicalZoneName(zone.name))) return zone;
  }

  const publicZones = zones.filter((zone) => !zone.privateZone);
  const best = longestContaining(target, publicZones);
  const [chosen, ...others] = best;
  if (chosen === undefined) {
    const considered = publicZones.map(describeZone).join(', ') || 'none';
    throw new InvalidInputError(
      `No public hosted zone can hold the dns-01 record for ${JSON.stringify(identifier)}: ${delegation}, and ` +
        `no zone contains that name (considered ${considered}). Add the zone of ${target} to hostedZoneIds ` +
        '(with its role in zoneRoles when it lives in another account), or point the CNAME into one of these zones.',
    );
  }
  if (others.length > 0) {
    throw new InvalidInputError(
      `Several public hosted zones are named ${canonicalZoneName(chosen.name)} ` +
        `(${best.map((zone) => zone.id).join(', ')}), so the zone for ${target} (${delegation}) is ambiguous: ` +
        `map ${target} to one zone id in hostedZoneIds.`,
    );
  }
  return chosen;
}

/** True when `recordName` is the zone's name or lies below it, so the zone may hold it. */
export function zoneContains(zone: HostedZone, recordName: string): boolean {
  return isWithin(canonicalZoneName(recordName), canonicalZoneName(zone.name));
}

/** The zone's name lower-case without the trailing dot, as the state carries it. */
export function zoneName(zone: HostedZone): string {
  return canonicalZoneName(zone.name);
}

function longestContaining(name: string, zones: readonly HostedZone[]): HostedZone[] {
  let best: HostedZone[] = [];
  let bestLength = -1;
  for (const zone of zones) {
    const zoneName = canonicalZoneName(zone.name);
    if (!isWithin(name, zoneName)) continue;
    if (zoneName.length > bestLength) {
      best = [zone];
      bestLength = zoneName.length;
    } else if (zoneName.length === bestLength) {
      best.push(zone);
    }
  }
  return best;
}

function findOverride(
  identifier: string,
  base: string,
  overrides: Readonly<Record<string, string>>,
): string | undefined {
  const byName = overrideIds(overrides);
  for (const candidate of [identifier, ...ancestors(base)]) {
    const id = byName.get(candidate);
    if (id !== undefined) return id;
  }
  return undefined;
}

/** The overrides by normalized name, refusing keys that are not DNS names or that disagree. */
function overrideIds(overrides: Readonly<Record<string, string>>): Map<string, string> {
  const byName = new Map<string, string>();
  for (const [key, zoneId] of Object.entries(overrides)) {
    let name: string;
    try {
      name = normalizeIdentifier(key);
    } catch (error) {
      throw new InvalidInputError(
        `hostedZoneIds has the key ${JSON.stringify(key)}, which is not a DNS name: use a domain or a parent of one.`,
        { cause: error },
      );
    }
    const id = stripZonePrefix(zoneId);
    const previous = byName.get(name);
    if (previous !== undefined && previous !== id) {
      throw new InvalidInputError(
        `hostedZoneIds maps ${name} to both ${previous} and ${id}: keep one entry per name.`,
      );
    }
    byName.set(name, id);
  }
  return byName;
}

function overriddenZone(identifier: string, zoneId: string, zones: readonly HostedZone[]): HostedZone {
  const zone = zones.find((candidate) => stripZonePrefix(candidate.id) === zoneId);
  if (zone === undefined) {
    throw new InvalidInputError(
      `hostedZoneIds sends ${JSON.stringify(identifier)} to zone ${zoneId}, which is not among the hosted zones ` +
        `visible to this account (${zones.map(describeZone).join(', ') || 'none'}): fix the zone id or its permissions.`,
    );
  }
  if (zone.privateZone) {
    throw new InvalidInputError(
      `hostedZoneIds sends ${JSON.stringify(identifier)} to ${describeZone(zone)}, a private zone the CA cannot ` +
        'resolve: use the public zone id instead.',
    );
  }
  return zone;
}

/** The name itself, then each parent, most specific first: a.b.c → a.b.c, b.c, c. */
function ancestors(name: string): string[] {
  const labels = name.split('.');
  return labels.map((_, index) => labels.slice(index).join('.'));
}

function isWithin(name: string, zoneName: string): boolean {
  return name === zoneName || name.endsWith(`.${zoneName}`);
}

function canonicalZoneName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

function stripZonePrefix(id: string): string {
  return id.startsWith(HOSTED_ZONE_PREFIX) ? id.slice(HOSTED_ZONE_PREFIX.length) : id;
}

function describeZone(zone: HostedZone): string {
  return `${canonicalZoneName(zone.name)} (${zone.id}${zone.privateZone ? ', private' : ''})`;
}
