import { describePropagationGaps, findPropagationGaps } from '../dns/propagation.js';
import { roleForZone } from '../dns/zone-roles.js';
import { PollingTimeoutError } from '../errors.js';
import type { IssuanceState } from '../state.js';
import type { StepDeps } from './deps.js';

/**
 * WaitForDnsSync: one poll. First every Route 53 change must be `INSYNC` (asked in the account
 * that owns its zone); then every authoritative name server of each zone must answer each TXT
 * record with all our values, because that is what the CA will see. Until both hold, it returns
 * `dnsInSync: false` and the state machine's Wait state spaces the next poll, so no Lambda ever
 * sleeps. After `maxPolls` polls it fails with a {@link PollingTimeoutError} naming what is missing.
 */
export async function waitForDnsSync(
  state: IssuanceState,
  deps: Pick<StepDeps, 'dns' | 'resolver' | 'config' | 'log'>,
): Promise<IssuanceState> {
  const polls = state.polls + 1;
  const timedOut = polls >= deps.config.maxPolls;

  for (const change of state.dnsChanges ?? []) {
    if (await deps.dns.isChangeInSync(change.changeId, roleForZone(state.zoneRoles, change.zoneId))) continue;
    if (timedOut) {
      throw new PollingTimeoutError(
        `Route 53 changes ${(state.dnsChanges ?? []).map((pending) => pending.changeId).join(', ')} were not INSYNC after ${polls} polls.`,
      );
    }
    deps.log.info('Checked DNS propagation', { inSync: false, polls, waitingFor: 'INSYNC' });
    return { ...state, dnsInSync: false, polls };
  }

  // A persistent record found in place was already read from every authoritative server.
  const written = (state.challenges ?? []).filter((challenge) => !challenge.inPlace);
  const gaps = await findPropagationGaps(written, deps.resolver);
  if (gaps.length > 0) {
    if (timedOut) {
      throw new PollingTimeoutError(
        `Route 53 reports the TXT changes INSYNC, but after ${polls} polls not every authoritative name server ` +
          `answers with our values: ${describePropagationGaps(gaps)}. Check that each zone is delegated to ` +
          'the name servers of the hosted zone written to.',
      );
    }
    deps.log.info('Checked DNS propagation', {
      inSync: false,
      polls,
      waitingFor: 'authoritative name servers',
      recordsMissing: gaps.length,
      firstMissing: describePropagationGaps(gaps.slice(0, 1)),
    });
    return { ...state, dnsInSync: false, polls };
  }
  deps.log.info('Checked DNS propagation', { inSync: true, polls });
  return { ...state, dnsInSync: true, polls: 0 };
}
