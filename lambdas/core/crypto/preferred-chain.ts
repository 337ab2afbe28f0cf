import { InvalidInputError } from '../errors.js';
import { type ParsedCertificate, parseCertificateDer } from './parsed-certificate.js';
import { parsePem } from './pem.js';

/** One chain a CA offers for an order: its download URL and the PEM it served. */
export interface OfferedChain {
  readonly url: string;
  readonly pem: string;
}

/**
 * The issuer common name of the topmost certificate in a PEM chain (leaf first): the root, or
 * the cross-signer, that the chain leads to. This is what `preferredChain` names, as certbot's
 * and lego's "preferred chain" options do. `undefined` when the chain holds no certificate or its
 * topmost issuer has no CN.
 */
export function topmostIssuerCommonName(chainPem: string): string | undefined {
  const top = parsePem(chainPem)
    .filter((block) => block.label === 'CERTIFICATE')
    .at(-1);
  if (top === undefined) return undefined;
  let certificate: ParsedCertificate;
  try {
    certificate = parseCertificateDer(top.der);
  } catch (error) {
    throw new InvalidInputError('The chain holds a certificate that does not parse', { cause: error });
  }
  return certificate.issuerCommonNames[0];
}

/**
 * Whether `chain` is the one `preferredChain` asks for: its topmost issuer CN equals the preferred
 * name exactly (certificate names are compared as written; a CA's root names are stable).
 */
export function matchesPreferredChain(chain: OfferedChain, preferredChain: string): boolean {
  return topmostIssuerCommonName(chain.pem) === preferredChain;
}
