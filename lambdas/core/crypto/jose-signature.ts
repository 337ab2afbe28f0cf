import { createPublicKey } from 'node:crypto';
import { InvalidInputError } from '../errors.js';
import type { EcPublicJwk } from '../ports.js';

/**
 * ECDSA signatures in the two encodings that meet in this project: KMS (and OpenSSL) return a DER
 * `ECDSA-Sig-Value`, while JWS (RFC 7518 §3.4) needs the fixed-size concatenation r || s.
 */

const SEQUENCE = 0x30;
const INTEGER = 0x02;

/** A DER element's content, and where the next element starts. */
interface DerElement {
  readonly content: Uint8Array;
  readonly end: number;
}

function malformed(reason: string): never {
  throw new InvalidInputError(`Malformed DER ECDSA signature: ${reason}`);
}

/** Reads one tag-length-value at `offset`, requiring minimal (DER, not BER) length encoding. */
function readElement(bytes: Uint8Array, offset: number, tag: number, limit: number): DerElement {
  if (offset + 2 > limit) malformed('truncated element header');
  if (bytes[offset] !== tag) {
    malformed(`expected tag 0x${tag.toString(16)}, found 0x${(bytes[offset] ?? 0).toString(16)}`);
  }
  let length = bytes[offset + 1] ?? 0;
  let start = offset + 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    // Signatures never need more than two length octets; 0x80 (indefinite) is BER-only.
    if (octets === 0 || octets > 2) malformed('unsupported length encoding');
    if (start + octets > limit) malformed('truncated length');
    length = 0;
    for (let i = 0; i < octets; i++) length = (length << 8) | (bytes[start + i] ?? 0);
    if (length < 0x80 || (octets === 2 && length < 0x100)) malformed('non-minimal length encoding');
    start += octets;
  }
  const end = start + length;
  if (end > limit) malformed('length runs past the end of the input');
  return { content: bytes.subarray(start, end), end };
}

/** Turns a DER INTEGER's content into exactly `size` big-endian bytes. */
function toFixedSize(content: Uint8Array, size: number, name: 'r' | 's'): Uint8Array {
  if (content.length === 0) malformed(`${name} is empty`);
  const first = content[0] ?? 0;
  if (first & 0x80) malformed(`${name} is negative`);
  // DER allows a leading zero only to keep the next byte's high bit from reading as a sign.
  if (first === 0 && content.length > 1 && ((content[1] ?? 0) & 0x80) === 0) {
    malformed(`${name} has a redundant leading zero`);
  }
  const magnitude = first === 0 ? content.subarray(1) : content;
  if (magnitude.length > size) malformed(`${name} is longer than ${size} bytes`);
  if (magnitude.every((byte) => byte === 0)) malformed(`${name} is zero`);
  const out = new Uint8Array(size);
  out.set(magnitude, size - magnitude.length);
  return out;
}

/**
 * Converts a DER `ECDSA-Sig-Value` (SEQUENCE { r INTEGER, s INTEGER }) into the JOSE form
 * r || s, each left-padded to `size` bytes (32 for P-256). Strict: anything that is not exactly
 * one minimal DER sequence of two positive, non-zero integers that fit in `size` bytes throws
 * `InvalidInputError`, so a corrupted signature never reaches the CA.
 */
export function derToJoseSignature(der: Uint8Array, size = 32): Uint8Array {
  const sequence = readElement(der, 0, SEQUENCE, der.length);
  if (sequence.end !== der.length) malformed('trailing bytes after the sequence');
  const sequenceStart = sequence.end - sequence.content.length;
  const r = readElement(der, sequenceStart, INTEGER, sequence.end);
  const s = readElement(der, r.end, INTEGER, sequence.end);
  if (s.end !== sequence.end) malformed('trailing bytes inside the sequence');
  const jose = new Uint8Array(size * 2);
  jose.set(toFixedSize(r.content, size, 'r'), 0);
  jose.set(toFixedSize(s.content, size, 's'), size);
  return jose;
}

/**
 * Converts a DER SubjectPublicKeyInfo (what KMS `GetPublicKey` returns) into the EC JWK an ACME
 * server expects in the `jwk` header. Only P-256 is accepted, because the signer speaks ES256
 * only; any other key is reported as `InvalidInputError` naming what was found.
 */
export function spkiDerToEcJwk(spki: Uint8Array): EcPublicJwk {
  let jwk: { kty?: string; crv?: string; x?: string; y?: string };
  try {
    jwk = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }).export({ format: 'jwk' });
  } catch (error) {
    throw new InvalidInputError('Public key is not a valid DER SubjectPublicKeyInfo', { cause: error });
  }
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.x || !jwk.y) {
    const found = jwk.kty === 'EC' ? `EC ${jwk.crv ?? 'unknown curve'}` : (jwk.kty ?? 'unknown key type');
    throw new InvalidInputError(`The account key must be an EC P-256 key (ES256), but it is ${found}`);
  }
  return { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
}
