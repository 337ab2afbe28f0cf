import { planTxtChanges } from '../dns/plan.js';
import type { IssuanceState } from '../state.js';
import type { StepDeps } from './deps.js';

/**
 * Cleanup: removes exactly the TXT values this execution published, on success and after any
 * failure, records the outcome and releases the certificate's lock. Safe to repeat, and a no-op
 * for DNS when nothing was published.
 */
export async function cleanup(
  state: IssuanceState,
  deps: Pick<StepDeps, 'dns' | 'registry' | 'clock' | 'log'>,
): Promise<IssuanceState> {
  for (const { zoneId, records } of planTxtChanges(state.challenges ?? [])) {
    await deps.dns.removeTxt(zoneId, records);
    deps.log.info('Removed TXT records', { zoneId, records: records.map((record) => record.name) });
  }
  // The lock may have been taken even when the step that took it failed afterwards, so ask the
  // registry who holds it rather than trusting the state.
  const executionId = state.execution?.id;
  if (executionId && typeof state.certificateId === 'string') {
    const record = await deps.registry.get(state.certificateId);
    if (record?.lock?.executionId === executionId) {
      await deps.registry.update(
        state.certificateId,
        state.error
          ? {
              status: 'failed',
              lastError: {
                name: state.error.Error,
                message: state.error.Cause,
                at: deps.clock.now().toISOString(),
              },
            }
          : { lastError: null },
      );
      await deps.registry.releaseLock(state.certificateId, executionId);
    }
  }
  return state;
}
