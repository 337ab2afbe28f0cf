import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CliHarness, lambdaCause, ORDER_INVALID_MESSAGE, setUpCli, TABLE_NAME } from './cli-harness.js';

let cli: CliHarness;

const at = (iso: string) => new Date(iso);

beforeEach(() => {
  cli = setUpCli();
});

afterEach(async () => {
  await cli.restore();
});

function seedExecutions(): void {
  const add = (name: string, status: 'SUCCEEDED' | 'FAILED' | 'RUNNING', start: string, stop?: string) =>
    cli.stepFunctions.addExecution(cli.issuanceArn, {
      name,
      status,
      startDate: at(start),
      ...(stop ? { stopDate: at(stop) } : {}),
      ...(status === 'FAILED'
        ? { error: 'OrderInvalidError', cause: lambdaCause('OrderInvalidError', ORDER_INVALID_MESSAGE) }
        : {}),
    });
  add('web-issue-20300101T100000Z', 'SUCCEEDED', '2030-01-01T10:00:00Z', '2030-01-01T10:01:05Z');
  add('web-api-issue-20300215T000000Z', 'SUCCEEDED', '2030-02-15T00:00:00Z', '2030-02-15T00:00:40Z');
  add('web-20300301', 'FAILED', '2030-03-01T06:00:00Z', '2030-03-01T06:00:42Z');
  add('webshop-renew-20300301T070000Z', 'FAILED', '2030-03-01T07:00:00Z', '2030-03-01T07:00:10Z');
  add('web-renew-20300301T110000Z', 'RUNNING', '2030-03-01T11:59:00Z');
}

describe('acme-aws history', () => {
  it("lists the certificate's executions newest first, with the error of each failure", async () => {
    seedExecutions();

    const result = await cli.run('history', 'web');

    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toBe('Executions of web, newest first:');
    expect(lines.slice(2, 6)).toEqual([
      'STARTED               STATUS     TOOK  EXECUTION                   ERROR',
      '2030-03-01 11:59 UTC  RUNNING    -     web-renew-20300301T110000Z',
      `2030-03-01 06:00 UTC  FAILED     0:42  web-20300301                OrderInvalidError: ${ORDER_INVALID_MESSAGE.slice(0, 99)}…`,
      '2030-01-01 10:00 UTC  SUCCEEDED  1:05  web-issue-20300101T100000Z',
    ]);
    expect(result.stdout).not.toContain('web-api');
    expect(result.stdout).not.toContain('webshop');
  });

  it('adds what the registry recorded about the last attempt', async () => {
    seedExecutions();
    await cli.dynamodb.putItem(TABLE_NAME, {
      pk: 'CERT#web',
      certificateId: 'web',
      status: 'failed',
      lastAttemptAt: '2030-03-01T06:00:00.000Z',
      lastError: {
        name: 'OrderInvalidError',
        message: ORDER_INVALID_MESSAGE,
        at: '2030-03-01T06:00:41.000Z',
      },
      consecutiveFailures: 3,
      nextAttemptAt: '2030-03-02T06:00:00.000Z',
    });

    const result = await cli.run('history', 'web');

    expect(result.stdout).toContain('Registry: status failed, last attempt 2030-03-01 06:00 UTC');
    expect(result.stdout).toContain(
      '  last error  OrderInvalidError at 2030-03-01 06:00 UTC (3 failures in a row)',
    );
    expect(result.stdout).toContain(`              ${ORDER_INVALID_MESSAGE}`);
    expect(result.stdout).toContain('  next try    after 2030-03-02 06:00 UTC');
  });

  it('prints executions and the registry record as one JSON document', async () => {
    seedExecutions();
    await cli.dynamodb.putItem(TABLE_NAME, {
      pk: 'CERT#web',
      certificateId: 'web',
      status: 'imported',
      lastAttemptAt: '2030-01-01T10:00:00.000Z',
    });

    const result = await cli.run('history', 'web', '--json', '--limit', '2');

    expect(result.code).toBe(0);
    expect(result.json()).toEqual({
      certificateId: 'web',
      stack: 'AcmeCertificates',
      executions: [
        {
          name: 'web-renew-20300301T110000Z',
          executionArn: expect.stringContaining(':execution:IssuanceA1B2C3:web-renew-20300301T110000Z'),
          status: 'RUNNING',
          startedAt: '2030-03-01T11:59:00.000Z',
          stoppedAt: null,
          durationMs: null,
          error: null,
          cause: null,
        },
        {
          name: 'web-20300301',
          executionArn: expect.stringContaining(':execution:IssuanceA1B2C3:web-20300301'),
          status: 'FAILED',
          startedAt: '2030-03-01T06:00:00.000Z',
          stoppedAt: '2030-03-01T06:00:42.000Z',
          durationMs: 42_000,
          error: 'OrderInvalidError',
          cause: ORDER_INVALID_MESSAGE,
        },
      ],
      registry: {
        status: 'imported',
        lastAttemptAt: '2030-01-01T10:00:00.000Z',
        lastError: null,
        consecutiveFailures: 0,
        nextAttemptAt: null,
        nextRenewalAt: null,
      },
    });
  });

  it('pages through ListExecutions until it finds older executions', async () => {
    for (let index = 0; index < 1500; index += 1) {
      cli.stepFunctions.addExecution(cli.issuanceArn, {
        name: `other-renew-${index}`,
        status: 'SUCCEEDED',
        startDate: new Date(Date.UTC(2030, 1, 1) + index * 60_000),
      });
    }
    cli.stepFunctions.addExecution(cli.issuanceArn, {
      name: 'web-issue-20300101T000000Z',
      status: 'SUCCEEDED',
      startDate: at('2030-01-01T00:00:00Z'),
      stopDate: at('2030-01-01T00:00:30Z'),
    });

    const result = await cli.run('history', 'web', '--json');

    expect(
      result.json<{ executions: { name: string }[] }>().executions.map((execution) => execution.name),
    ).toEqual(['web-issue-20300101T000000Z']);
    expect(cli.stepFunctions.calls.ListExecutions).toBe(2);
  });

  it('says so when the certificate has neither executions nor a registry record', async () => {
    const result = await cli.run('history', 'nothing');

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('No executions of nothing');
    expect(result.stdout).toContain('The registry has no certificate nothing either');
  });

  it('leaves the registry out, with a note, on a stack without RegistryTableName', async () => {
    await cli.restore();
    cli = setUpCli({ outputs: { RegistryTableName: undefined } });
    seedExecutions();

    const result = await cli.run('history', 'web', '--json');

    expect(result.code).toBe(0);
    expect(result.json()).toMatchObject({ registry: null });
    expect(result.stderr).toContain('no RegistryTableName output');
  });

  it('exits 3 when the stack has no StateMachineArn output', async () => {
    await cli.restore();
    cli = setUpCli({ outputs: { StateMachineArn: undefined } });

    const result = await cli.run('history', 'web');

    expect(result.code).toBe(3);
    expect(result.stderr).toContain('has no StateMachineArn output');
  });

  it('refuses an invalid certificate id before calling AWS, exit 2', async () => {
    const result = await cli.run('history', 'web/../x');

    expect(result.code).toBe(2);
    expect(cli.cloudFormation.calls.DescribeStacks).toBeUndefined();
  });
});
