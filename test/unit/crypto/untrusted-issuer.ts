import { webcrypto } from 'node:crypto';
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  type JsonGeneralName,
  KeyUsageFlags,
  KeyUsagesExtension,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  X509CertificateGenerator,
} from '../../../lambdas/core/crypto/x509.js';
import type { TestCa } from '../../fakes/test-ca.js';

/**
 * An issuer that issues whatever a test asks for, as a CA that cannot be trusted might: any
 * validity dates, any subjectAltName entries, a leaf marked as a CA, or an issuer that is not a CA
 * at all. Leaves carry an Authority Key Identifier, as RFC 5280 requires and a real CA's do, so
 * everything else about them can be right (`test/fakes/test-ca.ts` issues leaves without one).
 */

const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;
const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

export type { JsonGeneralName };

export interface UntrustedLeafOptions {
  /** The public half of the certificate key. */
  readonly publicKey: webcrypto.CryptoKey;
  /** DNS names, unless `names` says otherwise. */
  readonly domains: readonly string[];
  /** subjectAltName entries. @default the domains as DNS names */
  readonly names?: readonly JsonGeneralName[];
  /** Subject CN; '' for none. @default the first domain */
  readonly commonName?: string;
  /** basicConstraints cA of the leaf. @default false */
  readonly ca?: boolean;
  /** @default one hour before the issuer's `now` */
  readonly notBefore?: Date;
  /** @default 90 days after the issuer's `now` */
  readonly notAfter?: Date;
  /** Hex. @default random */
  readonly serialNumber?: string;
  /** Leave the Authority Key Identifier out. @default false */
  readonly withoutAuthorityKeyIdentifier?: boolean;
}

export interface UntrustedIssuer {
  /** The issuer's certificate, PEM, as a CA sends it after the leaf. */
  readonly pem: string;
  /** Issues a leaf, PEM. */
  issue(options: UntrustedLeafOptions): Promise<string>;
  /** Issues an intermediate CA certificate, itself an issuer. */
  intermediate(name: string): Promise<UntrustedIssuer>;
}

interface SigningIdentity {
  readonly keys: webcrypto.CryptoKeyPair;
  readonly subject: string;
}

function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return Buffer.from(bytes).toString('hex');
}

/**
 * A fresh ECDSA issuer valid from 30 days before `now` for a year, self-signed; a CA certificate
 * unless `isCa` is false.
 */
export function createUntrustedIssuer(
  name: string,
  options: { readonly isCa?: boolean; readonly now?: Date } = {},
): Promise<UntrustedIssuer> {
  return issuerSignedBy(name, options.isCa ?? true, (options.now ?? new Date()).getTime(), undefined);
}

async function issuerSignedBy(
  name: string,
  isCa: boolean,
  now: number,
  parent: SigningIdentity | undefined,
): Promise<UntrustedIssuer> {
  const keys = await webcrypto.subtle.generateKey(ECDSA_P256, true, ['sign', 'verify']);
  const common = {
    serialNumber: randomSerial(),
    notBefore: new Date(now - 30 * DAY_MS),
    notAfter: new Date(now + 365 * DAY_MS),
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new BasicConstraintsExtension(isCa, undefined, true),
      ...(isCa ? [new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true)] : []),
      await SubjectKeyIdentifierExtension.create(keys.publicKey),
      ...(parent ? [await AuthorityKeyIdentifierExtension.create(parent.keys.publicKey)] : []),
    ],
  };
  const certificate = parent
    ? await X509CertificateGenerator.create({
        ...common,
        subject: `CN=${name}`,
        issuer: parent.subject,
        publicKey: keys.publicKey,
        signingKey: parent.keys.privateKey,
      })
    : await X509CertificateGenerator.createSelfSigned({ ...common, name: `CN=${name}`, keys });
  const identity: SigningIdentity = { keys, subject: certificate.subject };
  return {
    pem: certificate.toString('pem'),
    intermediate: (intermediateName) => issuerSignedBy(intermediateName, true, now, identity),
    async issue(leaf) {
      const names = leaf.names ?? leaf.domains.map((value) => ({ type: 'dns' as const, value }));
      const commonName = leaf.commonName ?? leaf.domains[0];
      const issued = await X509CertificateGenerator.create({
        subject: commonName ? [{ CN: [commonName] }] : [],
        issuer: identity.subject,
        publicKey: leaf.publicKey,
        signingKey: keys.privateKey,
        serialNumber: leaf.serialNumber ?? randomSerial(),
        notBefore: leaf.notBefore ?? new Date(now - HOUR_MS),
        notAfter: leaf.notAfter ?? new Date(now + 90 * DAY_MS),
        signingAlgorithm: ECDSA_SHA256,
        extensions: [
          new BasicConstraintsExtension(leaf.ca ?? false, undefined, true),
          new SubjectAlternativeNameExtension([...names]),
          ...(leaf.withoutAuthorityKeyIdentifier
            ? []
            : [await AuthorityKeyIdentifierExtension.create(keys.publicKey)]),
        ],
      });
      return `${issued.toString('pem')}\n`;
    },
  };
}

/**
 * A root → intermediate → leaf CA with the interface of `test/fakes/test-ca.ts`, whose leaves
 * carry an Authority Key Identifier as real CAs' do.
 */
export async function createCaWithKeyIdentifiers(name = 'Test'): Promise<TestCa> {
  const root = await createUntrustedIssuer(`${name} Root CA`);
  const intermediate = await root.intermediate(`${name} Intermediate CA`);
  const chainPem = `${intermediate.pem}\n`;
  return {
    rootPem: root.pem,
    intermediatePem: intermediate.pem,
    async issue(options) {
      const leafPem = await intermediate.issue({
        ...options,
        ...(options.commonName !== undefined ? { commonName: options.commonName } : {}),
      });
      return { leafPem, chainPem, fullchainPem: `${leafPem}${chainPem}` };
    },
  };
}
