import { base64url, decodeProtectedHeader, flattenedVerify, importJWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { signJws } from '../../../lambdas/core/acme/jws.js';
import type { Signer } from '../../../lambdas/core/ports.js';
import { createTestSigner } from '../../support/test-signer.js';

const URL_ = 'https://ca.example/acme/new-order';

describe('signJws', () => {
  it('produces a flattened JWS that verifies against the jwk in its header', async () => {
    const signer = await createTestSigner();
    const jwk = await signer.publicJwk();

    const jws = await signJws(signer, { nonce: 'n1', url: URL_, jwk }, { hello: 'world' });

    const verified = await flattenedVerify(jws, await importJWK(jwk, 'ES256'));
    expect(verified.protectedHeader).toEqual({ alg: 'ES256', nonce: 'n1', url: URL_, jwk });
    expect(JSON.parse(new TextDecoder().decode(verified.payload))).toEqual({ hello: 'world' });
  });

  it('uses kid and no jwk once the account is known', async () => {
    const signer = await createTestSigner();

    const jws = await signJws(signer, { nonce: 'n2', url: URL_, kid: 'https://ca.example/acct/7' }, {});

    expect(decodeProtectedHeader(jws)).toEqual({
      alg: 'ES256',
      nonce: 'n2',
      url: URL_,
      kid: 'https://ca.example/acct/7',
    });
    expect(jws.payload).toBe(base64url.encode('{}'));
  });

  it('sends an empty payload for POST-as-GET, distinct from an empty object', async () => {
    const signer = await createTestSigner();

    const jws = await signJws(
      signer,
      { nonce: 'n3', url: URL_, kid: 'https://ca.example/acct/7' },
      undefined,
    );

    expect(jws.payload).toBe('');
    await expect(
      flattenedVerify(jws, await importJWK(await signer.publicJwk(), 'ES256')),
    ).resolves.toBeDefined();
  });

  it('puts only the public members of the key into the jwk header', async () => {
    const signer = await createTestSigner();
    const jwk = await signer.publicJwk();
    const noisy = { ...jwk, kid: 'kms-key', use: 'sig' };

    const jws = await signJws(signer, { nonce: 'n4', url: URL_, jwk: noisy }, {});

    expect(decodeProtectedHeader(jws).jwk).toEqual(jwk);
  });

  it('refuses a signer that returns a DER signature instead of r||s', async () => {
    const real = await createTestSigner();
    const derSigner: Signer = { ...real, sign: async () => new Uint8Array(71) };

    await expect(signJws(derSigner, { nonce: 'n5', url: URL_, kid: 'k' }, {})).rejects.toThrow(/64-byte/);
  });
});
