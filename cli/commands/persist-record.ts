import { DynamoDbRegistry } from '../../lambdas/adapters/dynamodb-registry.js';
import {
  accountPersistValue,
  DNS_PERSIST_01,
  DNS_PERSIST_DRAFT,
  readIssuerDomainNames,
  validationDomainName,
} from '../../lambdas/core/acme/dns-persist.js';
import type { AcmeDirectory } from '../../lambdas/core/acme/types.js';
import { txtZoneFileLine } from '../../lambdas/core/dns/zone-file.js';
import type { AccountRecord, CertificateRecord } from '../../lambdas/core/ports.js';
import type { Command } from '../args.js';
import { awsCall } from '../aws-errors.js';
import type { CommandContext } from '../context.js';
import { CliError, EXIT_AWS, EXIT_OK } from '../errors.js';
import { requireOutput } from '../stack.js';

export type PersistRecordCommand = Extract<Command, { name: 'persist-record' }>;

/** One record an operator creates, as `--json` prints it. */
export interface PersistRecordEntry {
  /** The Validation Domain Name: lower-case, without the trailing dot. */
  readonly name: string;
  readonly type: 'TXT';
  /** The TXT value as one string; a zone file may need it split (see {@link zoneFileLine}). */
  readonly value: string;
}

/**
 * The records cannot be worked out yet: the certificate, the CA account or the CA's
 * dns-persist-01 metadata is missing. The deployment (or its CA) lacks what the command needs, so
 * it is exit 3, as for a stack without an output.
 */
export class PersistRecordUnavailableError extends CliError {
  readonly exitCode = EXIT_AWS;
}

type AccountWithKey = AccountRecord & { readonly keyThumbprint?: string };

/** What the draft's directory metadata (§3.2) gives a client that writes records before any order. */
interface PersistMetadata {
  readonly issuerDomainName: string;
  readonly accountHashPrefix: string;
}

const DIRECTORY_TIMEOUT_MS = 10_000;

/** The certificate's record, or a message that says how a certificate gets one. */
async function certificateRecord(
  registry: DynamoDbRegistry,
  tableName: string,
  certificateId: string,
  where: string,
): Promise<CertificateRecord & { readonly config: NonNullable<CertificateRecord['config']> }> {
  const record = await awsCall('dynamodb:GetItem', `table ${tableName}`, () => registry.get(certificateId));
  if (!record) {
    throw new PersistRecordUnavailableError(
      `No certificate ${certificateId} in ${where}: acme-aws status lists them. Declare it in the construct and deploy, or issue it (acme-aws issue ${certificateId} --domains example.org).`,
    );
  }
  const config = record.config;
  if (!config || !Array.isArray(config.domains) || config.domains.length === 0) {
    throw new PersistRecordUnavailableError(
      `Certificate ${certificateId} in ${where} has no configured domains: issue it with its names (acme-aws issue ${certificateId} --domains example.org), then retry.`,
    );
  }
  return { ...record, config };
}

/** How the CA was chosen, for the operator to check. */
type DirectorySource = 'certificate' | 'option' | 'only-account';

/**
 * The CA the certificate is issued from: its own `directoryUrl`; else `--directory`; else, since
 * the stack's default CA is in its Lambda configuration and no output, the one CA where the
 * stack holds a valid account, which the default CA is once anything has been issued.
 */
function chooseDirectory(
  certificateId: string,
  configured: string | undefined,
  requested: string | undefined,
  accounts: readonly AccountWithKey[],
  where: string,
): { readonly directoryUrl: string; readonly source: DirectorySource } {
  if (configured !== undefined) {
    if (requested !== undefined && requested !== configured) {
      throw new PersistRecordUnavailableError(
        `Certificate ${certificateId} is issued from ${configured}, as its configuration says, not from ${requested}: drop --directory.`,
      );
    }
    return { directoryUrl: configured, source: 'certificate' };
  }
  if (requested !== undefined) return { directoryUrl: requested, source: 'option' };
  const directories = [...new Set(accounts.filter(isValid).map((account) => account.directoryUrl))].sort();
  const [only, ...others] = directories;
  if (only === undefined) throw noAccountError(certificateId, undefined, accounts, where);
  if (others.length > 0) {
    throw new PersistRecordUnavailableError(
      `Certificate ${certificateId} names no CA, so it uses the stack's default, and ${where} holds valid accounts at ${directories.length} CAs (${directories.join(', ')}): pass the stack's CA with --directory URL.`,
    );
  }
  return { directoryUrl: only, source: 'only-account' };
}

function isValid(account: AccountWithKey): boolean {
  return (account.status ?? 'valid') === 'valid';
}

function noAccountError(
  certificateId: string,
  directoryUrl: string | undefined,
  accounts: readonly AccountWithKey[],
  where: string,
): PersistRecordUnavailableError {
  const at = directoryUrl === undefined ? '' : ` at ${directoryUrl}`;
  const unusable = accounts
    .filter((account) => directoryUrl === undefined || account.directoryUrl === directoryUrl)
    .map((account) => `${account.accountUrl} is ${account.status ?? 'valid'}`);
  const seen = unusable.length > 0 ? ` (${unusable.join('; ')})` : '';
  return new PersistRecordUnavailableError(
    `No valid CA account${at} in ${where} yet${seen}, and the record names the account. The first issuance registers one: acme-aws renew ${certificateId}, or acme-aws issue ${certificateId} --domains …; acme-aws account lists the accounts.`,
  );
}

/** The valid account at the CA, which the record's hashed URI names (§4.1 item 3). */
function chooseAccount(
  certificateId: string,
  directoryUrl: string,
  requestedUrl: string | undefined,
  accounts: readonly AccountWithKey[],
  where: string,
): AccountWithKey & { readonly keyThumbprint: string } {
  const atCa = accounts.filter((account) => account.directoryUrl === directoryUrl);
  const valid = atCa.filter(isValid);
  const candidates =
    requestedUrl === undefined ? valid : valid.filter((account) => account.accountUrl === requestedUrl);
  const [account, ...others] = candidates;
  if (account === undefined) {
    if (requestedUrl !== undefined && valid.length > 0) {
      throw new PersistRecordUnavailableError(
        `${requestedUrl} is not a valid account of ${where} at ${directoryUrl}: acme-aws account lists them.`,
      );
    }
    throw noAccountError(certificateId, directoryUrl, atCa, where);
  }
  if (others.length > 0) {
    throw new PersistRecordUnavailableError(
      `${where} holds ${candidates.length} valid accounts at ${directoryUrl} (${candidates
        .map((candidate) => candidate.accountUrl)
        .join(
          ', ',
        )}): pass the one the current account key holds with --account-url URL (acme-aws account shows them).`,
    );
  }
  if (account.keyThumbprint === undefined) {
    throw new PersistRecordUnavailableError(
      `The registry's record of ${account.accountUrl} at ${directoryUrl} was written by an older version and lacks the account key's thumbprint, which the record value hashes. Run acme-aws account update --directory ${directoryUrl} (it re-sends the stack's contactEmail and records the thumbprint), then retry.`,
    );
  }
  return { ...account, keyThumbprint: account.keyThumbprint };
}

/** The draft's directory metadata, or why the directory lacks it. */
function persistMetadata(directory: AcmeDirectory): PersistMetadata | { readonly missing: string } {
  const issuers = readIssuerDomainNames(directory.meta?.issuerDomainNames);
  const accountHashPrefix = directory.meta?.accountHashPrefix;
  const missing = [
    ...('reason' in issuers ? [`meta.issuerDomainNames (${issuers.reason})`] : []),
    ...(typeof accountHashPrefix === 'string' && accountHashPrefix.length > 0
      ? []
      : ['meta.accountHashPrefix']),
  ];
  const [issuerDomainName] = 'reason' in issuers ? [] : issuers;
  if (missing.length > 0 || issuerDomainName === undefined || typeof accountHashPrefix !== 'string') {
    return { missing: missing.join(' and ') };
  }
  return { issuerDomainName, accountHashPrefix };
}

/** The kept directory, when it is readable; its age does not matter, only what `meta` says. */
async function keptDirectory(
  registry: DynamoDbRegistry,
  tableName: string,
  directoryUrl: string,
): Promise<AcmeDirectory | undefined> {
  const kept = await awsCall('dynamodb:GetItem', `table ${tableName}`, () =>
    registry.getDirectory(directoryUrl),
  );
  if (!kept) return undefined;
  try {
    return asDirectory(JSON.parse(kept.body), directoryUrl);
  } catch {
    // Only a cache: an unreadable copy is as good as none, and the CA is asked instead.
    return undefined;
  }
}

async function fetchDirectory(directoryUrl: string): Promise<AcmeDirectory> {
  const unreachable = (why: string, cause?: unknown) =>
    new PersistRecordUnavailableError(`Could not read the CA's directory ${directoryUrl}: ${why}.`, {
      cause,
    });
  let response: Response;
  try {
    response = await fetch(directoryUrl, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(DIRECTORY_TIMEOUT_MS),
    });
  } catch (error) {
    throw unreachable(error instanceof Error ? error.message : String(error), error);
  }
  if (!response.ok) throw unreachable(`HTTP ${response.status}`);
  let body: unknown;
  try {
    body = await response.json();
  } catch (error) {
    throw unreachable('the answer is not JSON', error);
  }
  try {
    return asDirectory(body, directoryUrl);
  } catch (error) {
    throw unreachable(error instanceof Error ? error.message : String(error), error);
  }
}

/**
 * The CA's dns-persist-01 metadata: from the directory the registry keeps, or, when none is kept
 * or the kept one lacks it (it may predate the CA's support), from the CA itself.
 */
async function caMetadata(
  registry: DynamoDbRegistry,
  tableName: string,
  directoryUrl: string,
): Promise<PersistMetadata> {
  const kept = await keptDirectory(registry, tableName, directoryUrl);
  const fromKept = kept ? persistMetadata(kept) : undefined;
  if (fromKept && !('missing' in fromKept)) return fromKept;
  const fetched = persistMetadata(await fetchDirectory(directoryUrl));
  if ('missing' in fetched) {
    throw new PersistRecordUnavailableError(
      `The CA at ${directoryUrl} does not offer ${DNS_PERSIST_01} at directory level: its directory lacks ${fetched.missing} (${DNS_PERSIST_DRAFT} §3.2), so no record can be written before an order. The workflow falls back to dns-01 there, which needs DNS the stack can write.`,
    );
  }
  return fetched;
}

/**
 * One record per Validation Domain Name, in the order of the certificate's names: a base name and
 * its wildcard share `_validation-persist.<base>`, whose value then carries `policy=wildcard`
 * (§5.1), exactly as the workflow writes it (`choosePersistChallenge`).
 */
function persistRecords(
  domains: readonly string[],
  metadata: PersistMetadata,
  account: { readonly accountUrl: string; readonly keyThumbprint: string },
): PersistRecordEntry[] {
  const records = new Map<string, PersistRecordEntry>();
  for (const domain of domains) {
    const name = validationDomainName(domain);
    if (records.has(name)) continue;
    const value = accountPersistValue(domain, {
      issuerDomainName: metadata.issuerDomainName,
      accountHashPrefix: metadata.accountHashPrefix,
      accountUrl: account.accountUrl,
      accountKeyThumbprint: account.keyThumbprint,
      domains,
    });
    records.set(name, { name, type: 'TXT', value });
  }
  return [...records.values()];
}

/**
 * The record in zone-file form (RFC 1035 §5.1): an absolute name, and the value as quoted
 * character-strings of at most 255 octets each, with `"` and `\` escaped.
 */
export function zoneFileLine(record: PersistRecordEntry): string {
  return txtZoneFileLine(record.name, record.value);
}

/**
 * `persist-record <id>`: the dns-persist-01 records (draft-ietf-acme-dns-persist-02) an operator
 * creates for a certificate whose DNS the stack cannot write. Reads the certificate, the CA
 * account and the CA's directory; changes nothing. Exits 0 with the records, or 3 when one of
 * them is missing.
 */
export async function runPersistRecordCommand(
  command: PersistRecordCommand,
  context: CommandContext,
): Promise<number> {
  const { env, options } = context;
  const stack = await context.stack();
  const tableName = requireOutput(stack, 'RegistryTableName');
  const region = context.regionOf(stack);
  const where = `stack ${stack.name} (${region})`;
  const registry = new DynamoDbRegistry({ client: env.clients.dynamoDb(region), tableName });

  const record = await certificateRecord(registry, tableName, command.certificateId, where);
  const accounts = await awsCall('dynamodb:Scan', `table ${tableName}`, () => registry.listAccounts());
  const { directoryUrl, source } = chooseDirectory(
    command.certificateId,
    record.config.directoryUrl,
    command.directoryUrl,
    accounts,
    where,
  );
  const account = chooseAccount(command.certificateId, directoryUrl, command.accountUrl, accounts, where);
  const metadata = await caMetadata(registry, tableName, directoryUrl);
  let records: PersistRecordEntry[];
  try {
    records = persistRecords(record.config.domains, metadata, account);
  } catch (error) {
    // The core refuses a name, thumbprint or prefix the record grammar cannot carry.
    throw new PersistRecordUnavailableError(
      `No dns-persist-01 record can be written for ${command.certificateId}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }

  const notes: string[] = [];
  if (record.config.challenge !== DNS_PERSIST_01) {
    notes.push(
      `Certificate ${command.certificateId} is validated with dns-01: the workflow uses these records once the construct declares it with challenge 'dns-persist-01'.`,
    );
  }
  if (options.json) {
    for (const note of notes) env.stderr(`${note}\n`);
    context.printJson({
      stack: stack.name,
      certificateId: command.certificateId,
      directoryUrl,
      accountUrl: account.accountUrl,
      records,
    });
    return EXIT_OK;
  }
  const caLine =
    source === 'only-account'
      ? `  CA       ${directoryUrl} (the certificate names none; the only CA the stack holds an account at)`
      : `  CA       ${directoryUrl}`;
  context.say(
    [
      `Certificate ${command.certificateId} in ${where}: the ${DNS_PERSIST_01} record${records.length === 1 ? '' : 's'} to create at your DNS provider`,
      caLine,
      `  account  ${account.accountUrl}`,
      '',
      ...records.map(zoneFileLine),
      '',
      'Keep them for as long as the certificate is renewed: the CA looks them up at every issuance.',
      'They name the account and its key: after acme-aws account rollover or a new accountKeyGeneration, run this again and replace them.',
      ...notes,
    ].join('\n'),
  );
  return EXIT_OK;
}

/**
 * The directory as far as this command reads it (its `meta`), without the ACME client, whose
 * dependencies the package leaves to the Lambda bundles.
 */
function asDirectory(body: unknown, url: string): AcmeDirectory {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new Error(`The directory from ${url} is not a JSON object.`);
  }
  return body as AcmeDirectory;
}
