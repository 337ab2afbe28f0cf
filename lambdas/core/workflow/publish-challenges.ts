import { planTxtChanges } from '../dns/plan.js';
import { roleForZone } from '../dns/zone-roles.js';
import type { IssuanceState } from '../state.js';
import type { StepDeps } from './deps.js';

/**
 * PublishChallenges: one change batch per hosted zone, apex and wildcard values sharing one
 * record set, merged with whatever values are already there. A zone listed in `zoneRoles` is
 * written through its role in the other account. Records the change ids to poll.
 */
export async function publishChallenges(
  state: IssuanceState,
  deps: Pick<StepDeps, 'dns' | 'config' | 'log'>,
): Promise<IssuanceState> {
  const plan = planTxtChanges(state.challenges ?? []);
  const dnsChanges: { zoneId: string; changeId: string }[] = [];
  for (const { zoneId, records } of plan) {
    const changeId = await deps.dns.publishTxt(zoneId, records, roleForZone(state.zoneRoles, zoneId));
    dnsChanges.push({ zoneId, changeId });
    deps.log.info('Published TXT records', {
      zoneId,
      changeId,
      records: records.map((record) => record.name),
    });
  }
  return {
    ...state,
    dnsChanges,
    dnsInSync: dnsChanges.length === 0,
    retryAfterSeconds: deps.config.dnsPollSeconds,
    polls: 0,
  };
}
