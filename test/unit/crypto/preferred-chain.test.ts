import { webcrypto } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  matchesPreferredChain,
  topmostIssuerCommonName,
} from '../../../lambdas/core/crypto/preferred-chain.js';
import * as x509 from '../../../lambdas/core/crypto/x509.js';
import { InvalidInputError } from '../../../lambdas/core/errors.js';

const EC: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const DAY = 24 * 60 * 60 * 1000;

interface Authority {
  readonly name: string;
  readonly keys: webcrypto.CryptoKeyPair;
}

async function authority(commonName: string): Promise<Authority> {
  return { name: `CN=${commonName}`, keys: await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']) };
}

/** A certificate for `subject`'s key, issued by `issuer`. */
async function issue(subject: Authority, issuer: Authority, serial: string): Promise<string> {
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject: subject.name,
    issuer: issuer.name,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + DAY),
    signingAlgorithm: SIGNING,
    publicKey: subject.keys.publicKey,
    signingKey: issuer.keys.privateKey,
  });
  return certificate.toString('pem');
}

describe('preferred chain', () => {
  // Leaf <- intermediate, whose issuer is "Root A" in one chain and is cross-signed by "Root B" in
  // the other, the way Let's Encrypt offered ISRG Root X1 and DST Root CA X3.
  let defaultChain: string;
  let alternateChain: string;

  beforeAll(async () => {
    const [rootA, rootB, intermediate, leaf] = await Promise.all([
      authority('Root A'),
      authority('Root B'),
      authority('Intermediate'),
      authority('leaf.example.org'),
    ]);
    const leafPem = await issue(leaf, intermediate, '01');
    defaultChain = `${leafPem}\n${await issue(intermediate, rootA, '02')}`;
    alternateChain = `${leafPem}\n${await issue(intermediate, rootA, '03')}\n${await issue(rootA, rootB, '04')}`;
  });

  it('reads the issuer CN of the topmost certificate of the chain', () => {
    expect(topmostIssuerCommonName(defaultChain)).toBe('Root A');
    expect(topmostIssuerCommonName(alternateChain)).toBe('Root B');
  });

  it('matches the chain whose topmost issuer is the preferred name, and only that one', () => {
    expect(matchesPreferredChain({ url: 'https://ca/cert/1', pem: alternateChain }, 'Root B')).toBe(true);
    expect(matchesPreferredChain({ url: 'https://ca/cert/0', pem: defaultChain }, 'Root B')).toBe(false);
    expect(matchesPreferredChain({ url: 'https://ca/cert/0', pem: defaultChain }, 'root a')).toBe(false);
  });

  it('finds no issuer in text without certificates, and refuses a certificate that does not parse', () => {
    expect(topmostIssuerCommonName('no certificates here')).toBeUndefined();
    expect(() =>
      topmostIssuerCommonName('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'),
    ).toThrow(InvalidInputError);
  });
});
