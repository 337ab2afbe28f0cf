import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../../lambdas/core/errors.js';
import { parseAccountRequest, parseIssuanceRequest } from '../../../lambdas/core/workflow/input.js';
import { TEST_WORKFLOW_CONFIG } from '../../support/workflow-config.js';

const CONFIG = {
  ...TEST_WORKFLOW_CONFIG,
  contactEmail: 'ops@example.org',
};

function refusal(run: () => unknown): InvalidInputError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInputError);
    return error as InvalidInputError;
  }
  throw new Error('expected an InvalidInputError');
}

describe('parseAccountRequest', () => {
  it('takes a rollover for the default CA, or the one named', () => {
    expect(parseAccountRequest({ action: 'rollover-account-key', execution: { id: 'e' } }, CONFIG)).toEqual({
      action: 'rollover-account-key',
      directoryUrl: 'https://ca.example/directory',
      execution: { id: 'e' },
    });
    expect(
      parseAccountRequest(
        { action: 'rollover-account-key', directoryUrl: 'https://other.example/dir' },
        CONFIG,
      ).directoryUrl,
    ).toBe('https://other.example/dir');
  });

  it('turns contact emails into mailto: URIs, re-sends the configured one without a list, and removes all with []', () => {
    expect(
      parseAccountRequest(
        { action: 'update-account', contact: ['a@example.org', 'mailto:b@example.org'] },
        CONFIG,
      ).contact,
    ).toEqual(['mailto:a@example.org', 'mailto:b@example.org']);
    expect(parseAccountRequest({ action: 'update-account' }, CONFIG).contact).toEqual([
      'mailto:ops@example.org',
    ]);
    expect(parseAccountRequest({ action: 'update-account', contact: [] }, CONFIG).contact).toEqual([]);
  });

  it('refuses a contact that is not a list of addresses, naming the value', () => {
    expect(
      refusal(() => parseAccountRequest({ action: 'update-account', contact: 'a@example.org' }, CONFIG))
        .message,
    ).toContain('contact must be a list of email addresses');
    expect(
      refusal(() => parseAccountRequest({ action: 'update-account', contact: ['a, b@example.org'] }, CONFIG))
        .message,
    ).toContain('a, b@example.org');
  });

  it('needs the account URL to deactivate, because deactivation is permanent', () => {
    expect(refusal(() => parseAccountRequest({ action: 'deactivate-account' }, CONFIG)).message).toMatch(
      /deactivate-account is permanent.*pass the account URL as accountUrl/,
    );
    expect(
      parseAccountRequest({ action: 'deactivate-account', accountUrl: 'https://ca.example/acct/1' }, CONFIG),
    ).toMatchObject({ action: 'deactivate-account', accountUrl: 'https://ca.example/acct/1' });
  });

  it('refuses fields an action does not take, naming them and what it takes', () => {
    const message = refusal(() =>
      parseAccountRequest({ action: 'rollover-account-key', certificateId: 'web', contact: [] }, CONFIG),
    ).message;
    expect(message).toContain('rollover-account-key does not take "certificateId", "contact"');
    expect(message).toContain('it takes action, directoryUrl');
  });

  it('sends an account action that reaches RegisterAccount back to where it belongs', () => {
    expect(refusal(() => parseIssuanceRequest({ action: 'update-account' }, CONFIG)).message).toContain(
      'is an account action',
    );
  });
});

describe('parseIssuanceRequest: kmsKeyArn', () => {
  it('takes the ARN of a KMS key', () => {
    const request = parseIssuanceRequest(
      {
        certificateId: 'signer',
        domains: ['sign.example.org'],
        keyType: 'EC_P256',
        kmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      },
      CONFIG,
    );
    expect(request.config?.kmsKeyArn).toBe(
      'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    );
  });

  it('refuses what is not a KMS key ARN (an alias, a bare id) before any call', () => {
    for (const kmsKeyArn of [
      'alias/signer',
      '1234abcd',
      'arn:aws:kms:eu-west-1:123456789012:alias/signer',
      7,
    ]) {
      const message = refusal(() =>
        parseIssuanceRequest({ certificateId: 'x', domains: ['x.example.org'], kmsKeyArn }, CONFIG),
      ).message;
      expect(message).toContain('is not a KMS key ARN');
    }
  });
});
