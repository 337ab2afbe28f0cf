import type { CertificateProps } from './acme-certificates.js';
import type { AcmeStackProps } from './acme-stack.js';
import { LETS_ENCRYPT_PRODUCTION, LETS_ENCRYPT_STAGING } from './steps.js';

/** Reads a context value that may be given as a list or as a comma-separated string. */
function list(value: unknown): string[] | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (Array.isArray(value)) return value.map(String);
  return String(value)
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

/**
 * Turns `cdk.json` / `-c key=value` context into stack props, so `npx cdk deploy -c ...` needs
 * no code. `directoryUrl` also accepts the names `letsencrypt` and `letsencrypt-staging`.
 */
export function stackPropsFromContext(tryGetContext: (key: string) => unknown): Omit<AcmeStackProps, 'env'> {
  const directory = tryGetContext('directoryUrl');
  const directoryUrl =
    directory === 'letsencrypt-staging'
      ? LETS_ENCRYPT_STAGING
      : directory === 'letsencrypt' || directory === undefined || directory === ''
        ? LETS_ENCRYPT_PRODUCTION
        : String(directory);
  const contactEmail = tryGetContext('contactEmail');
  const hostedZoneIds = list(tryGetContext('hostedZoneIds'));
  // "Z1=example.org,Z2=example.net": ids with names, so synth can check the declared domains.
  const hostedZones = list(tryGetContext('hostedZones'))?.map((entry) => {
    const [id, name] = entry.split('=');
    if (!id || !name) throw new Error(`Context hostedZones entry "${entry}" must be <zoneId>=<zoneName>.`);
    return { id, name };
  });
  // Zones that `_acme-challenge` CNAMEs point into, and roles in other accounts holding zones.
  const validationZoneIds = list(tryGetContext('validationZoneIds'));
  const zoneRoleArns = list(tryGetContext('zoneRoleArns'));
  const certificates = parseCertificates(tryGetContext('certificates'));
  const notificationEmails = list(tryGetContext('notificationEmails'));
  const exampleDomains = list(tryGetContext('domains'));
  const generation = tryGetContext('accountKeyGeneration');
  const accountKeyGeneration = generation === undefined || generation === '' ? undefined : Number(generation);
  return {
    acme: {
      directoryUrl,
      ...(contactEmail ? { contactEmail: String(contactEmail) } : {}),
      ...(hostedZoneIds ? { hostedZoneIds } : {}),
      ...(hostedZones ? { hostedZones } : {}),
      ...(validationZoneIds ? { validationZoneIds } : {}),
      ...(zoneRoleArns ? { zoneRoleArns } : {}),
      ...(certificates ? { certificates } : {}),
      ...(notificationEmails ? { notificationEmails } : {}),
      ...(accountKeyGeneration !== undefined ? { accountKeyGeneration } : {}),
    },
    ...(exampleDomains ? { exampleDomains } : {}),
  };
}

/**
 * `certificates` context: a JSON list such as `[{"id":"web","domains":["example.org"]}]`. JSON
 * cannot hold a KMS key object, so `kmsKey` here is `true` (a key created per certificate) or absent.
 */
function parseCertificates(value: unknown): CertificateProps[] | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const parsed = typeof value === 'string' ? (JSON.parse(value) as unknown) : value;
  if (!Array.isArray(parsed)) {
    throw new Error(
      'Context certificates must be a JSON list such as [{"id":"web","domains":["example.org"]}].',
    );
  }
  for (const certificate of parsed as { id?: unknown; kmsKey?: unknown }[]) {
    if (certificate?.kmsKey !== undefined && typeof certificate.kmsKey !== 'boolean') {
      throw new Error(
        `Context certificates entry "${String(certificate.id)}" has kmsKey ${JSON.stringify(certificate.kmsKey)}: in context it can only be true (a KMS key created for the certificate). Pass your own key through the construct's props instead.`,
      );
    }
  }
  return parsed as CertificateProps[];
}
