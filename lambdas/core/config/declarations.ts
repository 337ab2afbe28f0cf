import * as v from 'valibot';
import { checkIdentifier } from '../dns/identifiers.js';
import type { CertificateAuthorityEntry } from '../ports.js';
import type { KeyType } from '../state.js';
import {
  CERTIFICATE_CONFIG_ENTRIES,
  EXTERNAL_DNS_MESSAGE,
  externalDnsWithPersist,
  kmsKeyRegionsMessage,
  kmsKeyWithoutRegions,
  PIN_CAA_MESSAGE,
  pinCaaAllowed,
} from './certificate.js';
import { ParameterDeliverySchema, type ParameterTier, SecretDeliverySchema } from './delivery.js';
import { CertificateIdSchema, type ChallengeType, DirectoryUrlSchema } from './fields.js';
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
  /** `dns-01` (the default) or `dns-persist-01`. */
  readonly challenge?: ChallengeType;
  /** The stack writes none of the names' DNS: persistent records an operator created. */
  readonly externalDns?: boolean;
  /** The CAs to try for this certificate, most preferred first. */
  readonly certificateAuthorities?: readonly CertificateAuthorityEntry[];
  /** Pin the names' CAA records to the CA and this deployment's account there. */
  readonly pinCaa?: boolean;
  /** `true`, or a KMS key construct: only whether it is set matters here. */
  readonly kmsKey?: unknown;
  /** Deliver to a Secrets Manager secret: `true`, or `{ name }` to choose its name. */
  readonly secret?: boolean | { readonly name?: string };
  /** Deliver to SecureString parameters under `path`, on `tier` (default `Standard`). */
  readonly parameters?: { readonly path: string; readonly tier?: ParameterTier };
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
  /**
   * The stack's name, which the default secret name `acme-aws/<stackName>/<id>` holds so that two
   * stacks in one account and region never share a secret. @default none: `acme-aws/<id>`
   */
  readonly stackName?: string;
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
  readonly challenge?: ChallengeType;
  readonly externalDns?: boolean;
  readonly certificateAuthorities?: readonly CertificateAuthorityEntry[];
  readonly pinCaa?: boolean;
}

/**
 * Where a declared certificate is delivered besides ACM, with its defaults filled in: the secret's
 * name (given, or `acme-aws/<stackName>/<id>`) and the parameters' path and tier. The construct
 * turns it into the record's `DeliveryTargets` (ARNs); the registry never receives names.
 */
export interface DeclaredDelivery {
  /** The Secrets Manager secret's name, when the certificate declares `secret`. */
  readonly secretName?: string;
  /** The parameter path (no trailing `/`), when the certificate declares `parameters`. */
  readonly parameterPath?: string;
  /** The parameters' tier, when the certificate declares `parameters`. */
  readonly parameterTier?: ParameterTier;
}

/** The declared certificates as the registry receives them, and their deliveries by id. */
export interface ParsedDeclarations {
  readonly certificates: DeclaredCertificateConfig[];
  /** Only the certificates that declare a delivery. */
  readonly deliveries: Readonly<Record<string, DeclaredDelivery>>;
}

/** A declaration the state machine would refuse, found at synth; the message names the prop. */
export class CertificateDeclarationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateDeclarationError';
  }
}

const DECLARATION_PROPERTIES = [
  'id',
  ...Object.keys(CERTIFICATE_CONFIG_ENTRIES),
  'kmsKey',
  'secret',
  'parameters',
];

/**
 * One declared certificate: an `issue` input's configuration, plus `id`, `kmsKey` and where it is
 * delivered (`secret`, `parameters`), which only a declaration can say.
 */
export const CertificateDeclarationSchema = v.pipe(
  v.strictObject(
    {
      id: CertificateIdSchema,
      ...CERTIFICATE_CONFIG_ENTRIES,
      kmsKey: v.optional(v.unknown()),
      secret: v.optional(SecretDeliverySchema),
      parameters: v.optional(ParameterDeliverySchema),
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
  v.forward(
    v.check((config) => externalDnsWithPersist(config), EXTERNAL_DNS_MESSAGE),
    ['externalDns'],
  ),
  v.forward(
    v.check((config) => pinCaaAllowed(config), PIN_CAA_MESSAGE),
    ['pinCaa'],
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
  return parseDeclarations(certificates, context).certificates;
}

/**
 * {@link parseCertificateDeclarations}, and each certificate's delivery with its defaults filled
 * in. Guarantees besides: a secret name is 1–512 of `A-Za-z0-9/_+=.@-` and does not end with a
 * hyphen followed by six characters (Secrets Manager's documented rules), given or derived as
 * `acme-aws/<stackName>/<id>`; a parameter path starts with `/`, has levels of `A-Za-z0-9_.-`, is
 * not under the reserved `aws` or `ssm` (in any case), and leaves its longest parameter name
 * within 1,011 characters and 15 levels; the tier is Standard (the default) or Advanced; no two
 * certificates share a secret, and no certificate's parameter path is another's or under it.
 */
export function parseDeclarations(
  certificates: readonly CertificateDeclaration[],
  context: DeclarationContext = {},
): ParsedDeclarations {
  const construct = context.construct ?? 'AcmeCertificates';
  const error = (message: string) => new CertificateDeclarationError(message);
  if (context.directoryUrl !== undefined) {
    parseWith(DirectoryUrlSchema, context.directoryUrl, pathLabel(`${construct}: directoryUrl`), error);
  }
  const parsed = parseWith(DeclarationsSchema, certificates, pathLabel(`${construct}: certificates`), error);
  const declared = parsed.map(
    ({
      id,
      domains,
      keyType,
      regions,
      hostedZoneIds,
      zoneRoles,
      profile,
      preferredChain,
      challenge,
      externalDns,
      certificateAuthorities,
      pinCaa,
    }) => ({
      id,
      domains,
      keyType,
      regions: regions ?? (context.region === undefined ? [] : [context.region]),
      ...(hostedZoneIds ? { hostedZoneIds } : {}),
      ...(zoneRoles ? { zoneRoles } : {}),
      ...(profile !== undefined ? { profile } : {}),
      ...(preferredChain !== undefined ? { preferredChain } : {}),
      ...(challenge !== undefined ? { challenge } : {}),
      ...(externalDns ? { externalDns } : {}),
      ...(certificateAuthorities ? { certificateAuthorities } : {}),
      ...(pinCaa ? { pinCaa } : {}),
    }),
  );
  if (context.hostedZones) checkZonesCoverDomains(declared, context.hostedZones, construct);
  return { certificates: declared, deliveries: resolveDeliveries(parsed, context.stackName, construct) };
}

/**
 * Fills in each delivery's defaults and refuses two certificates writing to one target: the last
 * write would win, and a grant on one certificate's target would read the other's.
 */
function resolveDeliveries(
  parsed: readonly v.InferOutput<typeof CertificateDeclarationSchema>[],
  stackName: string | undefined,
  construct: string,
): Record<string, DeclaredDelivery> {
  const deliveries: Record<string, DeclaredDelivery> = {};
  const secrets = new Map<string, number>();
  const paths: { path: string; index: number }[] = [];
  parsed.forEach((certificate, index) => {
    const at = `${construct}: certificates[${index}]`;
    let secretName: string | undefined;
    if (certificate.secret) {
      const given = certificate.secret === true ? undefined : certificate.secret.name;
      // The derived name ends in `/certificate`, never like the ARN suffix Secrets Manager adds
      // (a hyphen and six characters), whatever the id: `my-server` would otherwise.
      secretName =
        given ?? ['acme-aws', ...(stackName ? [stackName] : []), certificate.id, 'certificate'].join('/');
      const other = secrets.get(secretName);
      if (other !== undefined) {
        throw new CertificateDeclarationError(
          `${at}.secret names the secret ${shown(secretName)}, which certificates[${other}] is delivered to; each certificate needs a secret of its own: give one of them another secret.name.`,
        );
      }
      secrets.set(secretName, index);
    }
    const parameters = certificate.parameters;
    if (parameters) {
      const overlapping = paths.find(
        ({ path }) =>
          path === parameters.path ||
          path.startsWith(`${parameters.path}/`) ||
          parameters.path.startsWith(`${path}/`),
      );
      if (overlapping) {
        throw new CertificateDeclarationError(
          `${at}.parameters.path ${shown(parameters.path)} ${overlapping.path === parameters.path ? 'is' : 'overlaps'} the parameter path ${shown(overlapping.path)} of certificates[${overlapping.index}]; each certificate needs a path of its own, neither under the other: choose another path.`,
        );
      }
      paths.push({ path: parameters.path, index });
    }
    if (secretName !== undefined || parameters) {
      deliveries[certificate.id] = {
        ...(secretName !== undefined ? { secretName } : {}),
        ...(parameters ? { parameterPath: parameters.path, parameterTier: parameters.tier } : {}),
      };
    }
  });
  return deliveries;
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
    // Its DNS is not in a zone the stack writes, and may be outside Route 53 altogether.
    if (certificate.externalDns) continue;
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
