import { webcrypto } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeHttpsTransport } from '../../lambdas/adapters/https-transport.js';
import { AcmeClient } from '../../lambdas/core/acme/client.js';
import { chooseRenewalTime } from '../../lambdas/core/acme/renewal-info.js';
import { ariCertificateId } from '../../lambdas/core/crypto/ari-certificate-id.js';
import * as x509 from '../../lambdas/core/crypto/x509.js';
import { type AriStandIn, startAriStandIn } from '../harness/ari-stand-in.js';
import { type PebbleEnvironment, startPebble } from '../harness/pebble.js';
import { createTestSigner } from '../support/test-signer.js';

const HOUR_MS = 60 * 60 * 1000;

/** A leaf issued by a throwaway CA, so it carries a real Authority Key Identifier. */
async function issueLeaf(serialNumber: string): Promise<string> {
  const params = { name: 'ECDSA', namedCurve: 'P-256' };
  const signingAlgorithm = { name: 'ECDSA', hash: 'SHA-256' };
  const caKeys = await webcrypto.subtle.generateKey(params, false, ['sign', 'verify']);
  const leafKeys = await webcrypto.subtle.generateKey(params, false, ['sign', 'verify']);
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber,
    subject: 'CN=example.org',
    issuer: 'CN=ari test CA',
    publicKey: leafKeys.publicKey,
    signingKey: caKeys.privateKey,
    notBefore: new Date(Date.now() - HOUR_MS),
    notAfter: new Date(Date.now() + 90 * 24 * HOUR_MS),
    signingAlgorithm,
    extensions: [
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'example.org' }]),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  return leaf.toString('pem');
}

describe('AcmeClient renewal information against the ARI stand-in over HTTPS', () => {
  const window = {
    start: new Date(Date.now() + 24 * HOUR_MS),
    end: new Date(Date.now() + 48 * HOUR_MS),
    explanationUrl: 'https://ca.example/why',
  };
  let standIn: AriStandIn;
  let leafPem: string;
  let certId: string;

  beforeAll(async () => {
    leafPem = await issueLeaf('a1b2c3d4e5f6');
    certId = ariCertificateId(leafPem);
    standIn = await startAriStandIn({
      windows: (id) => (id === certId ? window : undefined),
      retryAfterSeconds: 21600,
    });
  });

  afterAll(async () => {
    await standIn?.stop();
  });

  async function newClient(): Promise<AcmeClient> {
    return new AcmeClient({
      directoryUrl: standIn.directoryUrl,
      transport: new NodeHttpsTransport({ caPem: standIn.caPem }),
      signer: await createTestSigner(),
    });
  }

  it('reads the window and Retry-After with one unauthenticated GET after the directory', async () => {
    const client = await newClient();
    const before = standIn.requests.length;

    const info = await client.getRenewalInfoById(certId);

    expect(info).toEqual({ window, retryAfterSeconds: 21600 });
    expect(standIn.requests.slice(before)).toEqual(['GET /dir', `GET /renewal-info/${certId}`]);
    const renewAt = chooseRenewalTime(info?.window ?? window, Math.random, new Date());
    expect(renewAt.getTime()).toBeGreaterThanOrEqual(window.start.getTime());
    expect(renewAt.getTime()).toBeLessThan(window.end.getTime());
  });

  it('keeps the leading zero of a high-bit serial in the path the CA sees', async () => {
    const highBitLeaf = await issueLeaf('f00d');
    const id = ariCertificateId(highBitLeaf);
    standIn.setWindow(id, window);
    const client = await newClient();

    const info = await client.getRenewalInfoById(id);

    expect(id.split('.')[1]).toBe(Buffer.from([0x00, 0xf0, 0x0d]).toString('base64url'));
    expect(info?.window).toEqual(window);
    expect(standIn.requests.at(-1)).toBe(`GET /renewal-info/${id}`);
  });

  it('follows a window the CA moves, and answers undefined once it forgets the certificate', async () => {
    const client = await newClient();
    const urgent = { start: new Date(Date.now() - 2 * HOUR_MS), end: new Date(Date.now() - HOUR_MS) };

    standIn.setWindow(certId, urgent);
    const moved = await client.getRenewalInfoById(certId);
    standIn.setWindow(certId, undefined);
    const forgotten = await client.getRenewalInfoById(certId);
    standIn.setWindow(certId, window);

    expect(moved?.window).toEqual(urgent);
    const now = new Date();
    expect(chooseRenewalTime(urgent, Math.random, now)).toEqual(now);
    expect(forgotten).toBeUndefined();
  });

  it('refuses POSTs and malformed CertIDs the way a CA does', async () => {
    const transport = new NodeHttpsTransport({ caPem: standIn.caPem });

    const post = await transport.request({
      method: 'POST',
      url: `${standIn.renewalInfoUrl}/${certId}`,
      body: '{}',
    });
    const malformed = await transport.request({
      method: 'GET',
      url: `${standIn.renewalInfoUrl}/not-a-cert-id`,
    });

    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET');
    expect(malformed.status).toBe(400);
    expect(malformed.headers['content-type']).toBe('application/problem+json');
  });
});

describe('ARI stand-in in front of Pebble', () => {
  let pebble: PebbleEnvironment;
  let standIn: AriStandIn;

  beforeAll(async () => {
    pebble = await startPebble();
    const transport = new NodeHttpsTransport({ caPem: pebble.caBundlePem });
    const response = await transport.request({ method: 'GET', url: pebble.directoryUrl });
    standIn = await startAriStandIn({ upstreamDirectory: JSON.parse(response.body) as object });
  });

  afterAll(async () => {
    await standIn?.stop();
    await pebble?.stop();
  });

  it('orders from Pebble with replaces and profile while ARI comes from the stand-in', async () => {
    const leafPem = await issueLeaf('0badcafe');
    const certId = ariCertificateId(leafPem);
    standIn.setWindow(certId, { start: new Date(Date.now() - HOUR_MS), end: new Date(Date.now() + HOUR_MS) });
    const client = new AcmeClient({
      directoryUrl: standIn.directoryUrl,
      transport: new NodeHttpsTransport({ caPem: `${pebble.caBundlePem}\n${standIn.caPem}` }),
      signer: await createTestSigner(),
    });

    const info = await client.getRenewalInfoById(certId);
    await client.createAccount({ termsOfServiceAgreed: true });
    const order = await client.newOrder(['example.org'], { replaces: certId, profile: 'default' });

    expect(info?.window.end.getTime()).toBeGreaterThan(Date.now());
    expect(order.body.status).toBe('pending');
    expect(new URL(order.location).origin).toBe(new URL(pebble.directoryUrl).origin);
    expect(standIn.requests).toEqual(['GET /dir', `GET /renewal-info/${certId}`]);
  });
});
