import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../../lambdas/core/errors.js';
import { parseIssuanceRequest } from '../../../lambdas/core/workflow/input.js';
import { TEST_WORKFLOW_CONFIG } from '../../support/workflow-config.js';

const CONFIG = TEST_WORKFLOW_CONFIG;

describe('parseIssuanceRequest: key types and preferred chain', () => {
  it.each(['EC_P256', 'EC_P384', 'RSA_2048', 'RSA_3072', 'RSA_4096'])('accepts keyType %s', (keyType) => {
    const request = parseIssuanceRequest({ certificateId: 'web', domains: ['example.org'], keyType }, CONFIG);

    expect(request.config?.keyType).toBe(keyType);
  });

  it('refuses another key type, listing the supported ones', () => {
    expect(() =>
      parseIssuanceRequest({ certificateId: 'web', domains: ['example.org'], keyType: 'EC_P521' }, CONFIG),
    ).toThrow(/EC_P256, EC_P384, RSA_2048, RSA_3072, RSA_4096/);
  });

  it('records preferredChain in the certificate configuration', () => {
    const request = parseIssuanceRequest(
      { certificateId: 'web', domains: ['example.org'], preferredChain: 'ISRG Root X1' },
      CONFIG,
    );

    expect(request.config?.preferredChain).toBe('ISRG Root X1');
  });

  it('leaves preferredChain out when not given, so the CA’s default chain is kept', () => {
    const request = parseIssuanceRequest({ certificateId: 'web', domains: ['example.org'] }, CONFIG);

    expect(request.config).not.toHaveProperty('preferredChain');
  });

  it.each([[''], ['  '], [42]])('refuses preferredChain %j', (preferredChain) => {
    expect(() =>
      parseIssuanceRequest({ certificateId: 'web', domains: ['example.org'], preferredChain }, CONFIG),
    ).toThrow(InvalidInputError);
  });

  it('refuses preferredChain on renew, which reads the configuration from the registry', () => {
    expect(() =>
      parseIssuanceRequest({ action: 'renew', certificateId: 'web', preferredChain: 'ISRG Root X1' }, CONFIG),
    ).toThrow(/"preferredChain" is not allowed/);
  });
});
