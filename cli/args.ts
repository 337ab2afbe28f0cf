import { parseArgs } from 'node:util';
import type { RevocationReasonName as RevocationReason } from '../lambdas/core/acme/revocation-reasons.js';
import {
  AccountUrlSchema,
  CertificateIdSchema,
  ContactSchema,
  DEFAULT_KEY_TYPE,
  DirectoryUrlSchema,
  DomainsSchema,
  KEY_TYPES,
  KeyTypeSchema,
  parseWith,
  REVOCATION_REASON_NAMES,
  RegionSchema,
  RegionsSchema,
  RevocationReasonSchema,
} from '../lambdas/core/config/schema.js';
import type { KeyType } from '../lambdas/core/state.js';
import { UsageError } from './errors.js';
import { DEFAULT_STACK_NAME } from './stack.js';

/** Options every command takes. */
export interface GlobalOptions {
  readonly stack: string;
  /** The region of the stack; the SDK's default (AWS_REGION, the profile's) when absent. */
  readonly region?: string;
  readonly json: boolean;
}

/** Certificate key algorithms: the config schema lists them (`KEY_TYPES`). */
export type { KeyType };

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
  | {
      readonly name: 'persist-record';
      readonly certificateId: string;
      /** The CA's directory, for a certificate whose record names none. */
      readonly directoryUrl?: string;
      /** The account to name, where the stack holds several valid ones at the CA. */
      readonly accountUrl?: string;
    }
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

/** One option: how `parseArgs` reads it, and how the usage shows it. */
interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly multiple?: true;
  readonly short?: string;
  /** The placeholder of its value in the usage (`NAME`). */
  readonly value?: string;
  /** Listed under "Options:" with this text; command-specific options appear in the command's line. */
  readonly help?: string;
  /** Taken by every command. */
  readonly global?: true;
}

/** Every option of every command: parsing, the per-command check and the usage all read this table. */
const OPTIONS = {
  stack: {
    type: 'string',
    value: 'NAME',
    help: `the deployed stack (default ${DEFAULT_STACK_NAME})`,
    global: true,
  },
  region: {
    type: 'string',
    value: 'REGION',
    help: "the stack's region (default: AWS_REGION or the profile's region)",
    global: true,
  },
  json: {
    type: 'boolean',
    help: 'print one JSON document on stdout; progress goes to stderr',
    global: true,
  },
  'no-wait': { type: 'boolean', help: 'start the execution and return without following it' },
  directory: {
    type: 'string',
    value: 'URL',
    help: "account actions, persist-record: the CA's ACME directory (default: the stack's CA)",
  },
  help: { type: 'boolean', short: 'h', help: 'show this help', global: true },
  domains: { type: 'string', multiple: true, value: 'NAMES' },
  'key-type': { type: 'string', value: KEY_TYPES.join('|') },
  regions: { type: 'string', multiple: true, value: 'REGIONS' },
  'if-due': { type: 'boolean' },
  all: { type: 'boolean' },
  reason: { type: 'string', value: 'REASON' },
  limit: { type: 'string', value: 'N' },
  contact: { type: 'string', multiple: true, value: 'EMAILS' },
  'no-contact': { type: 'boolean' },
  'account-url': { type: 'string', value: 'URL' },
} as const satisfies Record<string, OptionSpec>;

type OptionName = keyof typeof OPTIONS;

/** What `parseArgs` needs of {@link OPTIONS}. */
const PARSE_OPTIONS = Object.fromEntries(
  Object.entries(OPTIONS).map(([name, spec]: [string, OptionSpec]) => [
    name,
    {
      type: spec.type,
      ...(spec.multiple ? { multiple: true } : {}),
      ...(spec.short ? { short: spec.short } : {}),
    },
  ]),
) as {
  [K in OptionName]: Pick<
    (typeof OPTIONS)[K],
    Extract<keyof (typeof OPTIONS)[K], 'type' | 'multiple' | 'short'>
  >;
};
type ParsedArgs = ReturnType<
  typeof parseArgs<{ options: typeof PARSE_OPTIONS; allowPositionals: true; strict: true }>
>;
type ParsedValues = ParsedArgs['values'];

/** `--name VALUE` or `--name`, as the usage writes an option. */
function option(name: OptionName): string {
  const spec: OptionSpec = OPTIONS[name];
  return spec.value ? `--${name} ${spec.value}` : `--${name}`;
}

/** One command: its options and its lines in the usage (synopsis, what it does). */
interface CommandSpec {
  readonly options: readonly OptionName[];
  readonly usage: readonly (readonly [synopsis: string, help: string])[];
}

/** Every command (account actions as `account <action>`): parsing and the usage both read this table. */
const COMMANDS: Readonly<Record<string, CommandSpec>> = {
  help: { options: [], usage: [] },
  status: {
    options: [],
    usage: [['status', 'certificates: domains, days left, last result, next renewal']],
  },
  issue: {
    options: ['domains', 'key-type', 'regions', 'no-wait'],
    usage: [
      [
        `issue <id> ${option('domains')}\n      [${option('key-type')}] [${option('regions')}]`,
        'issue a certificate (or re-issue with new settings) and follow it',
      ],
    ],
  },
  renew: {
    options: ['if-due', 'all', 'no-wait'],
    usage: [
      [`renew <id> [${option('if-due')}]`, 'renew now (--if-due: only when it is due) and follow it'],
      [`renew ${option('all')}`, 'start the fleet renewal run, which renews what is due'],
    ],
  },
  revoke: {
    options: ['reason', 'no-wait'],
    usage: [[`revoke <id> ${option('reason')}`, 'revoke the current certificate (an RFC 5280 reason name)']],
  },
  history: {
    options: ['limit'],
    usage: [
      [`history <id> [${option('limit')}]`, "the certificate's executions, newest first, with their errors"],
    ],
  },
  'persist-record': {
    options: ['directory', 'account-url'],
    usage: [['persist-record <id>', 'the dns-persist-01 TXT records for DNS the stack cannot write']],
  },
  account: {
    options: [],
    usage: [['account', 'the CA accounts: directory, account URL, status, contact']],
  },
  'account rollover': {
    options: ['directory', 'no-wait'],
    usage: [['account rollover', 'move the CA account to the current account key (keyChange)']],
  },
  'account update': {
    options: ['contact', 'no-contact', 'directory', 'no-wait'],
    usage: [
      [
        `account update ${option('contact')} | ${option('no-contact')}`,
        "set the account's contact emails, or remove them all",
      ],
    ],
  },
  'account deactivate': {
    options: ['account-url', 'directory', 'no-wait'],
    usage: [
      [`account deactivate ${option('account-url')}`, 'deactivate the CA account: permanent, renewals stop'],
    ],
  },
};
const ACCOUNT_SUBCOMMANDS = Object.keys(COMMANDS)
  .filter((name) => name.startsWith('account '))
  .map((name) => name.slice('account '.length));
const TOP_LEVEL_COMMANDS = Object.keys(COMMANDS).filter((name) => !name.includes(' '));

/** Width of the synopsis column; a longer synopsis puts its help on the next line. */
const SYNOPSIS_WIDTH = 30;

/**
 * A command's lines in the usage: the synopsis, padded to `width`, then its help; a longer
 * synopsis takes its own line. Further synopsis lines (after `\n`) follow as they are.
 */
function usageLine(synopsis: string, help: string, width: number): string {
  const [first = '', ...more] = synopsis.split('\n');
  const head =
    first.length < width
      ? [`  ${first.padEnd(width)}${help}`]
      : [`  ${first}`, `  ${' '.repeat(width)}${help}`];
  return [...head, ...more].join('\n');
}

/** The help text, from {@link COMMANDS} and {@link OPTIONS}. */
export const USAGE = [
  'Usage: acme-aws <command> [options]',
  '',
  'Commands:',
  ...Object.values(COMMANDS).flatMap((command) =>
    command.usage.map(([synopsis, help]) => usageLine(synopsis, help, SYNOPSIS_WIDTH)),
  ),
  '',
  'Options:',
  ...(Object.entries(OPTIONS) as [OptionName, OptionSpec][])
    .filter(([, spec]) => spec.help !== undefined)
    .map(([name, spec]) => {
      const flag = `${spec.short ? `-${spec.short}, ` : ''}${option(name)}`;
      return `  ${flag.padEnd(15)}  ${spec.help}`;
    }),
  '',
  'NAMES, REGIONS and EMAILS are comma-separated (or repeat the option). REASON is one of',
  `${REVOCATION_REASON_NAMES.join(', ')}.`,
  "account update without --contact or --no-contact re-sends the stack's contactEmail.",
  'account deactivate asks for the account URL as confirmation: acme-aws account shows it.',
  'persist-record changes nothing; --account-url picks the account where the stack holds several at the CA.',
  '',
  'Exit codes: 0 done (or nothing to do), 1 the execution failed, 2 bad usage,',
  '3 AWS or stack problem (credentials, region, stack not found, output missing; for',
  'persist-record also no such certificate or CA account, or a CA without dns-persist-01).',
].join('\n');

/** A stack name, or a stack id (its ARN), as `DescribeStacks` accepts both. */
const STACK_NAME =
  /^([A-Za-z][A-Za-z0-9-]{0,127}|arn:aws[a-z-]*:cloudformation:[a-z0-9-]+:\d{12}:stack\/[A-Za-z][A-Za-z0-9-]*\/[0-9a-f-]+)$/;
const MAX_HISTORY = 1000;

/** Parses a command-line value with a rule of the config schema; its message names `option`. */
function checked<S extends Parameters<typeof parseWith>[0]>(schema: S, value: unknown, option: string) {
  return parseWith(
    schema,
    value,
    () => option,
    (message) => new UsageError(message),
  );
}

/**
 * The items of a list option: comma-separated, or the option repeated, each trimmed. An option
 * given only empty values is no list (`[]`); an empty item among others is kept, so the schema
 * refuses it as the state machine would.
 */
function list(values: readonly string[] | undefined): string[] {
  const items = (values ?? []).flatMap((value) => value.split(',')).map((value) => value.trim());
  return items.every((item) => item === '') ? [] : items;
}

function certificateIdOf(positionals: readonly string[], command: string): string {
  const [id, ...extra] = positionals;
  if (id === undefined) throw new UsageError(`${command} needs a certificate id: acme-aws ${command} <id>`);
  if (extra.length > 0) throw new UsageError(`Unexpected argument ${JSON.stringify(extra[0])}.`);
  return checked(CertificateIdSchema, id, 'Certificate id');
}

function domainsOf(values: readonly string[] | undefined): string[] {
  const names = list(values);
  if (names.length === 0) {
    throw new UsageError('issue needs --domains, e.g. --domains example.org,*.example.org');
  }
  return checked(DomainsSchema, names, '--domains');
}

function regionsOf(values: readonly string[] | undefined): string[] | undefined {
  if (values === undefined) return undefined;
  const regions = list(values);
  if (regions.length === 0) throw new UsageError('--regions needs at least one region, e.g. us-east-1');
  return checked(RegionsSchema, regions, '--regions');
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

/** A CA directory, checked by the workflow's own rule: an https URL (ACME requires TLS). */
function directoryOf(value: string | undefined): { directoryUrl?: string } {
  if (value === undefined) return {};
  return { directoryUrl: checked(DirectoryUrlSchema, value, '--directory') };
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
  return checked(ContactSchema, contacts, '--contact');
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
    case 'deactivate': {
      const accountUrl = values['account-url'];
      if (accountUrl === undefined) {
        throw new UsageError(
          'account deactivate is permanent: the CA refuses every later request from the account, and renewals stop until a new account key is deployed. To confirm, pass the account URL: acme-aws account deactivate --account-url URL (acme-aws account lists it).',
        );
      }
      return {
        name: 'account-deactivate',
        accountUrl: checked(AccountUrlSchema, accountUrl, '--account-url'),
        ...directory,
        wait,
      };
    }
    default:
      throw unknownAccountCommand(subcommand);
  }
}

function unknownAccountCommand(subcommand: string): UsageError {
  return new UsageError(
    `Unknown account command ${JSON.stringify(subcommand)}: use ${ACCOUNT_SUBCOMMANDS.join(', ')}, or acme-aws account alone to list the accounts.`,
  );
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
    parsed = parseArgs({ args: [...argv], options: PARSE_OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), { cause: error });
  }
  const { values, positionals } = parsed;
  const [name = 'help', ...rest] = positionals;
  if (!TOP_LEVEL_COMMANDS.includes(name)) {
    throw new UsageError(
      `Unknown command ${JSON.stringify(name)}: use one of ${TOP_LEVEL_COMMANDS.filter((command) => command !== 'help').join(', ')}.`,
    );
  }
  // Account actions are sub-commands, each with its own options: `account update --contact …`.
  const subcommand = name === 'account' ? rest[0] : undefined;
  const commandName = subcommand === undefined ? name : `${name} ${subcommand}`;
  const command = COMMANDS[commandName];
  if (!command) throw unknownAccountCommand(subcommand ?? '');
  for (const option of Object.keys(values) as OptionName[]) {
    const spec: OptionSpec = OPTIONS[option];
    if (!spec.global && !command.options.includes(option)) {
      throw new UsageError(`${commandName} does not take --${option}.`);
    }
  }

  const stack = values.stack ?? DEFAULT_STACK_NAME;
  if (!STACK_NAME.test(stack)) {
    throw new UsageError(`${JSON.stringify(stack)} is not a CloudFormation stack name.`);
  }
  const options: GlobalOptions = {
    stack,
    json: values.json === true,
    ...(values.region !== undefined ? { region: checked(RegionSchema, values.region, '--region') } : {}),
  };
  const wait = values['no-wait'] !== true;

  if (values.help === true || name === 'help') return { options, command: { name: 'help' } };

  switch (name) {
    case 'status':
      if (rest.length > 0) throw new UsageError(`Unexpected argument ${JSON.stringify(rest[0])}.`);
      return { options, command: { name: 'status' } };
    case 'issue': {
      const certificateId = certificateIdOf(rest, 'issue');
      const keyType = checked(KeyTypeSchema, values['key-type'] ?? DEFAULT_KEY_TYPE, '--key-type');
      const regions = regionsOf(values.regions);
      return {
        options,
        command: {
          name: 'issue',
          certificateId,
          domains: domainsOf(values.domains),
          keyType,
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
      if (values.reason === undefined) {
        throw new UsageError(
          `revoke needs --reason, one of ${REVOCATION_REASON_NAMES.join(', ')} (RFC 5280).`,
        );
      }
      const reason: RevocationReason = checked(RevocationReasonSchema, values.reason, '--reason');
      return { options, command: { name: 'revoke', certificateId, reason, wait } };
    }
    case 'history':
      return {
        options,
        command: {
          name: 'history',
          certificateId: certificateIdOf(rest, 'history'),
          limit: limitOf(values.limit),
        },
      };
    case 'persist-record': {
      const accountUrl = values['account-url'];
      return {
        options,
        command: {
          name: 'persist-record',
          certificateId: certificateIdOf(rest, 'persist-record'),
          ...directoryOf(values.directory),
          ...(accountUrl !== undefined
            ? { accountUrl: checked(AccountUrlSchema, accountUrl, '--account-url') }
            : {}),
        },
      };
    }
    case 'account':
      return { options, command: accountCommand(subcommand, rest.slice(1), values, wait) };
    default:
      throw new UsageError(`Unknown command ${JSON.stringify(name)}.`);
  }
}
