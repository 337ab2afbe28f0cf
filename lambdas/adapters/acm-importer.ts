import { X509Certificate } from 'node:crypto';
import type { ACMClient, CertificateDetail, Tag } from '@aws-sdk/client-acm';
import type { Extension } from '@peculiar/asn1-x509';
import { AwsRequestError, InvalidInputError } from '../core/errors.js';
import type { CertificateImporter, CertificateImporters, ImportCertificateRequest } from '../core/ports.js';
import { wrapAwsError } from './wrap-aws-error.js';

/** The ACM SDK, imported on first use and never with this module (runtime.ts says why). */
const sdk = () => import('@aws-sdk/client-acm');

/**
 * RFC 5280's ASN.1 schema, imported on first use: runtime.ts imports this module into every
 * bundle, and a static import would put the schema (side effects and all) in each of them.
 */
const asn1 = async () => {
  const [{ AsnConvert }, x509] = await Promise.all([
    import('@peculiar/asn1-schema'),
    import('@peculiar/asn1-x509'),
  ]);
  return { AsnConvert, ...x509 };
};

export interface AcmImporterOptions {
  /** The client, or a promise of it for a client whose SDK is still being imported. */
  readonly client: ACMClient | Promise<ACMClient>;
}

const encoder = new TextEncoder();

function toTags(tags: Readonly<Record<string, string>>): Tag[] {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}

/** ACM's `KeyUsageName` for each RFC 5280 §4.2.1.3 Key Usage bit, in bit order. */
const KEY_USAGE_NAMES = [
  'DIGITAL_SIGNATURE',
  'NON_REPUDIATION',
  'KEY_ENCIPHERMENT',
  'DATA_ENCIPHERMENT',
  'KEY_AGREEMENT',
  'CERTIFICATE_SIGNING',
  'CRL_SIGNING',
  'ENCIPHER_ONLY',
  'DECIPHER_ONLY',
] as const;

/** RFC 5280 §4.2.1.12 purpose OIDs by ACM's `ExtendedKeyUsageName`, for entries that come without one. */
const EXTENDED_KEY_USAGE_OIDS: Readonly<Record<string, string>> = {
  TLS_WEB_SERVER_AUTHENTICATION: '1.3.6.1.5.5.7.3.1',
  TLS_WEB_CLIENT_AUTHENTICATION: '1.3.6.1.5.5.7.3.2',
  CODE_SIGNING: '1.3.6.1.5.5.7.3.3',
  EMAIL_PROTECTION: '1.3.6.1.5.5.7.3.4',
  IPSEC_END_SYSTEM: '1.3.6.1.5.5.7.3.5',
  IPSEC_TUNNEL: '1.3.6.1.5.5.7.3.6',
  IPSEC_USER: '1.3.6.1.5.5.7.3.7',
  TIME_STAMPING: '1.3.6.1.5.5.7.3.8',
  OCSP_SIGNING: '1.3.6.1.5.5.7.3.9',
  ANY: '2.5.29.37.0',
};
const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';

/** A certificate's Key Usage (ACM names) and Extended Key Usage (OIDs); `undefined` without the extension. */
interface Usages {
  readonly keyUsages: ReadonlySet<string> | undefined;
  readonly extendedKeyUsages: ReadonlySet<string> | undefined;
}

/** A certificate about to be imported, as far as ACM's re-import conditions look at it. */
interface NewCertificate extends Usages {
  readonly ecdsa: boolean;
}

/**
 * The key kind, Key Usage and Extended Key Usage of a PEM certificate. The extensions are read
 * with the ASN.1 schema of RFC 5280 (`@peculiar/asn1-x509`), which is much smaller than a full
 * X.509 library in the ImportToAcm bundle.
 */
async function readNewCertificate(certificatePem: string): Promise<NewCertificate> {
  const { AsnConvert, Certificate, ExtendedKeyUsage, id_ce_extKeyUsage, id_ce_keyUsage, KeyUsage } =
    await asn1();
  let certificate: X509Certificate;
  let extensions: readonly Extension[];
  try {
    certificate = new X509Certificate(certificatePem);
    extensions = AsnConvert.parse(certificate.raw, Certificate).tbsCertificate.extensions ?? [];
  } catch (error) {
    throw new InvalidInputError('The certificate to import is not a parsable PEM certificate', {
      cause: error,
    });
  }
  let keyUsages: Set<string> | undefined;
  let extendedKeyUsages: Set<string> | undefined;
  for (const extension of extensions) {
    if (extension.extnID === id_ce_keyUsage) {
      const bits = AsnConvert.parse(extension.extnValue, KeyUsage).toNumber();
      // Bit n of RFC 5280's KeyUsage (digitalSignature is bit 0) is the flag 2^n.
      keyUsages = new Set(KEY_USAGE_NAMES.filter((_, bit) => (bits & (1 << bit)) !== 0));
    } else if (extension.extnID === id_ce_extKeyUsage) {
      extendedKeyUsages = new Set(AsnConvert.parse(extension.extnValue, ExtendedKeyUsage));
    }
  }
  return { keyUsages, extendedKeyUsages, ecdsa: certificate.publicKey.asymmetricKeyType === 'ec' };
}

/**
 * What DescribeCertificate says about the certificate ACM holds; an empty list means no extension.
 * Key Usage names that stand for no RFC 5280 bit (`ANY`, `CUSTOM`) are left out: if ACM held one,
 * a refused re-import fails the step loudly rather than quietly moving the certificate to a new ARN.
 */
function usagesOfDetail(detail: CertificateDetail | undefined): Usages {
  const known: ReadonlySet<string> = new Set(KEY_USAGE_NAMES);
  const keyUsages = (detail?.KeyUsages ?? []).flatMap((usage) =>
    usage.Name && known.has(usage.Name) ? [usage.Name] : [],
  );
  const extendedKeyUsages = (detail?.ExtendedKeyUsages ?? []).flatMap((usage) => {
    const oid = usage.OID ?? (usage.Name ? EXTENDED_KEY_USAGE_OIDS[usage.Name] : undefined);
    return oid ? [oid] : [];
  });
  return {
    keyUsages: keyUsages.length > 0 ? new Set(keyUsages) : undefined,
    extendedKeyUsages: extendedKeyUsages.length > 0 ? new Set(extendedKeyUsages) : undefined,
  };
}

/**
 * Whether ACM would refuse to re-import `next` over `current`. "Reimport a certificate" (ACM User
 * Guide, https://docs.aws.amazon.com/acm/latest/userguide/import-reimport.html): Key Usage and
 * Extended Key Usage values may be added but not removed, except `keyEncipherment` from an ECDSA
 * certificate and Client Authentication; "Prerequisites for importing ACM certificates"
 * (https://docs.aws.amazon.com/acm/latest/userguide/import-certificate-prerequisites.html): nor
 * may a re-import add either extension when the certificate it replaces has none.
 */
function reimportRefused(current: Usages, next: NewCertificate): boolean {
  const breaks = (
    before: ReadonlySet<string> | undefined,
    after: ReadonlySet<string> | undefined,
    mayDrop: string | undefined,
  ) =>
    (!before && after !== undefined) ||
    [...(before ?? [])].some((value) => value !== mayDrop && !after?.has(value));
  return (
    breaks(current.keyUsages, next.keyUsages, next.ecdsa ? 'KEY_ENCIPHERMENT' : undefined) ||
    breaks(current.extendedKeyUsages, next.extendedKeyUsages, CLIENT_AUTH_OID)
  );
}

/**
 * Imports issued certificates into ACM. A renewal re-imports into the existing ARN, so load
 * balancers and distributions that use the certificate pick up the new one without a change.
 * ACM refuses tags on a re-import, so there the tags are applied by a separate
 * `AddTagsToCertificate` call.
 *
 * Before a re-import it reads the certificate at that ARN (`DescribeCertificate`): ACM refuses a
 * re-import that drops a Key Usage or Extended Key Usage value (an RSA certificate whose new ACME
 * profile, such as Let's Encrypt's `tlsserver` or `shortlived`, no longer sets keyEncipherment) or
 * adds such an extension. Such a certificate is imported as a new one, tagged like a first import,
 * and its new ARN returned, so the caller sees the ARN change and can tell the operator.
 *
 * SDK failures become `AwsTransientError` (throttling, a request still in progress, 5xx) or
 * `AwsRequestError`; messages never contain the private key.
 */
export class AcmImporter implements CertificateImporter {
  readonly #client: ACMClient | Promise<ACMClient>;

  constructor(options: AcmImporterOptions) {
    this.#client = options.client;
  }

  async importCertificate(request: ImportCertificateRequest): Promise<{ arn: string }> {
    const { existingArn, ...certificate } = request;
    if (existingArn && (await this.#wouldRefuseReimport(existingArn, request.certificatePem))) {
      return this.#import(certificate, undefined);
    }
    return this.#import(certificate, existingArn);
  }

  async #wouldRefuseReimport(arn: string, certificatePem: string): Promise<boolean> {
    const next = await readNewCertificate(certificatePem);
    const { DescribeCertificateCommand } = await sdk();
    const client = await this.#client;
    let detail: CertificateDetail | undefined;
    try {
      ({ Certificate: detail } = await client.send(new DescribeCertificateCommand({ CertificateArn: arn })));
    } catch (error) {
      throw wrapAwsError(error, `ACM DescribeCertificate on ${arn}`);
    }
    return reimportRefused(usagesOfDetail(detail), next);
  }

  async #import(
    request: Omit<ImportCertificateRequest, 'existingArn'>,
    existingArn: string | undefined,
  ): Promise<{ arn: string }> {
    const tags = toTags(request.tags);
    const target = existingArn ? `re-import into ${existingArn}` : 'new import';
    const { AddTagsToCertificateCommand, ImportCertificateCommand } = await sdk();
    const client = await this.#client;
    let arn: string | undefined;
    try {
      ({ CertificateArn: arn } = await client.send(
        new ImportCertificateCommand({
          Certificate: encoder.encode(request.certificatePem),
          PrivateKey: encoder.encode(request.privateKeyPem),
          ...(request.chainPem.trim() ? { CertificateChain: encoder.encode(request.chainPem) } : {}),
          ...(existingArn ? { CertificateArn: existingArn } : tags.length > 0 ? { Tags: tags } : {}),
        }),
      ));
    } catch (error) {
      throw wrapAwsError(error, `ACM ImportCertificate (${target})`);
    }
    if (!arn) throw new AwsRequestError(`ACM ImportCertificate (${target}) returned no certificate ARN`);

    if (existingArn && tags.length > 0) {
      try {
        await client.send(new AddTagsToCertificateCommand({ CertificateArn: arn, Tags: tags }));
      } catch (error) {
        throw wrapAwsError(error, `ACM AddTagsToCertificate on ${arn}`);
      }
    }
    return { arn };
  }
}
export interface AcmImportersOptions {
  /**
   * Builds the client for one region, e.g. to tune retries; it may return a promise.
   * @default `new ACMClient({ region })`, once the SDK is imported
   */
  readonly createClient?: (region: string) => ACMClient | Promise<ACMClient>;
}

/** AWS region names such as `us-east-1`, `eu-central-2` or `us-gov-west-1`. */
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

/**
 * An `AcmImporter` per region, for certificates imported into several regions in one run
 * (CloudFront only uses certificates in us-east-1; load balancers use their own region's). ACM
 * is regional and an ARN belongs to one region, so each region gets its own client, created on
 * first use and reused for the life of the Lambda container.
 */
export class AcmImporters implements CertificateImporters {
  readonly #createClient: (region: string) => ACMClient | Promise<ACMClient>;
  readonly #importers = new Map<string, AcmImporter>();

  constructor(options: AcmImportersOptions = {}) {
    this.#createClient = options.createClient ?? (async (region) => new (await sdk()).ACMClient({ region }));
  }

  /** The importer for `region`; the same instance (and client) on every call for that region. */
  forRegion(region: string): CertificateImporter {
    let importer = this.#importers.get(region);
    if (!importer) {
      if (!REGION.test(region)) {
        throw new InvalidInputError(`'${region}' is not an AWS region name (expected e.g. us-east-1)`);
      }
      importer = new AcmImporter({ client: this.#createClient(region) });
      this.#importers.set(region, importer);
    }
    return importer;
  }
}
