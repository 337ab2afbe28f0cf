import { CnameTargetNotWritableError, ZoneNotWritableError } from '../errors.js';
import type { ZoneRoles } from '../ports.js';
import type { ChallengePlacement } from './placement.js';
import { roleForZone } from './zone-roles.js';

const HOSTED_ZONE_PREFIX = '/hostedzone/';
const CHALLENGE_PREFIX = '_acme-challenge.';

/**
 * Which TXT record names the deployment's IAM policy lets PublishChallenges write. In the hosted
 * zones of this account, only names under `_acme-challenge.` (the policy's
 * `route53:ChangeResourceRecordSetsNormalizedRecordNames` condition), except in the validation
 * zones, where any name is allowed. Zones reached through a role in another account follow that
 * account's policy, which this deployment cannot see.
 */
export interface ChallengeWriteScope {
  /** The construct's `validationZoneIds`, with or without `/hostedzone/`. */
  readonly validationZoneIds: readonly string[];
  /**
   * The construct's `hostedZones` / `hostedZoneIds`: when given, the only zones of this account
   * (besides the validation zones) that the policy lets the workflow write.
   * @default every zone of the account
   */
  readonly hostedZoneIds?: readonly string[] | undefined;
  /** The execution's `zoneRoles`: zones written through roles in other accounts. */
  readonly zoneRoles?: ZoneRoles | undefined;
}

/**
 * Refuses a placement whose TXT record IAM would not let PublishChallenges write:
 * - a zone of this account outside the deployment's `hostedZoneIds` (when it has that list) and
 *   its validation zones: {@link ZoneNotWritableError};
 * - a delegated challenge whose CNAME target is not an `_acme-challenge.*` name, in a zone of this
 *   account that is not a validation zone: {@link CnameTargetNotWritableError}.
 * Each error names the record, the zone and the fix. Zones of other accounts are left to their
 * own policy.
 */
export function assertChallengeWritable(
  placement: ChallengePlacement & { readonly identifier?: string },
  scope: ChallengeWriteScope,
): void {
  if (roleForZone(scope.zoneRoles, placement.zoneId) !== undefined) return;
  const zoneId = bareZoneId(placement.zoneId);
  const validationZoneIds = scope.validationZoneIds.map(bareZoneId);
  if (validationZoneIds.includes(zoneId)) return;
  const hostedZoneIds = scope.hostedZoneIds?.map(bareZoneId);
  if (hostedZoneIds && hostedZoneIds.length > 0 && !hostedZoneIds.includes(zoneId)) {
    throw new ZoneNotWritableError({
      identifier: placement.identifier ?? placement.recordName,
      recordName: placement.recordName,
      zoneId,
      zoneName: placement.zoneName,
      writableZoneIds: [...hostedZoneIds, ...validationZoneIds],
    });
  }
  if (placement.delegatedFrom === undefined) return;
  if (placement.recordName.startsWith(CHALLENGE_PREFIX)) return;
  throw new CnameTargetNotWritableError({
    source: placement.delegatedFrom,
    target: placement.recordName,
    zoneId,
    zoneName: placement.zoneName,
    validationZoneIds,
  });
}

/**
 * Reads a comma-separated list of hosted zone ids, as the construct sets `VALIDATION_ZONE_IDS` and
 * `HOSTED_ZONE_IDS`;
 * unset or empty means none.
 */
export function parseZoneIdList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((zoneId) => bareZoneId(zoneId.trim()))
    .filter((zoneId) => zoneId !== '');
}

function bareZoneId(zoneId: string): string {
  return zoneId.startsWith(HOSTED_ZONE_PREFIX) ? zoneId.slice(HOSTED_ZONE_PREFIX.length) : zoneId;
}
