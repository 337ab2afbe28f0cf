import { Annotations, CustomResource, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import {
  KEY_TYPES as CORE_KEY_TYPES,
  type DeclaredCertificateConfig,
  parseCertificateDeclarations,
} from '../lambdas/core/config/schema.js';
import { forecastAcmImports } from '../lambdas/core/renewal/quota.js';
import type { KeyType } from '../lambdas/core/state.js';
import type { CertificateStore } from './certificate-store.js';
import { adminOnlyKeyPolicy, grantKeyUse } from './key-policy.js';
import { keepLogicalId } from './logical-ids.js';
import type { StepFunctions } from './step-functions.js';

/** Certificate key algorithms; CloudFront accepts RSA and EC_P256. */
export type CertificateKeyType = KeyType;

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
  /**
   * Hosted zones by id and name; synth then checks that one covers every declared domain.
   * @default no check
   */
  readonly hostedZones?: readonly { readonly id: string; readonly name: string }[];
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
    this.configs = validateCertificates(certificates, Stack.of(this).region, props.hostedZones);
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
          this.configs.map((certificate) =>
            keys[certificate.id] ? { ...certificate, kmsKeyArn: keys[certificate.id]?.keyArn } : certificate,
          ),
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
  const checked = parseCertificateDeclarations(
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
      ...(hostedZones ? { hostedZones } : {}),
    },
  );
  return checked.map((config, index) => {
    const given = certificates[index]?.regions;
    return given?.some((region) => Token.isUnresolved(region)) ? { ...config, regions: [...given] } : config;
  });
}

/** A region name that passes the schema in place of a region token. */
const REGION_STAND_IN = 'us-east-1';
