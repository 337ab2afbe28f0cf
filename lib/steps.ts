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
  Cleanup: 'cleanup',
} as const;

export type StepName = keyof typeof STEP_HANDLERS;
export type StepHandlerFolder = (typeof STEP_HANDLERS)[StepName];

/** Let's Encrypt directories, so users can switch between staging and production by name. */
export const LETS_ENCRYPT_PRODUCTION = 'https://acme-v02.api.letsencrypt.org/directory';
export const LETS_ENCRYPT_STAGING = 'https://acme-staging-v02.api.letsencrypt.org/directory';
