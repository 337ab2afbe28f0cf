import { webcrypto } from 'node:crypto';
import {
  BasicConstraintsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  SubjectAlternativeNameExtension,
  X509CertificateGenerator,
} from '../../../lambdas/core/crypto/x509.js';

/**
 * A one-level test issuer whose leaves carry the Key Usage and Extended Key Usage a test asks
 * for, as ACME profiles differ in them: Let's Encrypt's `classic` profile gave RSA leaves
 * digitalSignature and keyEncipherment, while `tlsserver` and `shortlived` give digitalSignature
 * only. `test/fakes/test-ca.ts` issues leaves without either extension.
 */

const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;
const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

export { ExtendedKeyUsage, KeyUsageFlags };

export interface UsageLeafOptions {
  readonly publicKey: webcrypto.CryptoKey;
  /** @default ['example.org'] */
  readonly domains?: readonly string[];
  /** Key Usage bits (`KeyUsageFlags` ORed); `undefined` leaves the extension out. */
  readonly keyUsages?: number;
  /** Extended Key Usage OIDs; `undefined` leaves the extension out. */
  readonly extendedKeyUsages?: readonly string[];
  /** @default one hour ago */
  readonly notBefore?: Date;
  /** @default 90 days from now */
  readonly notAfter?: Date;
}

export interface UsageLeaf {
  readonly leafPem: string;
  /** The issuer alone, as an ACME CA sends it after the leaf. */
  readonly chainPem: string;
}

export interface KeyUsageIssuer {
  issue(options: UsageLeafOptions): Promise<UsageLeaf>;
}

function serial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(12));
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return Buffer.from(bytes).toString('hex');
}

/** A fresh self-signed ECDSA issuer, valid from yesterday for a year. */
export async function createKeyUsageIssuer(): Promise<KeyUsageIssuer> {
  const keys = await webcrypto.subtle.generateKey(ECDSA_P256, true, ['sign', 'verify']);
  const issuer = await X509CertificateGenerator.createSelfSigned({
    name: 'CN=Key Usage Test Issuer',
    keys,
    serialNumber: serial(),
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + 365 * DAY_MS),
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new BasicConstraintsExtension(true, undefined, true),
      new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true),
    ],
  });
  const chainPem = `${issuer.toString('pem')}\n`;

  return {
    async issue(options) {
      const domains = options.domains ?? ['example.org'];
      const leaf = await X509CertificateGenerator.create({
        subject: domains[0] ? [{ CN: [domains[0]] }] : [],
        issuer: issuer.subject,
        publicKey: options.publicKey,
        signingKey: keys.privateKey,
        serialNumber: serial(),
        notBefore: options.notBefore ?? new Date(Date.now() - HOUR_MS),
        notAfter: options.notAfter ?? new Date(Date.now() + 90 * DAY_MS),
        signingAlgorithm: ECDSA_SHA256,
        extensions: [
          new BasicConstraintsExtension(false, undefined, true),
          ...(options.keyUsages === undefined ? [] : [new KeyUsagesExtension(options.keyUsages, true)]),
          ...(options.extendedKeyUsages === undefined
            ? []
            : [new ExtendedKeyUsageExtension([...options.extendedKeyUsages])]),
          ...(domains.length > 0
            ? [new SubjectAlternativeNameExtension(domains.map((value) => ({ type: 'dns' as const, value })))]
            : []),
        ],
      });
      return { leafPem: `${leaf.toString('pem')}\n`, chainPem };
    },
  };
}
