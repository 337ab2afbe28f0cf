import { parseArgs } from 'node:util';
import { normalizeContacts } from '../lambdas/core/acme/contacts.js';
import {
  isRevocationReason,
  REVOCATION_REASONS,
  type RevocationReasonName as RevocationReason,
} from '../lambdas/core/acme/revocation-reasons.js';
import { InvalidInputError } from '../lambdas/core/errors.js';
import { parseDirectoryUrl, parseDomains } from '../lambdas/core/workflow/input.js';
import { UsageError } from './errors.js';
import { DEFAULT_STACK_NAME } from './stack.js';

/** Options every command takes. */
export interface GlobalOptions {
  readonly stack: string;
  /** The region of the stack; the SDK's default (AWS_REGION, the profile's) when absent. */
  readonly region?: string;
  readonly json: boolean;
}

export type KeyType = 'EC_P256' | 'EC_P384' | 'RSA_2048' | 'RSA_3072' | 'RSA_4096';

/** One parsed command, checked as far as it can be without AWS. */
export type Command =
  | { readonly name: 'help' }
  | { readonly name: 'status' }
  | {
      readonly name: 'issue';
      readonly certificateId: string;
      readonly domains: readonly string[];
      readonly keyType: KeyType;
      readonly regions?: readonly string[];
      readonly wait: boolean;
    }
  | {
      readonly name: 'renew';
      readonly certificateId: string;
      readonly force: boolean;
      readonly wait: boolean;
    }
  | { readonly name: 'renew-all'; readonly wait: boolean }
  | {
      readonly name: 'revoke';
      readonly certificateId: string;
      readonly reason: RevocationReason;
      readonly wait: boolean;
    }
  | { readonly name: 'history'; readonly certificateId: string; readonly limit: number }
  | { readonly name: 'account' }
  | {
      readonly name: 'account-rollover';
      /** The CA's directory; the stack's default CA when absent. */
      readonly directoryUrl?: string;
      readonly wait: boolean;
    }
  | {
      readonly name: 'account-update';
      /** `mailto:` URIs; empty removes every contact; absent re-sends the stack's contactEmail. */
      readonly contact?: readonly string[];
      readonly directoryUrl?: string;
      readonly wait: boolean;
    }
  | {
      readonly name: 'account-deactivate';
      /** The account the operator confirmed; the workflow refuses any other. */
      readonly accountUrl: string;
      readonly directoryUrl?: string;
      readonly wait: boolean;
    };

/** The account actions, as the state machine names them in its input. */
export type AccountCommand = Extract<
  Command,
  { name: 'account-rollover' | 'account-update' | 'account-deactivate' }
>;

export interface Invocation {
  readonly options: GlobalOptions;
  readonly command: Command;
}

export const USAGE = `Usage: acme-aws <command> [options]

Commands:
  status                        certificates: domains, days left, last result, next renewal
  issue <id> --domains NAMES    issue a certificate (or re-issue with new settings) and follow it
      [--key-type EC_P256|EC_P384|RSA_2048|RSA_3072|RSA_4096] [--regions REGIONS]
  renew <id> [--if-due]         renew now (--if-due: only when it is due) and follow it
  renew --all                   start the fleet renewal run, which renews what is due
  revoke <id> --reason REASON   revoke the current certificate (an RFC 5280 reason name)
  history <id> [--limit N]      the certificate's executions, newest first, with their errors
  account                       the CA accounts: directory, account URL, status, contact
  account rollover              move the CA account to the current account key (keyChange)
  account update --contact EMAILS | --no-contact
                                set the account's contact emails, or remove them all
  account deactivate --account-url URL
                                deactivate the CA account: permanent, renewals stop

Options:
  --stack NAME     the deployed stack (default ${DEFAULT_STACK_NAME})
  --region REGION  the stack's region (default: AWS_REGION or the profile's region)
  --json           print one JSON document on stdout; progress goes to stderr
  --no-wait        start the execution and return without following it
  --directory URL  account actions: the CA's ACME directory (default: the stack's CA)
  -h, --help       show this help

NAMES, REGIONS and EMAILS are comma-separated (or repeat the option). REASON is one of
${Object.keys(REVOCATION_REASONS).join(', ')}.
account update without --contact or --no-contact re-sends the stack's contactEmail.
account deactivate asks for the account URL as confirmation: acme-aws account shows it.

Exit codes: 0 done (or nothing to do), 1 the execution failed, 2 bad usage,
3 AWS or stack problem (credentials, region, stack not found, output missing).`;

const OPTIONS = {
  stack: { type: 'string' },
  region: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  domains: { type: 'string', multiple: true },
  'key-type': { type: 'string' },
  regions: { type: 'string', multiple: true },
  'no-wait': { type: 'boolean' },
  'if-due': { type: 'boolean' },
  all: { type: 'boolean' },
  reason: { type: 'string' },
  limit: { type: 'string' },
  contact: { type: 'string', multiple: true },
  'no-contact': { type: 'boolean' },
  directory: { type: 'string' },
  'account-url': { type: 'string' },
} as const;

type OptionName = keyof typeof OPTIONS;
type ParsedArgs = ReturnType<
  typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>
>;
type ParsedValues = ParsedArgs['values'];

const GLOBAL_OPTIONS: readonly OptionName[] = ['stack', 'region', 'json', 'help'];
const COMMAND_OPTIONS: Readonly<Record<string, readonly OptionName[]>> = {
  help: [],
  status: [],
  issue: ['domains', 'key-type', 'regions', 'no-wait'],
  renew: ['if-due', 'all', 'no-wait'],
  revoke: ['reason', 'no-wait'],
  history: ['limit'],
  account: [],
  'account rollover': ['directory', 'no-wait'],
  'account update': ['contact', 'no-contact', 'directory', 'no-wait'],
  'account deactivate': ['account-url', 'directory', 'no-wait'],
};
const ACCOUNT_SUBCOMMANDS = ['rollover', 'update', 'deactivate'] as const;
const HTTP_PROTOCOLS: readonly string[] = ['https:', 'http:'];

/** The same rule as the state machine's input check (`lambdas/core/workflow/input.ts`). */
const CERTIFICATE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
/** A stack name, or a stack id (its ARN), as `DescribeStacks` accepts both. */
const STACK_NAME =
  /^([A-Za-z][A-Za-z0-9-]{0,127}|arn:aws[a-z-]*:cloudformation:[a-z0-9-]+:\d{12}:stack\/[A-Za-z][A-Za-z0-9-]*\/[0-9a-f-]+)$/;
const KEY_TYPES: readonly KeyType[] = ['EC_P256', 'EC_P384', 'RSA_2048', 'RSA_3072', 'RSA_4096'];
const MAX_HISTORY = 1000;

function list(values: readonly string[] | undefined): string[] {
  return (values ?? [])
    .flatMap((value) => value.split(','))
    .map((value) => value.trim())
    .filter((value) => value !== '');
}

function certificateIdOf(positionals: readonly string[], command: string): string {
  const [id, ...extra] = positionals;
  if (id === undefined) throw new UsageError(`${command} needs a certificate id: acme-aws ${command} <id>`);
  if (extra.length > 0) throw new UsageError(`Unexpected argument ${JSON.stringify(extra[0])}.`);
  if (!CERTIFICATE_ID.test(id)) {
    throw new UsageError(
      `Certificate id ${JSON.stringify(id)} is not valid: use 1–64 letters, digits, ".", "_" or "-", starting with a letter or digit.`,
    );
  }
  return id;
}

function domainsOf(values: readonly string[] | undefined): string[] {
  const names = list(values);
  if (names.length === 0) {
    throw new UsageError('issue needs --domains, e.g. --domains example.org,*.example.org');
  }
  // The state machine's own rule (names, and at most MAX_DOMAINS of them), so the CLI refuses
  // what the execution would.
  try {
    return parseDomains(names);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), { cause: error });
  }
}

function regionsOf(values: readonly string[] | undefined): string[] | undefined {
  if (values === undefined) return undefined;
  const regions = [...new Set(list(values))];
  if (regions.length === 0) throw new UsageError('--regions needs at least one region, e.g. us-east-1');
  const invalid = regions.find((region) => !REGION.test(region));
  if (invalid)
    throw new UsageError(`${JSON.stringify(invalid)} is not an AWS region name such as us-east-1.`);
  return regions;
}

function limitOf(value: string | undefined): number {
  if (value === undefined) return 20;
  const limit = Number(value);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_HISTORY) {
    throw new UsageError(
      `--limit must be a whole number from 1 to ${MAX_HISTORY}, got ${JSON.stringify(value)}.`,
    );
  }
  return limit;
}

/** An http(s) URL, as the workflow checks `accountUrl` (`URL.canParse`). */
function urlOf(value: string, option: string): string {
  if (!URL.canParse(value) || !HTTP_PROTOCOLS.includes(new URL(value).protocol)) {
    throw new UsageError(`${option} ${JSON.stringify(value)} is not an http(s) URL.`);
  }
  return value;
}

/** A CA directory, checked by the workflow's own rule: an https URL (ACME requires TLS). */
function directoryOf(value: string | undefined): { directoryUrl?: string } {
  if (value === undefined) return {};
  try {
    return { directoryUrl: parseDirectoryUrl(value, '--directory') };
  } catch (error) {
    if (error instanceof InvalidInputError) throw new UsageError(error.message, { cause: error });
    throw error;
  }
}

/**
 * The contact for `account update`, checked as the workflow checks it (`normalizeContacts`), so a
 * bad address is refused here rather than by a failed execution. `undefined`: re-send the stack's.
 */
function contactOf(values: readonly string[] | undefined, none: boolean): string[] | undefined {
  if (none) {
    if (values !== undefined) throw new UsageError('Give either --contact EMAILS or --no-contact, not both.');
    return [];
  }
  if (values === undefined) return undefined;
  const contacts = list(values);
  if (contacts.length === 0) {
    throw new UsageError(
      '--contact needs at least one email address, e.g. --contact ops@example.org; --no-contact removes every contact.',
    );
  }
  try {
    return normalizeContacts(contacts);
  } catch (error) {
    if (error instanceof InvalidInputError) throw new UsageError(error.message, { cause: error });
    throw error;
  }
}

function accountCommand(
  subcommand: string | undefined,
  extra: readonly string[],
  values: ParsedValues,
  wait: boolean,
): Command {
  if (extra.length > 0) throw new UsageError(`Unexpected argument ${JSON.stringify(extra[0])}.`);
  const directory = directoryOf(values.directory);
  switch (subcommand) {
    case undefined:
      return { name: 'account' };
    case 'rollover':
      return { name: 'account-rollover', ...directory, wait };
    case 'update': {
      const contact = contactOf(values.contact, values['no-contact'] === true);
      return { name: 'account-update', ...(contact ? { contact } : {}), ...directory, wait };
    }
    default: {
      const accountUrl = values['account-url'];
      if (accountUrl === undefined) {
        throw new UsageError(
          'account deactivate is permanent: the CA refuses every later request from the account, and renewals stop until a new account key is deployed. To confirm, pass the account URL: acme-aws account deactivate --account-url URL (acme-aws account lists it).',
        );
      }
      return {
        name: 'account-deactivate',
        accountUrl: urlOf(accountUrl, '--account-url'),
        ...directory,
        wait,
      };
    }
  }
}

/** True when `argv` asks for JSON, read before parsing so even a usage error can be reported as JSON. */
export function wantsJson(argv: readonly string[]): boolean {
  return argv.includes('--json');
}

/**
 * Parses and checks a command line. Everything that can be checked without AWS is: the command,
 * its options, the certificate id, domain names, key type, regions, revocation reason, account
 * contacts and URLs. Any problem is a `UsageError` (exit code 2).
 */
export function parseCommandLine(argv: readonly string[]): Invocation {
  let parsed: ParsedArgs;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), { cause: error });
  }
  const { values, positionals } = parsed;
  const [name = 'help', ...rest] = positionals;
  if (!COMMAND_OPTIONS[name]) throw new UsageError(`Unknown command ${JSON.stringify(name)}.`);
  // Account actions are sub-commands, each with its own options: `account update --contact …`.
  const subcommand = name === 'account' ? rest[0] : undefined;
  const commandName = subcommand === undefined ? name : `${name} ${subcommand}`;
  const allowed = COMMAND_OPTIONS[commandName];
  if (!allowed) {
    throw new UsageError(
      `Unknown account command ${JSON.stringify(subcommand)}: use ${ACCOUNT_SUBCOMMANDS.join(', ')}, or acme-aws account alone to list the accounts.`,
    );
  }
  for (const option of Object.keys(values) as OptionName[]) {
    if (!GLOBAL_OPTIONS.includes(option) && !allowed.includes(option)) {
      throw new UsageError(`${commandName} does not take --${option}.`);
    }
  }

  const stack = values.stack ?? DEFAULT_STACK_NAME;
  if (!STACK_NAME.test(stack)) {
    throw new UsageError(`${JSON.stringify(stack)} is not a CloudFormation stack name.`);
  }
  if (values.region !== undefined && !REGION.test(values.region)) {
    throw new UsageError(
      `--region ${JSON.stringify(values.region)} is not an AWS region name such as us-east-1.`,
    );
  }
  const options: GlobalOptions = {
    stack,
    json: values.json === true,
    ...(values.region !== undefined ? { region: values.region } : {}),
  };
  const wait = values['no-wait'] !== true;

  if (values.help === true || name === 'help') return { options, command: { name: 'help' } };

  switch (name) {
    case 'status':
      if (rest.length > 0) throw new UsageError(`Unexpected argument ${JSON.stringify(rest[0])}.`);
      return { options, command: { name: 'status' } };
    case 'issue': {
      const certificateId = certificateIdOf(rest, 'issue');
      const keyType = values['key-type'] ?? 'EC_P256';
      if (!KEY_TYPES.includes(keyType as KeyType)) {
        throw new UsageError(
          `--key-type must be one of ${KEY_TYPES.join(', ')}, got ${JSON.stringify(keyType)}.`,
        );
      }
      const regions = regionsOf(values.regions);
      return {
        options,
        command: {
          name: 'issue',
          certificateId,
          domains: domainsOf(values.domains),
          keyType: keyType as KeyType,
          ...(regions ? { regions } : {}),
          wait,
        },
      };
    }
    case 'renew':
      if (values.all === true) {
        if (rest.length > 0) throw new UsageError('renew --all takes no certificate id.');
        if (values['if-due'] === true)
          throw new UsageError('renew --all only renews what is due; drop --if-due.');
        return { options, command: { name: 'renew-all', wait } };
      }
      return {
        options,
        command: {
          name: 'renew',
          certificateId: certificateIdOf(rest, 'renew'),
          force: values['if-due'] !== true,
          wait,
        },
      };
    case 'revoke': {
      const certificateId = certificateIdOf(rest, 'revoke');
      const reason = values.reason;
      if (reason === undefined) {
        throw new UsageError(
          `revoke needs --reason, one of ${Object.keys(REVOCATION_REASONS).join(', ')} (RFC 5280).`,
        );
      }
      if (!isRevocationReason(reason)) {
        throw new UsageError(
          `--reason ${JSON.stringify(reason)} is not an RFC 5280 reason: use one of ${Object.keys(REVOCATION_REASONS).join(', ')}.`,
        );
      }
      return { options, command: { name: 'revoke', certificateId, reason, wait } };
    }
    case 'account':
      return { options, command: accountCommand(subcommand, rest.slice(1), values, wait) };
    default:
      return {
        options,
        command: {
          name: 'history',
          certificateId: certificateIdOf(rest, 'history'),
          limit: limitOf(values.limit),
        },
      };
  }
}
