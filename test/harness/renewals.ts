import type { LocalExecution } from './cloud/step-functions.js';
import type { LocalDeployment } from './local-issuance.js';

/**
 * Runs the scheduled renewals state machine of a deployment, as its EventBridge schedule would
 * start it: its planner runs in the local Lambda, its Map starts issuance executions
 * (`startExecution.sync:2`, names unique per state machine as Step Functions keeps them), and
 * each page's `StartNextPage` queues the next page, which runs once the current one ends.
 */

export interface FleetRun {
  /** One execution of the renewals state machine per registry page. */
  readonly pages: readonly LocalExecution[];
  /** Issuance executions started by this run, by name. */
  readonly started: readonly string[];
  /** Issuance executions the service refused because the name was already used. */
  readonly refused: readonly string[];
}

export interface FleetRunOptions {
  /** The first page's input, as the schedule sends it. @default {} */
  readonly input?: Record<string, unknown>;
  readonly pauseMs?: number;
}

export async function runRenewals(
  deployment: LocalDeployment,
  options: FleetRunOptions = {},
): Promise<FleetRun> {
  const { cloud, stack } = deployment;
  const renewals = stack.stateMachine('Renewals');
  const issuanceArn = stack.stateMachine('Issuance').arn;
  const stepFunctions = cloud.stepFunctions;
  const known = new Set(stepFunctions.executions.keys());
  const refusedBefore = stepFunctions.refused.length;
  const pending: unknown[] = [options.input ?? {}];
  const pages: LocalExecution[] = [];
  while (pending.length > 0) {
    const input = pending.shift();
    pages.push(
      await stepFunctions.run(renewals, {
        input,
        ...(options.pauseMs !== undefined ? { pauseMs: options.pauseMs } : {}),
      }),
    );
    for (const start of stepFunctions.started.splice(0)) {
      if (start.stateMachineArn === renewals.arn) pending.push(start.input);
    }
  }
  const started = [...stepFunctions.executions.entries()]
    .filter(([arn, execution]) => !known.has(arn) && execution.stateMachineArn === issuanceArn)
    .map(([, execution]) => execution.name);
  return { pages, started, refused: stepFunctions.refused.slice(refusedBefore) };
}
