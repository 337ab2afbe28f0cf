import type { ZoneRoles } from '../ports.js';

const HOSTED_ZONE_PREFIX = '/hostedzone/';

/**
 * The role that reaches `zoneId` in another account, or `undefined` for a zone of the caller's
 * own account. Ids match with or without `/hostedzone/`.
 */
export function roleForZone(zoneRoles: ZoneRoles | undefined, zoneId: string): string | undefined {
  if (zoneRoles === undefined) return undefined;
  const bare = zoneId.startsWith(HOSTED_ZONE_PREFIX) ? zoneId.slice(HOSTED_ZONE_PREFIX.length) : zoneId;
  return zoneRoles[bare] ?? zoneRoles[`${HOSTED_ZONE_PREFIX}${bare}`];
}
