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
  type ExtendedKeyUsageName,
  ImportCertificateCommand,
  type ImportCertificateCommandInput,
  type ImportCertificateCommandOutput,
  type KeyUsageName,
  type Tag,
} from '@aws-sdk/client-acm';
import { mockClient } from 'aws-sdk-client-mock';
import {
  ExtendedKeyUsageExtension,
  KeyUsagesExtension,
  X509Certificate as PeculiarX509Certificate,
} from '../../lambdas/core/crypto/x509.js';
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
 * without the leaf, a certificate inside its validity period (by the fake's clock), and on
 * re-import no tags, the same key algorithm, at least one domain name, and no Key Usage or
 * Extended Key Usage value dropped (nor such an extension added) beyond ACM's documented exceptions.
 *
 * ACM is regional, and so is the fake: each call goes to the region its client is configured
 * with, new ARNs name that region, and an ARN is only found in its own region.
 */

const ACCOUNT = '123456789012';
const MAX_TAGS = 50;
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** ACM's `KeyUsageName` for each RFC 5280 §4.2.1.3 Key Usage bit, lowest bit first. */
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

/** ACM's `ExtendedKeyUsageName` per RFC 5280 §4.2.1.12 purpose OID; any other OID is `CUSTOM`. */
const EXTENDED_KEY_USAGE_NAMES: Readonly<Record<string, string>> = {
  '1.3.6.1.5.5.7.3.1': 'TLS_WEB_SERVER_AUTHENTICATION',
  '1.3.6.1.5.5.7.3.2': 'TLS_WEB_CLIENT_AUTHENTICATION',
  '1.3.6.1.5.5.7.3.3': 'CODE_SIGNING',
  '1.3.6.1.5.5.7.3.4': 'EMAIL_PROTECTION',
  '1.3.6.1.5.5.7.3.5': 'IPSEC_END_SYSTEM',
  '1.3.6.1.5.5.7.3.6': 'IPSEC_TUNNEL',
  '1.3.6.1.5.5.7.3.7': 'IPSEC_USER',
  '1.3.6.1.5.5.7.3.8': 'TIME_STAMPING',
  '1.3.6.1.5.5.7.3.9': 'OCSP_SIGNING',
  '2.5.29.37.0': 'ANY',
};
const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';

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

export interface AcmFakeOptions {
  /**
   * Region of calls from clients that have none configured.
   * @default 'us-east-1'
   */
  readonly region?: string;
  /**
   * The fake's clock: what ImportCertificate checks a certificate's validity period against, and
   * what DescribeCertificate's `Status` and `ImportedAt` are based on. Tests move time with it.
   * @default () => new Date()
   */
  readonly now?: () => Date;
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

/** The Key Usage and Extended Key Usage of a certificate; `undefined` where it lacks the extension. */
interface CertificateUsages {
  /** ACM `KeyUsageName`s. */
  readonly keyUsages: ReadonlySet<string> | undefined;
  /** Purpose OIDs. */
  readonly extendedKeyUsages: ReadonlySet<string> | undefined;
}

function usagesOf(pem: string): CertificateUsages {
  const certificate = new PeculiarX509Certificate(pem);
  const keyUsage = certificate.getExtension(KeyUsagesExtension);
  const extendedKeyUsage = certificate.getExtension(ExtendedKeyUsageExtension);
  return {
    keyUsages: keyUsage
      ? new Set(KEY_USAGE_NAMES.filter((_, bit) => (keyUsage.usages & (1 << bit)) !== 0))
      : undefined,
    extendedKeyUsages: extendedKeyUsage ? new Set(extendedKeyUsage.usages.map(String)) : undefined,
  };
}

function extendedKeyUsageName(oid: string): string {
  return EXTENDED_KEY_USAGE_NAMES[oid] ?? 'CUSTOM';
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
 * in-memory ACM supporting ImportCertificate, AddTagsToCertificate and DescribeCertificate (what
 * the adapter sends), in every region. Calls go to the region of the client that sends them;
 * `options.region` is used for clients without one. Call `restore()` when done.
 */
export function installAcmFake(options: AcmFakeOptions = {}): AcmFake {
  const region = options.region ?? 'us-east-1';
  const now = options.now ?? (() => new Date());
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

  /**
   * "The current time must be between the Not Before and Not After certificate fields."
   * (ImportCertificate, AWS Certificate Manager API Reference,
   * https://docs.aws.amazon.com/acm/latest/APIReference/API_ImportCertificate.html; also
   * "Prerequisites for importing ACM certificates",
   * https://docs.aws.amazon.com/acm/latest/userguide/import-certificate-prerequisites.html).
   * AWS does not document the message texts; these are the ones the moto ACM emulator reports.
   */
  const requireValidNow = (leaf: NodeX509Certificate): void => {
    const at = now().getTime();
    if (at < new Date(leaf.validFrom).getTime())
      invalid('The certificate is not in effect yet, is not valid.');
    if (at > new Date(leaf.validTo).getTime()) invalid('The certificate has expired, is not valid.');
  };

  /**
   * One usage extension on re-import, as "Reimport a certificate" in the ACM User Guide lists it
   * (https://docs.aws.amazon.com/acm/latest/userguide/import-reimport.html): when the certificate
   * being replaced has the extension, values may be added but not removed, except those in
   * `mayDrop`. And "Prerequisites for importing ACM certificates"
   * (https://docs.aws.amazon.com/acm/latest/userguide/import-certificate-prerequisites.html):
   * a re-import cannot add a Key Usage or Extended Key Usage extension the previous certificate
   * did not have.
   */
  const requireKeptUsages = (
    extension: 'Key Usage' | 'Extended Key Usage',
    before: ReadonlySet<string> | undefined,
    after: ReadonlySet<string> | undefined,
    mayDrop: ReadonlySet<string>,
    label: (value: string) => string,
  ): void => {
    if (!before) {
      if (after) {
        invalid(
          `The ${extension} extension cannot be added on reimport: the certificate being replaced has none.`,
        );
      }
      return;
    }
    const dropped = [...before].filter((value) => !after?.has(value) && !mayDrop.has(value));
    if (dropped.length > 0) {
      invalid(
        `The ${extension} values of the certificate being replaced cannot be removed on reimport; ` +
          `the new certificate lacks ${dropped.map(label).join(', ')}.`,
      );
    }
  };

  /** The conditions of "Reimport a certificate" that the key algorithm and tag checks do not cover. */
  const requireReimportable = (
    existing: FakeAcmCertificate,
    leaf: NodeX509Certificate,
    pem: string,
  ): void => {
    // "You cannot remove all of the domain names from a certificate."
    if (dnsNamesOf(leaf).length === 0 && !commonNameOf(leaf)) {
      invalid('You cannot remove all of the domain names from a certificate on reimport.');
    }
    const before = usagesOf(existing.certificatePem);
    const after = usagesOf(pem);
    // "You can remove the keyEncipherment Key Usage from ECDSA certificates" (RFC 5480 §3).
    const ecdsa = existing.keyAlgorithm.startsWith('EC_');
    requireKeptUsages(
      'Key Usage',
      before.keyUsages,
      after.keyUsages,
      new Set(ecdsa ? ['KEY_ENCIPHERMENT'] : []),
      (name) => name,
    );
    // "You can remove the Client Authentication Extended Key Usage."
    requireKeptUsages(
      'Extended Key Usage',
      before.extendedKeyUsages,
      after.extendedKeyUsages,
      new Set([CLIENT_AUTH_OID]),
      (oid) => `${extendedKeyUsageName(oid)} (${oid})`,
    );
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
        requireValidNow(leaf);

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
          requireReimportable(entry, leaf, certificatePem);
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
            importedAt: now(),
            keyAlgorithm: keyAlgorithm ?? '',
          };
          certificates.set(entry.arn, entry);
        }
        entry.certificatePem = certificatePem;
        entry.chainPem = chainPem;
        entry.privateKeyPem = privateKeyPem;
        entry.importedAt = now();
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
    .on(DescribeCertificateCommand)
    .callsFake((input: DescribeCertificateCommandInput, getClient: ClientGetter) =>
      serve('DescribeCertificate', input, getClient, (callRegion): DescribeCertificateCommandOutput => {
        const entry = lookup(input.CertificateArn, callRegion);
        const leaf = new NodeX509Certificate(entry.certificatePem);
        const dnsNames = dnsNamesOf(leaf);
        const notAfter = new Date(leaf.validTo);
        const usages = usagesOf(entry.certificatePem);
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
            Status: notAfter.getTime() < now().getTime() ? 'EXPIRED' : 'ISSUED',
            Type: 'IMPORTED',
            KeyAlgorithm: entry.keyAlgorithm as NonNullable<
              DescribeCertificateCommandOutput['Certificate']
            >['KeyAlgorithm'],
            // `KeyUsages` and `ExtendedKeyUsages` (name and OID), as in CertificateDetail (ACM API
            // Reference, https://docs.aws.amazon.com/acm/latest/APIReference/API_CertificateDetail.html).
            KeyUsages: [...(usages.keyUsages ?? [])].map((name) => ({ Name: name as KeyUsageName })),
            ExtendedKeyUsages: [...(usages.extendedKeyUsages ?? [])].map((oid) => ({
              Name: extendedKeyUsageName(oid) as ExtendedKeyUsageName,
              OID: oid,
            })),
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
