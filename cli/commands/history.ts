import {
  DescribeExecutionCommand,
  type ExecutionListItem,
  ListExecutionsCommand,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { DynamoDbRegistry } from '../../lambdas/adapters/dynamodb-registry.js';
import type { Command } from '../args.js';
import { awsCall } from '../aws-errors.js';
import type { CommandContext } from '../context.js';
import { EXIT_OK } from '../errors.js';
import { isExecutionOf } from '../execution-name.js';
import { clockDuration, oneLine, readableCause, table, utcMinute } from '../format.js';
import { requireOutput } from '../stack.js';

type HistoryCommand = Extract<Command, { name: 'history' }>;

const LIST_PAGE_SIZE = 1000;

/** One execution of the certificate, as `history` reports it. */
export interface ExecutionSummary {
  readonly name: string;
  readonly executionArn: string;
  readonly status: string;
  readonly startedAt: string | null;
  readonly stoppedAt: string | null;
  readonly durationMs: number | null;
  /** For executions that failed, timed out or were aborted. */
  readonly error: string | null;
  readonly cause: string | null;
}

/**
 * The newest `limit` executions of the state machine whose names belong to `certificateId`.
 * Step Functions lists newest first and cannot filter by name, so this pages until it has enough.
 */
async function certificateExecutions(
  sfn: SFNClient,
  stateMachineArn: string,
  certificateId: string,
  limit: number,
): Promise<ExecutionListItem[]> {
  const found: ExecutionListItem[] = [];
  let nextToken: string | undefined;
  do {
    const page = await awsCall('states:ListExecutions', stateMachineArn, () =>
      sfn.send(
        new ListExecutionsCommand({
          stateMachineArn,
          maxResults: LIST_PAGE_SIZE,
          ...(nextToken ? { nextToken } : {}),
        }),
      ),
    );
    for (const execution of page.executions ?? []) {
      if (execution.name && isExecutionOf(execution.name, certificateId)) found.push(execution);
      if (found.length === limit) return found;
    }
    nextToken = page.nextToken;
  } while (nextToken);
  return found;
}

async function summary(sfn: SFNClient, execution: ExecutionListItem): Promise<ExecutionSummary> {
  const status = execution.status ?? 'UNKNOWN';
  let error: string | null = null;
  let cause: string | null = null;
  if (status === 'FAILED' || status === 'TIMED_OUT' || status === 'ABORTED') {
    const executionArn = execution.executionArn ?? '';
    const description = await awsCall('states:DescribeExecution', executionArn, () =>
      sfn.send(new DescribeExecutionCommand({ executionArn })),
    );
    error = description.error ?? status;
    cause = readableCause(description.cause) ?? null;
  }
  const started = execution.startDate;
  const stopped = execution.stopDate;
  return {
    name: execution.name ?? '',
    executionArn: execution.executionArn ?? '',
    status,
    startedAt: started?.toISOString() ?? null,
    stoppedAt: stopped?.toISOString() ?? null,
    durationMs: started && stopped ? stopped.getTime() - started.getTime() : null,
    error,
    cause,
  };
}

/**
 * `history <id>`: the certificate's executions on the issuance state machine, newest first, with
 * status, times and (for failures) the error and its cause; then what the registry recorded about
 * the last attempt. The registry part is skipped, with a note, on stacks without a
 * `RegistryTableName` output.
 */
export async function runHistoryCommand(command: HistoryCommand, context: CommandContext): Promise<number> {
  const { env, options } = context;
  const stack = await context.stack();
  const stateMachineArn = requireOutput(stack, 'StateMachineArn');
  const region = context.regionOf(stack);
  const sfn = env.clients.stepFunctions(region);

  const listed = await certificateExecutions(sfn, stateMachineArn, command.certificateId, command.limit);
  const executions: ExecutionSummary[] = [];
  for (const execution of listed) executions.push(await summary(sfn, execution));

  const tableName = stack.outputs.RegistryTableName;
  const record = tableName
    ? await awsCall('dynamodb:GetItem', `table ${tableName}`, () =>
        new DynamoDbRegistry({ client: env.clients.dynamoDb(region), tableName }).get(command.certificateId),
      )
    : undefined;
  const registry = record
    ? {
        status: record.status ?? null,
        lastAttemptAt: record.lastAttemptAt ?? null,
        lastError: record.lastError ?? null,
        consecutiveFailures: record.consecutiveFailures ?? 0,
        nextAttemptAt: record.nextAttemptAt ?? null,
        nextRenewalAt: record.nextRenewalAt ?? null,
      }
    : null;

  if (!tableName) {
    env.stderr(
      `Note: stack ${stack.name} has no RegistryTableName output, so registry details are left out.\n`,
    );
  }
  if (options.json) {
    context.printJson({ certificateId: command.certificateId, stack: stack.name, executions, registry });
    return EXIT_OK;
  }

  const lines: string[] = [];
  if (executions.length === 0) {
    lines.push(`No executions of ${command.certificateId} on ${stateMachineArn}.`);
  } else {
    lines.push(`Executions of ${command.certificateId}, newest first:`, '');
    lines.push(
      table(
        ['STARTED', 'STATUS', 'TOOK', 'EXECUTION', 'ERROR'],
        executions.map((execution) => [
          utcMinute(execution.startedAt),
          execution.status,
          execution.durationMs === null ? '-' : clockDuration(execution.durationMs),
          execution.name,
          execution.error
            ? `${execution.error}${execution.cause ? `: ${oneLine(execution.cause, 100)}` : ''}`
            : '',
        ]),
      ),
    );
  }
  if (registry) {
    lines.push(
      '',
      `Registry: status ${registry.status ?? '-'}, last attempt ${utcMinute(registry.lastAttemptAt)}`,
    );
    if (registry.lastError) {
      const times =
        registry.consecutiveFailures > 1 ? ` (${registry.consecutiveFailures} failures in a row)` : '';
      lines.push(
        `  last error  ${registry.lastError.name} at ${utcMinute(registry.lastError.at)}${times}`,
        `              ${oneLine(registry.lastError.message, 300)}`,
      );
      if (registry.nextAttemptAt) lines.push(`  next try    after ${utcMinute(registry.nextAttemptAt)}`);
    }
  } else if (tableName && executions.length === 0) {
    lines.push(
      `The registry has no certificate ${command.certificateId} either; acme-aws status lists them.`,
    );
  }
  context.say(lines.join('\n'));
  return EXIT_OK;
}
