/**
 * CRL reason codes (RFC 5280 §5.3.1), by the names operators type. Code 7 is unused in RFC 5280,
 * so it has no name. RFC 8555 §7.6 sends the code as `reason` in the revokeCert payload.
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

/** One of the reason names of `REVOCATION_REASONS`. */
export type RevocationReasonName = keyof typeof REVOCATION_REASONS;

/** True for the exact (case-sensitive) RFC 5280 names, as operators type them. */
export function isRevocationReason(value: unknown): value is RevocationReasonName {
  return typeof value === 'string' && Object.hasOwn(REVOCATION_REASONS, value);
}

/** The name of a reason code, for events and logs; `code <n>` for a code without one. */
export function revocationReasonName(code: number): string {
  const entry = Object.entries(REVOCATION_REASONS).find(([, value]) => value === code);
  return entry ? entry[0] : `code ${code}`;
}
