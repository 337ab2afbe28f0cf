import { Annotations, CustomResource, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import {
  KEY_TYPES as CORE_KEY_TYPES,
  type DeclaredCertificateConfig,
  type ParsedDeclarations,
  parseCertificateDeclarations,
  parseDeclarations,
} from '../lambdas/core/config/schema.js';
import type { DeliveryTargets } from '../lambdas/core/ports.js';
import { forecastAcmImports } from '../lambdas/core/renewal/quota.js';
import type { KeyType } from '../lambdas/core/state.js';
import type { CertificateStore } from './certificate-store.js';
import { adminOnlyKeyPolicy, grantKeyUse } from './key-policy.js';
import { keepLogicalId } from './logical-ids.js';
import type { StepFunctions } from './step-functions.js';

/** Certificate key algorithms; CloudFront accepts RSA and EC_P256. */
export type CertificateKeyType = KeyType;

/** One CA of a certificate's own `certificateAuthorities`. */
export interface CertificateAuthorityChoice {
  /** The CA's ACME directory URL (HTTPS). */
  readonly directoryUrl: string;
  /**
   * The ACME profile to ask this CA for, instead of the certificate's.
   * @default the certificate's profile
   */
  readonly profile?: string;
}

/** One managed certificate. */
export interface CertificateProps {
  /** Stable id: 1-64 letters, digits, ".", "_" or "-". Names the ACM tag and the registry record. */
  readonly id: string;
  /** DNS names; a wildcard is a leading `*.` label. At most 100. */
  readonly domains: readonly string[];
  /**
   * Certificate key algorithm.
   * @default 'EC_P256'
   */
  readonly keyType?: CertificateKeyType;
  /**
   * ACM regions to import into, e.g. `['us-east-1']` for CloudFront plus the application region.
   * @default the stack's region
   */
  readonly regions?: readonly string[];
  /**
   * Hosted zone id per domain, overriding the longest matching public zone.
   * @default chosen by name
   */
  readonly hostedZoneIds?: Readonly<Record<string, string>>;
  /**
   * ACME profile, when the CA offers profiles (Let's Encrypt: `classic`, `tlsserver`, `shortlived`).
   * @default the CA's default
   */
  readonly profile?: string;
  /**
   * Common name of the root (topmost issuer) to prefer among the CA's alternate chains.
   * @default the CA's default chain
   */
  readonly preferredChain?: string;
  /**
   * How the CA validates the names. `'dns-persist-01'` (draft-ietf-acme-dns-persist-02) writes one
   * persistent TXT record per name at `_validation-persist.<name>`, naming the CA and our account,
   * the first time the CA offers the challenge; from then on an issuance or renewal writes nothing
   * to Route 53 and waits for no DNS propagation. Where the CA does not offer dns-persist-01, the
   * run answers dns-01 as usual. The record stays when the certificate is removed: delete it by hand.
   * @default 'dns-01'
   */
  readonly challenge?: 'dns-01' | 'dns-persist-01';
  /**
   * The stack writes none of these names' DNS: it lives outside Route 53, or in zones this stack
   * must not write. Needs `challenge: 'dns-persist-01'`. An operator creates the persistent records
   * once (`acme-aws persist-record <id>` prints them, and a run without them fails with
   * `PersistRecordMissingError` giving each one); every run checks that each authoritative server
   * returns them before it orders. When every declared certificate uses dns-persist-01, the stack
   * holds no permission to write dns-01 records, and with `externalDns` on all of them, none to
   * change Route 53 at all.
   * @default false
   */
  readonly externalDns?: boolean;
  /**
   * This certificate's CAs, most preferred first, instead of the construct's
   * `certificateAuthorities` (see there for when the next is taken). A CA that needs external
   * account binding must be listed in the construct's `certificateAuthorities` with its secret.
   * @default the construct's list, or its `directoryUrl`
   */
  readonly certificateAuthorities?: readonly CertificateAuthorityChoice[];
  /**
   * Pins the names' CAA records to the CA and this deployment's account there (RFC 8659, RFC 8657):
   * at each name (a wildcard at its base name), the `issue` property naming the CA becomes
   * `issue "<CA>; accounturi=<our account URL>; validationmethods=dns-01"` (with `dns-persist-01`
   * when the certificate uses it), written with the challenge records; other CAs' properties stay.
   * The CA then issues for these names to this account only, by those methods only. The CA's name
   * is the first of its directory's `caaIdentities`. IAM allows PublishChallenges to change CAA
   * records at exactly these names. Needs one CA and DNS the stack writes (not `externalDns`).
   * @default false
   */
  readonly pinCaa?: boolean;
  /**
   * Role to assume per hosted zone id, for zones in other accounts (list the roles in `zoneRoleArns`).
   * @default zones of this account only
   */
  readonly zoneRoles?: Readonly<Record<string, string>>;
  /**
   * Makes a KMS asymmetric key the certificate's key, instead of a key generated at each issuance:
   * `true` creates one (of `keyType`, retained on delete), or pass your own `SIGN_VERIFY` key of
   * that type (its key policy must let this account's IAM policies use it). The CSR is signed in
   * KMS and the private key never exists outside it, so ACM, which imports only keys it can read,
   * cannot take the certificate: it is published to the certificate store
   * (`certificates/<id>/<serial>/fullchain.pem`) for workloads that sign through KMS, which
   * `grantCertificateKeyUse` lets them do. The same key is reused at every renewal; rotate it by
   * declaring a new one.
   * @default a fresh key per issuance, imported into ACM
   */
  readonly kmsKey?: boolean | kms.IKey;
  /**
   * Delivers the certificate to a Secrets Manager secret, for workloads that read it themselves
   * (nginx or Envoy on EC2, ECS secrets, the External Secrets Operator on EKS). `true` names it
   * `acme-aws/<stackName>/<id>/certificate`; `{ name }` chooses the name (1-512 of `A-Za-z0-9/_+=.@-`, not
   * ending with a hyphen followed by six characters, which Secrets Manager reserves for its ARN
   * suffix). The secret is created at deploy, encrypted with `deliveryKey`, with a JSON value
   * saying the certificate is pending; each issuance and renewal then writes a new version
   * (`AWSCURRENT`, the previous one kept as `AWSPREVIOUS`) holding `certificate`, `chain`,
   * `fullchain`, `privateKey`, `notAfter`, `serial` and `names`. A certificate whose key stays in
   * KMS (`kmsKey`) delivers no `privateKey`. Read it with `grantReadSecret`.
   * @default no secret
   */
  readonly secret?: boolean | SecretDeliveryProps;
  /**
   * Delivers the certificate to SecureString parameters under a Parameter Store path, encrypted
   * with `deliveryKey`. Read them with `grantReadParameters`.
   * @default no parameters
   */
  readonly parameters?: ParameterDeliveryProps;
}

/** How a certificate's Secrets Manager secret is named (`CertificateProps.secret`). */
export interface SecretDeliveryProps {
  /**
   * The secret's name: 1-512 letters, digits or `/_+=.@-`, not ending with a hyphen followed by
   * six characters. No two certificates may share one.
   * @default `acme-aws/<stackName>/<id>/certificate`
   */
  readonly name?: string;
}

/**
 * Where a certificate's SecureString parameters go (`CertificateProps.parameters`). Each part is a
 * parameter of its own, `<path>/certificate`, `<path>/chain` and `<path>/privateKey` (not for a
 * certificate whose key stays in KMS), so that each fits its tier: a Standard parameter holds
 * 4 KB, too little for a leaf and its chain together, so `<path>/fullchain` is written on the
 * Advanced tier only (8 KB). A part its tier still cannot hold (a long RSA chain) fails the
 * delivery with an error naming the part; the certificate stays in the store and in ACM.
 */
export interface ParameterDeliveryProps {
  /**
   * The path the parameters go under, e.g. `/certificates/web`: it starts with `/`, its levels
   * are letters, digits, `_`, `.` or `-`, it is not under `aws` or `ssm` (reserved by Parameter
   * Store, in any case), and leaves room for the part: at most 999 characters and 14 levels. No
   * certificate's path may be another's or under it.
   */
  readonly path: string;
  /**
   * The Parameter Store tier: `Standard` (4 KB per value, no charge) or `Advanced` (8 KB per
   * value, charged per parameter and month, and a `fullchain` parameter).
   * @default 'Standard'
   */
  readonly tier?: 'Standard' | 'Advanced';
}

/** A declared certificate with its defaults filled in, as the registry receives it: the core schema's output. */
export type { DeclaredCertificateConfig };

/** The certificate key types synth accepts: the core schema's list. */
export const KEY_TYPES: readonly CertificateKeyType[] = CORE_KEY_TYPES;

/** KMS key specs and the one signing algorithm a CSR of each certificate key type uses. */
const CERTIFICATE_KEY_SPECS: Readonly<Record<CertificateKeyType, { spec: kms.KeySpec; algorithm: string }>> =
  {
    EC_P256: { spec: kms.KeySpec.ECC_NIST_P256, algorithm: 'ECDSA_SHA_256' },
    EC_P384: { spec: kms.KeySpec.ECC_NIST_P384, algorithm: 'ECDSA_SHA_384' },
    RSA_2048: { spec: kms.KeySpec.RSA_2048, algorithm: 'RSASSA_PKCS1_V1_5_SHA_256' },
    RSA_3072: { spec: kms.KeySpec.RSA_3072, algorithm: 'RSASSA_PKCS1_V1_5_SHA_256' },
    RSA_4096: { spec: kms.KeySpec.RSA_4096, algorithm: 'RSASSA_PKCS1_V1_5_SHA_256' },
  };

/**
 * How long CloudFormation waits for the custom resource that records the declared certificates,
 * instead of its one-hour default: a sync that cannot answer fails the deploy in minutes.
 */
export const DECLARED_CERTIFICATES_SERVICE_TIMEOUT = Duration.minutes(5);

/** The longest the SyncDeclaredCertificates function may run: well inside the service timeout. */
const SYNC_FUNCTION_MAX_TIMEOUT = Duration.minutes(2);

export interface DeclaredCertificatesProps {
  /**
   * The certificates to manage.
   * @default none
   */
  readonly certificates?: readonly CertificateProps[];
  /** The same certificates as `validateDeclarations` returned them, with their defaults. */
  readonly configs: readonly DeclaredCertificateConfig[];
  /**
   * Where each certificate is delivered besides ACM, by id, recorded in its registry record.
   * @default no deliveries
   */
  readonly deliveryTargets?: (certificateId: string) => DeliveryTargets | undefined;
  /** Builds the sync function by the steps' recipe. */
  readonly stepFunctions: StepFunctions;
  /** The registry the sync writes the declared certificates to. */
  readonly store: CertificateStore;
}

/**
 * The certificates declared in the props: checked at synth, written to the registry at deploy by
 * a custom resource (so the schedule renews them), and, for those declared with `kmsKey`, the KMS
 * key that is the certificate's key.
 */
export class DeclaredCertificates extends Construct {
  /** The declared certificates with their defaults, as the registry receives them. */
  readonly configs: readonly DeclaredCertificateConfig[];
  /** The KMS keys of certificates declared with `kmsKey`, by certificate id. */
  readonly certificateKeys: Readonly<Record<string, kms.IKey>>;
  /** Writes the declared certificates to the registry; absent when none are declared. */
  readonly syncFunction?: lambda.Function;

  constructor(scope: Construct, id: string, props: DeclaredCertificatesProps) {
    super(scope, id);
    const certificates = props.certificates ?? [];
    this.configs = props.configs;
    const keys: Record<string, kms.IKey> = {};
    for (const [index, certificate] of certificates.entries()) {
      if (!certificate.kmsKey) continue;
      if (certificate.kmsKey !== true) {
        keys[certificate.id] = certificate.kmsKey;
        continue;
      }
      const keyType = this.configs[index]?.keyType ?? 'EC_P256';
      const key = new kms.Key(this, `CertificateKey-${certificate.id}`, {
        description: `Key of the certificate "${certificate.id}": its CSR is signed here and it never leaves KMS`,
        keySpec: CERTIFICATE_KEY_SPECS[keyType].spec,
        keyUsage: kms.KeyUsage.SIGN_VERIFY,
        policy: adminOnlyKeyPolicy(),
        removalPolicy: RemovalPolicy.RETAIN,
      });
      // A replaced certificate key no longer matches its issued certificate: keep the ID from before the split.
      keepLogicalId(key, scope, `CertificateKey-${certificate.id}`);
      keys[certificate.id] = key;
    }
    this.certificateKeys = keys;

    if (this.configs.length === 0) return;
    const steps = props.stepFunctions;
    // CloudFormation gives up on the custom resource after its service timeout; the function
    // must have answered (or failed) well before that.
    const timeout = Duration.seconds(
      Math.min(steps.timeout.toSeconds(), SYNC_FUNCTION_MAX_TIMEOUT.toSeconds()),
    );
    this.syncFunction = steps.buildFunction(this, 'SyncDeclaredCertificates', 'sync-declared-certificates', {
      timeout,
    });
    props.store.grantRegistry(this.syncFunction, 'dynamodb:UpdateItem');
    new CustomResource(this, 'DeclaredCertificates', {
      serviceToken: this.syncFunction.functionArn,
      resourceType: 'Custom::AcmeDeclaredCertificates',
      serviceTimeout: DECLARED_CERTIFICATES_SERVICE_TIMEOUT,
      properties: {
        Certificates: Stack.of(this).toJsonString(
          this.configs.map((certificate) => {
            const delivery = props.deliveryTargets?.(certificate.id);
            return {
              ...certificate,
              ...(keys[certificate.id] ? { kmsKeyArn: keys[certificate.id]?.keyArn } : {}),
              ...(delivery ? { delivery } : {}),
            };
          }),
        ),
      },
    });
    // The warning stays on the composing construct, where it was before the split.
    warnAboutImportQuota(
      scope,
      this.configs.filter((certificate) => !keys[certificate.id]),
    );
  }

  /**
   * Lets `grantee` sign with the key of the certificate `certificateId`, declared with `kmsKey`:
   * `kms:Sign` with its key type's one algorithm, and `kms:GetPublicKey`. A key passed in by the
   * caller keeps its own key policy; the grantee gets the identity statements only.
   */
  grantCertificateKeyUse(certificateId: string, grantee: iam.IGrantable): iam.Grant {
    const key = this.certificateKeys[certificateId];
    const config = this.configs.find((certificate) => certificate.id === certificateId);
    if (!key || !config) {
      throw new Error(
        `AcmeCertificates: grantCertificateKeyUse("${certificateId}"): no certificate with that id is declared with kmsKey (declared with kmsKey: ${Object.keys(this.certificateKeys).join(', ') || 'none'}).`,
      );
    }
    return grantKeyUse(key, grantee, ['kms:Sign'], {
      StringEquals: { 'kms:SigningAlgorithm': CERTIFICATE_KEY_SPECS[config.keyType].algorithm },
    }).combine(grantKeyUse(key, grantee, ['kms:GetPublicKey']));
  }
}

/** Warns at synth when the declared certificates would renew faster than ACM's import quota allows. */
function warnAboutImportQuota(scope: Construct, declared: readonly DeclaredCertificateConfig[]): void {
  const forecast = forecastAcmImports(
    declared.map((certificate) => ({
      certificateId: certificate.id,
      regions: certificate.regions,
      // Let's Encrypt's short-lived profile issues 6-day certificates; others are 90 days or more.
      lifetimeDays: certificate.profile === 'shortlived' ? 6 : 90,
    })),
  );
  for (const region of forecast.filter((entry) => entry.exceedsQuota)) {
    Annotations.of(scope).addWarningV2(
      'acme-aws:acmImportQuota',
      `The declared certificates would be imported about ${region.importsPerYear} times a year in ${region.region}; ACM allows 5,000 imports per account and region in 365 days. Use longer-lived certificates or fewer regions, or ask AWS for a higher quota.`,
    );
  }
}

/** Refuses a directory URL at synth with the rule the state machine applies to an input's. */
export function validateDirectoryUrl(directoryUrl: string): void {
  parseCertificateDeclarations([], { directoryUrl });
}

/**
 * Refuses, at synth, a declared certificate that the state machine would refuse at its first
 * renewal: the core's config schema decides for both. A region given as a token (such as
 * `Aws.REGION`) is resolved only at deploy, so it is checked as a stand-in and kept as given.
 */
export function validateCertificates(
  certificates: readonly CertificateProps[],
  stackRegion: string,
  hostedZones?: readonly { readonly id: string; readonly name: string }[],
): DeclaredCertificateConfig[] {
  return validateDeclarations(certificates, { region: stackRegion, ...(hostedZones ? { hostedZones } : {}) })
    .certificates;
}

/** Where synth checks the declared certificates: the stack's region and name, and the zones. */
export interface DeclarationScope {
  /** The stack's region, possibly a token. */
  readonly region: string;
  /** The stack's name, in the default secret names; a token leaves it out. */
  readonly stackName?: string;
  /** Hosted zones by id and name; synth then checks that one covers every declared domain. */
  readonly hostedZones?: readonly { readonly id: string; readonly name: string }[];
}

/**
 * {@link validateCertificates}, and each certificate's delivery (`secret`, `parameters`) with its
 * defaults: the core schema decides for both.
 */
export function validateDeclarations(
  certificates: readonly CertificateProps[],
  scope: DeclarationScope,
): ParsedDeclarations {
  const { region: stackRegion, stackName, hostedZones } = scope;
  const checked = parseDeclarations(
    certificates.map((certificate) =>
      certificate.regions?.some((region) => Token.isUnresolved(region))
        ? {
            ...certificate,
            regions: certificate.regions.map((region) =>
              Token.isUnresolved(region) ? REGION_STAND_IN : region,
            ),
          }
        : certificate,
    ),
    {
      ...(Token.isUnresolved(stackRegion) ? {} : { region: stackRegion }),
      ...(stackName !== undefined && !Token.isUnresolved(stackName) ? { stackName } : {}),
      ...(hostedZones ? { hostedZones } : {}),
    },
  );
  return {
    ...checked,
    certificates: checked.certificates.map((config, index) => {
      const given = certificates[index]?.regions;
      return given?.some((region) => Token.isUnresolved(region))
        ? { ...config, regions: [...given] }
        : config;
    }),
  };
}

/** A region name that passes the schema in place of a region token. */
const REGION_STAND_IN = 'us-east-1';
