import * as v from 'valibot';
import { checkIdentifier } from '../dns/identifiers.js';
import { MAX_DOMAINS, MAX_ZONE_ENTRIES } from './bounds.js';
import { FIELD, message, shown } from './messages.js';

/**
 * One DNS name of a certificate, as the CA will be asked for it: the rule of
 * `lambdas/core/dns/identifiers.ts` (A-labels for IDNs, lower case, no trailing dot, labels of
 * 1–63 letters, digits and inner hyphens, at most 253 characters, `*.` only as the whole first
 * label, no IP address or all-numeric last label). The output is the normalized name.
 */
export const DomainNameSchema = v.pipe(
  v.string(message((input) => `${FIELD} must be a DNS name such as "example.org", not ${shown(input)}.`)),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const checked = checkIdentifier(dataset.value);
    if ('name' in checked) return checked.name;
    addIssue({ message: `${FIELD} ${shown(dataset.value)} ${checked.problem}: ${checked.remedy}.` });
    return NEVER;
  }),
);

/**
 * The names of one certificate: 1 to {@link MAX_DOMAINS} DNS names, normalized, duplicates
 * dropped (first spelling wins) before they are counted.
 */
export const DomainsSchema = v.pipe(
  v.array(
    DomainNameSchema,
    message(() => `${FIELD} must be a list of DNS names, e.g. ["example.org","*.example.org"].`),
  ),
  v.transform((names) => [...new Set(names)]),
  v.check(
    (names) => names.length > 0,
    `${FIELD} lists no names: give at least one DNS name to certify, e.g. ["example.org"].`,
  ),
  v.check(
    (names) => names.length <= MAX_DOMAINS,
    message(
      (input) =>
        `${FIELD} has ${(input as string[]).length} names; ACME CAs accept at most ${MAX_DOMAINS} per certificate. Split them over several certificates.`,
    ),
  ),
);

/** A bare Route 53 hosted zone id. */
const ZONE_ID = /^[A-Z0-9]{1,32}$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
/**
 * Keys that name the prototype machinery of a JavaScript object: `__proto__` would be dropped
 * silently when the map is built, the others shadow what every object has.
 */
const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** A hosted zone id without the `/hostedzone/` that Route 53 APIs sometimes prefix it with. */
export function bareZoneId(value: string): string {
  return value.replace(/^\/?hostedzone\//, '');
}

/** True for a Route 53 hosted zone id, with or without `/hostedzone/` (see {@link bareZoneId}). */
export function isZoneId(value: unknown): value is string {
  return typeof value === 'string' && ZONE_ID.test(bareZoneId(value));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A map-like field (`hostedZoneIds`, `zoneRoles`): a JSON object of at most
 * {@link MAX_ZONE_ENTRIES} entries, none named after the prototype machinery, each entry turned
 * into `[key, value]` by `entry` or refused with the message it returns.
 */
function zoneMap(
  shape: string,
  keys: string,
  entry: (key: string, value: unknown) => readonly [string, string] | string,
) {
  return v.pipe(
    v.custom<Record<string, unknown>>(isPlainObject, `${FIELD} must map ${shape}.`),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const entries = Object.entries(dataset.value);
      if (entries.length > MAX_ZONE_ENTRIES) {
        addIssue({
          message: `${FIELD} has ${entries.length} entries; at most ${MAX_ZONE_ENTRIES} are accepted (one per name of a certificate).`,
        });
        return NEVER;
      }
      const map = new Map<string, string>();
      for (const [key, value] of entries) {
        const checked = PROTOTYPE_KEYS.has(key)
          ? `${FIELD} has the key ${JSON.stringify(key)}, which cannot be a name here: keys must be ${keys}. Remove it.`
          : entry(key, value);
        if (typeof checked === 'string') {
          addIssue({ message: checked });
          return NEVER;
        }
        const [name, target] = checked;
        const previous = map.get(name);
        if (previous !== undefined && previous !== target) {
          addIssue({
            message: `${FIELD} maps ${name} to both ${previous} and ${target}: keep one entry per name.`,
          });
          return NEVER;
        }
        map.set(name, target);
      }
      return Object.fromEntries(map) as Record<string, string>;
    }),
  );
}

const HOSTED_ZONE_EXAMPLE = 'e.g. {"example.org":"Z0123456789ABC"}';

/**
 * `hostedZoneIds` maps a name (a domain, a parent of one, or a CNAME target's domain) to the
 * hosted zone that holds its challenge record. Keys are normalized like domains, values are bare
 * zone ids; one name mapped to two zones is refused.
 */
export const HostedZoneIdsSchema = zoneMap(
  `a domain to a Route 53 hosted zone id, ${HOSTED_ZONE_EXAMPLE}`,
  `DNS names, ${HOSTED_ZONE_EXAMPLE}`,
  (key, zoneId) => {
    const name = checkIdentifier(key);
    if (!('name' in name)) {
      return `${FIELD} has the key ${shown(key)}, which is not a DNS name (it ${name.problem}): use a domain or a parent of one, ${HOSTED_ZONE_EXAMPLE}.`;
    }
    if (!isZoneId(zoneId)) {
      return `${FIELD}[${shown(key)}] must be a hosted zone id such as "Z0123456789ABC", not ${shown(zoneId)}.`;
    }
    return [name.name, bareZoneId(zoneId)];
  },
);

const ZONE_ROLE_EXAMPLE =
  'e.g. {"Z0123456789ABC":"arn:aws:iam::111122223333:role/acme-dns"} for a hosted zone in account 111122223333';

/**
 * `zoneRoles` maps a hosted zone id (with or without `/hostedzone/`; the output is bare) to the
 * IAM role that reaches it in another account.
 */
export const ZoneRolesSchema = zoneMap(
  `a hosted zone id to an IAM role ARN, ${ZONE_ROLE_EXAMPLE}`,
  `hosted zone ids, ${ZONE_ROLE_EXAMPLE}`,
  (key, roleArn) => {
    if (!isZoneId(key)) {
      return `${FIELD} has the key ${shown(key)}, which is not a hosted zone id: ${ZONE_ROLE_EXAMPLE}.`;
    }
    if (typeof roleArn !== 'string' || !ROLE_ARN.test(roleArn)) {
      return `${FIELD}[${shown(key)}] must be the ARN of an IAM role in the zone's account, ${ZONE_ROLE_EXAMPLE}.`;
    }
    return [bareZoneId(key), roleArn];
  },
);
