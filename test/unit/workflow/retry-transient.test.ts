import { describe, expect, it } from 'vitest';
import { AwsTransientError, InvalidInputError } from '../../../lambdas/core/errors.js';
import { retryTransient } from '../../../lambdas/core/workflow/retry-transient.js';

describe('retryTransient', () => {
  it('tries again after each transient error, once per pause, and surfaces the last one', async () => {
    let calls = 0;
    const retried: number[] = [];
    const failing = async () => {
      calls += 1;
      throw new AwsTransientError(`throttled ${calls}`);
    };

    await expect(retryTransient(failing, [1, 2], (_error, pause) => retried.push(pause))).rejects.toThrow(
      'throttled 3',
    );
    expect(calls).toBe(3);
    expect(retried).toEqual([1, 2]);
  });

  it('returns the first success, and does not retry an error that is not transient', async () => {
    let calls = 0;
    expect(
      await retryTransient(async () => {
        calls += 1;
        if (calls < 2) throw new AwsTransientError('lost answer');
        return 'done';
      }, [1, 1, 1]),
    ).toBe('done');
    expect(calls).toBe(2);

    const refused = retryTransient(async () => {
      calls += 1;
      throw new InvalidInputError('bad');
    }, [1, 1]);
    await expect(refused).rejects.toThrow(InvalidInputError);
    expect(calls).toBe(3);
  });
});
