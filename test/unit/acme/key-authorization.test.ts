import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  dns01TxtValue,
  jwkThumbprint,
  keyAuthorization,
} from '../../../lambdas/core/acme/key-authorization.js';
import type { EcPublicJwk } from '../../../lambdas/core/ports.js';
import { createTestSigner } from '../../support/test-signer.js';

// The P-256 public key of RFC 7515 Appendix A.3.
const RFC7515_KEY: EcPublicJwk = {
  kty: 'EC',
  crv: 'P-256',
  x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
  y: 'x_FEzRu9m36HLN_tAfgLhWKsnOM4B93rUqTWbrHJU4s',
};
const TOKEN = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA';
// Computed outside this code base (Python hashlib) from the same key and token.
const EXPECTED_THUMBPRINT = 'h9QUhY3qcuky1okYC8ffGDfbvAEAnXZOiosEFiFUu10';
const EXPECTED_TXT_VALUE = '8BW1F4A4vOUqtOM0FEhNG0a4MhM7VIJ7gOKbaKSTR7Q';

/** RFC 7638 §3 by hand: required members in lexicographic order, no whitespace, SHA-256. */
function thumbprintByHand(jwk: EcPublicJwk): string {
  const canonical = `{"crv":"${jwk.crv}","kty":"${jwk.kty}","x":"${jwk.x}","y":"${jwk.y}"}`;
  return createHash('sha256').update(canonical).digest('base64url');
}

describe('jwkThumbprint', () => {
  it('matches the known RFC 7638 thumbprint of a fixed key', async () => {
    const thumbprint = await jwkThumbprint(RFC7515_KEY);

    expect(thumbprint).toBe(EXPECTED_THUMBPRINT);
    expect(thumbprint).toBe(thumbprintByHand(RFC7515_KEY));
  });

  it('ignores members beyond the required ones', async () => {
    const withExtras = { ...RFC7515_KEY, kid: 'account-key', use: 'sig' } as EcPublicJwk;

    expect(await jwkThumbprint(withExtras)).toBe(EXPECTED_THUMBPRINT);
  });

  it('agrees with the RFC 7638 construction for freshly generated keys', async () => {
    const signer = await createTestSigner();
    const jwk = await signer.publicJwk();

    expect(await jwkThumbprint(jwk)).toBe(thumbprintByHand(jwk));
  });
});

describe('dns01TxtValue', () => {
  it('is base64url(SHA-256(token "." thumbprint)) for a known vector', async () => {
    const value = await dns01TxtValue(TOKEN, RFC7515_KEY);

    expect(value).toBe(EXPECTED_TXT_VALUE);
    expect(value).toBe(createHash('sha256').update(`${TOKEN}.${EXPECTED_THUMBPRINT}`).digest('base64url'));
  });

  it('is 43 unpadded base64url characters, as a TXT record must hold it', async () => {
    const value = await dns01TxtValue(TOKEN, RFC7515_KEY);

    expect(value).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe('keyAuthorization', () => {
  it('joins the token and the thumbprint with a dot', async () => {
    expect(await keyAuthorization(TOKEN, RFC7515_KEY)).toBe(`${TOKEN}.${EXPECTED_THUMBPRINT}`);
  });
});
