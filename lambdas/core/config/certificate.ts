import * as v from 'valibot';
import {
  CertificateAuthoritiesSchema,
  ChallengeTypeSchema,
  DEFAULT_KEY_TYPE,
  KeyTypeSchema,
  PreferredChainSchema,
  ProfileSchema,
  RegionsSchema,
} from './fields.js';
import { FIELD } from './messages.js';
import { DomainsSchema, HostedZoneIdsSchema, ZoneRolesSchema } from './names.js';

/**
 * The fields of a certificate's configuration that a stack declaration (`certificates` of the
 * construct) and an `issue` input share, with the same rules and the same normalization: what
 * synth accepts, the state machine accepts. `null` maps count as absent, as JSON may carry them;
 * an empty `zoneRoles` too.
 */
export const CERTIFICATE_CONFIG_ENTRIES = {
  domains: DomainsSchema,
  keyType: v.optional(KeyTypeSchema, DEFAULT_KEY_TYPE),
  regions: v.optional(RegionsSchema),
  hostedZoneIds: v.pipe(
    v.nullish(HostedZoneIdsSchema),
    v.transform((map) => map ?? undefined),
  ),
  // No roles is no `zoneRoles`: the recorded configuration never holds an empty map of them.
  zoneRoles: v.pipe(
    v.nullish(ZoneRolesSchema),
    v.transform((map) => (map && Object.keys(map).length > 0 ? map : undefined)),
  ),
  profile: v.optional(ProfileSchema),
  preferredChain: v.optional(PreferredChainSchema),
  challenge: v.optional(ChallengeTypeSchema),
  externalDns: v.optional(v.boolean(`${FIELD} must be true or false.`)),
  certificateAuthorities: v.optional(CertificateAuthoritiesSchema),
  pinCaa: v.optional(v.boolean(`${FIELD} must be true or false.`)),
} as const;

/**
 * A certificate whose DNS the stack does not write (`externalDns`) can only be validated through
 * records an operator created once: dns-persist-01. The rule, for a `v.forward(v.check(…),
 * ['externalDns'])` on both sides.
 */
export function externalDnsWithPersist(config: {
  readonly externalDns?: boolean | undefined;
  readonly challenge?: string | undefined;
}): boolean {
  return config.externalDns !== true || config.challenge === 'dns-persist-01';
}

/** The message of {@link externalDnsWithPersist}. */
export const EXTERNAL_DNS_MESSAGE = `${FIELD} needs challenge "dns-persist-01": a stack that writes none of the names' DNS can only use persistent records an operator creates once (acme-aws persist-record <id> prints them). Set challenge to "dns-persist-01", or remove externalDns.`;

/**
 * A certificate whose key stays in KMS (`kmsKey` at synth, `kmsKeyArn` in an input) is published
 * to the certificate store, never imported into ACM, so regions make no sense for it. The rule,
 * for a `v.forward(v.check(…), ['regions'])` on both sides.
 */
export function kmsKeyWithoutRegions(config: { readonly regions?: unknown }, kmsKey: unknown): boolean {
  return !(kmsKey && config.regions !== undefined);
}

/** The message of {@link kmsKeyWithoutRegions}, naming the KMS field as the caller spells it. */
export function kmsKeyRegionsMessage(kmsField: string): string {
  return `${FIELD} cannot be given with ${kmsField}: a certificate whose key stays in KMS is never imported into ACM, so it has no regions. Remove regions, or remove ${kmsField} to import it into ACM.`;
}

/**
 * A CAA pin names one CA and our account there, so every other CA of a list would be refused by
 * it; and it is written to the names' zones, which an `externalDns` certificate's stack may not
 * write. The rule, for a `v.forward(v.check(…), ['pinCaa'])` on both sides.
 */
export function pinCaaAllowed(config: {
  readonly pinCaa?: boolean | undefined;
  readonly externalDns?: boolean | undefined;
  readonly certificateAuthorities?: readonly unknown[] | undefined;
}): boolean {
  return config.pinCaa !== true || (!config.externalDns && (config.certificateAuthorities?.length ?? 1) <= 1);
}

/** The message of {@link pinCaaAllowed}. */
export const PIN_CAA_MESSAGE = `${FIELD} pins the names to one CA and this account there, so it needs a single CA (a list of several would have the others refused) and DNS the stack writes (not externalDns). Remove pinCaa, or give the certificate one CA.`;
