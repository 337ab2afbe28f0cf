import * as v from 'valibot';
import { normalizeContacts } from '../acme/contacts.js';
import { REVOCATION_REASONS, type RevocationReasonName } from '../acme/revocation-reasons.js';
import { InvalidInputError } from '../errors.js';
import type { KeyType } from '../state.js';
import {
  MAX_ARN_LENGTH,
  MAX_CERTIFICATE_AUTHORITIES,
  MAX_CERTIFICATE_ID_LENGTH,
  MAX_PREFERRED_CHAIN_LENGTH,
  MAX_PROFILE_LENGTH,
  MAX_REGIONS,
  MAX_URL_LENGTH,
} from './bounds.js';
import { FIELD, message, shown } from './messages.js';

const CERTIFICATE_ID = new RegExp(`^[A-Za-z0-9][A-Za-z0-9._-]{0,${MAX_CERTIFICATE_ID_LENGTH - 1}}$`);
/** What a certificate id may be, for messages that refuse one. */
export const CERTIFICATE_ID_RULE = `use 1 to ${MAX_CERTIFICATE_ID_LENGTH} letters, digits, ".", "_" or "-", starting with a letter or digit`;

/**
 * The stable id of a certificate: it names its store folder, its ACM tag, its registry record and
 * its executions, so it is short and safe in all of them.
 */
export const CertificateIdSchema = v.pipe(
  v.string(message((input) => `${FIELD} ${shown(input)} is not valid: ${CERTIFICATE_ID_RULE}.`)),
  v.regex(
    CERTIFICATE_ID,
    message((input) => `${FIELD} ${shown(input)} is not valid: ${CERTIFICATE_ID_RULE}.`),
  ),
);

/** The certificate key algorithms, in the order messages and the CLI's usage list them. */
export const KEY_TYPES = [
  'EC_P256',
  'EC_P384',
  'RSA_2048',
  'RSA_3072',
  'RSA_4096',
] as const satisfies readonly KeyType[];
/** Fails to compile when `KeyType` gains a member that {@link KEY_TYPES} does not list. */
type EveryKeyTypeListed = Exclude<KeyType, (typeof KEY_TYPES)[number]> extends never ? true : never;
const everyKeyTypeListed: EveryKeyTypeListed = true;
void everyKeyTypeListed;
/** The key type of a certificate that names none. */
export const DEFAULT_KEY_TYPE: KeyType = 'EC_P256';

/** A certificate key algorithm (see `KeyType`). */
export const KeyTypeSchema = v.picklist(
  KEY_TYPES,
  message((input) => `${FIELD} ${shown(input)} is not supported: use one of ${KEY_TYPES.join(', ')}.`),
);

/**
 * How a certificate's names are validated: `dns-01` writes a TXT record per order;
 * `dns-persist-01` (draft-ietf-acme-dns-persist-02) relies on one persistent record per name, and
 * falls back to dns-01 where the CA does not offer it.
 */
export const CHALLENGE_TYPES = ['dns-01', 'dns-persist-01'] as const;
export type ChallengeType = (typeof CHALLENGE_TYPES)[number];

/** A challenge type (see {@link CHALLENGE_TYPES}). */
export const ChallengeTypeSchema = v.picklist(
  CHALLENGE_TYPES,
  message(
    (input) =>
      `${FIELD} ${shown(input)} is not a challenge type this workflow answers: use "dns-01" or "dns-persist-01".`,
  ),
);

const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const regionMessage = message(
  (input) => `${FIELD} ${shown(input)} is not an AWS region name such as us-east-1.`,
);

/** An AWS region name, such as `us-east-1`. */
export const RegionSchema = v.pipe(
  v.string(regionMessage),
  v.maxLength(32, regionMessage),
  v.regex(REGION, regionMessage),
);

const regionsMessage = `${FIELD} must be a list of 1 to ${MAX_REGIONS} AWS regions, e.g. ["us-east-1","eu-west-1"].`;

/** The ACM regions to import into: 1 to {@link MAX_REGIONS} region names, duplicates dropped. */
export const RegionsSchema = v.pipe(
  v.array(v.unknown(), regionsMessage),
  v.minLength(1, regionsMessage),
  v.maxLength(MAX_REGIONS, regionsMessage),
  v.array(RegionSchema),
  v.transform((regions) => [...new Set(regions)]),
);

const DIRECTORY_EXAMPLE = 'e.g. https://acme-v02.api.letsencrypt.org/directory';

function isHttpsUrl(value: string): boolean {
  const url = URL.canParse(value) ? new URL(value) : undefined;
  return url?.protocol === 'https:' && url.hostname !== '';
}

/** An ACME directory URL: HTTPS (RFC 8555 §6.1 requires TLS), at most {@link MAX_URL_LENGTH} characters. */
export const DirectoryUrlSchema = v.pipe(
  v.string(`${FIELD} must be the https URL of an ACME directory, ${DIRECTORY_EXAMPLE}.`),
  v.nonEmpty(`${FIELD} must be the https URL of an ACME directory, ${DIRECTORY_EXAMPLE}.`),
  v.maxLength(
    MAX_URL_LENGTH,
    message(
      (input) =>
        `${FIELD} is ${(input as string).length} characters long; an ACME directory URL has at most ${MAX_URL_LENGTH}.`,
    ),
  ),
  v.check(
    isHttpsUrl,
    message(
      (input) =>
        `${FIELD} ${shown(input)} is not an https URL: ACME requires TLS to the CA. Use the directory's https URL, ${DIRECTORY_EXAMPLE}.`,
    ),
  ),
);

const profileMessage = message(
  (input) =>
    `${FIELD} ${shown(input)} is not a profile name: give the name of one of the CA’s profiles (1 to ${MAX_PROFILE_LENGTH} characters, no spaces), such as "classic".`,
);

/** An ACME profile name: visible ASCII, at most {@link MAX_PROFILE_LENGTH} characters. */
export const ProfileSchema = v.pipe(
  v.string(profileMessage),
  v.regex(/^[\x21-\x7e]+$/, profileMessage),
  v.maxLength(MAX_PROFILE_LENGTH, profileMessage),
);

const CHAIN_EXAMPLE = 'the common name of the issuer the chain should end at, such as "ISRG Root X1"';

/** An issuer common name: no control characters, at most {@link MAX_PREFERRED_CHAIN_LENGTH}. */
export const PreferredChainSchema = v.pipe(
  v.string(`${FIELD} must be ${CHAIN_EXAMPLE}.`),
  v.check((value) => value.trim() !== '' && !/\p{Cc}/u.test(value), `${FIELD} must be ${CHAIN_EXAMPLE}.`),
  v.maxLength(
    MAX_PREFERRED_CHAIN_LENGTH,
    message(
      (input) =>
        `${FIELD} is ${(input as string).length} characters long, but a certificate's common name has at most ${MAX_PREFERRED_CHAIN_LENGTH} (RFC 5280): give ${CHAIN_EXAMPLE}.`,
    ),
  ),
);

/** A KMS key ARN (`key/<id>`, multi-Region `mrk-` ids included); aliases cannot sign a CSR here. */
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;
const certificateAuthoritiesMessage = message(
  (input) =>
    `${FIELD} ${shown(input)} is not a list of CAs: give 1 to ${MAX_CERTIFICATE_AUTHORITIES} entries such as [{"directoryUrl":"https://acme-v02.api.letsencrypt.org/directory"},{"directoryUrl":"https://dv.acme-v02.api.pki.goog/directory","profile":"…"}], most preferred first.`,
);

/**
 * The CAs to try, most preferred first: each run starts with the first, and takes the next when
 * one cannot serve it (see `ca-fallback.ts`). Directory URLs are unique.
 */
export const CertificateAuthoritiesSchema = v.pipe(
  v.array(v.unknown(), certificateAuthoritiesMessage),
  v.minLength(1, certificateAuthoritiesMessage),
  v.maxLength(MAX_CERTIFICATE_AUTHORITIES, certificateAuthoritiesMessage),
  v.array(
    v.strictObject({ directoryUrl: DirectoryUrlSchema, profile: v.optional(ProfileSchema) }, (issue) =>
      issue.expected === 'never'
        ? `${FIELD} is not a property of a CA entry (directoryUrl, profile): remove it.`
        : `${FIELD} is required: the CA's ACME directory URL, ${DIRECTORY_EXAMPLE}.`,
    ),
  ),
  v.check(
    (entries) => new Set(entries.map((entry) => entry.directoryUrl)).size === entries.length,
    `${FIELD} lists a directory URL twice: list each CA once.`,
  ),
);

const kmsKeyMessage = message(
  (input) =>
    `${FIELD} ${shown(input)} is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>). Give the ARN of the key the stack declares for the certificate (its kmsKey).`,
);

/**
 * The shape of a certificate's KMS key ARN. Whether the deployment declared that key for the
 * certificate is RegisterAccount's check, against the certificate's declared record.
 */
export const KmsKeyArnSchema = v.pipe(
  v.string(kmsKeyMessage),
  v.maxLength(MAX_ARN_LENGTH, kmsKeyMessage),
  v.regex(KMS_KEY_ARN, kmsKeyMessage),
);

/** `force`: renew even when the certificate is not due. */
export const ForceSchema = v.boolean(`${FIELD} must be true or false.`);

/** The RFC 5280 reason names, as operators type them (case-sensitive). */
export const REVOCATION_REASON_NAMES = Object.keys(REVOCATION_REASONS) as readonly RevocationReasonName[];

/** A revocation reason by its RFC 5280 name. */
export const RevocationReasonSchema = v.picklist(
  REVOCATION_REASON_NAMES,
  message(
    (input) =>
      `${FIELD} ${shown(input)} is not an RFC 5280 revocation reason: use one of ${REVOCATION_REASON_NAMES.join(', ')}.`,
  ),
);

/** The execution the state machine's Prepare state adds: its ARN and start time. */
export interface ExecutionRef {
  readonly id: string;
  readonly startedAt?: string;
}

/**
 * `execution`, as the state machine's Prepare state sets it: anything without a string `id` is
 * ignored (undefined), an id longer than an ARN is refused, and a start time is kept only when it
 * is a short ISO 8601 instant.
 */
export const ExecutionSchema = v.pipe(
  v.unknown(),
  v.rawTransform(({ dataset, addIssue, NEVER }): ExecutionRef | undefined => {
    const execution = dataset.value as { id?: unknown; startedAt?: unknown } | null | undefined;
    if (typeof execution?.id !== 'string') return undefined;
    if (execution.id.length > MAX_ARN_LENGTH) {
      addIssue({
        message: `${FIELD}.id is ${execution.id.length} characters long; the state machine sets it to the execution ARN (at most ${MAX_ARN_LENGTH}). Do not set execution in the input.`,
      });
      return NEVER;
    }
    const startedAt =
      typeof execution.startedAt === 'string' &&
      execution.startedAt.length <= 64 &&
      Number.isFinite(Date.parse(execution.startedAt))
        ? execution.startedAt
        : undefined;
    return { id: execution.id, ...(startedAt ? { startedAt } : {}) };
  }),
);

/**
 * Account contacts: email addresses or `mailto:` URIs, turned into `mailto:` URIs by
 * `normalizeContacts` (whose message names a bad address); `[]` removes every contact.
 */
export const ContactSchema = v.pipe(
  v.array(
    v.string(),
    `${FIELD} must be a list of email addresses (or mailto: URIs), e.g. ["ops@example.org"]; [] removes every contact.`,
  ),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    try {
      return normalizeContacts(dataset.value);
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      addIssue({ message: error.message });
      return NEVER;
    }
  }),
);

/** The URL of a CA account, as the CA gave it: an http(s) URL of at most {@link MAX_URL_LENGTH}. */
export const AccountUrlSchema = v.pipe(
  v.string(`${FIELD} must be the URL of the CA account.`),
  v.maxLength(
    MAX_URL_LENGTH,
    `${FIELD} is longer than ${MAX_URL_LENGTH} characters, which no account URL is.`,
  ),
  v.check(
    (value) => URL.canParse(value) && ['https:', 'http:'].includes(new URL(value).protocol),
    message((input) => `${FIELD} ${shown(input)} is not an http(s) URL.`),
  ),
);
