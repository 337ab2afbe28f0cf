import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

/**
 * What every log line of a function carries, and what one invocation leaves to the next: the
 * Powertools bookkeeping of `lambdaHandler`, as Lambda runs it (on demand, no trace header).
 */

let powertools: typeof import('../../../lambdas/adapters/powertools.js');
let lines: Record<string, unknown>[] = [];

function contextFor(awsRequestId: string): Context {
  return {
    awsRequestId,
    functionName: 'Finalize',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:Finalize',
    memoryLimitInMB: '256',
    logGroupName: '/aws/lambda/Finalize',
    logStreamName: '2026/12/05/[$LATEST]0123',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => 60_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

beforeAll(async () => {
  vi.stubEnv('AWS_LAMBDA_INITIALIZATION_TYPE', 'on-demand');
  vi.stubEnv('AWS_EXECUTION_ENV', 'AWS_Lambda_nodejs22.x');
  vi.stubEnv('_X_AMZN_TRACE_ID', '');
  vi.stubEnv('POWERTOOLS_DEV', '');
  vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'DEBUG');
  powertools = await import('../../../lambdas/adapters/powertools.js');
});

afterAll(() => {
  vi.unstubAllEnvs();
});

beforeEach(() => {
  lines = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    for (const text of String(chunk).split('\n').filter(Boolean)) {
      if (text.startsWith('{')) lines.push(JSON.parse(text) as Record<string, unknown>);
    }
    return true;
  });
  return () => vi.restoreAllMocks();
});

describe('lambdaHandler', () => {
  it('logs with the request id and cold start, and drops the keys an invocation appended', async () => {
    const { lambdaHandler, logger } = powertools;
    const handler = lambdaHandler('Finalize', async (event: { certificateId?: string }) => {
      if (event.certificateId) logger.appendKeys({ certificateId: event.certificateId });
      logger.info('working');
      return 'done';
    });

    await expect(handler({ certificateId: 'www' }, contextFor('request-1'))).resolves.toBe('done');
    await handler({}, contextFor('request-2'));

    expect(lines.map((line) => [line.function_request_id, line.cold_start, line.certificateId])).toEqual([
      ['request-1', true, 'www'],
      ['request-2', false, undefined],
    ]);
    expect(lines[0]).toMatchObject({ function_name: 'Finalize', function_memory_size: '256' });
  });

  it('rethrows an error unchanged and still drops the appended keys', async () => {
    const { lambdaHandler, logger } = powertools;
    const failure = Object.assign(new Error('nonce rejected'), { name: 'BadNonceError' });
    const failing = lambdaHandler('AnswerChallenges', async () => {
      logger.appendKeys({ certificateId: 'www' });
      throw failure;
    });

    await expect(failing({}, contextFor('request-3'))).rejects.toBe(failure);
    logger.info('after');

    expect(lines.at(-1)?.certificateId).toBeUndefined();
  });

  it('publishes the metrics an invocation recorded, once, when it ends', async () => {
    const { lambdaHandler, powertoolsMetrics } = powertools;
    const handler = lambdaHandler('Cleanup', async () => {
      powertoolsMetrics(process.env).addMetric('LockReleased', 'Count', 1);
    });

    await handler({}, contextFor('request-4'));
    await lambdaHandler('Cleanup', async () => {})({}, contextFor('request-5'));

    const documents = lines.filter((line) => '_aws' in line);
    expect(documents).toHaveLength(1);
    expect(documents[0]).toMatchObject({ LockReleased: 1 });
  });
});
