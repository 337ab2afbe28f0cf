import { generateKeyPair, type KeyObject, sign } from 'node:crypto';
import { promisify } from 'node:util';
import type { EcPublicJwk, Signer } from '../../lambdas/core/ports.js';

/**
 * A real ES256 account key in memory, standing in for the KMS signer. It signs with node:crypto
 * in the JOSE form (`ieee-p1363`, 64-byte r||s), so JWS produced with it verify with any JOSE
 * library; `privateKey` is exposed for tests that need to sign or verify on their own.
 */
export async function createTestSigner(): Promise<Signer & { privateKey: KeyObject }> {
  const { privateKey, publicKey } = await promisify(generateKeyPair)('ec', { namedCurve: 'P-256' });
  const exported = publicKey.export({ format: 'jwk' });
  if (typeof exported.x !== 'string' || typeof exported.y !== 'string') {
    throw new Error('node:crypto exported an EC key without x and y');
  }
  const jwk: EcPublicJwk = { kty: 'EC', crv: 'P-256', x: exported.x, y: exported.y };
  return {
    algorithm: 'ES256',
    privateKey,
    publicJwk: async () => jwk,
    sign: async (signingInput) =>
      new Uint8Array(sign('sha256', signingInput, { key: privateKey, dsaEncoding: 'ieee-p1363' })),
  };
}
