import { generateKeyPair, type KeyObject, sign } from 'node:crypto';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateCertificateKey } from '../../../lambdas/core/crypto/certificate-key.js';
import { createCsr, createCsrWithKeySigner } from '../../../lambdas/core/crypto/csr.js';
import {
  Pkcs10CertificateRequest,
  SubjectAlternativeNameExtension,
} from '../../../lambdas/core/crypto/x509.js';
import { InvalidInputError } from '../../../lambdas/core/errors.js';
import type { CertificateKeySigner } from '../../../lambdas/core/ports.js';
import type { KeyType } from '../../../lambdas/core/state.js';

const SUBJECT_ALT_NAME_OID = '2.5.29.17';
const KEY_TYPES = ['EC_P256', 'EC_P384', 'RSA_2048', 'RSA_3072', 'RSA_4096'] as const;

/** The X.509 signature algorithm each key type must announce, with its hash for node:crypto. */
const EXPECTED: Readonly<Record<KeyType, { oid: string; hash: string; name: string }>> = {
  EC_P256: { oid: '1.2.840.10045.4.3.2', hash: 'sha256', name: 'ECDSA' },
  EC_P384: { oid: '1.2.840.10045.4.3.3', hash: 'sha384', name: 'ECDSA' },
  RSA_2048: { oid: '1.2.840.113549.1.1.11', hash: 'sha256', name: 'RSASSA-PKCS1-v1_5' },
  RSA_3072: { oid: '1.2.840.113549.1.1.11', hash: 'sha256', name: 'RSASSA-PKCS1-v1_5' },
  RSA_4096: { oid: '1.2.840.113549.1.1.11', hash: 'sha256', name: 'RSASSA-PKCS1-v1_5' },
};

const generate = promisify(generateKeyPair);

async function nodeKeyPair(keyType: KeyType): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  if (keyType === 'EC_P256') return generate('ec', { namedCurve: 'prime256v1' });
  if (keyType === 'EC_P384') return generate('ec', { namedCurve: 'secp384r1' });
  return generate('rsa', { modulusLength: Number(keyType.slice('RSA_'.length)) });
}

/** A keystore stand-in: a node:crypto key that signs the way the port promises (DER ECDSA). */
class LocalKeySigner implements CertificateKeySigner {
  readonly keyId: string;
  signCalls = 0;
  readonly #keyType: KeyType;
  readonly #keys: { privateKey: KeyObject; publicKey: KeyObject };

  constructor(keyType: KeyType, keys: { privateKey: KeyObject; publicKey: KeyObject }) {
    this.keyId = `local-${keyType}`;
    this.#keyType = keyType;
    this.#keys = keys;
  }

  get spki(): Buffer {
    return this.#keys.publicKey.export({ format: 'der', type: 'spki' });
  }

  async describe(): Promise<{ keyType: KeyType; spki: Uint8Array }> {
    return { keyType: this.#keyType, spki: new Uint8Array(this.spki) };
  }

  async sign(data: Uint8Array): Promise<Uint8Array> {
    this.signCalls++;
    return sign(EXPECTED[this.#keyType].hash, data, { key: this.#keys.privateKey, dsaEncoding: 'der' });
  }
}

/** Reads one DER tag-length-value header at `offset`. */
function element(der: Uint8Array, offset: number): { start: number; end: number } {
  let length = der[offset + 1] ?? 0;
  let start = offset + 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + (der[start + i] ?? 0);
    start += octets;
  }
  return { start, end: start + length };
}

/** The dotted OID of a CSR's signatureAlgorithm (the AlgorithmIdentifier after the request info). */
function signatureOid(der: Uint8Array): string {
  const request = element(der, 0);
  const info = element(der, request.start);
  const algorithm = element(der, info.end);
  const oid = element(der, algorithm.start);
  const bytes = der.subarray(oid.start, oid.end);
  const arcs = [Math.floor((bytes[0] ?? 0) / 40), (bytes[0] ?? 0) % 40];
  let arc = 0;
  for (const byte of bytes.subarray(1)) {
    arc = arc * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      arcs.push(arc);
      arc = 0;
    }
  }
  return arcs.join('.');
}

function sanOf(csr: Pkcs10CertificateRequest): string[] {
  const san = csr.getExtension(SUBJECT_ALT_NAME_OID);
  if (!(san instanceof SubjectAlternativeNameExtension)) return [];
  return san.names.toJSON().map((name) => `${name.type}:${name.value}`);
}

const signers = new Map<KeyType, LocalKeySigner>();

function signerFor(keyType: KeyType): LocalKeySigner {
  const signer = signers.get(keyType);
  if (!signer) throw new Error(`no signer for ${keyType}`);
  return signer;
}

beforeAll(async () => {
  const pairs = await Promise.all(KEY_TYPES.map(nodeKeyPair));
  KEY_TYPES.forEach((keyType, i) => {
    const pair = pairs[i];
    if (pair) signers.set(keyType, new LocalKeySigner(keyType, pair));
  });
});

describe('createCsrWithKeySigner', () => {
  it.each(KEY_TYPES)('builds a %s CSR that verifies and carries the signer’s public key', async (keyType) => {
    const signer = signerFor(keyType);

    const der = await createCsrWithKeySigner(['example.org', '*.example.org'], signer);
    const csr = new Pkcs10CertificateRequest(der);

    expect(await csr.verify()).toBe(true);
    expect(Buffer.from(csr.publicKey.rawData)).toEqual(signer.spki);
  });

  it.each(KEY_TYPES)('signs a %s CSR with the X.509 algorithm of its key type', async (keyType) => {
    const der = await createCsrWithKeySigner(['example.org'], signerFor(keyType));

    expect(signatureOid(der)).toBe(EXPECTED[keyType].oid);
    expect(new Pkcs10CertificateRequest(der).signatureAlgorithm).toMatchObject({
      name: EXPECTED[keyType].name,
      hash: { name: EXPECTED[keyType].hash.replace('sha', 'SHA-') },
    });
  });

  it('has the same subject and subjectAltName as createCsr for the same domains', async () => {
    const domains = ['example.org', '*.example.org', 'www.example.net'];
    const { keyPair } = await generateCertificateKey('EC_P256');

    const remote = new Pkcs10CertificateRequest(await createCsrWithKeySigner(domains, signerFor('EC_P256')));
    const local = new Pkcs10CertificateRequest(await createCsr(domains, keyPair));

    expect(remote.subject).toBe('CN=example.org');
    expect(remote.subject).toBe(local.subject);
    expect(sanOf(remote)).toEqual(['dns:example.org', 'dns:*.example.org', 'dns:www.example.net']);
    expect(sanOf(remote)).toEqual(sanOf(local));
  });

  it('leaves the subject empty when the first domain is longer than 64 characters', async () => {
    const long = `${'a'.repeat(60)}.example.org`;

    const csr = new Pkcs10CertificateRequest(
      await createCsrWithKeySigner([long, 'example.org'], signerFor('EC_P384')),
    );

    expect(csr.subject).toBe('');
    expect(sanOf(csr)).toEqual([`dns:${long}`, 'dns:example.org']);
    expect(await csr.verify()).toBe(true);
  });

  it('refuses an empty list of domains without asking the key to sign', async () => {
    const signer = signerFor('EC_P256');
    const before = signer.signCalls;

    await expect(createCsrWithKeySigner([], signer)).rejects.toThrow(InvalidInputError);
    expect(signer.signCalls).toBe(before);
  });

  it('refuses a key type it cannot sign with, naming the key and its type', async () => {
    const signer: CertificateKeySigner = {
      keyId: 'key-521',
      describe: async () => ({ keyType: 'EC_P521' as KeyType, spki: new Uint8Array(0) }),
      sign: () => Promise.reject(new Error('must not be called')),
    };

    const building = createCsrWithKeySigner(['example.org'], signer);

    await expect(building).rejects.toThrow(InvalidInputError);
    await expect(building).rejects.toThrow(/key-521.*EC_P521/);
  });

  it('refuses a CSR whose signature does not match the public key the signer reports', async () => {
    const honest = signerFor('EC_P256');
    const other = new LocalKeySigner('EC_P256', await nodeKeyPair('EC_P256'));
    const mismatched: CertificateKeySigner = {
      keyId: 'mismatched-key',
      describe: () => honest.describe(),
      sign: (data) => other.sign(data),
    };

    const building = createCsrWithKeySigner(['example.org'], mismatched);

    await expect(building).rejects.toThrow(InvalidInputError);
    await expect(building).rejects.toThrow(/mismatched-key.*does not verify/);
  });

  it('passes on a malformed ECDSA signature as InvalidInputError', async () => {
    const honest = signerFor('EC_P256');
    const broken: CertificateKeySigner = {
      keyId: 'broken-key',
      describe: () => honest.describe(),
      sign: async () => new Uint8Array([0x30, 0x01, 0x00]),
    };

    await expect(createCsrWithKeySigner(['example.org'], broken)).rejects.toThrow(InvalidInputError);
  });
});
