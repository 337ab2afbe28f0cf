import type { KeyType } from '../state.js';

/** CloudFront serves ACM certificates from this region only. */
const CLOUDFRONT_REGION = 'us-east-1';

/** The certificate key types CloudFront accepts: RSA (1024 to 4096 bits) and ECDSA P-256. */
const CLOUDFRONT_KEY_TYPES: ReadonlySet<KeyType> = new Set<KeyType>([
  'EC_P256',
  'RSA_2048',
  'RSA_3072',
  'RSA_4096',
]);

/**
 * A warning when a certificate imported into `us-east-1` has a key CloudFront refuses (ECDSA
 * P-384), or `undefined` when there is nothing to warn about. Only a warning: ACM imports the
 * certificate all the same, and load balancers and API Gateway in that region can use it; only
 * attaching it to a CloudFront distribution would fail, which is better said now than then.
 */
export function cloudFrontKeyWarning(keyType: KeyType, regions: readonly string[]): string | undefined {
  if (!regions.includes(CLOUDFRONT_REGION) || CLOUDFRONT_KEY_TYPES.has(keyType)) return undefined;
  return `The ${keyType} key of this certificate cannot be used with CloudFront, which accepts RSA and ECDSA P-256 keys only; the certificate imported into ${CLOUDFRONT_REGION} works for load balancers and API Gateway but not for a CloudFront distribution. Use keyType EC_P256 (or an RSA key type) for CloudFront.`;
}
