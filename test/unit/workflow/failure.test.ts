import { describe, expect, it } from 'vitest';
import { failureMessage } from '../../../lambdas/core/workflow/failure.js';

describe('the message of a failed step', () => {
  it('is the errorMessage of the Lambda error payload that Step Functions puts in the Cause', () => {
    const cause = JSON.stringify({
      errorType: 'OrderInvalidError',
      errorMessage: 'broken.example.org: DNS problem: NXDOMAIN',
      trace: [
        'OrderInvalidError: broken.example.org: DNS problem: NXDOMAIN',
        '    at file:///var/task/index.mjs:5:1',
      ],
    });

    expect(failureMessage(cause)).toBe('broken.example.org: DNS problem: NXDOMAIN');
  });

  it('is the Cause itself when the Cause is plain text, as for a Step Functions error', () => {
    expect(failureMessage('The state machine timed out')).toBe('The state machine timed out');
    expect(failureMessage('{"not":"a payload"}')).toBe('{"not":"a payload"}');
    expect(failureMessage(undefined)).toBe('');
  });
});
