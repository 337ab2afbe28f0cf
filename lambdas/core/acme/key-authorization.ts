import { createHash } from 'node:crypto';
import { calculateJwkThumbprint } from 'jose';
import type { EcPublicJwk } from '../ports.js';

/**
 * The RFC 7638 SHA-256 thumbprint of the account key, base64url. Only the required EC members
 * (`crv`, `kty`, `x`, `y`) enter the hash, so extra members a signer may add never change it.
 */
export async function jwkThumbprint(jwk: EcPublicJwk): Promise<string> {
  return calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, 'sha256');
}

/** The key authorization `token || '.' || thumbprint` of RFC 8555 §8.1, which proves control of the account key. */
export async function keyAuthorization(token: string, jwk: EcPublicJwk): Promise<string> {
  return `${token}.${await jwkThumbprint(jwk)}`;
}

/**
 * The TXT record value that answers a dns-01 challenge (RFC 8555 §8.4):
 * base64url(SHA-256(key authorization)), unpadded and unquoted.
 */
export async function dns01TxtValue(token: string, jwk: EcPublicJwk): Promise<string> {
  return createHash('sha256')
    .update(await keyAuthorization(token, jwk), 'utf8')
    .digest('base64url');
}
