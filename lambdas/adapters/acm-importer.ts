import {
  type ACMClient,
  AddTagsToCertificateCommand,
  ImportCertificateCommand,
  type Tag,
} from '@aws-sdk/client-acm';
import { AwsRequestError } from '../core/errors.js';
import type { CertificateImporter, ImportCertificateRequest } from '../core/ports.js';
import { wrapAwsError } from './wrap-aws-error.js';

export interface AcmImporterOptions {
  readonly client: ACMClient;
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
  readonly #client: ACMClient;

  constructor(options: AcmImporterOptions) {
    this.#client = options.client;
  }

  async importCertificate(request: ImportCertificateRequest): Promise<{ arn: string }> {
    const tags = toTags(request.tags);
    const target = request.existingArn ? `re-import into ${request.existingArn}` : 'new import';
    let arn: string | undefined;
    try {
      ({ CertificateArn: arn } = await this.#client.send(
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
        await this.#client.send(new AddTagsToCertificateCommand({ CertificateArn: arn, Tags: tags }));
      } catch (error) {
        throw wrapAwsError(error, `ACM AddTagsToCertificate on ${arn}`);
      }
    }
    return { arn };
  }
}
