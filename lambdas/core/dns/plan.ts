import { InvalidInputError } from '../errors.js';
import type { TxtRecord } from '../ports.js';

/** One TXT value to publish: the fields of a `DnsChallenge` that decide where it goes. */
export interface PlannedChallenge {
  readonly zoneId: string;
  readonly recordName: string;
  readonly value: string;
}

/** Everything to publish in one hosted zone, sent as a single Route 53 change batch. */
export interface ZoneTxtChanges {
  readonly zoneId: string;
  readonly records: TxtRecord[];
}

/**
 * Groups challenge values into one change batch per zone and one record set per name.
 *
 * A record set must carry every value at once: `example.org` and `*.example.org` both answer at
 * `_acme-challenge.example.org`, and writing them as two sets would make the second replace the
 * first. Names are compared case-insensitively and without the trailing dot; repeated values
 * appear once. The output is sorted (zones, names, values) so equal inputs in any order give the
 * same plan, which keeps retried steps and their tests stable.
 *
 * Throws {@link InvalidInputError} when one record name is planned in two zones, because only one
 * of them can be authoritative and the CA would see half of the values.
 */
export function planTxtChanges(challenges: readonly PlannedChallenge[]): ZoneTxtChanges[] {
  const zoneByName = new Map<string, string>();
  const valuesByZone = new Map<string, Map<string, Set<string>>>();

  for (const challenge of challenges) {
    const name = canonicalName(challenge.recordName);
    const otherZone = zoneByName.get(name);
    if (otherZone !== undefined && otherZone !== challenge.zoneId) {
      throw new InvalidInputError(
        `The dns-01 record ${name} is planned in two hosted zones (${otherZone} and ${challenge.zoneId}): ` +
          'map every name that shares this record to the same zone in hostedZoneIds.',
      );
    }
    zoneByName.set(name, challenge.zoneId);

    let names = valuesByZone.get(challenge.zoneId);
    if (names === undefined) {
      names = new Map();
      valuesByZone.set(challenge.zoneId, names);
    }
    let values = names.get(name);
    if (values === undefined) {
      values = new Set();
      names.set(name, values);
    }
    values.add(challenge.value);
  }

  return [...valuesByZone.entries()].sort(byKey).map(([zoneId, names]) => ({
    zoneId,
    records: [...names.entries()].sort(byKey).map(([name, values]) => ({ name, values: [...values].sort() })),
  }));
}

function canonicalName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

function byKey<T>([a]: readonly [string, T], [b]: readonly [string, T]): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
