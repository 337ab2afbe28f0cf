import type { ACMClient, Tag } from '@aws-sdk/client-acm';
import { AwsRequestError, InvalidInputError } from '../core/errors.js';
import type { CertificateImporter, CertificateImporters, ImportCertificateRequest } from '../core/ports.js';
import { wrapAwsError } from './wrap-aws-error.js';

/** The ACM SDK, imported on first use and never with this module (runtime.ts says why). */
const sdk = () => import('@aws-sdk/client-acm');

export interface AcmImporterOptions {
  /** The client, or a promise of it for a client whose SDK is still being imported. */
  readonly client: ACMClient | Promise<ACMClient>;
}

const encoder = new TextEncoder();

function toTags(tags: Readonly<Record<string, string>>): Tag[] {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}

/**
 * Imports issued certificates into ACM. A renewal re-imports into the existing ARN, so load
 * balancers and distributions that use the certificate pick up the new one without a change.
 * ACM refuses tags on a re-import, so there the tags are applied by a separate
 * `AddTagsToCertificate` call. SDK failures become `AwsTransientError` (throttling, a request
 * still in progress, 5xx) or `AwsRequestError`; messages never contain the private key.
 */
export class AcmImporter implements CertificateImporter {
  readonly #client: ACMClient | Promise<ACMClient>;

  constructor(options: AcmImporterOptions) {
    this.#client = options.client;
  }

  async importCertificate(request: ImportCertificateRequest): Promise<{ arn: string }> {
    const tags = toTags(request.tags);
    const target = request.existingArn ? `re-import into ${request.existingArn}` : 'new import';
    const { AddTagsToCertificateCommand, ImportCertificateCommand } = await sdk();
    const client = await this.#client;
    let arn: string | undefined;
    try {
      ({ CertificateArn: arn } = await client.send(
        new ImportCertificateCommand({
          Certificate: encoder.encode(request.certificatePem),
          PrivateKey: encoder.encode(request.privateKeyPem),
          ...(request.chainPem.trim() ? { CertificateChain: encoder.encode(request.chainPem) } : {}),
          ...(request.existingArn
            ? { CertificateArn: request.existingArn }
            : tags.length > 0
              ? { Tags: tags }
              : {}),
        }),
      ));
    } catch (error) {
      throw wrapAwsError(error, `ACM ImportCertificate (${target})`);
    }
    if (!arn) throw new AwsRequestError(`ACM ImportCertificate (${target}) returned no certificate ARN`);

    if (request.existingArn && tags.length > 0) {
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
