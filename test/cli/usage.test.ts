import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { accountExecutionName, executionName, isExecutionOf } from '../../cli/execution-name.js';
import { type CliHarness, setUpCli } from './cli-harness.js';

let cli: CliHarness;

beforeEach(() => {
  cli = setUpCli();
});

afterEach(async () => {
  await cli.restore();
});

describe('acme-aws usage', () => {
  it('prints the commands, options and exit codes for help, --help and no command', async () => {
    for (const argv of [['help'], ['--help'], [], ['issue', '-h'], ['account', 'deactivate', '-h']]) {
      const result = await cli.run(...argv);

      expect(result.code).toBe(0);
      expect(result.stdout).toContain('Usage: acme-aws <command> [options]');
      expect(result.stdout).toContain('history <id> [--limit N]');
      expect(result.stdout).toContain('persist-record <id>');
      expect(result.stdout).toContain('account update --contact EMAILS | --no-contact');
      expect(result.stdout).toContain('account deactivate --account-url URL');
      expect(result.stdout).toContain('Exit codes: 0 done');
    }
  });

  it.each([
    [['deploy'], 'Unknown command "deploy"'],
    [['status', '--verbose'], "Unknown option '--verbose'"],
    [['status', 'web'], 'Unexpected argument "web"'],
    [['status', '--reason', 'superseded'], 'status does not take --reason'],
    [['renew'], 'renew needs a certificate id'],
    [['renew', 'web', 'api'], 'Unexpected argument "api"'],
    [['renew', '--all', 'web'], 'renew --all takes no certificate id'],
    [['issue', 'web'], 'issue needs --domains'],
    [['issue', 'web', '--domains', 'exa mple.org'], 'exa mple.org'],
    [['issue', 'web', '--domains', '10.0.0.1'], '10.0.0.1'],
    [
      ['issue', 'web', '--domains', 'example.org', '--key-type', 'EC_P521'],
      '--key-type "EC_P521" is not supported: use one of EC_P256',
    ],
    [['issue', 'web', '--domains', 'example.org', '--regions', 'mars-1'], '"mars-1" is not an AWS region'],
    [['issue', '-web', '--domains', 'example.org'], 'Unknown option'],
    [['issue', 'we b', '--domains', 'example.org'], 'Certificate id "we b" is not valid'],
    [['history', 'web', '--limit', '0'], '--limit must be a whole number'],
    [['history', 'web', '--limit', 'ten'], '--limit must be a whole number'],
    [['status', '--region', 'Europe'], 'is not an AWS region name'],
    [['status', '--stack', 'my_stack'], 'is not a CloudFormation stack name'],
    [['revoke', 'web', '--reason', 'stolen'], '"stolen" is not an RFC 5280 revocation reason'],
  ])('refuses %j with exit 2 before any AWS call', async (argv, message) => {
    const result = await cli.run(...argv);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stderr).toContain('Run acme-aws --help for usage.');
    expect(result.stdout).toBe('');
    expect(cli.cloudFormation.requests).toEqual([]);
    expect(cli.stepFunctions.requests).toEqual([]);
    expect(cli.dynamodb.requests).toEqual([]);
  });

  it('reports a usage error as a JSON document under --json', async () => {
    const result = await cli.run('renew', '--json');

    expect(result.code).toBe(2);
    expect(result.json()).toEqual({
      error: {
        name: 'UsageError',
        message: 'renew needs a certificate id: acme-aws renew <id>',
        exitCode: 2,
      },
    });
  });

  it('reports expired credentials with what to do, exit 3', async () => {
    cli.cloudFormation.failNext('DescribeStacks', 'ExpiredToken');

    const result = await cli.run('status');

    expect(result.code).toBe(3);
    expect(result.stderr).toContain('Your AWS session has expired');
  });
});

describe('execution names', () => {
  const now = new Date('2030-03-01T12:34:56.789Z');

  it('names executions <id>-<action>-<UTC time to the second>', () => {
    expect(executionName('web', 'issue', now)).toBe('web-issue-20300301T123456Z');
    expect(executionName('a.b_c-d', 'revoke', now)).toBe('a.b_c-d-revoke-20300301T123456Z');
  });

  it('cuts long ids so every name fits in 80 characters, and still recognizes them', () => {
    const id = `x${'y'.repeat(63)}`;
    for (const action of ['issue', 'renew', 'revoke'] as const) {
      const name = executionName(id, action, now);
      expect(name.length).toBeLessThanOrEqual(80);
      expect(name).toMatch(/^[A-Za-z0-9._-]+$/);
      expect(isExecutionOf(name, id)).toBe(true);
    }
  });

  it('names account actions account-<action>-<time>, which no certificate claims', () => {
    for (const action of ['rollover-account-key', 'update-account', 'deactivate-account'] as const) {
      const name = accountExecutionName(action, now);
      expect(name).toBe(`account-${action}-20300301T123456Z`);
      expect(name.length).toBeLessThanOrEqual(80);
      expect(name).toMatch(/^[A-Za-z0-9._-]+$/);
      for (const id of ['account', `account-${action}`, 'account-rollover', 'account-update']) {
        expect(isExecutionOf(name, id)).toBe(false);
      }
    }
  });

  it("matches the CLI's and the renewal planner's names of one certificate only", () => {
    expect(isExecutionOf('web-renew-20300301T123456Z', 'web')).toBe(true);
    expect(isExecutionOf('web-20300301', 'web')).toBe(true);
    expect(isExecutionOf('web-api-renew-20300301T123456Z', 'web')).toBe(false);
    expect(isExecutionOf('web-api-20300301', 'web')).toBe(false);
    expect(isExecutionOf('web-api-20300301', 'web-api')).toBe(true);
    expect(isExecutionOf('webshop-20300301', 'web')).toBe(false);
    expect(isExecutionOf('web-manual', 'web')).toBe(false);
  });
});
