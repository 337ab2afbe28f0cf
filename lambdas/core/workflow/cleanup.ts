import { planTxtChanges } from '../dns/plan.js';
import type { IssuanceState } from '../state.js';
import type { StepDeps } from './deps.js';

/**
 * Cleanup: removes exactly the TXT values this execution published, on success and after any
 * failure. Safe to repeat, and a no-op when nothing was published.
 */
export async function cleanup(
  state: IssuanceState,
  deps: Pick<StepDeps, 'dns' | 'log'>,
): Promise<IssuanceState> {
  for (const { zoneId, records } of planTxtChanges(state.challenges ?? [])) {
    await deps.dns.removeTxt(zoneId, records);
    deps.log.info('Removed TXT records', { zoneId, records: records.map((record) => record.name) });
  }
  return state;
}
