import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CliHarness, issuedScript, lambdaCause, setUpCli, skippedScript } from './cli-harness.js';

let cli: CliHarness;

beforeEach(() => {
  cli = setUpCli();
});

afterEach(async () => {
  await cli.restore();
});

function startInput(): unknown {
  const [start] = cli.stepFunctions.inputsOf<{ input: string }>('StartExecution');
  return JSON.parse(start?.input ?? 'null');
}

describe('acme-aws renew', () => {
  it('renews now (force) and follows the execution to the new certificate', async () => {
    cli.stepFunctions.onStart(cli.issuanceArn, () => issuedScript('web'));

    const result = await cli.run('renew', 'web');

    expect(result.code).toBe(0);
    expect(startInput()).toEqual({ action: 'renew', certificateId: 'web', force: true });
    expect(cli.stepFunctions.inputsOf<{ name: string }>('StartExecution')[0]?.name).toBe(
      'web-renew-20300301T120000Z',
    );
    expect(result.stdout).toContain('Renewed web in 0:22');
  });

  it('with --if-due leaves the decision to the workflow and prints why it skipped, exit 0', async () => {
    const reason =
      'Not due (ari-window); next renewal at 2030-04-20T00:00:00.000Z. Use "force": true to renew now.';
    cli.stepFunctions.onStart(cli.issuanceArn, () => skippedScript(reason));

    const result = await cli.run('renew', 'web', '--if-due');

    expect(result.code).toBe(0);
    expect(startInput()).toEqual({ action: 'renew', certificateId: 'web', force: false });
    expect(result.stdout).toContain('0:01  AlreadyInProgress');
    expect(result.stdout).toContain(`Skipped: web: ${reason}`);
  });

  it('reports a skipped run as JSON with result "skipped"', async () => {
    cli.stepFunctions.onStart(cli.issuanceArn, () =>
      skippedScript('Another execution holds the lock for this certificate.'),
    );

    const result = await cli.run('renew', 'web', '--json');

    expect(result.code).toBe(0);
    expect(result.json()).toMatchObject({
      command: 'renew',
      result: 'skipped',
      status: 'SUCCEEDED',
      skipped: 'Another execution holds the lock for this certificate.',
    });
    expect(result.json()).not.toHaveProperty('certificateArn');
  });

  it('with --all starts the fleet renewal state machine and follows it', async () => {
    cli.stepFunctions.onStart(cli.renewalsArn, () => ({
      states: [
        { name: 'PlanRenewals', type: 'Task', ms: 4000, output: { due: [], checked: 3 } },
        { name: 'RenewDue', type: 'Pass', ms: 100 },
        { name: 'MorePages?', type: 'Choice' },
        { name: 'FleetPageDone', type: 'Succeed' },
      ],
    }));

    const result = await cli.run('renew', '--all', '--json');

    expect(result.code).toBe(0);
    const [start] = cli.stepFunctions.inputsOf<{ stateMachineArn: string; name: string; input: string }>(
      'StartExecution',
    );
    expect(start).toMatchObject({ stateMachineArn: cli.renewalsArn, name: 'fleet-renew-20300301T120000Z' });
    expect(JSON.parse(start?.input ?? '')).toEqual({});
    expect(result.json()).toMatchObject({
      command: 'renew-all',
      result: 'succeeded',
      output: { due: [], checked: 3 },
    });
    expect(result.stderr).toContain('0:04  RenewDue');
  });

  it('with --all exits 3 on a stack deployed before the fleet renewal machine existed', async () => {
    await cli.restore();
    cli = setUpCli({ outputs: { RenewalsStateMachineArn: undefined } });

    const result = await cli.run('renew', '--all');

    expect(result.code).toBe(3);
    expect(result.stderr).toContain('has no RenewalsStateMachineArn output');
    expect(result.stderr).toContain('npx cdk deploy');
  });
});

describe('acme-aws revoke', () => {
  it('sends the RFC 5280 reason name and follows the execution', async () => {
    cli.stepFunctions.onStart(cli.issuanceArn, () => ({
      states: [
        { name: 'Prepare', type: 'Pass' },
        { name: 'RegisterAccount', type: 'Task', ms: 1000 },
        { name: 'Revoke', type: 'Task', ms: 2000, output: { certificateId: 'web', revoked: true } },
        { name: 'Revoked', type: 'Succeed' },
      ],
    }));

    const result = await cli.run('revoke', 'web', '--reason', 'keyCompromise');

    expect(result.code).toBe(0);
    expect(startInput()).toEqual({ action: 'revoke', certificateId: 'web', reason: 'keyCompromise' });
    expect(cli.stepFunctions.inputsOf<{ name: string }>('StartExecution')[0]?.name).toBe(
      'web-revoke-20300301T120000Z',
    );
    expect(result.stdout).toContain('0:01  Revoke');
    expect(result.stdout).toContain('Revoked web in 0:03');
  });

  it('shows the refusal of a state machine that does not revoke yet, exit 1', async () => {
    const message =
      'action "revoke" is not supported: use "issue" or "renew". Examples: {"action":"issue",...}';
    const cause = lambdaCause('InvalidInputError', message);
    cli.stepFunctions.onStart(cli.issuanceArn, () => ({
      states: [
        { name: 'Prepare', type: 'Pass' },
        { name: 'RegisterAccount', type: 'Task', ms: 300, failure: { error: 'InvalidInputError', cause } },
        { name: 'Cleanup', type: 'Task', ms: 200 },
        { name: 'Outcome', type: 'Choice' },
        { name: 'IssuanceFailed', type: 'Fail', error: 'InvalidInputError', cause },
      ],
    }));

    const result = await cli.run('revoke', 'web', '--reason', 'superseded', '--json');

    expect(result.code).toBe(1);
    expect(result.json()).toMatchObject({
      command: 'revoke',
      result: 'failed',
      error: { name: 'InvalidInputError', cause: message, step: 'RegisterAccount' },
    });
  });

  it('refuses a reason that is not an RFC 5280 name before calling AWS, exit 2', async () => {
    const result = await cli.run('revoke', 'web', '--reason', 'KeyCompromise');

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('"KeyCompromise" is not an RFC 5280 revocation reason');
    expect(result.stderr).toContain('keyCompromise');
    expect(cli.cloudFormation.calls.DescribeStacks).toBeUndefined();
  });

  it('requires --reason, exit 2', async () => {
    const result = await cli.run('revoke', 'web');

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('revoke needs --reason');
  });
});
