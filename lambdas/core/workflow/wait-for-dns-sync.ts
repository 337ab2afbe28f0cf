import { PollingTimeoutError } from '../errors.js';
import type { IssuanceState } from '../state.js';
import type { StepDeps } from './deps.js';

/**
 * WaitForDnsSync: one poll of every pending Route 53 change. The state machine's Wait state
 * spaces the polls, so no Lambda ever sleeps.
 */
export async function waitForDnsSync(
  state: IssuanceState,
  deps: Pick<StepDeps, 'dns' | 'config' | 'log'>,
): Promise<IssuanceState> {
  const polls = state.polls + 1;
  let inSync = true;
  for (const change of state.dnsChanges ?? []) {
    if (!(await deps.dns.isChangeInSync(change.changeId))) {
      inSync = false;
      break;
    }
  }
  if (!inSync && polls >= deps.config.maxPolls) {
    throw new PollingTimeoutError(
      `Route 53 changes ${(state.dnsChanges ?? []).map((change) => change.changeId).join(', ')} were not INSYNC after ${polls} polls.`,
    );
  }
  deps.log.info('Checked DNS propagation', { inSync, polls });
  return { ...state, dnsInSync: inSync, polls: inSync ? 0 : polls };
}
