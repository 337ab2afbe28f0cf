import { createHmac } from 'node:crypto';
import { base64url } from 'jose';
import { InvalidInputError } from '../errors.js';
import type { EcPublicJwk, ExternalAccountBinding } from '../ports.js';
import { type FlattenedJws, publicJwkMembers } from './jws.js';

/** What the binding covers: the account key being registered, at one newAccount URL. */
export interface ExternalAccountBindingRequest {
  readonly binding: ExternalAccountBinding;
  /** The newAccount URL: the same `url` as the outer JWS (RFC 8555 §7.3.4). */
  readonly url: string;
  /** The account key, exactly as the outer JWS carries it in `jwk`. */
  readonly jwk: EcPublicJwk;
}

/**
 * The `externalAccountBinding` member of a newAccount payload (RFC 8555 §7.3.4): a flattened JWS
 * whose payload is the account key in JWK form, MACed with HS256 under the CA-issued key.
 *
 * Guarantees: the protected header is exactly `{alg: 'HS256', kid, url}` (no `nonce`, which the
 * RFC forbids here); the payload is the same public JWK the outer JWS shows; the MAC key goes into
 * the HMAC and nowhere else, so neither the result nor any error message contains it. An empty
 * key or `kid` is refused with `InvalidInputError` before anything is computed.
 */
export function signExternalAccountBinding(request: ExternalAccountBindingRequest): FlattenedJws {
  const { binding, url, jwk } = request;
  if (binding.kid.trim() === '') {
    throw new InvalidInputError('The external account binding has an empty kid.');
  }
  if (binding.hmacKey.length === 0) {
    throw new InvalidInputError(`The external account binding key for kid "${binding.kid}" is empty.`);
  }
  const protectedHeader = base64url.encode(JSON.stringify({ alg: 'HS256', kid: binding.kid, url }));
  const payload = base64url.encode(JSON.stringify(publicJwkMembers(jwk)));
  const mac = createHmac('sha256', binding.hmacKey).update(`${protectedHeader}.${payload}`).digest();
  return { protected: protectedHeader, payload, signature: base64url.encode(mac) };
}
