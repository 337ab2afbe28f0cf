import { createHash } from 'node:crypto';

/**
 * Where things live in the certificate store. Keys are derived from ids and URLs, so a retried
 * step writes to the same place instead of leaving copies behind.
 */

function shortHash(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 32);
}

/** The private key generated for one order, kept until its certificate is downloaded. */
export function orderKeyKey(certificateId: string, orderUrl: string): string {
  return `orders/${certificateId}/${shortHash(orderUrl)}/privkey.pem`;
}

/** Folder of one issued certificate; holds `fullchain.pem` and `privkey.pem`. */
export function issuedCertificatePrefix(certificateId: string, serial: string): string {
  return `certificates/${certificateId}/${serial.toLowerCase()}`;
}
