import { DynamoDbRegistry } from '../../lambdas/adapters/dynamodb-registry.js';
import type { CertificateRecord } from '../../lambdas/core/ports.js';
import { awsCall } from '../aws-errors.js';
import type { CommandContext } from '../context.js';
import { EXIT_OK } from '../errors.js';
import { daysUntil, oneLine, table, utcMinute } from '../format.js';
import { requireOutput } from '../stack.js';

const PAGE_SIZE = 100;
const DOMAINS_SHOWN = 2;

/** One certificate as `status` reports it. */
export interface CertificateStatus {
  readonly certificateId: string;
  readonly domains: readonly string[];
  readonly status: string | null;
  readonly keyType: string | null;
  readonly regions: readonly string[];
  readonly serial: string | null;
  readonly notAfter: string | null;
  /** Whole days until `notAfter`; negative once expired; null before the first issuance. */
  readonly daysLeft: number | null;
  /** `failed` while the last attempt's error stands, `ok` once issued, `none` before any result. */
  readonly lastResult: 'ok' | 'failed' | 'none';
  readonly lastError: { readonly name: string; readonly message: string; readonly at: string } | null;
  readonly lastAttemptAt: string | null;
  readonly consecutiveFailures: number;
  readonly nextRenewalAt: string | null;
  /** After a failure, no renewal is attempted before this time. */
  readonly nextAttemptAt: string | null;
  /** An execution holds the certificate's lock right now. */
  readonly running: boolean;
  readonly acmArns: Readonly<Record<string, string>>;
  /**
   * Directory URL of the CA that issued the current certificate. Records written before CA
   * fallback do not name it, so it is then the certificate's configured CA; null before the first
   * issuance, or when that CA is the deployment's default, which the registry does not hold.
   */
  readonly issuedBy: string | null;
  /** Directory URLs of the certificate's own CA list, most preferred first; null without one. */
  readonly certificateAuthorities: readonly string[] | null;
}

/** Every certificate record of the registry, accounts excluded, in id order. */
export async function readRegistry(
  registry: DynamoDbRegistry,
  tableName: string,
): Promise<CertificateRecord[]> {
  const records: CertificateRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await awsCall('dynamodb:Scan', `table ${tableName}`, () =>
      registry.list({ limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) }),
    );
    records.push(...page.records);
    cursor = page.cursor;
  } while (cursor);
  return records.sort((a, b) => a.certificateId.localeCompare(b.certificateId));
}

/** The registry record as the CLI reports it: explicit nulls, so JSON consumers see every field. */
export function certificateStatus(record: CertificateRecord, now: Date): CertificateStatus {
  const notAfter = record.issued?.notAfter ?? null;
  const authorities = record.config?.certificateAuthorities;
  return {
    certificateId: record.certificateId,
    domains: record.config?.domains ?? [],
    status: record.status ?? null,
    keyType: record.config?.keyType ?? null,
    regions: record.config?.regions ?? [],
    serial: record.issued?.serial ?? null,
    notAfter,
    daysLeft: notAfter ? daysUntil(notAfter, now) : null,
    lastResult: record.lastError ? 'failed' : record.issued ? 'ok' : 'none',
    lastError: record.lastError ?? null,
    lastAttemptAt: record.lastAttemptAt ?? null,
    consecutiveFailures: record.consecutiveFailures ?? 0,
    nextRenewalAt: record.nextRenewalAt ?? null,
    nextAttemptAt: record.nextAttemptAt ?? null,
    running: record.lock !== undefined && new Date(record.lock.expiresAt).getTime() > now.getTime(),
    acmArns: record.acmArns ?? {},
    issuedBy: issuingDirectoryUrl(record),
    certificateAuthorities:
      authorities && authorities.length > 0 ? authorities.map((authority) => authority.directoryUrl) : null,
  };
}

/**
 * Records issued before CA fallback do not name their CA: the only CA they could have used was the
 * configured one, `directoryUrl`, or the head of the list when only a list is configured.
 */
function issuingDirectoryUrl(record: CertificateRecord): string | null {
  if (!record.issued) return null;
  return (
    record.issued.directoryUrl ??
    record.config?.directoryUrl ??
    record.config?.certificateAuthorities?.[0]?.directoryUrl ??
    null
  );
}

function domainsCell(domains: readonly string[]): string {
  if (domains.length === 0) return '-';
  const shown = domains.slice(0, DOMAINS_SHOWN).join(', ');
  return domains.length > DOMAINS_SHOWN ? `${shown} +${domains.length - DOMAINS_SHOWN} more` : shown;
}

function daysCell(certificate: CertificateStatus): string {
  if (certificate.daysLeft === null) return '-';
  return certificate.daysLeft < 0 ? 'expired' : String(certificate.daysLeft);
}

function lastResultCell(certificate: CertificateStatus): string {
  const running = certificate.running ? ', running now' : '';
  switch (certificate.lastResult) {
    case 'failed': {
      const times =
        certificate.consecutiveFailures > 1 ? ` (${certificate.consecutiveFailures} in a row)` : '';
      return `failed: ${certificate.lastError?.name ?? 'error'}${times}${running}`;
    }
    case 'ok':
      return `ok${running}`;
    default:
      return certificate.running ? 'running now' : 'none yet';
  }
}

/** A directory URL's host (with its port, if any) is enough to tell CAs apart in a table. */
function directoryHost(directoryUrl: string): string {
  try {
    return new URL(directoryUrl).host || directoryUrl;
  } catch {
    return directoryUrl;
  }
}

/**
 * `(fallback)` only when the registry itself names a CA after the first of the certificate's
 * list: a CA inferred for an older record says nothing about a switch.
 */
function issuedByCell(certificate: CertificateStatus, record: CertificateRecord): string {
  if (certificate.issuedBy === null) return record.issued ? 'deployment default' : '-';
  const position = record.issued?.directoryUrl
    ? (certificate.certificateAuthorities?.indexOf(record.issued.directoryUrl) ?? -1)
    : -1;
  return `${directoryHost(certificate.issuedBy)}${position > 0 ? ' (fallback)' : ''}`;
}

function nextRenewalCell(certificate: CertificateStatus): string {
  if (certificate.lastResult === 'failed' && certificate.nextAttemptAt) {
    return `retry after ${utcMinute(certificate.nextAttemptAt)}`;
  }
  return certificate.nextRenewalAt ? utcMinute(certificate.nextRenewalAt) : '-';
}

/**
 * `status`: one line per certificate of the registry with its domains, days left, last result,
 * next renewal and issuing CA, then the message of each standing error. Always exits 0 once the
 * registry could be read.
 */
export async function runStatusCommand(context: CommandContext): Promise<number> {
  const { env, options } = context;
  const stack = await context.stack();
  const tableName = requireOutput(stack, 'RegistryTableName');
  const region = context.regionOf(stack);
  const registry = new DynamoDbRegistry({ client: env.clients.dynamoDb(region), tableName });
  const now = env.now();
  const entries = (await readRegistry(registry, tableName)).map((record) => ({
    record,
    certificate: certificateStatus(record, now),
  }));
  const certificates = entries.map((entry) => entry.certificate);

  if (options.json) {
    context.printJson({ stack: stack.name, region, at: now.toISOString(), certificates });
    return EXIT_OK;
  }
  if (certificates.length === 0) {
    context.say(
      `No certificates in stack ${stack.name} (${region}) yet. Issue one: acme-aws issue <id> --domains example.org`,
    );
    return EXIT_OK;
  }
  const lines = [
    `Stack ${stack.name} (${region}): ${certificates.length} certificate${certificates.length === 1 ? '' : 's'}`,
    '',
    table(
      ['ID', 'DOMAINS', 'DAYS LEFT', 'LAST RESULT', 'NEXT RENEWAL', 'ISSUED BY'],
      entries.map(({ record, certificate }) => [
        certificate.certificateId,
        domainsCell(certificate.domains),
        daysCell(certificate),
        lastResultCell(certificate),
        nextRenewalCell(certificate),
        issuedByCell(certificate, record),
      ]),
    ),
  ];
  const failures = certificates.filter((certificate) => certificate.lastError);
  if (failures.length > 0) {
    lines.push('');
    for (const certificate of failures) {
      const error = certificate.lastError;
      if (!error) continue;
      lines.push(
        `${certificate.certificateId}: ${error.name} at ${utcMinute(error.at)}: ${oneLine(error.message)}`,
      );
    }
  }
  context.say(lines.join('\n'));
  return EXIT_OK;
}
