import * as v from 'valibot';
import type { IssuanceAction } from '../state.js';
import { MAX_CERTIFICATE_AUTHORITIES } from './bounds.js';
import {
  CERTIFICATE_CONFIG_ENTRIES,
  EXTERNAL_DNS_MESSAGE,
  externalDnsWithPersist,
  kmsKeyRegionsMessage,
  kmsKeyWithoutRegions,
  PIN_CAA_MESSAGE,
  pinCaaAllowed,
} from './certificate.js';
import {
  AccountUrlSchema,
  CERTIFICATE_ID_RULE,
  CertificateIdSchema,
  ContactSchema,
  DirectoryUrlSchema,
  ExecutionSchema,
  ForceSchema,
  KmsKeyArnSchema,
  RevocationReasonSchema,
} from './fields.js';
import { FIELD, message, shown } from './messages.js';

/*
 * The input of an execution, as the console, the CLI and the renewal planner start one: a union
 * keyed on `action`. `issue`, `renew` and `revoke` act on one certificate (RegisterAccount runs
 * them); `rollover-account-key`, `update-account` and `deactivate-account` act on the CA account
 * (ManageAccount runs them).
 */

/** Actions on the CA account itself rather than on one certificate; ManageAccount runs them. */
export const ACCOUNT_ACTIONS = ['rollover-account-key', 'update-account', 'deactivate-account'] as const;
export type AccountAction = (typeof ACCOUNT_ACTIONS)[number];

/** Actions on one certificate; RegisterAccount runs them (see `IssuanceAction`). */
export const ISSUANCE_ACTIONS = ['issue', 'renew', 'revoke'] as const satisfies readonly IssuanceAction[];

/** The fields that make up a certificate's configuration: `issue` sets them, `renew` reads them. */
export const CONFIGURATION_FIELDS = [
  'domains',
  'keyType',
  'hostedZoneIds',
  'zoneRoles',
  'regions',
  'directoryUrl',
  'profile',
  'preferredChain',
  'challenge',
  'externalDns',
  'certificateAuthorities',
  'pinCaa',
  'kmsKeyArn',
] as const;
const KNOWN_FIELDS: readonly string[] = [
  'action',
  'caIndex',
  'certificateId',
  'force',
  'reason',
  'execution',
  ...CONFIGURATION_FIELDS,
];

const EXAMPLES =
  'Examples: {"action":"issue","certificateId":"web","domains":["example.org","*.example.org"]} or {"action":"renew","certificateId":"web","force":true} or {"action":"revoke","certificateId":"web","reason":"keyCompromise"}.';
const ACCOUNT_EXAMPLES =
  'Examples: {"action":"rollover-account-key"}, {"action":"update-account","contact":["ops@example.org"]} or {"action":"deactivate-account","accountUrl":"https://ca.example/acme/acct/123"}.';

/** `"a", "b" or "c"`, for messages that list the choices. */
function either(names: readonly string[]): string {
  const quoted = names.map((name) => `"${name}"`);
  return quoted.length > 1 ? `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)}` : (quoted[0] ?? '');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The key a strict object's issue is about (missing or not allowed), and whether it is missing. */
function keyOf(issue: v.BaseIssue<unknown>): { key: string; missing: boolean } {
  const key = String(issue.path?.[issue.path.length - 1]?.key ?? '');
  return { key, missing: issue.expected !== 'never' };
}

const REASON_ONLY_FOR_REVOKE = `reason is only for {"action":"revoke",...}. ${EXAMPLES}`;

/** `certificateId`, refused when missing with the action that needs it. */
const requiredCertificateId = (action: string) =>
  `certificateId is required to ${action}: ${CERTIFICATE_ID_RULE}, e.g. {"action":"${action}","certificateId":"web"}.`;

/**
 * Which CA of the certificate's list this attempt uses. Set by the state machine when it moves on
 * to the next CA after one could not serve the run; an operator never gives it.
 */
const CaIndexSchema = v.pipe(
  v.number(`${FIELD} must be a CA's position in the list.`),
  v.integer(`${FIELD} must be a CA's position in the list.`),
  v.minValue(0, `${FIELD} must be a CA's position in the list.`),
  v.maxValue(MAX_CERTIFICATE_AUTHORITIES - 1, `${FIELD} must be a CA's position in the list.`),
);

/** `issue`: declare (or redeclare) a certificate's configuration and issue it now. */
export const IssueInputSchema = v.pipe(
  v.strictObject(
    {
      action: v.literal('issue'),
      certificateId: v.optional(CertificateIdSchema),
      force: v.optional(ForceSchema),
      execution: v.optional(ExecutionSchema),
      ...CERTIFICATE_CONFIG_ENTRIES,
      directoryUrl: v.optional(DirectoryUrlSchema),
      kmsKeyArn: v.optional(KmsKeyArnSchema),
      caIndex: v.optional(CaIndexSchema),
    },
    (issue) => {
      const { key, missing } = keyOf(issue);
      if (missing)
        return `domains must be a list of DNS names, e.g. ["example.org","*.example.org"]. ${EXAMPLES}`;
      return key === 'reason' ? REASON_ONLY_FOR_REVOKE : `issue does not take "${key}". ${EXAMPLES}`;
    },
  ),
  v.forward(
    v.check((input) => kmsKeyWithoutRegions(input, input.kmsKeyArn), kmsKeyRegionsMessage('kmsKeyArn')),
    ['regions'],
  ),
  v.forward(
    v.check((config) => externalDnsWithPersist(config), EXTERNAL_DNS_MESSAGE),
    ['externalDns'],
  ),
  v.forward(
    v.check((config) => pinCaaAllowed(config), PIN_CAA_MESSAGE),
    ['pinCaa'],
  ),
  v.forward(
    v.check(
      (input) => !(input.directoryUrl && input.certificateAuthorities),
      `${FIELD} cannot be given with directoryUrl: list the CA of directoryUrl in certificateAuthorities instead, most preferred first.`,
    ),
    ['certificateAuthorities'],
  ),
);

/** `renew`: renew a registered certificate with its recorded configuration (when due, unless `force`). */
export const RenewInputSchema = v.strictObject(
  {
    action: v.literal('renew'),
    certificateId: CertificateIdSchema,
    force: v.optional(ForceSchema),
    execution: v.optional(ExecutionSchema),
    caIndex: v.optional(CaIndexSchema),
  },
  (issue) => {
    const { key, missing } = keyOf(issue);
    if (missing) return requiredCertificateId('renew');
    if (key === 'reason') return REASON_ONLY_FOR_REVOKE;
    return `renew takes the certificate's configuration from the registry, so "${key}" is not allowed; use {"action":"issue",...} to change it.`;
  },
);

/** `revoke`: revoke a certificate's current certificate, then renew it so ACM gets a replacement. */
export const RevokeInputSchema = v.strictObject(
  {
    action: v.literal('revoke'),
    certificateId: CertificateIdSchema,
    reason: v.optional(RevocationReasonSchema),
    execution: v.optional(ExecutionSchema),
  },
  (issue) => {
    const { key, missing } = keyOf(issue);
    if (missing) return requiredCertificateId('revoke');
    return `revoke revokes the certificate in the registry and renews it with its recorded configuration, so "${key}" is not allowed. Example: {"action":"revoke","certificateId":"web","reason":"keyCompromise"}.`;
  },
);

/** Refuses what an account action does not take, naming every such field (up to five). */
function accountAction<const A extends AccountAction, E extends v.ObjectEntries>(action: A, entries: E) {
  const all = {
    action: v.literal(action),
    directoryUrl: v.optional(DirectoryUrlSchema),
    execution: v.optional(ExecutionSchema),
    ...entries,
  };
  const takes = Object.keys(all).filter((key) => key !== 'execution');
  return v.strictObject(all, (issue) => {
    const { missing } = keyOf(issue);
    if (missing && action === 'deactivate-account') {
      return `deactivate-account is permanent: the CA will refuse every later request from this account, and renewals stop until a new account key is deployed. To confirm, pass the account URL as accountUrl (npx acme-aws account shows it; RegisterAccount logs it). ${ACCOUNT_EXAMPLES}`;
    }
    const input = issue.path?.[0]?.input;
    const extra = isPlainObject(input) ? Object.keys(input).filter((key) => !Object.hasOwn(all, key)) : [];
    return `${action} does not take ${extra.slice(0, 5).map(shown).join(', ')}: it takes ${takes.join(', ')}. ${ACCOUNT_EXAMPLES}`;
  });
}

/** `rollover-account-key`: move the CA account to the current account key (RFC 8555 §7.3.5). */
export const RolloverAccountKeyInputSchema = accountAction('rollover-account-key', {});
/** `update-account`: set the account's contacts; without `contact`, re-send the deployment's. */
export const UpdateAccountInputSchema = accountAction('update-account', {
  contact: v.optional(ContactSchema),
});
/** `deactivate-account`: permanent, so the input must name the account it deactivates. */
export const DeactivateAccountInputSchema = accountAction('deactivate-account', {
  accountUrl: AccountUrlSchema,
});

/** Every execution input, keyed on `action` (required here): what can start an execution. */
export const ExecutionInputSchema = v.variant(
  'action',
  [
    IssueInputSchema,
    RenewInputSchema,
    RevokeInputSchema,
    RolloverAccountKeyInputSchema,
    UpdateAccountInputSchema,
    DeactivateAccountInputSchema,
  ],
  message(
    (input) =>
      `${FIELD} ${shown(input)} is not supported: use ${either(ISSUANCE_ACTIONS)} for a certificate, or ${either(ACCOUNT_ACTIONS)} for the CA account.`,
  ),
);
/** An execution input as it is written (defaults not yet applied). */
export type ExecutionInput = v.InferInput<typeof ExecutionInputSchema>;

/**
 * What RegisterAccount accepts: a JSON object with only known fields, for a certificate action.
 * Without `action`, an input with `domains` is an `issue` and one without is a `renew`, so
 * `{"certificateId":"web","domains":[...]}` keeps working. An account action is sent back to
 * where it belongs.
 */
export const IssuanceInputSchema = v.pipe(
  v.custom<Record<string, unknown>>(isPlainObject, `The execution input must be a JSON object. ${EXAMPLES}`),
  v.check(
    (input) => Object.keys(input).every((key) => KNOWN_FIELDS.includes(key)),
    message((input) => {
      const unknown = Object.keys(input as object).filter((key) => !KNOWN_FIELDS.includes(key));
      return `Unknown input field${unknown.length > 1 ? 's' : ''} ${unknown.slice(0, 5).map(shown).join(', ')}${
        unknown.length > 5 ? ` and ${unknown.length - 5} more` : ''
      }. Known fields: ${KNOWN_FIELDS.filter((key) => key !== 'execution').join(', ')}.`;
    }),
  ),
  v.transform((input) => ({
    ...input,
    action: input.action ?? (input.domains === undefined ? 'renew' : 'issue'),
  })),
  v.check(
    (input) => !(ACCOUNT_ACTIONS as readonly unknown[]).includes(input.action),
    message(
      (input) =>
        `action ${shown((input as { action: unknown }).action)} is an account action, which RegisterAccount does not run: start it as the execution input itself, e.g. {"action":${shown((input as { action: unknown }).action)}}.`,
    ),
  ),
  v.variant(
    'action',
    [IssueInputSchema, RenewInputSchema, RevokeInputSchema],
    message(
      (input) =>
        `${FIELD} ${shown(input)} is not supported: use ${either(ISSUANCE_ACTIONS)} for a certificate, or ${either(ACCOUNT_ACTIONS)} for the CA account. ${EXAMPLES}`,
    ),
  ),
);
/** A checked certificate action, defaults applied (`keyType`) and names normalized. */
export type IssuanceInput = v.InferOutput<typeof IssuanceInputSchema>;

/** What ManageAccount accepts: one of the account actions, with only the fields it takes. */
export const AccountInputSchema = v.pipe(
  v.custom<Record<string, unknown>>(
    isPlainObject,
    `The execution input must be a JSON object. ${ACCOUNT_EXAMPLES}`,
  ),
  v.variant(
    'action',
    [RolloverAccountKeyInputSchema, UpdateAccountInputSchema, DeactivateAccountInputSchema],
    message(
      (input) =>
        `${FIELD} ${shown(input)} is not an account action: use ${either(ACCOUNT_ACTIONS)}. ${ACCOUNT_EXAMPLES}`,
    ),
  ),
);
/** A checked account action. */
export type AccountInput = v.InferOutput<typeof AccountInputSchema>;
