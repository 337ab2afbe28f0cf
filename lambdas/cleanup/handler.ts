import { clock, dns, events, leases, log, metrics, registry, stepHandler } from '../adapters/runtime.js';
import { cleanup } from '../core/workflow/cleanup.js';

/** Lambda entry of the Cleanup state. */
export const handler = stepHandler('Cleanup', cleanup, {
  dns,
  leases,
  registry,
  events,
  metrics,
  clock,
  log,
});
