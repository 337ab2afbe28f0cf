import { type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { explainAwsError } from './aws-errors.js';
import type { CommandContext } from './context.js';
import { AwsCallError, EXIT_EXECUTION_FAILED, EXIT_OK } from './errors.js';
import { type FollowResult, followExecution, type ProgressEvent, type StepRecord } from './follow.js';
import { clockDuration, oneLine, readableCause } from './format.js';

/**
 * Starting an execution and following it on the operator's screen, shared by every command that
 * starts one (`issue`, `renew`, `revoke`, `account rollover|update|deactivate`), so they all print
 * progress, failures and `--no-wait` results the same way.
 */

/** What every command's JSON document says about the execution it started. */
export interface ExecutionBase {
  readonly command: string;
  /** For the commands about one certificate. */
  readonly certificateId?: string;
  readonly stack: string;
  readonly executionName: string;
  readonly executionArn: string;
  readonly input: Readonly<Record<string, unknown>>;
}

/** The fields of a finished execution shared by every command's JSON document. */
export interface FinishedFields {
  readonly status: string;
  readonly startedAt: string;
  readonly stoppedAt?: string;
  readonly durationMs: number;
  readonly steps: readonly unknown[];
}

/**
 * Starts an execution named `name`. A name already taken (a second start in the same second)
 * becomes an `AwsCallError` saying to retry; any other refusal is explained by `explainAwsError`.
 */
export async function startExecution(
  sfn: SFNClient,
  stateMachineArn: string,
  name: string,
  input: Readonly<Record<string, unknown>>,
): Promise<{ executionArn: string; startDate?: Date }> {
  try {
    const started = await sfn.send(
      new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }),
    );
    return {
      executionArn: started.executionArn ?? '',
      ...(started.startDate ? { startDate: started.startDate } : {}),
    };
  } catch (error) {
    if ((error as { name?: unknown } | undefined)?.name === 'ExecutionAlreadyExists') {
      throw new AwsCallError(
        `An execution named ${name} already exists (one was started in the same second). Wait a second and run the command again.`,
        { cause: error },
      );
    }
    throw explainAwsError(error, 'states:StartExecution', stateMachineArn);
  }
}

/** `--no-wait`: says what was started and returns 0. */
export function reportStarted(
  context: CommandContext,
  base: ExecutionBase,
  startDate: Date | undefined,
): number {
  if (context.options.json) {
    context.printJson({ ...base, result: 'started', startedAt: startDate?.toISOString() });
  } else {
    context.say(`Started ${base.executionName}\n  ${base.executionArn}`);
  }
  return EXIT_OK;
}

function progressLine(event: ProgressEvent): string | undefined {
  const at = clockDuration(event.elapsedMs).padStart(7);
  switch (event.kind) {
    case 'entered':
      // Choices take no time and say nothing an operator acts on.
      if (event.step.type === 'Choice') return undefined;
      if (event.step.type === 'Wait') {
        const wait = event.waitSeconds !== undefined ? ` (waiting ${event.waitSeconds}s)` : ' (waiting)';
        return `${at}  ${event.step.name}${wait}`;
      }
      return `${at}  ${event.step.name}`;
    case 'failed':
      return `${at}  ${event.step.name} failed: ${event.error}${
        readableCause(event.cause) ? ` - ${oneLine(readableCause(event.cause) ?? '', 120)}` : ''
      }`;
    case 'retrying':
      return `${at}  ${event.step.name} retrying`;
  }
}

/**
 * Says the execution started, then follows it to its end with one line per step entered, failed
 * attempt and retry (stderr under `--json`). Returns the execution as it ended.
 */
export async function followWithProgress(
  context: CommandContext,
  sfn: SFNClient,
  base: ExecutionBase,
): Promise<FollowResult> {
  const { env } = context;
  context.say(`Started ${base.executionName}\n  ${base.executionArn}`);
  return followExecution(sfn, base.executionArn, {
    sleep: env.sleep,
    pollIntervalMs: env.pollIntervalMs,
    onProgress: (event) => {
      const line = progressLine(event);
      if (line !== undefined) context.say(line);
    },
  });
}

function stepsJson(steps: readonly StepRecord[]) {
  return steps.map((step) => ({
    name: step.name,
    type: step.type,
    enteredAt: step.enteredAt.toISOString(),
    ...(step.exitedAt
      ? { exitedAt: step.exitedAt.toISOString(), ms: step.exitedAt.getTime() - step.enteredAt.getTime() }
      : {}),
    ...(step.failures.length > 0
      ? { failures: step.failures.map((failure) => ({ error: failure.error, cause: failure.cause })) }
      : {}),
  }));
}

/** Status, times and steps of a finished execution, for the JSON document. */
export function finishedFields(result: FollowResult, now: Date): FinishedFields {
  return {
    status: result.status,
    startedAt: result.startDate.toISOString(),
    ...(result.stopDate ? { stoppedAt: result.stopDate.toISOString() } : {}),
    durationMs: (result.stopDate ?? now).getTime() - result.startDate.getTime(),
    steps: stepsJson(result.steps),
  };
}

/** The execution's output as an object; `{}` when it has none or it is not a JSON object. */
export function parseOutput(output: string | undefined): Record<string, unknown> {
  if (output === undefined) return {};
  try {
    const parsed: unknown = JSON.parse(output);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

/** The Task that failed last: where the execution's error came from. */
function failedStep(steps: readonly StepRecord[]): StepRecord | undefined {
  return [...steps].reverse().find((step) => step.failures.length > 0);
}

/**
 * Reports an execution that failed, timed out or was aborted: its error, the cause in readable
 * form and the step it came from, then `more` (a command to run next) when given. Returns 1.
 */
export function reportFailure(
  context: CommandContext,
  document: ExecutionBase & FinishedFields,
  result: FollowResult,
  subject: string,
  more?: string,
): number {
  const step = failedStep(result.steps);
  const error = result.error ?? result.status;
  const cause = readableCause(result.cause) ?? '';
  if (context.options.json) {
    context.printJson({
      ...document,
      result: 'failed',
      error: { name: error, cause, ...(step ? { step: step.name } : {}) },
    });
  } else {
    const lines = [`Failed: ${subject} after ${clockDuration(document.durationMs)} (${result.status})`];
    if (step) lines.push(`  step   ${step.name}`);
    lines.push(`  error  ${error}`);
    if (cause) lines.push(`  cause  ${cause}`);
    if (more) lines.push(`  more   ${more}`);
    context.say(lines.join('\n'));
  }
  return EXIT_EXECUTION_FAILED;
}
