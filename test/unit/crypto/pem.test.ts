import { describe, expect, it } from 'vitest';
import { pemBlocks, splitPemChain, toPem } from '../../../lambdas/core/crypto/pem.js';
import { InvalidInputError } from '../../../lambdas/core/errors.js';

const leaf = toPem(new Uint8Array(100).fill(1), 'CERTIFICATE');
const intermediate = toPem(new Uint8Array(100).fill(2), 'CERTIFICATE');
const root = toPem(new Uint8Array(100).fill(3), 'CERTIFICATE');

describe('splitPemChain', () => {
  it('returns the first certificate as the leaf and the rest, without the leaf, as the chain', () => {
    const { leafPem, chainPem } = splitPemChain(`${leaf}${intermediate}${root}`);

    expect(leafPem).toBe(leaf);
    expect(chainPem).toBe(`${intermediate}${root}`);
    expect(chainPem).not.toContain(leaf.split('\n')[1]);
  });

  it('returns an empty chain when the CA sent the leaf alone', () => {
    expect(splitPemChain(leaf)).toEqual({ leafPem: leaf, chainPem: '' });
  });

  it('normalizes CRLF line endings and ignores text between blocks', () => {
    const messy = `subject=CN=leaf\r\n${leaf.replaceAll('\n', '\r\n')}\r\nissuer=CN=ca\r\n${intermediate.replaceAll('\n', '\r\n')}`;

    expect(splitPemChain(messy)).toEqual({ leafPem: leaf, chainPem: intermediate });
  });

  it('throws InvalidInputError when there is no certificate', () => {
    expect(() => splitPemChain('')).toThrow(InvalidInputError);
    expect(() => splitPemChain(toPem(new Uint8Array(10), 'PRIVATE KEY'))).toThrow(/no/);
  });
});

describe('pemBlocks', () => {
  it('returns only the blocks with the given label, in order', () => {
    const key = toPem(new Uint8Array(10).fill(9), 'PRIVATE KEY');

    expect(pemBlocks(`${leaf}${key}${intermediate}`, 'CERTIFICATE')).toEqual([leaf, intermediate]);
    expect(pemBlocks(`${leaf}${key}`, 'PRIVATE KEY')).toEqual([key]);
  });

  it('re-wraps bodies into 64-character lines', () => {
    const oneLine = `-----BEGIN CERTIFICATE-----\n${Buffer.alloc(100, 1).toString('base64')}\n-----END CERTIFICATE-----`;

    const [block] = pemBlocks(oneLine, 'CERTIFICATE');

    expect(block).toBe(leaf);
    expect(block?.split('\n').every((line) => line.length <= 64)).toBe(true);
  });

  it('throws InvalidInputError when BEGIN and END labels differ', () => {
    const broken = '-----BEGIN CERTIFICATE-----\nAQID\n-----END PRIVATE KEY-----\n';

    expect(() => pemBlocks(broken, 'CERTIFICATE')).toThrow(InvalidInputError);
  });

  it('throws InvalidInputError when a body is not base64', () => {
    const broken = '-----BEGIN CERTIFICATE-----\nnot*base64!\n-----END CERTIFICATE-----\n';

    expect(() => pemBlocks(broken, 'CERTIFICATE')).toThrow(/base64/);
  });
});
