import type { Command } from '../args.js';
import type { CommandContext } from '../context.js';
import { EXIT_OK } from '../errors.js';
import { executionName, fleetExecutionName } from '../execution-name.js';
import { clockDuration, daysUntil, utcMinute } from '../format.js';
import {
  type ExecutionBase,
  finishedFields,
  followWithProgress,
  parseOutput,
  reportFailure,
  reportStarted,
  startExecution,
} from '../run-execution.js';
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

function stringRecord(value: unknown): Record<string, string> | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const entries = Object.entries(value).filter(
    (entry): entry is [string, string] => typeof entry[1] === 'string',
  );
  return Object.fromEntries(entries);
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

  const started = await startExecution(sfn, stateMachineArn, name, input);
  const base: ExecutionBase = {
    command: command.name,
    ...(certificateId ? { certificateId } : {}),
    stack: stack.name,
    executionName: name,
    executionArn: started.executionArn,
    input,
  };
  if (!command.wait) return reportStarted(context, base, started.startDate);

  const result = await followWithProgress(context, sfn, base);
  const common = { ...base, ...finishedFields(result, env.now()) };
  const subject = certificateId ?? stack.name;

  if (result.status !== 'SUCCEEDED') {
    return reportFailure(
      context,
      common,
      result,
      subject,
      certificateId ? `acme-aws history ${certificateId}` : undefined,
    );
  }

  const output = parseOutput(result.output) as IssuanceOutput;
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
  const lines = [`${PAST_TENSE[command.name]} ${subject} in ${clockDuration(common.durationMs)}`];
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
