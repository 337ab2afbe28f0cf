import { randomUUID } from 'node:crypto';
import { planTxtChanges } from '../dns/plan.js';
import { withRecordSetLeases } from '../dns/record-leases.js';
import { roleForZone } from '../dns/zone-roles.js';
import type { CaaPin, IssuanceState } from '../state.js';
import type { StepDeps } from './deps.js';
import { notePublishedTxt, txtValuesOf } from './published-txt.js';

/**
 * PublishChallenges: one change batch per hosted zone, apex and wildcard values sharing one
 * record set, merged with whatever values are already there. Each record set is read and written
 * under its lease (see `withRecordSetLeases`), so certificates of other executions that share it
 * cannot overwrite our value, nor we theirs. A zone listed in `zoneRoles` is written through its
 * role in the other account. Every value is noted in the certificate's record before it is
 * written (see `notePublishedTxt`). Records the change ids to poll.
 */
export async function publishChallenges(
  state: IssuanceState,
  deps: Pick<StepDeps, 'dns' | 'leases' | 'registry' | 'clock' | 'config' | 'log'>,
): Promise<IssuanceState> {
  // A persistent record every authoritative server already returns needs no write (dns-persist-01).
  const plan = planTxtChanges((state.challenges ?? []).filter((challenge) => !challenge.inPlace));
  const holder = leaseHolder(state);
  // Noted first: an execution killed between the write and its Cleanup leaves a trail to follow.
  await notePublishedTxt(state.certificateId, txtValuesOf(state), deps);
  const dnsChanges: { zoneId: string; changeId: string }[] = [];
  for (const { zoneId, records } of plan) {
    const changeId = await withRecordSetLeases(
      zoneId,
      records.map((record) => record.name),
      holder,
      () => deps.dns.publishTxt(zoneId, records, roleForZone(state.zoneRoles, zoneId)),
      deps,
    );
    dnsChanges.push({ zoneId, changeId });
    deps.log.info('Published TXT records', {
      zoneId,
      changeId,
      records: records.map((record) => record.name),
    });
  }
  // The CAA pins, one change batch per zone where a set is not pinned yet (see `dns/caa-pin.ts`).
  const pinsByZone = new Map<string, CaaPin[]>();
  for (const pin of state.caaPins ?? [])
    pinsByZone.set(pin.zoneId, [...(pinsByZone.get(pin.zoneId) ?? []), pin]);
  for (const [zoneId, pins] of pinsByZone) {
    const changeId = await deps.dns.pinCaa(zoneId, pins, roleForZone(state.zoneRoles, zoneId));
    if (changeId === undefined) continue;
    dnsChanges.push({ zoneId, changeId });
    deps.log.info('Pinned CAA records', { zoneId, changeId, names: pins.map((pin) => pin.name) });
  }
  return {
    ...state,
    dnsChanges,
    dnsInSync: dnsChanges.length === 0,
    retryAfterSeconds: deps.config.dnsPollSeconds,
    polls: 0,
  };
}

/**
 * Who holds a record set's lease: the execution, so a retried step (or this execution's Cleanup)
 * takes a lease its crashed predecessor left at once; a fresh id outside the state machine.
 */
export function leaseHolder(state: IssuanceState): string {
  return state.execution?.id ?? `unnamed-${randomUUID()}`;
}
