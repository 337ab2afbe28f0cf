import { clock, config, dns, leases, log, registry, stepHandler } from '../adapters/runtime.js';
import { publishChallenges } from '../core/workflow/publish-challenges.js';

/** Lambda entry of the PublishChallenges state. */
export const handler = stepHandler('PublishChallenges', publishChallenges, {
  dns,
  leases,
  registry,
  clock,
  config,
  log,
});
