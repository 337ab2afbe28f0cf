import { DynamoDbRegistry } from '../../lambdas/adapters/dynamodb-registry.js';
import type { AccountRecord } from '../../lambdas/core/ports.js';
import type { AccountAction } from '../../lambdas/core/workflow/input.js';
import type { AccountCommand } from '../args.js';
import { awsCall } from '../aws-errors.js';
import type { CommandContext } from '../context.js';
import { EXIT_OK } from '../errors.js';
import { accountExecutionName } from '../execution-name.js';
import { clockDuration, table, utcMinute } from '../format.js';
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

/** One CA account record as `account` reports it: explicit nulls, so JSON consumers see every field. */
export interface AccountStatus {
  readonly directoryUrl: string;
  readonly accountUrl: string;
  /** A record without a status is from before account actions existed, and valid. */
  readonly status: 'valid' | 'deactivated' | 'rolled-over';
  /** The `mailto:` URIs last sent to the CA; `[]` when removed; null when never recorded. */
  readonly contact: readonly string[] | null;
  /** Thumbprint of the key a `rolled-over` record's account moved to. */
  readonly rolledOverTo: string | null;
  readonly updatedAt: string | null;
  /** RFC 7638 thumbprint of the account key the record belongs to. */
  readonly keyThumbprint: string | null;
}

/** The outcome of an account action: the execution's output (see `manageAccount`). */
interface AccountOutcome {
  readonly accountUrl?: unknown;
  readonly directoryUrl?: unknown;
  readonly status?: unknown;
  readonly keyThumbprint?: unknown;
  readonly contact?: unknown;
  readonly changed?: unknown;
}

const ACTIONS: Readonly<Record<AccountCommand['name'], AccountAction>> = {
  'account-rollover': 'rollover-account-key',
  'account-update': 'update-account',
  'account-deactivate': 'deactivate-account',
};

const STATUS_ORDER: Readonly<Record<AccountStatus['status'], number>> = {
  valid: 0,
  'rolled-over': 1,
  deactivated: 2,
};

function accountStatus(record: AccountRecord & { readonly keyThumbprint?: string }): AccountStatus {
  return {
    directoryUrl: record.directoryUrl,
    accountUrl: record.accountUrl,
    status: record.status ?? 'valid',
    contact: record.contact ?? null,
    rolledOverTo: record.rolledOverTo ?? null,
    updatedAt: record.updatedAt ?? null,
    keyThumbprint: record.keyThumbprint ?? null,
  };
}

/** By CA, then the record in use first, then the most recently changed. */
function compareAccounts(a: AccountStatus, b: AccountStatus): number {
  return (
    a.directoryUrl.localeCompare(b.directoryUrl) ||
    STATUS_ORDER[a.status] - STATUS_ORDER[b.status] ||
    (b.updatedAt ?? '').localeCompare(a.updatedAt ?? '') ||
    a.accountUrl.localeCompare(b.accountUrl)
  );
}

/** `ops@example.org, …` without the `mailto:` the CA needs; `none` once removed. */
function contactCell(contact: readonly string[] | null | undefined): string {
  if (contact === null || contact === undefined) return '-';
  if (contact.length === 0) return 'none';
  return contact.map((uri) => uri.replace(/^mailto:/i, '')).join(', ');
}

/**
 * `account`: the deployment's CA accounts as the registry records them, one line per account key
 * and CA, with status, contact and last change. Always exits 0 once the registry could be read.
 */
export async function runAccountListCommand(context: CommandContext): Promise<number> {
  const { env, options } = context;
  const stack = await context.stack();
  const tableName = requireOutput(stack, 'RegistryTableName');
  const region = context.regionOf(stack);
  const registry = new DynamoDbRegistry({ client: env.clients.dynamoDb(region), tableName });
  const records = await awsCall('dynamodb:Scan', `table ${tableName}`, () => registry.listAccounts());
  const accounts = records.map(accountStatus).sort(compareAccounts);

  if (options.json) {
    context.printJson({ stack: stack.name, region, accounts });
    return EXIT_OK;
  }
  if (accounts.length === 0) {
    context.say(
      `No CA accounts in stack ${stack.name} (${region}) yet: the first issuance registers one (acme-aws issue <id> --domains example.org).`,
    );
    return EXIT_OK;
  }
  context.say(
    [
      `Stack ${stack.name} (${region}): ${accounts.length} CA account${accounts.length === 1 ? '' : 's'}`,
      '',
      table(
        ['DIRECTORY', 'ACCOUNT URL', 'STATUS', 'CONTACT', 'UPDATED'],
        accounts.map((account) => [
          account.directoryUrl,
          account.accountUrl,
          account.status,
          contactCell(account.contact),
          utcMinute(account.updatedAt),
        ]),
      ),
    ].join('\n'),
  );
  return EXIT_OK;
}

function inputOf(command: AccountCommand): Record<string, unknown> {
  const directory = command.directoryUrl ? { directoryUrl: command.directoryUrl } : {};
  switch (command.name) {
    case 'account-rollover':
      return { action: ACTIONS[command.name], ...directory };
    case 'account-update':
      return {
        action: ACTIONS[command.name],
        ...(command.contact ? { contact: command.contact } : {}),
        ...directory,
      };
    case 'account-deactivate':
      return { action: ACTIONS[command.name], accountUrl: command.accountUrl, ...directory };
  }
}

/** The first line of a successful action's summary. */
function headline(command: AccountCommand, outcome: AccountOutcome, took: string): string {
  const directoryUrl = typeof outcome.directoryUrl === 'string' ? outcome.directoryUrl : 'the CA';
  const accountUrl = typeof outcome.accountUrl === 'string' ? outcome.accountUrl : 'the account';
  const changed = outcome.changed !== false;
  switch (command.name) {
    case 'account-rollover':
      return changed
        ? `Rolled the account at ${directoryUrl} over to the current account key in ${took}`
        : `Nothing to do: the account at ${directoryUrl} already uses the current account key`;
    case 'account-update':
      return `Updated the contact of the account at ${directoryUrl} in ${took}`;
    case 'account-deactivate':
      return changed
        ? `Deactivated ${accountUrl} in ${took}`
        : `Nothing to do: ${accountUrl} was already deactivated`;
  }
}

/**
 * `account rollover`, `account update` and `account deactivate`: starts the account action on the
 * issuance state machine, named `account-<action>-<time>`, then (unless `--no-wait`) follows it.
 * Returns 0 when it succeeded or had nothing to do, 1 when it failed, timed out or was aborted.
 */
export async function runAccountActionCommand(
  command: AccountCommand,
  context: CommandContext,
): Promise<number> {
  const { env, options } = context;
  const stack = await context.stack();
  const stateMachineArn = requireOutput(stack, 'StateMachineArn');
  const sfn = env.clients.stepFunctions(context.regionOf(stack));
  const action = ACTIONS[command.name];
  const name = accountExecutionName(action, env.now());
  const input = inputOf(command);

  const started = await startExecution(sfn, stateMachineArn, name, input);
  const base: ExecutionBase = {
    command: command.name,
    stack: stack.name,
    executionName: name,
    executionArn: started.executionArn,
    input,
  };
  if (!command.wait) return reportStarted(context, base, started.startDate);

  const result = await followWithProgress(context, sfn, base);
  const common = { ...base, ...finishedFields(result, env.now()) };
  if (result.status !== 'SUCCEEDED') {
    return reportFailure(context, common, result, action, 'acme-aws account');
  }

  const outcome: AccountOutcome = parseOutput(result.output);
  if (options.json) {
    context.printJson({ ...common, result: 'succeeded', outcome });
    return EXIT_OK;
  }
  const lines = [headline(command, outcome, clockDuration(common.durationMs))];
  if (typeof outcome.accountUrl === 'string') lines.push(`  account  ${outcome.accountUrl}`);
  if (typeof outcome.status === 'string') lines.push(`  status   ${outcome.status}`);
  if (typeof outcome.keyThumbprint === 'string') lines.push(`  key      ${outcome.keyThumbprint}`);
  if (Array.isArray(outcome.contact)) {
    lines.push(`  contact  ${contactCell(outcome.contact.filter((uri) => typeof uri === 'string'))}`);
  }
  if (command.name === 'account-deactivate' && outcome.changed !== false) {
    lines.push(
      'Deactivation is permanent: issuance and renewals stop. To issue again, raise accountKeyGeneration in the stack and deploy; the new key registers a new account.',
    );
  }
  context.say(lines.join('\n'));
  return EXIT_OK;
}
