import { normalizeIdentifiers } from '../dns/identifiers.js';
import { InvalidInputError } from '../errors.js';
import type { IssuanceState, KeyType } from '../state.js';
import type { WorkflowConfig } from './deps.js';

const KEY_TYPES: readonly KeyType[] = ['EC_P256', 'RSA_2048'];
const CERTIFICATE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Checks an execution input before any ACME or AWS call and turns it into the initial state.
 * Every refusal names the field, what is wrong and what to do.
 */
export function parseIssuanceInput(raw: unknown, config: WorkflowConfig): IssuanceState {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidInputError(
      'The execution input must be a JSON object such as {"certificateId":"web","domains":["example.org","*.example.org"]}.',
    );
  }
  const input = raw as Record<string, unknown>;
  const certificateId = input.certificateId;
  if (typeof certificateId !== 'string' || !CERTIFICATE_ID.test(certificateId)) {
    throw new InvalidInputError(
      `certificateId ${JSON.stringify(certificateId)} is invalid: use 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit.`,
    );
  }
  if (!Array.isArray(input.domains) || input.domains.some((domain) => typeof domain !== 'string')) {
    throw new InvalidInputError('domains must be a list of DNS names, e.g. ["example.org","*.example.org"].');
  }
  const domains = normalizeIdentifiers(input.domains as string[]);
  if (domains.length > 100) {
    throw new InvalidInputError(
      `domains has ${domains.length} names; ACME CAs accept at most 100 per certificate.`,
    );
  }
  const keyType = input.keyType ?? 'EC_P256';
  if (!KEY_TYPES.includes(keyType as KeyType)) {
    throw new InvalidInputError(
      `keyType ${JSON.stringify(keyType)} is not supported: use one of ${KEY_TYPES.join(', ')}.`,
    );
  }
  const hostedZoneIds = parseZoneOverrides(input.hostedZoneIds);
  const directoryUrl = input.directoryUrl ?? config.defaultDirectoryUrl;
  if (typeof directoryUrl !== 'string' || directoryUrl === '') {
    throw new InvalidInputError('directoryUrl must be the URL of an ACME directory.');
  }
  const execution = input.execution as { id?: unknown } | undefined;
  return {
    certificateId,
    domains,
    ...(typeof execution?.id === 'string' ? { execution: { id: execution.id } } : {}),
    keyType: keyType as KeyType,
    ...(hostedZoneIds ? { hostedZoneIds } : {}),
    directoryUrl,
    retryAfterSeconds: 0,
    polls: 0,
  };
}

function parseZoneOverrides(value: unknown): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidInputError(
      'hostedZoneIds must map a domain to a Route 53 hosted zone id, e.g. {"example.org":"Z123"}.',
    );
  }
  const overrides: Record<string, string> = {};
  for (const [domain, zoneId] of Object.entries(value)) {
    if (typeof zoneId !== 'string' || zoneId === '') {
      throw new InvalidInputError(
        `hostedZoneIds["${domain}"] must be a hosted zone id such as "Z0123456789ABC".`,
      );
    }
    overrides[domain.toLowerCase().replace(/\.$/, '')] = zoneId.replace(/^\/?hostedzone\//, '');
  }
  return overrides;
}
