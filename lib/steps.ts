/**
 * The state machine's Task steps and the handler folder behind each. The construct builds one
 * function per entry, and the local harness binds each Task of the synthesized definition back to
 * the same handler through the function's `ACME_STEP` environment variable.
 */
export const STEP_HANDLERS = {
  ManageAccount: 'manage-account',
  RegisterAccount: 'register-account',
  RevokeCertificate: 'revoke-certificate',
  CreateOrder: 'create-order',
  PublishChallenges: 'publish-challenges',
  WaitForDnsSync: 'wait-for-dns-sync',
  AnswerChallenges: 'answer-challenges',
  WaitForAuthorizations: 'wait-for-authorizations',
  Finalize: 'finalize',
  WaitForCertificate: 'wait-for-certificate',
  ImportToAcm: 'import-to-acm',
  DeliverCertificate: 'deliver-certificate',
  Cleanup: 'cleanup',
} as const satisfies Record<StepName, string>;

/** The name of a Task step of the issuance state machine, e.g. `Finalize`. */
export type StepName =
  | 'ManageAccount'
  | 'RegisterAccount'
  | 'RevokeCertificate'
  | 'CreateOrder'
  | 'PublishChallenges'
  | 'WaitForDnsSync'
  | 'AnswerChallenges'
  | 'WaitForAuthorizations'
  | 'Finalize'
  | 'WaitForCertificate'
  | 'ImportToAcm'
  | 'DeliverCertificate'
  | 'Cleanup';
export type StepHandlerFolder = (typeof STEP_HANDLERS)[StepName];

/** Let's Encrypt's production directory: trusted certificates, with production rate limits. */
export const LETS_ENCRYPT_PRODUCTION = 'https://acme-v02.api.letsencrypt.org/directory';
/** Let's Encrypt's staging directory: untrusted certificates and generous limits, for trying a setup out. */
export const LETS_ENCRYPT_STAGING = 'https://acme-staging-v02.api.letsencrypt.org/directory';
