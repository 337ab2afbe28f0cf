import { base64url } from 'jose';
import type { EcPublicJwk, Signer } from '../ports.js';

/** RFC 7515 §7.2.2 flattened JSON serialization: the request body of every ACME POST. */
export interface FlattenedJws {
  readonly protected: string;
  readonly payload: string;
  readonly signature: string;
}

/** Who signs (RFC 8555 §6.2): the key itself before the account exists, its account URL after. */
export type JwsKeyReference = { readonly jwk: EcPublicJwk } | { readonly kid: string };

/** The RFC 8555 §6.2 protected header fields that vary per request. */
export type JwsRequestHeader = { readonly nonce: string; readonly url: string } & JwsKeyReference;

const ES256_SIGNATURE_BYTES = 64;

/**
 * Signs one ACME request. Built by hand rather than with jose's signers because the key lives
 * behind `Signer` (AWS KMS in production) and never becomes a `CryptoKey`.
 *
 * Guarantees: the protected header holds exactly `alg`, `nonce`, `url` and one of `jwk`/`kid`;
 * `payload === undefined` produces the empty payload of POST-as-GET (RFC 8555 §6.3), which is
 * not the same as `{}`; the signature is the signer's raw 64-byte r||s, checked for length so a
 * DER-encoding signer fails here rather than as a confusing `malformed` from the CA.
 */
export async function signJws(
  signer: Signer,
  header: JwsRequestHeader,
  payload: object | undefined,
): Promise<FlattenedJws> {
  const key = 'jwk' in header ? { jwk: publicJwkMembers(header.jwk) } : { kid: header.kid };
  return signFlattened(
    signer,
    { alg: signer.algorithm, nonce: header.nonce, url: header.url, ...key },
    payload,
  );
}

/** What the inner JWS of a key rollover asserts (RFC 8555 §7.3.5). */
export interface KeyChangeRequest {
  /** The directory's `keyChange` URL: the same `url` as the outer JWS. */
  readonly url: string;
  /** The account URL, the `kid` of the outer JWS. */
  readonly account: string;
  /** The key the account holds now, which signs the outer JWS. */
  readonly oldKey: EcPublicJwk;
  /** The public half of `newSigner`'s key, as the CA will know the account from now on. */
  readonly newKey: EcPublicJwk;
}

/**
 * The inner JWS of a key rollover (RFC 8555 §7.3.5), signed by the new key: it proves that whoever
 * holds the new key agrees to take over the account, while the outer JWS, signed by the old key,
 * proves the account agrees to hand over.
 *
 * Guarantees: the protected header is exactly `{alg, jwk, url}`, with no `kid` and no `nonce`
 * (§7.3.5 requires it omitted), so one inner JWS serves every `badNonce` retry of the outer one;
 * the payload is exactly `{account, oldKey}`; both keys show only their public members; the
 * signature is checked as in `signJws`.
 */
export async function signKeyChangeJws(newSigner: Signer, request: KeyChangeRequest): Promise<FlattenedJws> {
  return signFlattened(
    newSigner,
    { alg: newSigner.algorithm, jwk: publicJwkMembers(request.newKey), url: request.url },
    { account: request.account, oldKey: publicJwkMembers(request.oldKey) },
  );
}

async function signFlattened(
  signer: Signer,
  header: Readonly<Record<string, unknown>>,
  payload: object | undefined,
): Promise<FlattenedJws> {
  const protectedHeader = base64url.encode(JSON.stringify(header));
  const encodedPayload = payload === undefined ? '' : base64url.encode(JSON.stringify(payload));
  // Both parts are base64url, so their UTF-8 bytes are the ASCII bytes RFC 7515 §5.1 signs.
  const signature = await signer.sign(new TextEncoder().encode(`${protectedHeader}.${encodedPayload}`));
  if (signature.length !== ES256_SIGNATURE_BYTES) {
    throw new TypeError(
      `The signer returned a ${signature.length}-byte signature; ES256 needs the 64-byte r||s form, not DER.`,
    );
  }
  return { protected: protectedHeader, payload: encodedPayload, signature: base64url.encode(signature) };
}

/**
 * The account key as every JWS of this client shows it: only the public members `kty`, `crv`,
 * `x` and `y`, in that order. A signer's JWK may carry `kid` or `use`, which CAs refuse to see
 * in a `jwk` header, and the external account binding must carry the very same key.
 */
export function publicJwkMembers(jwk: EcPublicJwk): EcPublicJwk {
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
}
