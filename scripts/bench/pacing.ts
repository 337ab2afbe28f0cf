import { LETS_ENCRYPT_RATE_LIMITS, type LimitName } from '../../lambdas/core/renewal/ca-rate-limits.js';
import { pacedBudget } from '../../lambdas/core/renewal/pacing.js';
import { type SimulationResult, simulatePacing } from '../../test/support/pacing-simulation.js';

/** One fleet planned over simulated time against Let's Encrypt's limits. */
export interface PacingScenarioResult {
  readonly label: string;
  readonly certificates: number;
  readonly registeredDomains: number;
  readonly days: number;
  readonly simulation: SimulationResult;
  /** Wall time of the simulation, for the record. */
  readonly seconds: number;
}

export interface PacingResult {
  /** Each limit: Let's Encrypt's count and window, and the budget the planner keeps to. */
  readonly limits: readonly {
    readonly limit: LimitName;
    readonly count: number;
    readonly windowHours: number;
    readonly budget: number;
  }[];
  readonly scenarios: readonly PacingScenarioResult[];
  readonly error?: string;
}

const SCENARIOS = [
  { label: '1,000 names over 40 registered domains', certificates: 1000, registeredDomains: 40, days: 75 },
  { label: '1,000 names in one registered domain', certificates: 1000, registeredDomains: 1, days: 185 },
] as const;

/**
 * Section 13: the planner's own code, run daily over simulated time for a fleet of 1,000 first
 * issuances, against a simulated Let's Encrypt that enforces its published limits on its complete
 * log. Reports each limit's peak sliding-window count, the 429s met, and when the last first
 * issuance happened. No CA or AWS is involved: this is the schedule, not the issuance.
 */
export async function runPacing(say: (line: string) => void): Promise<PacingResult> {
  const limits = (Object.keys(LETS_ENCRYPT_RATE_LIMITS) as (keyof typeof LETS_ENCRYPT_RATE_LIMITS)[])
    .filter((key): key is LimitName => key !== 'name')
    .flatMap((limit) => {
      const value = LETS_ENCRYPT_RATE_LIMITS[limit];
      return value
        ? [
            {
              limit,
              count: value.count,
              windowHours: value.windowMs / 3_600_000,
              budget: pacedBudget(value.count),
            },
          ]
        : [];
    });
  const scenarios: PacingScenarioResult[] = [];
  for (const scenario of SCENARIOS) {
    say(`pacing: ${scenario.label}, ${scenario.days} simulated days`);
    const started = performance.now();
    const simulation = await simulatePacing(scenario);
    scenarios.push({ ...scenario, simulation, seconds: (performance.now() - started) / 1000 });
  }
  return { limits, scenarios };
}
