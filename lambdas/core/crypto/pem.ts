import { InvalidInputError } from '../errors.js';

/**
 * PEM text handling (RFC 7468). CAs send chains as concatenated PEM blocks with varying line
 * endings and stray text between blocks; ACM wants the leaf and the intermediates apart. Every
 * block returned here is re-wrapped in the canonical form: 64-character base64 lines, `\n` line
 * endings, and a trailing newline.
 */

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** One decoded PEM block. */
export interface PemBlock {
  readonly label: string;
  readonly der: Uint8Array;
}

/**
 * Every PEM block in `pem`, in order, with its DER bytes. Text outside blocks (such as OpenSSL's
 * `subject=` lines) is ignored. Throws `InvalidInputError` when a block's BEGIN and END labels
 * differ or its body is not base64, so a damaged chain is never passed on silently.
 */
export function parsePem(pem: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const match of pem.matchAll(BLOCK)) {
    const [, label = '', body = '', endLabel = ''] = match;
    if (label !== endLabel) {
      throw new InvalidInputError(`PEM block BEGIN ${label} is closed by END ${endLabel}`);
    }
    const base64 = body.replace(/\s+/g, '');
    if (base64.length === 0 || base64.length % 4 !== 0 || !BASE64.test(base64)) {
      throw new InvalidInputError(`PEM block ${label} does not contain valid base64`);
    }
    blocks.push({ label, der: new Uint8Array(Buffer.from(base64, 'base64')) });
  }
  return blocks;
}

/** Encodes DER bytes as one canonical PEM block with the given label. */
export function toPem(der: Uint8Array, label: string): string {
  const base64 = Buffer.from(der).toString('base64');
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/**
 * The blocks of `pem` whose label is `label` (e.g. `CERTIFICATE`), in order, each in canonical
 * form. Blocks with other labels are skipped.
 */
export function pemBlocks(pem: string, label: string): string[] {
  return parsePem(pem)
    .filter((block) => block.label === label)
    .map((block) => toPem(block.der, label));
}

/**
 * Splits a full chain as ACME returns it (RFC 8555 §7.4.2: the leaf first, then the issuers)
 * into the leaf and the rest. `chainPem` never contains the leaf, because ACM rejects a chain
 * that does, and is the empty string when the CA sent the leaf alone. Throws
 * `InvalidInputError` when there is no certificate at all.
 */
export function splitPemChain(pem: string): { leafPem: string; chainPem: string } {
  const [leafPem, ...chain] = pemBlocks(pem, 'CERTIFICATE');
  if (leafPem === undefined) {
    throw new InvalidInputError('Expected at least one PEM CERTIFICATE block, found none');
  }
  return { leafPem, chainPem: chain.join('') };
}
