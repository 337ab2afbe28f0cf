import {
  createPrivateKey,
  type KeyObject,
  X509Certificate as NodeX509Certificate,
  randomUUID,
} from 'node:crypto';
import {
  ACMClient,
  ACMServiceException,
  AddTagsToCertificateCommand,
  type AddTagsToCertificateCommandInput,
  type AddTagsToCertificateCommandOutput,
  DescribeCertificateCommand,
  type DescribeCertificateCommandInput,
  type DescribeCertificateCommandOutput,
  GetCertificateCommand,
  type GetCertificateCommandInput,
  type GetCertificateCommandOutput,
  ImportCertificateCommand,
  type ImportCertificateCommandInput,
  type ImportCertificateCommandOutput,
  ListTagsForCertificateCommand,
  type ListTagsForCertificateCommandInput,
  type ListTagsForCertificateCommandOutput,
  type Tag,
} from '@aws-sdk/client-acm';
import { mockClient } from 'aws-sdk-client-mock';
import {
  awsError,
  blobText,
  commandName,
  FakeCommandRunner,
  type ServiceExceptionClass,
} from './fake-support.js';

/**
 * An in-memory AWS Certificate Manager at the SDK boundary, for unit tests, the e2e state machine
 * and the demo. `ImportCertificate` validates like ACM does, so code that would be refused in AWS
 * is refused here too: PEM inputs only, a private key that matches the certificate, a chain
 * without the leaf, no tags on re-import, the same key algorithm on re-import.
 *
 * ACM is regional, and so is the fake: each call goes to the region its client is configured
 * with, new ARNs name that region, and an ARN is only found in its own region.
 */

const ACCOUNT = '123456789012';
const MAX_TAGS = 50;
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** One imported certificate, as the fake keeps it. */
export interface FakeAcmCertificate {
  readonly arn: string;
  /** The region the certificate was imported into; the ARN names it too. */
  readonly region: string;
  certificatePem: string;
  /** Intermediates as imported; empty when none were given. */
  chainPem: string;
  privateKeyPem: string;
  tags: Record<string, string>;
  /** 1 after the first import, +1 per re-import into the same ARN. */
  importCount: number;
  importedAt: Date;
  /** ACM's name for the key algorithm, e.g. `EC_prime256v1` or `RSA_2048`. */
  keyAlgorithm: string;
}

/** One request as the fake received it. */
export interface FakeAcmRequest {
  readonly command: string;
  readonly input: unknown;
  /** The region of the client that sent it. */
  readonly region: string;
}

export interface FailNextOptions {
  /** Fail only calls to this region. @default any region */
  readonly region?: string;
}

export interface AcmFake {
  /** Region of calls from clients that have none configured. */
  readonly region: string;
  /** Every certificate in every region, by ARN. */
  readonly certificates: ReadonlyMap<string, FakeAcmCertificate>;
  /** Calls per command (`ImportCertificate`, `AddTagsToCertificate`, ...) in all regions, failed ones included. */
  readonly calls: Readonly<Record<string, number>>;
  /** Every request with its input and region, oldest first. */
  readonly requests: readonly FakeAcmRequest[];
  /** The certificates imported into `region`, by ARN (a snapshot). */
  certificatesIn(region: string): ReadonlyMap<string, FakeAcmCertificate>;
  /**
   * Makes the next `times` calls of `command` (in `options.region`, or in any region) throw an
   * error named `errorName`. Injections are used in the order they were made.
   */
  failNext(command: string, errorName: string, times?: number, options?: FailNextOptions): void;
  /** Gives `ACMClient` back its real `send`. */
  restore(): void;
}

function keyAlgorithmOf(key: KeyObject): string | undefined {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'rsa' && [1024, 2048, 3072, 4096].includes(details?.modulusLength ?? 0)) {
    return `RSA_${details?.modulusLength}`;
  }
  if (
    key.asymmetricKeyType === 'ec' &&
    ['prime256v1', 'secp384r1', 'secp521r1'].includes(details?.namedCurve ?? '')
  ) {
    return `EC_${details?.namedCurve}`;
  }
  return undefined;
}

function dnsNamesOf(certificate: NodeX509Certificate): string[] {
  return (certificate.subjectAltName ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice('DNS:'.length));
}

function commonNameOf(certificate: NodeX509Certificate): string | undefined {
  return /^CN=(.*)$/m.exec(certificate.subject)?.[1];
}

/** What `callsFake` hands over as `getClient`, reduced to the part the fake reads. */
type ClientGetter = () => { readonly config: { readonly region?: unknown } } | undefined;

/**
 * The region a client sends to: its configured region (a string or, once the SDK has resolved
 * the config, a provider), or `fallback` when it has none, as in tests that build bare clients.
 */
async function regionOf(
  client: { readonly config: { readonly region?: unknown } } | undefined,
  fallback: string,
): Promise<string> {
  const configured = client?.config.region;
  if (typeof configured === 'string' && configured) return configured;
  if (typeof configured !== 'function') return fallback;
  try {
    const resolved: unknown = await configured();
    return typeof resolved === 'string' && resolved ? resolved : fallback;
  } catch {
    // The SDK's provider throws "Region is missing" for a client built without one.
    return fallback;
  }
}

/**
 * Replaces `send` on every `ACMClient` (including clients created before this call) with an
 * in-memory ACM supporting ImportCertificate, AddTagsToCertificate, DescribeCertificate,
 * ListTagsForCertificate and GetCertificate, in every region. Calls go to the region of the
 * client that sends them; `options.region` is used for clients without one. Call `restore()`
 * when done.
 */
export function installAcmFake(options: { region?: string } = {}): AcmFake {
  const region = options.region ?? 'us-east-1';
  const ServiceException = ACMServiceException as unknown as ServiceExceptionClass;
  const runner = new FakeCommandRunner(ServiceException);
  const certificates = new Map<string, FakeAcmCertificate>();
  const requests: FakeAcmRequest[] = [];
  const failures = new Map<string, { errorName: string; remaining: number; region?: string }[]>();
  const mock = mockClient(ACMClient);
  const ok = () => ({ httpStatusCode: 200, requestId: randomUUID(), attempts: 1, totalRetryDelay: 0 });

  const invalid = (message: string): never => runner.fail({ name: 'ValidationException', message });

  const throwInjectedFailure = (command: string, callRegion: string): void => {
    const queue = failures.get(command) ?? [];
    const index = queue.findIndex((failure) => failure.region === undefined || failure.region === callRegion);
    const due = queue[index];
    if (!due) return;
    due.remaining -= 1;
    if (due.remaining <= 0) queue.splice(index, 1);
    throw awsError(ServiceException, {
      name: due.errorName,
      message: `Injected ${due.errorName} for ${command} in ${callRegion}`,
    });
  };

  /**
   * Runs one call in the caller's region. `getClient` must be read before the first `await`:
   * aws-sdk-client-mock answers it with the client of the latest `send`.
   */
  const serve = async <T>(
    command: string,
    input: unknown,
    getClient: ClientGetter,
    handler: (callRegion: string) => T,
  ): Promise<T> => {
    const client = getClient();
    const callRegion = await regionOf(client, region);
    requests.push({ command, input, region: callRegion });
    return runner.run(command, input, () => {
      throwInjectedFailure(command, callRegion);
      return handler(callRegion);
    });
  };

  const lookup = (arn: string | undefined, callRegion: string): FakeAcmCertificate => {
    if (!arn || !/^arn:aws:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]+$/.test(arn)) {
      return runner.fail({
        name: 'InvalidArnException',
        message: `String '${arn ?? ''}' is not a valid ARN.`,
      });
    }
    const found = certificates.get(arn);
    // An ARN belongs to one region: asking another region's endpoint finds nothing.
    if (!found || found.region !== callRegion)
      return runner.fail({
        name: 'ResourceNotFoundException',
        message: `Could not find certificate ${arn}.`,
      });
    return found;
  };

  const validateTags = (tags: readonly Tag[], existing: Readonly<Record<string, string>> = {}) => {
    for (const tag of tags) {
      if (!tag.Key || tag.Key.length > 128 || (tag.Value ?? '').length > 256 || tag.Key.startsWith('aws:')) {
        runner.fail({ name: 'InvalidTagException', message: `Tag ${tag.Key ?? '(empty)'} is invalid.` });
      }
    }
    const keys = new Set([...Object.keys(existing), ...tags.map((tag) => tag.Key ?? '')]);
    if (keys.size > MAX_TAGS)
      runner.fail({ name: 'TooManyTagsException', message: 'the tag limit has been exceeded' });
  };

  const parseCertificate = (pem: string, field: string): NodeX509Certificate => {
    try {
      return new NodeX509Certificate(pem);
    } catch {
      return invalid(`The ${field} could not be parsed; it must be PEM-encoded.`);
    }
  };

  mock
    .onAnyCommand()
    .callsFake(() =>
      runner.fail({ name: 'ValidationException', message: 'The ACM fake does not support this command' }),
    );

  mock
    .on(ImportCertificateCommand)
    .callsFake((input: ImportCertificateCommandInput, getClient: ClientGetter) =>
      serve('ImportCertificate', input, getClient, (callRegion): ImportCertificateCommandOutput => {
        if (input.Tags && input.Tags.length > 0 && input.CertificateArn) {
          invalid('Tags cannot be applied while reimporting a certificate.');
        }
        const certificatePem = blobText(input.Certificate) ?? '';
        const privateKeyPem = blobText(input.PrivateKey) ?? '';
        const chainPem = blobText(input.CertificateChain) ?? '';

        const leafBlocks = certificatePem.match(PEM_CERTIFICATE) ?? [];
        if (leafBlocks.length !== 1)
          invalid('The certificate field must contain exactly one PEM certificate.');
        const leaf = parseCertificate(certificatePem, 'certificate');

        if (!/-----BEGIN (RSA |EC )?PRIVATE KEY-----/.test(privateKeyPem)) {
          invalid('The private key is not supported; it must be an unencrypted PEM private key.');
        }
        let privateKey: KeyObject;
        try {
          privateKey = createPrivateKey(privateKeyPem);
        } catch {
          return invalid('The private key could not be parsed.');
        }
        const keyAlgorithm = keyAlgorithmOf(privateKey);
        if (!keyAlgorithm) invalid('The private key algorithm is not supported.');
        if (!leaf.checkPrivateKey(privateKey)) invalid('The private key does not match the certificate.');

        if (chainPem.trim()) {
          const chainBlocks = chainPem.match(PEM_CERTIFICATE) ?? [];
          if (chainBlocks.length === 0)
            invalid('The certificate chain could not be parsed; it must be PEM-encoded.');
          for (const block of chainBlocks) {
            if (parseCertificate(block, 'certificate chain').raw.equals(leaf.raw)) {
              invalid('The certificate chain must not contain the certificate being imported.');
            }
          }
        }

        const tags = input.Tags ?? [];
        let entry: FakeAcmCertificate;
        if (input.CertificateArn) {
          entry = lookup(input.CertificateArn, callRegion);
          if (entry.keyAlgorithm !== keyAlgorithm) {
            invalid(
              `The key algorithm cannot change on reimport (${entry.keyAlgorithm} to ${keyAlgorithm}).`,
            );
          }
          entry.importCount += 1;
        } else {
          validateTags(tags);
          entry = {
            arn: `arn:aws:acm:${callRegion}:${ACCOUNT}:certificate/${randomUUID()}`,
            region: callRegion,
            certificatePem,
            chainPem,
            privateKeyPem,
            tags: Object.fromEntries(tags.map((tag) => [tag.Key ?? '', tag.Value ?? ''])),
            importCount: 1,
            importedAt: new Date(),
            keyAlgorithm: keyAlgorithm ?? '',
          };
          certificates.set(entry.arn, entry);
        }
        entry.certificatePem = certificatePem;
        entry.chainPem = chainPem;
        entry.privateKeyPem = privateKeyPem;
        entry.importedAt = new Date();
        return { $metadata: ok(), CertificateArn: entry.arn };
      }),
    );

  mock
    .on(AddTagsToCertificateCommand)
    .callsFake((input: AddTagsToCertificateCommandInput, getClient: ClientGetter) =>
      serve('AddTagsToCertificate', input, getClient, (callRegion): AddTagsToCertificateCommandOutput => {
        const entry = lookup(input.CertificateArn, callRegion);
        const tags = input.Tags ?? [];
        if (tags.length === 0) invalid('Tags must contain at least one tag.');
        validateTags(tags, entry.tags);
        for (const tag of tags) entry.tags[tag.Key ?? ''] = tag.Value ?? '';
        return { $metadata: ok() };
      }),
    );

  mock
    .on(ListTagsForCertificateCommand)
    .callsFake((input: ListTagsForCertificateCommandInput, getClient: ClientGetter) =>
      serve('ListTagsForCertificate', input, getClient, (callRegion): ListTagsForCertificateCommandOutput => {
        const entry = lookup(input.CertificateArn, callRegion);
        return { $metadata: ok(), Tags: Object.entries(entry.tags).map(([Key, Value]) => ({ Key, Value })) };
      }),
    );

  mock.on(GetCertificateCommand).callsFake((input: GetCertificateCommandInput, getClient: ClientGetter) =>
    serve('GetCertificate', input, getClient, (callRegion): GetCertificateCommandOutput => {
      const entry = lookup(input.CertificateArn, callRegion);
      return {
        $metadata: ok(),
        Certificate: entry.certificatePem,
        ...(entry.chainPem ? { CertificateChain: entry.chainPem } : {}),
      };
    }),
  );

  mock
    .on(DescribeCertificateCommand)
    .callsFake((input: DescribeCertificateCommandInput, getClient: ClientGetter) =>
      serve('DescribeCertificate', input, getClient, (callRegion): DescribeCertificateCommandOutput => {
        const entry = lookup(input.CertificateArn, callRegion);
        const leaf = new NodeX509Certificate(entry.certificatePem);
        const dnsNames = dnsNamesOf(leaf);
        const notAfter = new Date(leaf.validTo);
        return {
          $metadata: ok(),
          Certificate: {
            CertificateArn: entry.arn,
            DomainName: commonNameOf(leaf) ?? dnsNames[0],
            SubjectAlternativeNames: dnsNames,
            Serial: (leaf.serialNumber.match(/../g) ?? []).join(':').toLowerCase(),
            Subject: leaf.subject.replaceAll('\n', ','),
            Issuer: leaf.issuer.replaceAll('\n', ','),
            NotBefore: new Date(leaf.validFrom),
            NotAfter: notAfter,
            ImportedAt: entry.importedAt,
            Status: notAfter.getTime() < Date.now() ? 'EXPIRED' : 'ISSUED',
            Type: 'IMPORTED',
            KeyAlgorithm: entry.keyAlgorithm as NonNullable<
              DescribeCertificateCommandOutput['Certificate']
            >['KeyAlgorithm'],
            InUseBy: [],
          },
        };
      }),
    );

  return {
    region,
    certificates,
    calls: runner.calls,
    requests,
    certificatesIn: (wanted) =>
      new Map([...certificates].filter(([, certificate]) => certificate.region === wanted)),
    failNext: (command, errorName, times = 1, failOptions = {}) => {
      const name = commandName(command);
      const queue = failures.get(name) ?? [];
      queue.push({
        errorName,
        remaining: times,
        ...(failOptions.region === undefined ? {} : { region: failOptions.region }),
      });
      failures.set(name, queue);
    },
    restore: () => mock.restore(),
  };
}
