import { webcrypto } from 'node:crypto';
import * as x509 from '../../lambdas/core/crypto/x509.js';

/** A throwaway CA and a server certificate it signed, all PEM. */
export interface LoopbackTlsMaterial {
  /** The CA certificate: the one thing a client must trust. */
  readonly caPem: string;
  /** The server (leaf) certificate, valid for `localhost` and `127.0.0.1`. */
  readonly certificatePem: string;
  /** PKCS#8 private key of the leaf. */
  readonly privateKeyPem: string;
}

const EC_P256: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const ECDSA_SHA256: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const ONE_DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Generates a fresh CA and a loopback server certificate for tests that need real TLS (Pebble,
 * the HTTPS transport). A separate CA, rather than a self-signed leaf, keeps the trust setup the
 * same as in production: the client trusts an issuer, never the server certificate itself.
 */
export async function createLoopbackTlsMaterial(): Promise<LoopbackTlsMaterial> {
  const { subtle } = webcrypto;
  const caKeys = await subtle.generateKey(EC_P256, true, ['sign', 'verify']);
  const leafKeys = await subtle.generateKey(EC_P256, true, ['sign', 'verify']);
  // Backdated a little so a skewed clock on either side does not reject a brand-new certificate.
  const notBefore = new Date(Date.now() - ONE_DAY_MS);
  const notAfter = new Date(Date.now() + 7 * ONE_DAY_MS);

  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=acme-aws test CA',
    keys: caKeys,
    notBefore,
    notAfter,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const leaf = await x509.X509CertificateGenerator.create({
    subject: 'CN=localhost',
    issuer: ca.subject,
    publicKey: leafKeys.publicKey,
    signingKey: caKeys.privateKey,
    notBefore,
    notAfter,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: 'dns', value: 'localhost' },
        { type: 'ip', value: '127.0.0.1' },
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const pkcs8 = await subtle.exportKey('pkcs8', leafKeys.privateKey);

  return {
    caPem: ca.toString('pem'),
    certificatePem: leaf.toString('pem'),
    privateKeyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'),
  };
}
