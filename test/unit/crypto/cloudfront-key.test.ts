import { describe, expect, it } from 'vitest';
import { cloudFrontKeyWarning } from '../../../lambdas/core/crypto/cloudfront-key.js';
import type { KeyType } from '../../../lambdas/core/state.js';

describe('cloudFrontKeyWarning', () => {
  it('warns about a P-384 key imported into us-east-1, naming the key type and what to use instead', () => {
    const warning = cloudFrontKeyWarning('EC_P384', ['eu-west-1', 'us-east-1']);

    expect(warning).toContain('EC_P384');
    expect(warning).toContain('CloudFront');
    expect(warning).toContain('EC_P256');
  });

  it.each(['EC_P256', 'RSA_2048', 'RSA_3072', 'RSA_4096'] as KeyType[])(
    'says nothing about a %s key, which CloudFront accepts',
    (keyType) => {
      expect(cloudFrontKeyWarning(keyType, ['us-east-1'])).toBeUndefined();
    },
  );

  it('says nothing when the certificate does not go to us-east-1, where CloudFront reads it', () => {
    expect(cloudFrontKeyWarning('EC_P384', ['eu-west-1', 'ap-southeast-2'])).toBeUndefined();
  });
});
