/**
 * CRLReason names of RFC 5280 §5.3.1 and their codes. ACME's revokeCert (RFC 8555 §7.6) takes
 * the code; the CLI and the state machine take the name. Code 7 is unused by the RFC.
 */
export const REVOCATION_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  caCompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;

export type RevocationReason = keyof typeof REVOCATION_REASONS;

/** True for the exact (case-sensitive) RFC 5280 names. */
export function isRevocationReason(value: string): value is RevocationReason {
  return Object.hasOwn(REVOCATION_REASONS, value);
}
