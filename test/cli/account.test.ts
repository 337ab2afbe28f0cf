import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ExecutionScript } from '../fakes/stepfunctions-fake.js';
import { type CliHarness, lambdaCause, STACK_NAME, setUpCli, TABLE_NAME } from './cli-harness.js';

let cli: CliHarness;

beforeEach(() => {
  cli = setUpCli();
});

afterEach(async () => {
  await cli.restore();
});

const DIRECTORY = 'https://acme.example/directory';
const ACCOUNT_URL = 'https://acme.example/acct/1';

async function seedAccounts(): Promise<void> {
  // The account after a key rollover: the old key's record, then the current key's.
  await cli.dynamodb.putItem(TABLE_NAME, {
    pk: 'ACCOUNT#0a1b',
    directoryUrl: DIRECTORY,
    accountUrl: ACCOUNT_URL,
    status: 'rolled-over',
    rolledOverTo: 'thumb-generation-2',
    contact: ['mailto:ops@example.org'],
    updatedAt: '2030-02-01T10:00:00.000Z',
    keyThumbprint: 'thumb-generation-1',
  });
  await cli.dynamodb.putItem(TABLE_NAME, {
    pk: 'ACCOUNT#2c3d',
    directoryUrl: DIRECTORY,
    accountUrl: ACCOUNT_URL,
    status: 'valid',
    contact: ['mailto:ops@example.org', 'mailto:pki@example.org'],
    updatedAt: '2030-02-01T10:00:05.000Z',
    keyThumbprint: 'thumb-generation-2',
  });
  // Written before account actions existed: no status (valid), contact or time.
  await cli.dynamodb.putItem(TABLE_NAME, {
    pk: 'ACCOUNT#4e5f',
    directoryUrl: 'https://staging.acme.example/directory',
    accountUrl: 'https://staging.acme.example/acct/9',
  });
  await cli.dynamodb.putItem(TABLE_NAME, {
    pk: 'ACCOUNT#6a7b',
    directoryUrl: 'https://old-ca.example/dir',
    accountUrl: 'https://old-ca.example/acct/3',
    status: 'deactivated',
    contact: [],
    updatedAt: '2030-01-15T08:30:00.000Z',
    keyThumbprint: 'thumb-generation-1',
  });
  await cli.dynamodb.putItem(TABLE_NAME, { pk: 'CERT#web', certificateId: 'web' });
}

/** ManageAccount succeeds with `outcome`, which becomes the execution's output. */
function accountScript(outcome: Record<string, unknown>): ExecutionScript {
  return {
    states: [
      { name: 'Prepare', type: 'Pass' },
      { name: 'AccountAction?', type: 'Choice' },
      { name: 'ManageAccount', type: 'Task', ms: 2300, output: outcome },
      { name: 'AccountUpdated', type: 'Succeed' },
    ],
  };
}

/** ManageAccount throws `error`, and the Catch ends the execution in `AccountActionFailed`. */
function failedAccountScript(error: string, message: string): ExecutionScript {
  const cause = lambdaCause(error, message);
  return {
    states: [
      { name: 'Prepare', type: 'Pass' },
      { name: 'AccountAction?', type: 'Choice' },
      { name: 'ManageAccount', type: 'Task', ms: 800, failure: { error, cause } },
      { name: 'AccountActionFailed', type: 'Fail', error, cause },
    ],
  };
}

function outcome(fields: Record<string, unknown>): Record<string, unknown> {
  return {
    directoryUrl: DIRECTORY,
    accountUrl: ACCOUNT_URL,
    status: 'valid',
    keyThumbprint: 'thumb-generation-2',
    changed: true,
    ...fields,
  };
}

function started(): { stateMachineArn: string; name: string; input: unknown } {
  const [start] = cli.stepFunctions.inputsOf<{ stateMachineArn: string; name: string; input: string }>(
    'StartExecution',
  );
  expect(start).toBeDefined();
  return { ...(start ?? { stateMachineArn: '', name: '' }), input: JSON.parse(start?.input ?? 'null') };
}

describe('acme-aws account', () => {
  it('shows a table of the CA accounts: directory, account URL, status, contact and last change', async () => {
    await seedAccounts();

    const result = await cli.run('account');

    expect(result.code).toBe(0);
    expect(result.stdout.trimEnd().split('\n')).toEqual([
      'Stack AcmeCertificates (us-east-1): 4 CA accounts',
      '',
      'DIRECTORY                               ACCOUNT URL                          STATUS       CONTACT                           UPDATED',
      'https://acme.example/directory          https://acme.example/acct/1          valid        ops@example.org, pki@example.org  2030-02-01 10:00 UTC',
      'https://acme.example/directory          https://acme.example/acct/1          rolled-over  ops@example.org                   2030-02-01 10:00 UTC',
      'https://old-ca.example/dir              https://old-ca.example/acct/3        deactivated  none                              2030-01-15 08:30 UTC',
      'https://staging.acme.example/directory  https://staging.acme.example/acct/9  valid        -                                 -',
    ]);
    expect(result.stderr).toBe('');
    expect(cli.stepFunctions.requests).toEqual([]);
  });

  it('prints every field of every account under --json, with an absent status as valid', async () => {
    await seedAccounts();

    const result = await cli.run('account', '--json');

    expect(result.code).toBe(0);
    expect(result.json()).toEqual({
      stack: STACK_NAME,
      region: 'us-east-1',
      accounts: [
        {
          directoryUrl: DIRECTORY,
          accountUrl: ACCOUNT_URL,
          status: 'valid',
          contact: ['mailto:ops@example.org', 'mailto:pki@example.org'],
          rolledOverTo: null,
          updatedAt: '2030-02-01T10:00:05.000Z',
          keyThumbprint: 'thumb-generation-2',
        },
        {
          directoryUrl: DIRECTORY,
          accountUrl: ACCOUNT_URL,
          status: 'rolled-over',
          contact: ['mailto:ops@example.org'],
          rolledOverTo: 'thumb-generation-2',
          updatedAt: '2030-02-01T10:00:00.000Z',
          keyThumbprint: 'thumb-generation-1',
        },
        {
          directoryUrl: 'https://old-ca.example/dir',
          accountUrl: 'https://old-ca.example/acct/3',
          status: 'deactivated',
          contact: [],
          rolledOverTo: null,
          updatedAt: '2030-01-15T08:30:00.000Z',
          keyThumbprint: 'thumb-generation-1',
        },
        {
          directoryUrl: 'https://staging.acme.example/directory',
          accountUrl: 'https://staging.acme.example/acct/9',
          status: 'valid',
          contact: null,
          rolledOverTo: null,
          updatedAt: null,
          keyThumbprint: null,
        },
      ],
    });
    expect(result.stderr).toBe('');
  });

  it('says the first issuance registers an account when the registry has none', async () => {
    await cli.dynamodb.putItem(TABLE_NAME, { pk: 'CERT#web', certificateId: 'web' });

    const result = await cli.run('account');

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('No CA accounts in stack AcmeCertificates (us-east-1) yet');
  });

  it('exits 3 and names the permission when DynamoDB denies the scan', async () => {
    cli.dynamodb.failNext('Scan', 'AccessDeniedException');

    const result = await cli.run('account');

    expect(result.code).toBe(3);
    expect(result.stderr).toContain(
      'dynamodb:Scan on table AcmeCertificates-Registry failed: AccessDeniedException',
    );
  });

  it('exits 3 when the stack has no RegistryTableName output', async () => {
    await cli.restore();
    cli = setUpCli({ outputs: { RegistryTableName: undefined } });

    const result = await cli.run('account');

    expect(result.code).toBe(3);
    expect(result.stderr).toContain('has no RegistryTableName output');
  });
});

describe('acme-aws account rollover', () => {
  it('starts rollover-account-key on the issuance state machine and follows it to the outcome', async () => {
    cli.stepFunctions.onStart(cli.issuanceArn, () =>
      accountScript(outcome({ action: 'rollover-account-key' })),
    );

    const result = await cli.run('account', 'rollover');

    expect(result.code).toBe(0);
    expect(started()).toEqual({
      stateMachineArn: cli.issuanceArn,
      name: 'account-rollover-account-key-20300301T120000Z',
      input: { action: 'rollover-account-key' },
    });
    expect(result.stdout).toContain('0:00  ManageAccount');
    expect(result.stdout).toContain(
      `Rolled the account at ${DIRECTORY} over to the current account key in 0:02`,
    );
    expect(result.stdout).toContain(`  account  ${ACCOUNT_URL}`);
    expect(result.stdout).toContain('  key      thumb-generation-2');
    expect(result.stdout).not.toContain('AccountAction?');
  });

  it('passes --directory, and says when the account already used the current key', async () => {
    const directoryUrl = 'https://staging.acme.example/directory';
    cli.stepFunctions.onStart(cli.issuanceArn, () =>
      accountScript(outcome({ action: 'rollover-account-key', directoryUrl, changed: false })),
    );

    const result = await cli.run('account', 'rollover', '--directory', directoryUrl);

    expect(result.code).toBe(0);
    expect(started().input).toEqual({ action: 'rollover-account-key', directoryUrl });
    expect(result.stdout).toContain(
      `Nothing to do: the account at ${directoryUrl} already uses the current account key`,
    );
  });

  it('reports the workflow refusing a rollover as JSON, exit 1', async () => {
    const message =
      'There is no previous account key to roll over from. Raise accountKeyGeneration in the stack and deploy.';
    cli.stepFunctions.onStart(cli.issuanceArn, () => failedAccountScript('InvalidInputError', message));

    const result = await cli.run('account', 'rollover', '--json');

    expect(result.code).toBe(1);
    expect(result.json()).toMatchObject({
      command: 'account-rollover',
      stack: STACK_NAME,
      executionName: 'account-rollover-account-key-20300301T120000Z',
      input: { action: 'rollover-account-key' },
      status: 'FAILED',
      result: 'failed',
      error: { name: 'InvalidInputError', cause: message, step: 'ManageAccount' },
    });
    expect(result.stderr).toContain('ManageAccount failed: InvalidInputError');
  });

  it('with --no-wait starts the execution and returns without following it', async () => {
    cli.stepFunctions.onStart(cli.issuanceArn, () =>
      accountScript(outcome({ action: 'rollover-account-key' })),
    );

    const result = await cli.run('account', 'rollover', '--no-wait', '--json');

    expect(result.code).toBe(0);
    expect(result.json()).toMatchObject({
      command: 'account-rollover',
      result: 'started',
      executionName: 'account-rollover-account-key-20300301T120000Z',
      startedAt: '2030-03-01T12:00:00.000Z',
    });
    expect(cli.stepFunctions.calls.DescribeExecution).toBeUndefined();
  });
});

describe('acme-aws account update', () => {
  it('sends the contacts as mailto: URIs, comma-separated or repeated, and shows the result', async () => {
    const contact = ['mailto:ops@example.org', 'mailto:pki@example.org', 'mailto:noc@example.net'];
    cli.stepFunctions.onStart(cli.issuanceArn, () =>
      accountScript(outcome({ action: 'update-account', contact })),
    );

    const result = await cli.run(
      'account',
      'update',
      '--contact',
      'ops@example.org,mailto:pki@example.org',
      '--contact',
      'noc@example.net',
    );

    expect(result.code).toBe(0);
    expect(started()).toMatchObject({
      name: 'account-update-account-20300301T120000Z',
      input: { action: 'update-account', contact },
    });
    expect(result.stdout).toContain(`Updated the contact of the account at ${DIRECTORY} in 0:02`);
    expect(result.stdout).toContain('  contact  ops@example.org, pki@example.org, noc@example.net');
  });

  it('with --no-contact sends an empty contact list, which removes every contact', async () => {
    cli.stepFunctions.onStart(cli.issuanceArn, () =>
      accountScript(outcome({ action: 'update-account', contact: [] })),
    );

    const result = await cli.run('account', 'update', '--no-contact');

    expect(result.code).toBe(0);
    expect(started().input).toEqual({ action: 'update-account', contact: [] });
    expect(result.stdout).toContain('  contact  none');
  });

  it("without a contact option leaves contact out, so the workflow re-sends the stack's contactEmail", async () => {
    cli.stepFunctions.onStart(cli.issuanceArn, () =>
      accountScript(outcome({ action: 'update-account', contact: ['mailto:admin@example.org'] })),
    );

    const result = await cli.run('account', 'update', '--directory', DIRECTORY);

    expect(result.code).toBe(0);
    expect(started().input).toEqual({ action: 'update-account', directoryUrl: DIRECTORY });
  });

  it('shows the CA refusing the contact, exit 1', async () => {
    const message = 'urn:ietf:params:acme:error:invalidContact: example.org domain is not accepted';
    cli.stepFunctions.onStart(cli.issuanceArn, () => failedAccountScript('AcmeProblemError', message));

    const result = await cli.run('account', 'update', '--contact', 'ops@example.org');

    expect(result.code).toBe(1);
    expect(result.stdout).toContain('Failed: update-account after 0:00 (FAILED)');
    expect(result.stdout).toContain('  error  AcmeProblemError');
    expect(result.stdout).toContain(`  cause  ${message}`);
  });
});

describe('acme-aws account deactivate', () => {
  it('sends the confirmed account URL and reports the account deactivated', async () => {
    cli.stepFunctions.onStart(cli.issuanceArn, () =>
      accountScript(outcome({ action: 'deactivate-account', status: 'deactivated' })),
    );

    const result = await cli.run('account', 'deactivate', '--account-url', ACCOUNT_URL);

    expect(result.code).toBe(0);
    expect(started()).toMatchObject({
      name: 'account-deactivate-account-20300301T120000Z',
      input: { action: 'deactivate-account', accountUrl: ACCOUNT_URL },
    });
    expect(result.stdout).toContain(`Deactivated ${ACCOUNT_URL} in 0:02`);
    expect(result.stdout).toContain('  status   deactivated');
    expect(result.stdout).toContain('raise accountKeyGeneration');
  });

  it('reports the outcome as JSON', async () => {
    const deactivated = outcome({ action: 'deactivate-account', status: 'deactivated', changed: false });
    cli.stepFunctions.onStart(cli.issuanceArn, () => accountScript(deactivated));

    const result = await cli.run(
      'account',
      'deactivate',
      '--account-url',
      ACCOUNT_URL,
      '--directory',
      DIRECTORY,
      '--json',
    );

    expect(result.code).toBe(0);
    expect(result.json()).toMatchObject({
      command: 'account-deactivate',
      input: { action: 'deactivate-account', accountUrl: ACCOUNT_URL, directoryUrl: DIRECTORY },
      status: 'SUCCEEDED',
      result: 'succeeded',
      outcome: deactivated,
    });
  });

  it('shows the refusal of an account URL that is not the deployment’s, and where to find it, exit 1', async () => {
    const message = `accountUrl https://acme.example/acct/2 is not the account this deployment holds at ${DIRECTORY} (${ACCOUNT_URL}); nothing was deactivated. Pass that URL to confirm.`;
    cli.stepFunctions.onStart(cli.issuanceArn, () => failedAccountScript('InvalidInputError', message));

    const result = await cli.run('account', 'deactivate', '--account-url', 'https://acme.example/acct/2');

    expect(result.code).toBe(1);
    expect(result.stdout).toContain('Failed: deactivate-account after 0:00 (FAILED)');
    expect(result.stdout).toContain('  step   ManageAccount');
    expect(result.stdout).toContain('  error  InvalidInputError');
    expect(result.stdout).toContain(`  cause  ${message}`);
    expect(result.stdout).toContain('  more   acme-aws account');
  });

  it('reports an account that was deactivated before as the error the workflow names, exit 1', async () => {
    cli.stepFunctions.onStart(cli.issuanceArn, () =>
      failedAccountScript('AccountDeactivatedError', `The ACME account ${ACCOUNT_URL} was deactivated`),
    );

    const result = await cli.run('account', 'rollover', '--json');

    expect(result.code).toBe(1);
    expect(result.json()).toMatchObject({ error: { name: 'AccountDeactivatedError' } });
  });
});

describe('acme-aws account usage', () => {
  it.each([
    [
      ['account', 'update', '--contact', 'ops at example.org'],
      'Contact "ops at example.org" contains whitespace',
    ],
    [['account', 'update', '--contact', 'https://example.org/ops'], 'only mailto: contacts are supported'],
    [['account', 'update', '--contact', 'ops@localhost'], 'not a fully qualified ASCII host name'],
    [['account', 'update', '--contact', ''], '--contact needs at least one email address'],
    [['account', 'update', '--contact', 'ops@example.org', '--no-contact'], 'not both'],
    [['account', 'deactivate'], 'account deactivate is permanent'],
    [['account', 'deactivate', '--account-url', 'acct/1'], '--account-url "acct/1" is not an http(s) URL'],
    [['account', 'rollover', '--directory', 'ftp://acme.example/'], '--directory "ftp://acme.example/"'],
    [['account', 'frobnicate'], 'Unknown account command "frobnicate": use rollover, update, deactivate'],
    [['account', 'rollover', 'now'], 'Unexpected argument "now"'],
    [['account', 'rollover', '--contact', 'ops@example.org'], 'account rollover does not take --contact'],
    [['account', '--no-wait'], 'account does not take --no-wait'],
    [['status', '--contact', 'ops@example.org'], 'status does not take --contact'],
  ])('refuses %j with exit 2 before any AWS call', async (argv, message) => {
    const result = await cli.run(...argv);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stderr).toContain('Run acme-aws --help for usage.');
    expect(cli.cloudFormation.requests).toEqual([]);
    expect(cli.stepFunctions.requests).toEqual([]);
    expect(cli.dynamodb.requests).toEqual([]);
  });

  it('says how to find the account URL when deactivate lacks it', async () => {
    const result = await cli.run('account', 'deactivate', '--json');

    expect(result.code).toBe(2);
    const { error } = result.json<{ error: { name: string; message: string } }>();
    expect(error.name).toBe('UsageError');
    expect(error.message).toContain('--account-url URL');
    expect(error.message).toContain('acme-aws account lists it');
  });
});
