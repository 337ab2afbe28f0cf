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
import { type PlannerDeps, type PlannerInput, planRenewals } from '../core/renewal/planner.js';

/** Lambda entry of the PlanRenewals state of the renewal schedule. */
export const handler = stepHandler(
  'PlanRenewals',
  (input: PlannerInput, deps: Omit<PlannerDeps, 'random'>) =>
    planRenewals(input ?? {}, { ...deps, random: Math.random }),
  { registry, transport, signer, clock, config, log, metrics },
);
