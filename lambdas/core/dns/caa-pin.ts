import { InvalidInputError } from '../errors.js';
import type { HostedZone } from '../ports.js';
import type { CaaPin } from '../state.js';
import { chooseZone, zoneContains, zoneName } from './zones.js';

/**
 * The optional CAA pin (RFC 8659, RFC 8657): at each name of a certificate, the CAA `issue`
 * property for our CA names our account and the validation methods we use, so no other account
 * can obtain a certificate for the name from that CA, and no other method can be used. Other CAs'
 * properties are kept: pinning one CA is not the place to forbid the rest.
 */

/** RFC 8659 §4.1 presentation: `<flags> <tag> "<value>"`, as Route 53 takes CAA values. */
const PRESENTED = /^(\d{1,3})\s+([A-Za-z0-9]+)\s+"((?:[^"\\]|\\.)*)"$/;

/** What a pin is made of besides the names. */
export interface CaaPinRequest {
  /** The CA's identity: the first of its directory's `meta.caaIdentities`. */
  readonly issuer: string;
  readonly accountUrl: string;
  /** The ACME validation methods this certificate may use, e.g. `['dns-01']`. */
  readonly validationMethods: readonly string[];
  readonly zones: readonly HostedZone[];
  readonly hostedZoneIds?: Readonly<Record<string, string>> | undefined;
}

/**
 * One pin per distinct name (a wildcard is pinned at its base name, where RFC 8659 §3 looks for
 * its CAA records first), each in the zone that holds the name.
 */
export function planCaaPins(domains: readonly string[], request: CaaPinRequest): CaaPin[] {
  const value = `${request.issuer}; accounturi=${request.accountUrl}; validationmethods=${request.validationMethods.join(',')}`;
  const pins = new Map<string, CaaPin>();
  for (const domain of domains) {
    const name = domain.replace(/^\*\./, '').toLowerCase();
    if (pins.has(name)) continue;
    const zone = chooseZone(domain, request.zones, request.hostedZoneIds);
    if (!zoneContains(zone, name)) {
      throw new InvalidInputError(
        `hostedZoneIds sends ${JSON.stringify(domain)} to ${zoneName(zone)} (${zone.id}), which cannot hold its CAA records at ${name}: map it to the zone that contains ${name}.`,
      );
    }
    pins.set(name, { zoneId: zone.id, name, issuer: request.issuer, value });
  }
  return [...pins.values()];
}

/**
 * The CAA record set at a pinned name, from the values Route 53 holds there (presentation form):
 * every `issue` and `issuewild` property naming our CA is replaced by the pinned one (an
 * `issuewild` only where one named our CA, since adding one would change which CAs may issue
 * wildcards), and the rest is kept as it is. `undefined` when the set already is that.
 */
export function pinnedCaaValues(current: readonly string[], pin: CaaPin): string[] | undefined {
  const ours = (tag: string, value: string) =>
    (tag === 'issue' || tag === 'issuewild') && issuerOf(value) === pin.issuer.toLowerCase();
  const kept: string[] = [];
  let hadIssuewild = false;
  for (const presented of current) {
    const parsed = PRESENTED.exec(presented.trim());
    const tag = parsed?.[2]?.toLowerCase() ?? '';
    const value = parsed?.[3] ?? '';
    if (parsed && ours(tag, value)) {
      if (tag === 'issuewild') hadIssuewild = true;
      continue;
    }
    kept.push(presented);
  }
  const quoted = `"${pin.value.replace(/[\\"]/g, '\\$&')}"`;
  const wanted = [...kept, `0 issue ${quoted}`, ...(hadIssuewild ? [`0 issuewild ${quoted}`] : [])];
  const same =
    wanted.length === current.length &&
    wanted.every((value) => current.some((other) => other.trim() === value));
  return same ? undefined : wanted;
}

/** The issuer-domain-name of an issue-value (RFC 8659 §4.2), lower-case; empty for `;` alone. */
function issuerOf(value: string): string {
  return (value.split(';')[0] ?? '').trim().toLowerCase();
}
