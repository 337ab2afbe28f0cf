import { webcrypto } from 'node:crypto';
import {
  BasicConstraintsExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  SubjectAlternativeNameExtension,
  X509CertificateGenerator,
} from '../../lambdas/core/crypto/x509.js';

/**
 * A throwaway two-level CA (root → intermediate → leaf) built with @peculiar/x509, standing in
 * for an ACME CA wherever tests, the e2e harness or the demo need real, verifiable certificates.
 */

const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface IssueTestCertificateOptions {
  readonly domains: readonly string[];
  /** The public half of the certificate key (the key the CSR was signed with). */
  readonly publicKey: webcrypto.CryptoKey;
  /** @default the first domain */
  readonly commonName?: string;
  /** @default one hour ago */
  readonly notBefore?: Date;
  /** @default 90 days from now */
  readonly notAfter?: Date;
  /** Hex serial number. @default random */
  readonly serialNumber?: string;
}

export interface TestCertificate {
  readonly leafPem: string;
  /** The intermediate only, as ACME CAs send it after the leaf. */
  readonly chainPem: string;
  /** Leaf then intermediate. */
  readonly fullchainPem: string;
}

export interface TestCa {
  readonly rootPem: string;
  readonly intermediatePem: string;
  /** Issues a leaf from the intermediate. */
  issue(options: IssueTestCertificateOptions): Promise<TestCertificate>;
}

function randomSerial(): string {
  // Positive (high bit clear) and non-zero, as RFC 5280 §4.1.2.2 requires.
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return Buffer.from(bytes).toString('hex');
}

/** Creates a fresh root and intermediate, both ECDSA P-256, valid from yesterday for a year. */
export async function createTestCa(name = 'Test'): Promise<TestCa> {
  const rootKeys = await webcrypto.subtle.generateKey(ECDSA_P256, true, ['sign', 'verify']);
  const intermediateKeys = await webcrypto.subtle.generateKey(ECDSA_P256, true, ['sign', 'verify']);
  const notBefore = new Date(Date.now() - DAY_MS);
  const notAfter = new Date(Date.now() + 365 * DAY_MS);
  const caExtensions = () => [
    new BasicConstraintsExtension(true, undefined, true),
    new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true),
  ];

  const root = await X509CertificateGenerator.createSelfSigned({
    name: `CN=${name} Root CA`,
    keys: rootKeys,
    serialNumber: randomSerial(),
    notBefore,
    notAfter,
    signingAlgorithm: ECDSA_SHA256,
    extensions: caExtensions(),
  });
  const intermediate = await X509CertificateGenerator.create({
    subject: `CN=${name} Intermediate CA`,
    issuer: root.subject,
    publicKey: intermediateKeys.publicKey,
    signingKey: rootKeys.privateKey,
    serialNumber: randomSerial(),
    notBefore,
    notAfter,
    signingAlgorithm: ECDSA_SHA256,
    extensions: caExtensions(),
  });
  const intermediatePem = intermediate.toString('pem');

  return {
    rootPem: root.toString('pem'),
    intermediatePem,
    async issue(options) {
      const commonName = options.commonName ?? options.domains[0];
      const leaf = await X509CertificateGenerator.create({
        subject: commonName ? [{ CN: [commonName] }] : [],
        issuer: intermediate.subject,
        publicKey: options.publicKey,
        signingKey: intermediateKeys.privateKey,
        serialNumber: options.serialNumber ?? randomSerial(),
        notBefore: options.notBefore ?? new Date(Date.now() - DAY_MS / 24),
        notAfter: options.notAfter ?? new Date(Date.now() + 90 * DAY_MS),
        signingAlgorithm: ECDSA_SHA256,
        extensions: [
          new BasicConstraintsExtension(false, undefined, true),
          new SubjectAlternativeNameExtension(options.domains.map((value) => ({ type: 'dns', value }))),
        ],
      });
      const leafPem = `${leaf.toString('pem')}\n`;
      const chainPem = `${intermediatePem}\n`;
      return { leafPem, chainPem, fullchainPem: `${leafPem}${chainPem}` };
    },
  };
}
