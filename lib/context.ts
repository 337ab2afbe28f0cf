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
  const exampleDomains = list(tryGetContext('domains'));
  return {
    acme: {
      directoryUrl,
      ...(contactEmail ? { contactEmail: String(contactEmail) } : {}),
      ...(hostedZoneIds ? { hostedZoneIds } : {}),
    },
    ...(exampleDomains ? { exampleDomains } : {}),
  };
}
