import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { Command } from '../args.js';
import { explainAwsError } from '../aws-errors.js';
import type { CommandContext } from '../context.js';
import { AwsCallError, EXIT_EXECUTION_FAILED, EXIT_OK } from '../errors.js';
import { executionName, fleetExecutionName } from '../execution-name.js';
import { type FollowResult, followExecution, type ProgressEvent, type StepRecord } from '../follow.js';
import { clockDuration, daysUntil, oneLine, readableCause, utcMinute } from '../format.js';
import { requireOutput } from '../stack.js';

export type StartCommand = Extract<Command, { name: 'issue' | 'renew' | 'renew-all' | 'revoke' }>;

/** The parts of the issuance state machine's output the CLI reports. */
interface IssuanceOutput {
  readonly skipped?: unknown;
  readonly certificateArn?: unknown;
  readonly certificateArns?: unknown;
  readonly certificate?: { readonly serial?: unknown; readonly notAfter?: unknown };
}

const PAST_TENSE: Readonly<Record<StartCommand['name'], string>> = {
  issue: 'Issued',
  renew: 'Renewed',
  'renew-all': 'Fleet renewal run finished for',
  revoke: 'Revoked',
};

/** The execution input and name for a command, exactly as the state machines expect them. */
function request(command: StartCommand, now: Date): { input: Record<string, unknown>; name: string } {
  switch (command.name) {
    case 'issue':
      return {
        name: executionName(command.certificateId, 'issue', now),
        input: {
          action: 'issue',
          certificateId: command.certificateId,
          domains: command.domains,
          keyType: command.keyType,
          ...(command.regions ? { regions: command.regions } : {}),
        },
      };
    case 'renew':
      return {
        name: executionName(command.certificateId, 'renew', now),
        input: { action: 'renew', certificateId: command.certificateId, force: command.force },
      };
    case 'revoke':
      return {
        name: executionName(command.certificateId, 'revoke', now),
        input: { action: 'revoke', certificateId: command.certificateId, reason: command.reason },
      };
    case 'renew-all':
      return { name: fleetExecutionName(now), input: {} };
  }
}

function parseOutput(output: string | undefined): IssuanceOutput {
  if (output === undefined) return {};
  try {
    const parsed: unknown = JSON.parse(output);
    return typeof parsed === 'object' && parsed !== null ? (parsed as IssuanceOutput) : {};
  } catch {
    return {};
  }
}

function stringRecord(value: unknown): Record<string, string> | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const entries = Object.entries(value).filter(
    (entry): entry is [string, string] => typeof entry[1] === 'string',
  );
  return Object.fromEntries(entries);
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

/** The Task that failed last: where the execution's error came from. */
function failedStep(steps: readonly StepRecord[]): StepRecord | undefined {
  return [...steps].reverse().find((step) => step.failures.length > 0);
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

/**
 * `issue`, `renew`, `renew --all` and `revoke`: starts an execution named after the certificate,
 * action and time, then (unless `--no-wait`) follows it step by step until it ends. Returns 0 when
 * it succeeded or had nothing to do, 1 when it failed, timed out or was aborted.
 */
export async function runStartCommand(command: StartCommand, context: CommandContext): Promise<number> {
  const { env, options } = context;
  const stack = await context.stack();
  const stateMachineArn = requireOutput(
    stack,
    command.name === 'renew-all' ? 'RenewalsStateMachineArn' : 'StateMachineArn',
  );
  const sfn = env.clients.stepFunctions(context.regionOf(stack));
  const { name, input } = request(command, env.now());
  const certificateId = 'certificateId' in command ? command.certificateId : undefined;

  let started: { executionArn?: string; startDate?: Date };
  try {
    started = await sfn.send(
      new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }),
    );
  } catch (error) {
    if ((error as { name?: unknown } | undefined)?.name === 'ExecutionAlreadyExists') {
      throw new AwsCallError(
        `An execution named ${name} already exists (one was started in the same second). Wait a second and run the command again.`,
        { cause: error },
      );
    }
    throw explainAwsError(error, 'states:StartExecution', stateMachineArn);
  }
  const executionArn = started.executionArn ?? '';
  const base = {
    command: command.name,
    ...(certificateId ? { certificateId } : {}),
    stack: stack.name,
    executionName: name,
    executionArn,
    input,
  };

  if (!command.wait) {
    if (options.json) {
      context.printJson({ ...base, result: 'started', startedAt: started.startDate?.toISOString() });
    } else {
      context.say(`Started ${name}\n  ${executionArn}`);
    }
    return EXIT_OK;
  }

  context.say(`Started ${name}\n  ${executionArn}`);
  const result: FollowResult = await followExecution(sfn, executionArn, {
    sleep: env.sleep,
    pollIntervalMs: env.pollIntervalMs,
    onProgress: (event) => {
      const line = progressLine(event);
      if (line !== undefined) context.say(line);
    },
  });
  const durationMs = (result.stopDate ?? env.now()).getTime() - result.startDate.getTime();
  const output = parseOutput(result.output);
  const common = {
    ...base,
    status: result.status,
    startedAt: result.startDate.toISOString(),
    ...(result.stopDate ? { stoppedAt: result.stopDate.toISOString() } : {}),
    durationMs,
    steps: stepsJson(result.steps),
  };
  const subject = certificateId ?? stack.name;

  if (result.status !== 'SUCCEEDED') {
    const step = failedStep(result.steps);
    const error = result.error ?? result.status;
    const cause = readableCause(result.cause) ?? '';
    if (options.json) {
      context.printJson({
        ...common,
        result: 'failed',
        error: { name: error, cause, ...(step ? { step: step.name } : {}) },
      });
    } else {
      const lines = [`Failed: ${subject} after ${clockDuration(durationMs)} (${result.status})`];
      if (step) lines.push(`  step   ${step.name}`);
      lines.push(`  error  ${error}`);
      if (cause) lines.push(`  cause  ${cause}`);
      if (certificateId) lines.push(`  more   acme-aws history ${certificateId}`);
      context.say(lines.join('\n'));
    }
    return EXIT_EXECUTION_FAILED;
  }

  if (typeof output.skipped === 'string') {
    if (options.json) {
      context.printJson({ ...common, result: 'skipped', skipped: output.skipped });
    } else {
      context.say(`Skipped: ${subject}: ${output.skipped}`);
    }
    return EXIT_OK;
  }

  const certificateArn = typeof output.certificateArn === 'string' ? output.certificateArn : undefined;
  const certificateArns = stringRecord(output.certificateArns);
  const serial = typeof output.certificate?.serial === 'string' ? output.certificate.serial : undefined;
  const notAfter = typeof output.certificate?.notAfter === 'string' ? output.certificate.notAfter : undefined;
  if (options.json) {
    context.printJson({
      ...common,
      result: 'succeeded',
      ...(certificateArn ? { certificateArn } : {}),
      ...(certificateArns ? { certificateArns } : {}),
      ...(serial ? { serial } : {}),
      ...(notAfter ? { notAfter } : {}),
      ...(command.name === 'renew-all' && result.output !== undefined
        ? { output: parseOutput(result.output) }
        : {}),
    });
    return EXIT_OK;
  }
  const lines = [`${PAST_TENSE[command.name]} ${subject} in ${clockDuration(durationMs)}`];
  if (certificateArn) lines.push(`  certificate  ${certificateArn}`);
  const regions = Object.entries(certificateArns ?? {});
  if (regions.length > 1 || (regions.length === 1 && regions[0]?.[1] !== certificateArn)) {
    const width = Math.max(...regions.map(([region]) => region.length), 'certificate'.length);
    for (const [region, arn] of regions) lines.push(`  ${region.padEnd(width)}  ${arn}`);
  }
  if (serial) lines.push(`  serial       ${serial}`);
  if (notAfter)
    lines.push(`  expires      ${utcMinute(notAfter)} (in ${daysUntil(notAfter, env.now())} days)`);
  context.say(lines.join('\n'));
  return EXIT_OK;
}
