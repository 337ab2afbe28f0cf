import { clock, dns, events, leases, log, metrics, registry, stepHandler } from '../adapters/runtime.js';
import { cleanupEndedExecution } from '../core/workflow/cleanup-ended-execution.js';

/** Lambda entry of the rule on the issuance state machine's FAILED, TIMED_OUT and ABORTED executions. */
export const handler = stepHandler('CleanupEndedExecution', cleanupEndedExecution, {
  dns,
  leases,
  registry,
  events,
  metrics,
  clock,
  log,
});
