import { createHash } from 'node:crypto';
import { DeliveryTooLargeError } from '../errors.js';
import type { DeliveryTargets, IssuedCertificateRecord } from '../ports.js';

/**
 * What a delivered certificate looks like to a workload: the secret's JSON document and the
 * parameters' parts, built from the chain in the store. Pure: the step writes what this returns.
 */

/** The certificate as DeliverCertificate has it: the store's PEM and the record's facts. */
export interface DeliverableCertificate {
  readonly certificateId: string;
  /** The leaf certificate, PEM. */
  readonly certificatePem: string;
  /** The issuer chain without the leaf, PEM (possibly empty for a CA that sends none). */
  readonly chainPem: string;
  /** The certificate key, PEM; absent for a certificate whose key stays in KMS. */
  readonly privateKeyPem?: string;
  readonly serial: string;
  readonly notAfter: string;
  readonly names: readonly string[];
}

/** The secret's value: every part, and the facts a workload checks before reloading. */
export interface DeliveredDocument {
  readonly certificate: string;
  readonly chain: string;
  readonly fullchain: string;
  /** Absent for a certificate whose key stays in KMS: only the chain is delivered. */
  readonly privateKey?: string;
  readonly notAfter: string;
  readonly serial: string;
  readonly names: readonly string[];
}

/** Secrets Manager's limit on a secret value (SecretString, 65,536 bytes). */
export const SECRET_VALUE_MAX_BYTES = 65_536;

/** Parameter Store's limits on a parameter value, per tier. */
export const PARAMETER_VALUE_MAX_BYTES = { Standard: 4_096, Advanced: 8_192 } as const;

export type ParameterTier = keyof typeof PARAMETER_VALUE_MAX_BYTES;

/** The secret's JSON document. */
export function deliveredDocument(certificate: DeliverableCertificate): DeliveredDocument {
  return {
    certificate: certificate.certificatePem,
    chain: certificate.chainPem,
    fullchain: `${certificate.certificatePem}${certificate.chainPem}`,
    ...(certificate.privateKeyPem !== undefined ? { privateKey: certificate.privateKeyPem } : {}),
    notAfter: certificate.notAfter,
    serial: certificate.serial,
    names: certificate.names,
  };
}

/** The secret's value, checked against the service's size limit before anything is sent. */
export function secretValue(certificate: DeliverableCertificate): string {
  const value = JSON.stringify(deliveredDocument(certificate));
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > SECRET_VALUE_MAX_BYTES) {
    throw new DeliveryTooLargeError(
      `The certificate "${certificate.certificateId}" makes a secret value of ${bytes} bytes; Secrets Manager holds at most ${SECRET_VALUE_MAX_BYTES}. Deliver it to parameters instead, or declare fewer names.`,
    );
  }
  return value;
}

/** One parameter of a delivery: `<path>/<part>`. */
export interface ParameterPart {
  readonly name: string;
  readonly value: string;
}

/**
 * The parameters of a delivery under `path`, each part its own SecureString parameter so that each
 * fits its tier: `certificate`, `chain` and `privateKey` (not for a KMS-held key) on both tiers,
 * and `fullchain` on Advanced only (a leaf and its chain together often pass Standard's 4 KB).
 * Every part is measured before any is written; one that its tier cannot hold is a
 * `DeliveryTooLargeError` naming the part, its size and the fix.
 */
export function parameterParts(
  certificate: DeliverableCertificate,
  path: string,
  tier: ParameterTier,
): ParameterPart[] {
  const document = deliveredDocument(certificate);
  const parts: [string, string | undefined][] = [
    ['certificate', document.certificate],
    ['chain', document.chain],
    ['fullchain', tier === 'Advanced' ? document.fullchain : undefined],
    ['privateKey', document.privateKey],
  ];
  const limit = PARAMETER_VALUE_MAX_BYTES[tier];
  const written: ParameterPart[] = [];
  for (const [part, value] of parts) {
    if (value === undefined) continue;
    // Parameter Store refuses an empty value; a CA that sends no chain leaves `chain` empty.
    const stored = value === '' ? 'none' : value;
    const bytes = Buffer.byteLength(stored, 'utf8');
    if (bytes > limit) {
      throw new DeliveryTooLargeError(
        `The "${part}" of certificate "${certificate.certificateId}" is ${bytes} bytes; a ${tier} parameter holds at most ${limit}. ` +
          (tier === 'Standard'
            ? 'Declare parameters.tier "Advanced" (8 KB), or deliver to a secret instead.'
            : 'Deliver it to a secret instead, or declare fewer names.'),
      );
    }
    written.push({ name: `${path.replace(/\/+$/, '')}/${part}`, value: stored });
  }
  return written;
}

/**
 * The idempotency token of one certificate's secret version (Secrets Manager's
 * `ClientRequestToken`, 32–64 characters): the same certificate always gets the same token, so a
 * retried delivery adds no second version.
 */
export function secretRequestToken(certificateId: string, serial: string): string {
  return `acme-${createHash('sha256').update(`${certificateId}\n${serial}`).digest('hex').slice(0, 40)}`;
}

/**
 * Whether the issued certificate still has to reach a declared delivery target: it was never
 * delivered, or a target was declared after it was. The planner counts such a certificate as due,
 * and CreateOrder then delivers the one in the store instead of ordering another.
 */
export function deliveryPending(
  targets: DeliveryTargets | undefined,
  issued: Pick<IssuedCertificateRecord, 'delivered'> | undefined,
): boolean {
  if (!targets || (!targets.secretArn && !targets.parameterPath)) return false;
  const written = issued?.delivered?.targets ?? [];
  if (targets.secretArn && !written.some((target) => target.name === targets.secretArn)) return true;
  const path = targets.parameterPath?.replace(/\/+$/, '');
  if (path && !written.some((target) => target.target === 'ssm' && target.name.startsWith(`${path}/`)))
    return true;
  return false;
}
