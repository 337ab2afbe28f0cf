import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ExecutionScript } from '../fakes/stepfunctions-fake.js';
import {
  type CliHarness,
  failedScript,
  issuedOutput,
  issuedScript,
  ORDER_INVALID_MESSAGE,
  STACK_NAME,
  setUpCli,
} from './cli-harness.js';

let cli: CliHarness;

afterEach(async () => {
  await cli.restore();
});

describe('acme-aws issue', () => {
  beforeEach(() => {
    cli = setUpCli();
    cli.stepFunctions.onStart(cli.issuanceArn, (input) =>
      issuedScript('web', (input as { regions?: string[] }).regions),
    );
  });

  it('starts the issuance state machine with the declared input and a name of id, action and time', async () => {
    const result = await cli.run(
      'issue',
      'web',
      '--domains',
      'Example.org,*.example.org',
      '--regions',
      'us-east-1,eu-west-1',
    );

    expect(result.code).toBe(0);
    const [start] = cli.stepFunctions.inputsOf<{ stateMachineArn: string; name: string; input: string }>(
      'StartExecution',
    );
    expect(start?.stateMachineArn).toBe(cli.issuanceArn);
    expect(start?.name).toBe('web-issue-20300301T120000Z');
    expect(JSON.parse(start?.input ?? '')).toEqual({
      action: 'issue',
      certificateId: 'web',
      domains: ['example.org', '*.example.org'],
      keyType: 'EC_P256',
      regions: ['us-east-1', 'eu-west-1'],
    });
  });

  it('shows each step with the time elapsed, then the certificate', async () => {
    const result = await cli.run('issue', 'web', '--domains', 'example.org', '--key-type', 'RSA_2048');

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Started web-issue-20300301T120000Z');
    const steps = result.stdout
      .split('\n')
      .filter((line) => /^\s+\d+:\d\d {2}/.test(line))
      .map((line) => line.trim());
    expect(steps).toEqual([
      '0:00  Prepare',
      '0:00  RegisterAccount',
      '0:01  CreateOrder',
      '0:04  PublishChallenges',
      '0:04  PauseForDnsSync (waiting 10s)',
      '0:14  WaitForDnsSync',
      '0:15  AnswerChallenges',
      '0:16  Finalize',
      '0:19  WaitForCertificate',
      '0:20  ImportToAcm',
      '0:21  Cleanup',
      '0:22  Issued',
    ]);
    expect(result.stdout).toContain('Issued web in 0:22');
    expect(result.stdout).toContain(`certificate  ${issuedOutput('web').certificateArn}`);
    expect(result.stdout).toContain('serial       03ab5f2e9c');
    expect(result.stdout).toContain('expires      2030-05-30 11:59 UTC (in 89 days)');
    expect(result.stderr).toBe('');
  });

  it('polls with the injected sleep until the execution ends', async () => {
    await cli.run('issue', 'web', '--domains', 'example.org');

    expect(cli.sleeps.length).toBeGreaterThan(5);
    expect(new Set(cli.sleeps)).toEqual(new Set([2000]));
    // Every poll reads only the newest page of the history.
    expect(cli.stepFunctions.calls.GetExecutionHistory).toBe(cli.stepFunctions.calls.DescribeExecution);
  });

  it('lists the ARN of every region it imported into', async () => {
    const result = await cli.run(
      'issue',
      'web',
      '--domains',
      'example.org',
      '--regions',
      'us-east-1,eu-west-1',
    );

    expect(result.stdout).toContain('us-east-1    arn:aws:acm:us-east-1:123456789012:certificate/web-0001');
    expect(result.stdout).toContain('eu-west-1    arn:aws:acm:eu-west-1:123456789012:certificate/web-0001');
  });

  it('prints one JSON document with the outcome and every step under --json, progress on stderr', async () => {
    const result = await cli.run('issue', 'web', '--domains', 'example.org', '--json');

    expect(result.code).toBe(0);
    const document = result.json<Record<string, unknown> & { steps: { name: string; ms?: number }[] }>();
    expect(document).toMatchObject({
      command: 'issue',
      certificateId: 'web',
      stack: STACK_NAME,
      executionName: 'web-issue-20300301T120000Z',
      executionArn: expect.stringContaining(':execution:IssuanceA1B2C3:web-issue-20300301T120000Z'),
      result: 'succeeded',
      status: 'SUCCEEDED',
      startedAt: '2030-03-01T12:00:00.000Z',
      stoppedAt: '2030-03-01T12:00:22.600Z',
      durationMs: 22_600,
      certificateArn: issuedOutput('web').certificateArn,
      certificateArns: issuedOutput('web').certificateArns,
      serial: '03ab5f2e9c',
      notAfter: '2030-05-30T11:59:59.000Z',
    });
    expect(document.steps.map((step) => step.name)).toContain('LockTaken?');
    expect(document.steps.find((step) => step.name === 'CreateOrder')?.ms).toBe(2500);
    expect(result.stderr).toContain('0:04  PauseForDnsSync (waiting 10s)');
  });

  it('shows the failed step, its error and the ACME problem, and exits 1', async () => {
    cli.stepFunctions.onStart(cli.issuanceArn, () => failedScript());

    const result = await cli.run('issue', 'web', '--domains', 'example.org');

    expect(result.code).toBe(1);
    expect(result.stdout).toContain('RegisterAccount failed: AcmeServerError - HTTP 503');
    expect(result.stdout).toContain('RegisterAccount retrying');
    expect(result.stdout).toContain(
      'WaitForAuthorizations failed: OrderInvalidError - Order https://acme.example/order/42',
    );
    expect(result.stdout).toContain('Failed: web after 0:14 (FAILED)');
    expect(result.stdout).toContain('  step   WaitForAuthorizations');
    expect(result.stdout).toContain('  error  OrderInvalidError');
    expect(result.stdout).toContain(`  cause  ${ORDER_INVALID_MESSAGE}`);
    expect(result.stdout).toContain('acme-aws history web');
  });

  it('reports a failure as JSON with the error, its readable cause and the step', async () => {
    cli.stepFunctions.onStart(cli.issuanceArn, () => failedScript());

    const result = await cli.run('issue', 'web', '--domains', 'example.org', '--json');

    expect(result.code).toBe(1);
    expect(result.json()).toMatchObject({
      result: 'failed',
      status: 'FAILED',
      error: { name: 'OrderInvalidError', cause: ORDER_INVALID_MESSAGE, step: 'WaitForAuthorizations' },
    });
  });

  it('starts without following under --no-wait', async () => {
    const result = await cli.run('issue', 'web', '--domains', 'example.org', '--no-wait', '--json');

    expect(result.code).toBe(0);
    expect(result.json()).toMatchObject({ result: 'started', executionName: 'web-issue-20300301T120000Z' });
    expect(cli.stepFunctions.calls.DescribeExecution).toBeUndefined();
    expect(cli.sleeps).toEqual([]);
  });

  it('reads a long history page by page and reports every step once', async () => {
    const loops = 60;
    const script: ExecutionScript = {
      states: [
        { name: 'Prepare', type: 'Pass' },
        ...Array.from({ length: loops }, (_, index) => [
          { name: 'PauseForCertificate', type: 'Wait' as const, ms: 1000 + index },
          { name: 'WaitForCertificate', type: 'Task' as const, ms: 100 },
        ]).flat(),
        { name: 'Issued', type: 'Succeed', output: issuedOutput('web') },
      ],
    };
    cli.stepFunctions.onStart(cli.issuanceArn, () => script);

    const result = await cli.run('issue', 'web', '--domains', 'example.org', '--json');

    const steps = result.json<{ steps: { name: string }[] }>().steps;
    expect(steps.filter((step) => step.name === 'WaitForCertificate')).toHaveLength(loops);
    expect(cli.stepFunctions.executions[0]?.events.length).toBeGreaterThan(300);
  });

  it('explains a name clash with an execution started in the same second, exit 3', async () => {
    await cli.run('issue', 'web', '--domains', 'example.org', '--no-wait');

    const result = await cli.run('issue', 'web', '--domains', 'example.com', '--no-wait');

    expect(result.code).toBe(3);
    expect(result.stderr).toContain('An execution named web-issue-20300301T120000Z already exists');
  });

  it('exits 3 with what to do when the stack is not deployed', async () => {
    await cli.restore();
    cli = setUpCli({ deployStack: false });

    const result = await cli.run('issue', 'web', '--domains', 'example.org', '--json');

    expect(result.code).toBe(3);
    expect(result.json()).toEqual({
      error: {
        name: 'AwsCallError',
        message: expect.stringContaining('Stack AcmeCertificates was not found'),
        exitCode: 3,
      },
    });
    expect(result.stderr).toContain('npx cdk deploy');
    expect(cli.stepFunctions.calls.StartExecution).toBeUndefined();
  });

  it('exits 3 when the stack has no StateMachineArn output', async () => {
    await cli.restore();
    cli = setUpCli({ outputs: { StateMachineArn: undefined } });

    const result = await cli.run('issue', 'web', '--domains', 'example.org');

    expect(result.code).toBe(3);
    expect(result.stderr).toContain('has no StateMachineArn output');
  });

  it('finds a stack by --stack name', async () => {
    cli.cloudFormation.putStack({ name: 'CertsProd', outputs: { StateMachineArn: cli.issuanceArn } });

    const result = await cli.run(
      'issue',
      'web',
      '--domains',
      'example.org',
      '--stack',
      'CertsProd',
      '--json',
    );

    expect(result.code).toBe(0);
    expect(result.json()).toMatchObject({ stack: 'CertsProd', result: 'succeeded' });
  });

  it('finds a stack by its stack id', async () => {
    const stackId = cli.cloudFormation.putStack({
      name: 'CertsProd',
      outputs: { StateMachineArn: cli.issuanceArn },
    });

    const result = await cli.run('issue', 'web', '--domains', 'example.org', '--stack', stackId, '--json');

    expect(result.code).toBe(0);
    expect(result.json()).toMatchObject({ stack: 'CertsProd', result: 'succeeded' });
  });

  it('exits 3 and names the permission when Step Functions refuses the start', async () => {
    cli.stepFunctions.failNext('StartExecution', 'AccessDeniedException');

    const result = await cli.run('issue', 'web', '--domains', 'example.org');

    expect(result.code).toBe(3);
    expect(result.stderr).toContain('states:StartExecution');
    expect(result.stderr).toContain('AccessDeniedException');
  });
});
