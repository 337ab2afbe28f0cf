import { normalizeContacts } from '../acme/contacts.js';
import { REVOCATION_REASONS } from '../acme/revocation-reasons.js';
import { type AccountAction, AccountInputSchema, IssuanceInputSchema } from '../config/execution-input.js';
import { DirectoryUrlSchema } from '../config/fields.js';
import { parseWith, pathLabel } from '../config/messages.js';
import { DomainsSchema } from '../config/names.js';
import { InvalidInputError } from '../errors.js';
import type { CertificateConfig } from '../ports.js';
import type { IssuanceAction } from '../state.js';
import type { WorkflowConfig } from './workflow-config.js';

/*
 * The state machine's side of the config schema (`lambdas/core/config`): the rules live there,
 * shared with synth and the CLI; this module turns a checked input into what the steps use and
 * keeps throwing `InvalidInputError`, the name the state machine matches.
 */

export {
  MAX_ARN_LENGTH,
  MAX_DOMAINS,
  MAX_PREFERRED_CHAIN_LENGTH,
  MAX_PROFILE_LENGTH,
  MAX_REGIONS,
  MAX_URL_LENGTH,
  MAX_ZONE_ENTRIES,
} from '../config/bounds.js';
export { ACCOUNT_ACTIONS, type AccountAction } from '../config/execution-input.js';

/** Names an input's fields as JSON paths: `domains[2]`, `hostedZoneIds["example.org"]`. */
const INPUT_FIELD = pathLabel();
const invalidInput = (message: string) => new InvalidInputError(message);

/** A checked execution input: what to do, to which certificate, and (for `issue`) its configuration. */
export interface IssuanceRequest {
  readonly action: IssuanceAction;
  readonly certificateId: string;
  /** Renew even when the certificate is not due. Always true for `issue`. */
  readonly force: boolean;
  /** The declared configuration, for `issue`; `renew` and `revoke` read it from the registry. */
  readonly config?: CertificateConfig;
  /** For `revoke`: the RFC 5280 reason code (`unspecified`, 0, unless named). */
  readonly revokeReason?: number;
  readonly execution?: { readonly id: string; readonly startedAt?: string };
  /** The position in the certificate's CA list to start at (set when the run moves to the next CA). */
  readonly caIndex?: number;
}

/**
 * Checks an execution input before any ACME or AWS call. Every refusal names the field, what is
 * wrong and what to do. Without `action`, an input with `domains` is an `issue` and one without is
 * a `renew`, so `{"certificateId":"web","domains":[...]}` keeps working.
 */
export function parseIssuanceRequest(raw: unknown, config: WorkflowConfig): IssuanceRequest {
  const input = parseWith(IssuanceInputSchema, raw, INPUT_FIELD, invalidInput);
  const execution = input.execution ? { execution: input.execution } : {};
  switch (input.action) {
    case 'revoke':
      return {
        action: input.action,
        certificateId: input.certificateId,
        force: true,
        revokeReason: REVOCATION_REASONS[input.reason ?? 'unspecified'],
        ...execution,
      };
    case 'renew':
      return {
        action: input.action,
        certificateId: input.certificateId,
        force: input.force === true,
        ...execution,
        ...(input.caIndex !== undefined ? { caIndex: input.caIndex } : {}),
      };
    case 'issue': {
      const { domains, keyType, hostedZoneIds, zoneRoles, regions, directoryUrl, profile } = input;
      const { preferredChain, kmsKeyArn, challenge, externalDns, certificateAuthorities, pinCaa } = input;
      return {
        action: input.action,
        certificateId: input.certificateId ?? certificateIdFor(domains),
        force: true,
        config: {
          domains,
          keyType,
          regions: regions ?? [config.defaultRegion],
          ...(hostedZoneIds ? { hostedZoneIds } : {}),
          ...(zoneRoles ? { zoneRoles } : {}),
          ...(directoryUrl ? { directoryUrl } : {}),
          ...(profile ? { profile } : {}),
          ...(preferredChain ? { preferredChain } : {}),
          ...(challenge ? { challenge } : {}),
          ...(externalDns ? { externalDns } : {}),
          ...(certificateAuthorities ? { certificateAuthorities } : {}),
          ...(pinCaa ? { pinCaa } : {}),
          ...(kmsKeyArn ? { kmsKeyArn } : {}),
        },
        ...execution,
        ...(input.caIndex !== undefined ? { caIndex: input.caIndex } : {}),
      };
    }
  }
}

/**
 * The names of one certificate, as the state machine and the CLI both check them: normalized
 * (lower case, punycode, no trailing dot), duplicates dropped, and at most {@link MAX_DOMAINS}.
 */
export function parseDomains(values: readonly string[]): string[] {
  return parseWith(DomainsSchema, values, () => 'domains', invalidInput);
}

/**
 * An ACME directory URL: HTTPS (RFC 8555 §6.1 requires TLS), at most {@link MAX_URL_LENGTH}
 * characters. `field` names it in the message (`directoryUrl`, or the CLI's `--directory`).
 */
export function parseDirectoryUrl(value: unknown, field: string): string {
  return parseWith(DirectoryUrlSchema, value, () => field, invalidInput);
}

/** A readable, stable id for an `issue` without one: `*.example.org` becomes `wildcard.example.org`. */
function certificateIdFor(domains: readonly string[]): string {
  const first = domains[0] ?? 'certificate';
  return first
    .replace(/^\*\./, 'wildcard.')
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .slice(0, 64);
}

/** A checked account action: what to do to the account this deployment holds at one CA. */
export interface AccountRequest {
  readonly action: AccountAction;
  readonly directoryUrl: string;
  /** For `update-account`: the new contact URIs (`mailto:`); empty removes every contact. */
  readonly contact?: readonly string[];
  /** For `deactivate-account`: the account URL the operator confirmed. */
  readonly accountUrl?: string;
  readonly execution?: { readonly id: string; readonly startedAt?: string };
}

/**
 * Checks the input of an account action before any ACME or AWS call. `directoryUrl` picks the
 * CA (the deployment's default otherwise). `update-account` takes `contact` (emails or `mailto:`
 * URIs; `[]` removes them), and without it re-sends the deployment's `contactEmail`.
 * `deactivate-account` is permanent, so it must name the account it deactivates in `accountUrl`.
 */
export function parseAccountRequest(raw: unknown, config: WorkflowConfig): AccountRequest {
  const input = parseWith(AccountInputSchema, raw, INPUT_FIELD, invalidInput);
  const base = {
    action: input.action,
    directoryUrl: input.directoryUrl ?? config.defaultDirectoryUrl,
    ...(input.execution ? { execution: input.execution } : {}),
  };
  switch (input.action) {
    case 'update-account':
      return {
        ...base,
        contact: input.contact ?? normalizeContacts(config.contactEmail ? [config.contactEmail] : []),
      };
    case 'deactivate-account':
      return { ...base, accountUrl: input.accountUrl };
    case 'rollover-account-key':
      return base;
  }
}
