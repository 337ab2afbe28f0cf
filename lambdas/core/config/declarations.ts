import * as v from 'valibot';
import { checkIdentifier } from '../dns/identifiers.js';
import type { KeyType } from '../state.js';
import { CERTIFICATE_CONFIG_ENTRIES, kmsKeyRegionsMessage, kmsKeyWithoutRegions } from './certificate.js';
import { CertificateIdSchema, DirectoryUrlSchema } from './fields.js';
import { FIELD, parseWith, pathLabel, shown } from './messages.js';

/**
 * The synth-side entry point of the config schema: the construct's declared certificates are
 * checked with the very rules an `issue` execution input is, so a stack that deploys never holds
 * a certificate the state machine refuses at its first renewal.
 */

/** A declared certificate as the construct's props give it (`CertificateProps`). */
export interface CertificateDeclaration {
  readonly id: string;
  readonly domains: readonly string[];
  readonly keyType?: KeyType;
  readonly regions?: readonly string[];
  readonly hostedZoneIds?: Readonly<Record<string, string>>;
  readonly zoneRoles?: Readonly<Record<string, string>>;
  readonly profile?: string;
  readonly preferredChain?: string;
  /** `true`, or a KMS key construct: only whether it is set matters here. */
  readonly kmsKey?: unknown;
}

/** What synth knows besides the certificates. */
export interface DeclarationContext {
  /**
   * The stack's region, the default of `regions`. Leave it out for an environment-agnostic stack
   * (an unresolved token): `regions` then defaults to `[]`, which the Lambdas read as "the region
   * the workflow runs in".
   */
  readonly region?: string;
  /** The construct's `directoryUrl`, checked like an input's when given. */
  readonly directoryUrl?: string;
  /**
   * The construct's `hostedZones`: when given, each declared domain must be under one of them, or
   * under a name of the certificate's `hostedZoneIds`.
   */
  readonly hostedZones?: readonly { readonly id: string; readonly name: string }[];
  /** Starts every message. @default 'AcmeCertificates' */
  readonly construct?: string;
}

/**
 * A declared certificate with its defaults filled in and its names normalized, as the registry
 * receives it: the same values `parseIssuanceRequest` gives for the equivalent `issue` input.
 */
export interface DeclaredCertificateConfig {
  readonly id: string;
  readonly domains: readonly string[];
  readonly keyType: KeyType;
  readonly regions: readonly string[];
  readonly hostedZoneIds?: Readonly<Record<string, string>>;
  readonly zoneRoles?: Readonly<Record<string, string>>;
  readonly profile?: string;
  readonly preferredChain?: string;
}

/** A declaration the state machine would refuse, found at synth; the message names the prop. */
export class CertificateDeclarationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateDeclarationError';
  }
}

const DECLARATION_PROPERTIES = ['id', ...Object.keys(CERTIFICATE_CONFIG_ENTRIES), 'kmsKey'];

/** One declared certificate: an `issue` input's configuration, plus `id` and `kmsKey`. */
export const CertificateDeclarationSchema = v.pipe(
  v.strictObject(
    {
      id: CertificateIdSchema,
      ...CERTIFICATE_CONFIG_ENTRIES,
      kmsKey: v.optional(v.unknown()),
    },
    (issue) => {
      const key = String(issue.path?.[issue.path.length - 1]?.key ?? '');
      if (issue.expected === 'never') {
        return `${FIELD} is not a property of a certificate (${DECLARATION_PROPERTIES.join(', ')}): remove it.`;
      }
      return key === 'id'
        ? `${FIELD} is required: a stable id such as "web".`
        : `${FIELD} is required: list the certificate's DNS names, e.g. ["example.org","*.example.org"].`;
    },
  ),
  v.forward(
    v.check(
      (declaration) => kmsKeyWithoutRegions(declaration, declaration.kmsKey),
      kmsKeyRegionsMessage('kmsKey'),
    ),
    ['regions'],
  ),
);

/** The declared certificates: a list whose ids are unique. */
const DeclarationsSchema = v.pipe(
  v.array(CertificateDeclarationSchema, `${FIELD} must be a list of certificates.`),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const seen = new Set<string>();
    dataset.value.forEach((certificate, index) => {
      if (seen.has(certificate.id)) {
        addIssue({
          message: `${FIELD}[${index}].id ${shown(certificate.id)} is declared twice; ids must be unique.`,
        });
      }
      seen.add(certificate.id);
    });
  }),
);

/**
 * Checks the construct's declared certificates (and its `directoryUrl`) at synth, with the rules
 * of the state machine's `issue` input, and returns them as the registry receives them.
 *
 * Guarantees, for each certificate: the id is 1–64 letters, digits, `.`, `_` or `-` and unique;
 * domains are 1–100 DNS names after normalization (A-labels, lower case, no trailing dot) and
 * de-duplication; keyType is one of `KEY_TYPES` (default `EC_P256`); regions are AWS region names
 * (default `[context.region]`, or `[]` without one) and absent when `kmsKey` is set;
 * `hostedZoneIds` and `zoneRoles` are normalized as an input's are; `profile` and `preferredChain`
 * are within their bounds. With `context.hostedZones`, every domain is covered by a zone or by
 * the certificate's `hostedZoneIds`. Anything else throws a {@link CertificateDeclarationError}
 * naming the prop (`AcmeCertificates: certificates[2].domains[0] …`) and what to do.
 */
export function parseCertificateDeclarations(
  certificates: readonly CertificateDeclaration[],
  context: DeclarationContext = {},
): DeclaredCertificateConfig[] {
  const construct = context.construct ?? 'AcmeCertificates';
  const error = (message: string) => new CertificateDeclarationError(message);
  if (context.directoryUrl !== undefined) {
    parseWith(DirectoryUrlSchema, context.directoryUrl, pathLabel(`${construct}: directoryUrl`), error);
  }
  const parsed = parseWith(DeclarationsSchema, certificates, pathLabel(`${construct}: certificates`), error);
  const declared = parsed.map(
    ({ id, domains, keyType, regions, hostedZoneIds, zoneRoles, profile, preferredChain }) => ({
      id,
      domains,
      keyType,
      regions: regions ?? (context.region === undefined ? [] : [context.region]),
      ...(hostedZoneIds ? { hostedZoneIds } : {}),
      ...(zoneRoles ? { zoneRoles } : {}),
      ...(profile !== undefined ? { profile } : {}),
      ...(preferredChain !== undefined ? { preferredChain } : {}),
    }),
  );
  if (context.hostedZones) checkZonesCoverDomains(declared, context.hostedZones, construct);
  return declared;
}

/** Refuses a declared domain that none of the `hostedZones` can hold the challenge for. */
function checkZonesCoverDomains(
  declared: readonly DeclaredCertificateConfig[],
  zones: readonly { readonly id: string; readonly name: string }[],
  construct: string,
): void {
  // A zone name that is not a DNS name (an unresolved token) covers nothing.
  const names = zones.map((zone) => {
    const checked = checkIdentifier(zone.name);
    return 'name' in checked ? checked.name : zone.name.toLowerCase();
  });
  const under = (name: string, parent: string) => name === parent || name.endsWith(`.${parent}`);
  for (const certificate of declared) {
    for (const domain of certificate.domains) {
      const base = domain.replace(/^\*\./, '');
      if (Object.keys(certificate.hostedZoneIds ?? {}).some((key) => under(base, key))) continue;
      if (!names.some((zone) => under(base, zone))) {
        throw new CertificateDeclarationError(
          `${construct}: certificates "${certificate.id}" has domain "${domain}", which no zone in hostedZones covers (${names.join(', ') || 'none'}). Add its hosted zone to hostedZones, or map the domain in the certificate's hostedZoneIds.`,
        );
      }
    }
  }
}
