import { type LocalAws, type LocalCa, localEnvironment } from './local-issuance.js';
import { type LocalExecution, runWorkflow, type SynthesizedWorkflow } from './state-machine.js';

/**
 * Runs the scheduled renewals state machine locally: its planner is the real Lambda handler, and
 * its two Step Functions integrations are played here as the service would: `RenewCertificate`
 * (StartExecution.sync:2) runs the synthesized issuance state machine with the real handlers and
 * refuses a name that was already used, and `StartNextPage` queues the next page's execution.
 */

/** Execution names the local "Step Functions" has seen; keep one per simulated account. */
export class LocalExecutions {
  readonly names = new Set<string>();
  readonly results = new Map<string, LocalExecution>();
}

export interface FleetRun {
  /** One execution of the renewals state machine per registry page. */
  readonly pages: readonly LocalExecution[];
  /** Issuance executions started by this run, by name. */
  readonly started: readonly string[];
  readonly refused: readonly string[];
}

export interface FleetRunOptions {
  readonly renewals: SynthesizedWorkflow;
  readonly issuance: SynthesizedWorkflow;
  readonly ca: LocalCa;
  readonly aws: LocalAws;
  readonly executions: LocalExecutions;
  readonly environment?: Readonly<Record<string, string>>;
  readonly input?: Record<string, unknown>;
}

export async function runRenewals(options: FleetRunOptions): Promise<FleetRun> {
  const environment = { ...localEnvironment(options.ca, options.aws), ...options.environment };
  const registryTable = options.renewals.environment.REGISTRY_TABLE;
  if (registryTable && !options.aws.dynamodb.hasTable(registryTable))
    options.aws.dynamodb.createTable(registryTable);
  const pending: unknown[] = [options.input ?? {}];
  const pages: LocalExecution[] = [];
  const started: string[] = [];
  const refused: string[] = [];

  const renewCertificate = async (parameters: unknown): Promise<unknown> => {
    const { Name: name, Input: input } = parameters as { Name: string; Input: unknown };
    if (options.executions.names.has(name)) {
      refused.push(name);
      throw Object.assign(new Error(`Execution Already Exists: '${name}'`), {
        name: 'StepFunctions.ExecutionAlreadyExistsException',
      });
    }
    options.executions.names.add(name);
    started.push(name);
    const execution = await runWorkflow(options.issuance, {
      input,
      environment,
      executionId: `arn:aws:states:us-east-1:123456789012:execution:Issuance:${name}`,
    });
    options.executions.results.set(name, execution);
    if (execution.status === 'FAILED') {
      // What StartExecution.sync:2 reports when the child execution fails.
      throw Object.assign(new Error(`${execution.error?.name}: ${execution.error?.cause}`), {
        name: 'States.TaskFailed',
      });
    }
    return { Status: 'SUCCEEDED', Output: execution.output, Name: name };
  };
  const startNextPage = async (parameters: unknown): Promise<unknown> => {
    const { Input } = parameters as { Input: string };
    pending.push(JSON.parse(Input));
    return { ExecutionArn: 'local' };
  };

  while (pending.length > 0) {
    const input = pending.shift();
    pages.push(
      await runWorkflow(options.renewals, {
        input,
        environment,
        extraHandlers: { RenewCertificate: renewCertificate, StartNextPage: startNextPage },
      }),
    );
  }
  return { pages, started, refused };
}
