import { stepHandler } from '../adapters/runtime.js';
import { type PlannerInput, type PlannerOutput, planRenewals } from '../core/renewal/planner.js';

/** Lambda entry of the PlanRenewals state of the renewal schedule. */
export const handler = stepHandler<PlannerInput, PlannerOutput>('PlanRenewals', (input, deps) =>
  planRenewals(input ?? {}, { ...deps, random: Math.random }),
);
