import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../../lambdas/core/errors.js';
import { parseIssuanceRequest } from '../../../lambdas/core/workflow/input.js';
import { TEST_WORKFLOW_CONFIG } from '../../support/workflow-config.js';

const CONFIG = TEST_WORKFLOW_CONFIG;

describe('parseIssuanceRequest: revoke', () => {
  it('accepts a revoke with an RFC 5280 reason name and carries its code', () => {
    const request = parseIssuanceRequest(
      { action: 'revoke', certificateId: 'web', reason: 'keyCompromise', execution: { id: 'exec-1' } },
      CONFIG,
    );

    expect(request).toEqual({
      action: 'revoke',
      certificateId: 'web',
      force: true,
      revokeReason: 1,
      execution: { id: 'exec-1' },
    });
  });

  it.each([
    ['unspecified', 0],
    ['superseded', 4],
    ['cessationOfOperation', 5],
    ['removeFromCRL', 8],
    ['aACompromise', 10],
  ])('maps the reason %s to code %i', (reason, code) => {
    const request = parseIssuanceRequest({ action: 'revoke', certificateId: 'web', reason }, CONFIG);

    expect(request.revokeReason).toBe(code);
  });

  it('uses unspecified (0) when no reason is given', () => {
    const request = parseIssuanceRequest({ action: 'revoke', certificateId: 'web' }, CONFIG);

    expect(request.revokeReason).toBe(0);
  });

  it('refuses an unknown reason, listing the names it accepts', () => {
    const parse = () =>
      parseIssuanceRequest({ action: 'revoke', certificateId: 'web', reason: 'KeyCompromise' }, CONFIG);

    expect(parse).toThrow(InvalidInputError);
    expect(parse).toThrow(/"KeyCompromise" is not an RFC 5280 revocation reason/);
    expect(parse).toThrow(/unspecified, keyCompromise, caCompromise, .*aACompromise/);
  });

  it('refuses a numeric reason, which is not one of the names', () => {
    expect(() => parseIssuanceRequest({ action: 'revoke', certificateId: 'web', reason: 1 }, CONFIG)).toThrow(
      /not an RFC 5280 revocation reason/,
    );
  });

  it('requires the certificateId', () => {
    expect(() => parseIssuanceRequest({ action: 'revoke', reason: 'superseded' }, CONFIG)).toThrow(
      /certificateId is required to revoke/,
    );
  });

  it.each([
    ['domains', ['example.org']],
    ['keyType', 'RSA_2048'],
    ['regions', ['us-east-1']],
    ['force', true],
  ])('refuses %s, since a revoke renews with the recorded configuration', (field, value) => {
    expect(() =>
      parseIssuanceRequest({ action: 'revoke', certificateId: 'web', [field]: value }, CONFIG),
    ).toThrow(new RegExp(`"${field}" is not allowed`));
  });

  it('refuses a reason outside a revoke', () => {
    expect(() =>
      parseIssuanceRequest({ action: 'renew', certificateId: 'web', reason: 'superseded' }, CONFIG),
    ).toThrow(/reason is only for \{"action":"revoke"/);
  });
});
