import {
  clock,
  config,
  log,
  metrics,
  registry,
  signer,
  stepHandler,
  transport,
} from '../adapters/runtime.js';
import { parseRateLimitOverrides } from '../core/renewal/ca-rate-limits.js';
import { type PlannerDeps, type PlannerInput, planRenewals } from '../core/renewal/planner.js';

/**
 * Lambda entry of the PlanRenewals state of the renewal schedule. `ACME_CA_RATE_LIMITS`, when set,
 * overrides the CA rate limits the planner paces by (see `parseRateLimitOverrides`).
 */
export const handler = stepHandler(
  'PlanRenewals',
  (input: PlannerInput, deps: Omit<PlannerDeps, 'random' | 'rateLimits'>) =>
    planRenewals(input ?? {}, {
      ...deps,
      random: Math.random,
      rateLimits: parseRateLimitOverrides(process.env.ACME_CA_RATE_LIMITS),
    }),
  { registry, transport, signer, clock, config, log, metrics },
);
