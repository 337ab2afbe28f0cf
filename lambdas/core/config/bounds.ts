/*
 * Bounds on every string and list of a certificate's configuration and of an execution input.
 * The input travels in the state of every step (256 KiB each, what Step Functions allows) and is
 * recorded in the registry, so nothing in it may be arbitrarily long: each bound is well above
 * any real value. Synth, the state machine and the CLI all check against these.
 */

/** Names per certificate: what ACME CAs accept (Let's Encrypt: 100), and what the CLI checks too. */
export const MAX_DOMAINS = 100;
/** Characters of a URL (`directoryUrl`, `accountUrl`): directories are short, browsers take 2,048. */
export const MAX_URL_LENGTH = 2048;
/** Characters of an ACME profile name: Let's Encrypt's are `classic`, `tlsserver`, `shortlived`. */
export const MAX_PROFILE_LENGTH = 64;
/** Characters of `preferredChain`, an issuer common name: X.509's `ub-common-name` (RFC 5280). */
export const MAX_PREFERRED_CHAIN_LENGTH = 64;
/** ACM regions to import into: more than AWS has. */
export const MAX_REGIONS = 50;
/** Entries of `hostedZoneIds` or `zoneRoles`: one per name of a 100-name certificate. */
export const MAX_ZONE_ENTRIES = MAX_DOMAINS;
/** Characters of an ARN (`kmsKeyArn`) or an execution id: IAM's limit on ARNs. */
export const MAX_ARN_LENGTH = 2048;
/** Characters of a certificate id: it names a store folder, an ACM tag and execution names. */
export const MAX_CERTIFICATE_ID_LENGTH = 64;
/** CAs in one fallback list: each one tried costs a newAccount and an order attempt. */
export const MAX_CERTIFICATE_AUTHORITIES = 5;
