import * as v from 'valibot';
import { FIELD, message, shown } from './messages.js';

/*
 * Where a declared certificate is delivered for workloads outside ACM: a Secrets Manager secret
 * and a Parameter Store path. The rules are AWS's own naming rules, so a name synth accepts is a
 * name the service accepts when DeliverCertificate first writes it.
 */

/** Characters of a secret name (Secrets Manager's `CreateSecret` limit). */
export const MAX_SECRET_NAME_LENGTH = 512;
/**
 * Characters of a parameter name you create: Parameter Store counts 2,048, of which 1,037 are
 * reserved for its own use.
 */
export const MAX_PARAMETER_NAME_LENGTH = 1011;
/** Levels of a parameter hierarchy (`/a/b/c` has three), Parameter Store's limit. */
export const MAX_PARAMETER_LEVELS = 15;

/** The Parameter Store tiers a delivery may use: Standard holds 4 KB per value, Advanced 8 KB. */
export const PARAMETER_TIERS = ['Standard', 'Advanced'] as const;
/** A Parameter Store tier of {@link PARAMETER_TIERS}. */
export type ParameterTier = (typeof PARAMETER_TIERS)[number];

/**
 * The parameters of a delivery under its path (`<path>/<part>`): `fullchain` is written on the
 * Advanced tier only, since a leaf and its chain together often pass Standard's 4 KB.
 */
export const PARAMETER_PARTS = ['certificate', 'chain', 'privateKey', 'fullchain'] as const;

const LONGEST_PART = Math.max(...PARAMETER_PARTS.map((part) => part.length));
/** Characters of a parameter path, so that its longest parameter name (`<path>/certificate`) fits. */
export const MAX_PARAMETER_PATH_LENGTH = MAX_PARAMETER_NAME_LENGTH - LONGEST_PART - 1;

const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]+$/;
const SECRET_NAME_RULE = `use 1 to ${MAX_SECRET_NAME_LENGTH} letters, digits or /_+=.@- (Secrets Manager's rule)`;

/**
 * Secrets Manager appends a hyphen and six random characters to a secret's name in its ARN, and
 * documents that a name ending in a hyphen followed by six characters confuses lookups by partial
 * ARN: it asks that names not end that way.
 */
export function endsLikeArnSuffix(name: string): boolean {
  return /-.{6}$/.test(name);
}

/** The message for a secret name that {@link endsLikeArnSuffix}; `fix` says what to change. */
export function arnSuffixMessage(name: string, fix: string): string {
  return `${FIELD} ${shown(name)} ends with a hyphen followed by six characters, which Secrets Manager asks secret names not to do: it adds such a suffix to the ARN, and lookups by partial ARN would be ambiguous. ${fix}`;
}

/** A Secrets Manager secret name, by the service's documented rules. */
export const SecretNameSchema = v.pipe(
  v.string(message((input) => `${FIELD} ${shown(input)} is not a secret name: ${SECRET_NAME_RULE}.`)),
  v.check(
    (name) => name.length >= 1 && name.length <= MAX_SECRET_NAME_LENGTH && SECRET_NAME.test(name),
    message((input) => `${FIELD} ${shown(input)} is not a secret name: ${SECRET_NAME_RULE}.`),
  ),
  v.check(
    (name) => !endsLikeArnSuffix(name),
    message((input) => arnSuffixMessage(input as string, 'Change how it ends, e.g. add "/tls".')),
  ),
);

const secretMessage = message(
  (input) =>
    `${FIELD} ${shown(input)} must be true (a secret named after the certificate), or { name: "…" } to choose the name.`,
);

/** `secret` of a declared certificate: `true`, `false`, or `{ name? }`. */
export const SecretDeliverySchema = v.lazy((input) =>
  typeof input === 'object' && input !== null && !Array.isArray(input)
    ? v.strictObject({ name: v.optional(SecretNameSchema) }, (issue) =>
        issue.expected === 'never'
          ? `${FIELD} is not a property of secret (name): remove it.`
          : `${FIELD} must be true, or { name: "…" } to choose the secret's name.`,
      )
    : v.boolean(secretMessage),
);

const PATH_SEGMENT = /^[A-Za-z0-9_.-]+$/;
const PATH_EXAMPLE = 'e.g. "/certificates/web"';

/** Why a parameter path is refused, or undefined when Parameter Store accepts it. */
function parameterPathProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return `must start with "/", ${PATH_EXAMPLE}`;
  const segments = path.slice(1).split('/');
  if (segments.some((segment) => segment === '')) {
    return `has an empty level (a trailing "/" or "//"): write it as ${PATH_EXAMPLE}`;
  }
  const bad = segments.find((segment) => !PATH_SEGMENT.test(segment));
  if (bad !== undefined) {
    return `has the level ${shown(bad)}: each level is letters, digits, "_", "." or "-" (Parameter Store's rule)`;
  }
  if (/^(aws|ssm)/i.test(segments[0] ?? '')) {
    return 'starts with "aws" or "ssm", which Parameter Store reserves (in any case): choose another first level';
  }
  const reserved = segments.find((segment) => /^(aws|ssm)$/i.test(segment));
  if (reserved !== undefined) {
    return `has the level ${shown(reserved)}, which Parameter Store reserves (in any case): rename it`;
  }
  if (path.length > MAX_PARAMETER_PATH_LENGTH) {
    return `is ${path.length} characters long; with "/certificate" after it, a parameter name has at most ${MAX_PARAMETER_NAME_LENGTH}, so a path has at most ${MAX_PARAMETER_PATH_LENGTH}`;
  }
  if (segments.length + 1 > MAX_PARAMETER_LEVELS) {
    return `has ${segments.length} levels; with the part after it, a parameter has at most ${MAX_PARAMETER_LEVELS}, so a path has at most ${MAX_PARAMETER_LEVELS - 1}`;
  }
  return undefined;
}

/**
 * A Parameter Store path to deliver under: `/`-separated levels of `A-Za-z0-9_.-`, not under the
 * reserved `aws` or `ssm` prefixes, with room for `<path>/certificate` within the name and depth
 * limits.
 */
export const ParameterPathSchema = v.pipe(
  v.string(`${FIELD} must be a parameter path, ${PATH_EXAMPLE}.`),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const problem = parameterPathProblem(dataset.value);
    if (problem) addIssue({ message: `${FIELD} ${shown(dataset.value)} ${problem}.` });
  }),
);

/** A Parameter Store tier, for the parameters' size limit. */
export const ParameterTierSchema = v.picklist(
  PARAMETER_TIERS,
  message(
    (input) =>
      `${FIELD} ${shown(input)} is not a Parameter Store tier: use "Standard" (4 KB per value) or "Advanced" (8 KB, and a fullchain parameter).`,
  ),
);

/** `parameters` of a declared certificate: `{ path, tier? }`, the tier `Standard` unless given. */
export const ParameterDeliverySchema = v.strictObject(
  {
    path: ParameterPathSchema,
    tier: v.optional(ParameterTierSchema, 'Standard'),
  },
  (issue) => {
    const key = String(issue.path?.[issue.path.length - 1]?.key ?? '');
    if (issue.expected === 'never')
      return `${FIELD} is not a property of parameters (path, tier): remove it.`;
    return key === 'path'
      ? `${FIELD} is required: the parameter path to deliver under, ${PATH_EXAMPLE}.`
      : `${FIELD} must be { path: "…", tier?: "Standard" | "Advanced" }, ${PATH_EXAMPLE}.`;
  },
);
