import { App, Aws, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { beforeAll, describe, expect, it } from 'vitest';
import { AcmeStack } from '../../lib/acme-stack.js';
import { stackPropsFromContext } from '../../lib/context.js';
import { LETS_ENCRYPT_STAGING, STEP_HANDLERS } from '../../lib/steps.js';
import { synthesizeDefinition } from '../harness/state-machine.js';

type Statement = { Action: string | string[]; Resource: unknown; Condition?: Record<string, unknown> };

/** A hosted zone's ARN as the template spells it: no region or account, the partition a reference. */
const zoneArn = (zoneId: string) => ({
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:route53:::hostedzone/${zoneId}`]],
});

function synth(acme: ConstructorParameters<typeof AcmeStack>[2]['acme']): Template {
  const app = new App({ builtinCloudFormationValidation: false });
  const stack = new AcmeStack(app, 'Test', { acme, env: { account: '123456789012', region: 'eu-west-1' } });
  return Template.fromStack(stack);
}

function statementsOf(template: Template, step: string): Statement[] {
  const functions = template.findResources('AWS::Lambda::Function', {
    Properties: { Environment: { Variables: { ACME_STEP: step } } },
  });
  const [fn] = Object.values(functions) as { Properties: { Role: { 'Fn::GetAtt': [string, string] } } }[];
  if (!fn) throw new Error(`no function for ${step}`);
  const roleId = fn.Properties.Role['Fn::GetAtt'][0];
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies)
    .filter((policy) =>
      (policy as { Properties: { Roles: { Ref: string }[] } }).Properties.Roles.some(
        (role) => role.Ref === roleId,
      ),
    )
    .flatMap(
      (policy) =>
        (policy as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument
          .Statement,
    );
}

function actionsOf(template: Template, step: string): string[] {
  return statementsOf(template, step).flatMap((statement) =>
    Array.isArray(statement.Action) ? statement.Action : [statement.Action],
  );
}

describe('AcmeCertificates stack', () => {
  let template: Template;
  beforeAll(() => {
    template = synth({ directoryUrl: LETS_ENCRYPT_STAGING, hostedZoneIds: ['Z111', 'Z222'] });
  });

  it('creates the account key as a retained ECC_NIST_P256 signing key', () => {
    template.hasResource('AWS::KMS::Key', {
      Properties: { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('keeps certificates in a versioned, private, KMS-encrypted, TLS-only bucket', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          { ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' }, BucketKeyEnabled: true },
        ],
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:PutObject',
            Condition: { StringNotEquals: { 's3:x-amz-server-side-encryption': 'aws:kms' } },
          }),
        ]),
      },
    });
  });

  it('keeps the registry in a retained on-demand table with point-in-time recovery', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: {
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      },
      DeletionPolicy: 'Retain',
    });
  });

  it('builds one Node.js 24 function per step, the planner and the ended-execution cleanup, each with its own role', () => {
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as {
      Properties: { Runtime: string; Role: unknown; Environment: { Variables: Record<string, unknown> } };
    }[];
    const steps = functions.map((fn) => fn.Properties.Environment.Variables.ACME_STEP).sort();
    expect(steps).toEqual(
      [...Object.values(STEP_HANDLERS), 'plan-renewals', 'cleanup-ended-execution'].sort(),
    );
    expect(new Set(functions.map((fn) => JSON.stringify(fn.Properties.Role))).size).toBe(functions.length);
    for (const fn of functions) expect(fn.Properties.Runtime).toBe('nodejs24.x');
  });

  it('runs every function on the runtime the lambdaRuntime prop names, from Node.js 22 on', () => {
    const pinned = synth({ lambdaRuntime: lambda.Runtime.NODEJS_22_X });
    const runtimes = Object.values(pinned.findResources('AWS::Lambda::Function')).map(
      (fn) => (fn as { Properties: { Runtime: string } }).Properties.Runtime,
    );

    expect(new Set(runtimes)).toEqual(new Set(['nodejs22.x']));
    expect(runtimes).toHaveLength(15);
  });

  it('refuses a runtime the bundles cannot run on at synth, naming the prop and what to use', () => {
    for (const runtime of [lambda.Runtime.NODEJS_20_X, lambda.Runtime.PYTHON_3_13]) {
      expect(() => synth({ lambdaRuntime: runtime })).toThrow(
        new RegExp(
          `lambdaRuntime ${runtime.name.replace('.', '\\.')} cannot run the bundled functions.*Use lambda\\.Runtime\\.NODEJS_24_X`,
        ),
      );
    }
  });

  it('lets only the steps that talk to the CA sign with the account key', () => {
    const signers = Object.entries(STEP_HANDLERS)
      .filter(([, folder]) => actionsOf(template, folder).includes('kms:Sign'))
      .map(([name]) => name)
      .sort();
    expect(signers).toEqual(
      [
        'AnswerChallenges',
        'CreateOrder',
        'Finalize',
        'ManageAccount',
        'RegisterAccount',
        'RevokeCertificate',
        'WaitForAuthorizations',
        'WaitForCertificate',
      ].sort(),
    );
  });

  it('limits Route 53 writes to the configured zones, TXT records and _acme-challenge names', () => {
    const allowedChanges: Record<string, string[]> = {
      'publish-challenges': ['UPSERT'],
      cleanup: ['UPSERT', 'DELETE'],
    };
    for (const step of ['publish-challenges', 'cleanup']) {
      const changes = statementsOf(template, step).filter((statement) =>
        [statement.Action].flat().includes('route53:ChangeResourceRecordSets'),
      );
      expect(changes).toHaveLength(1);
      const [change] = changes;
      expect(change?.Resource).toEqual([zoneArn('Z111'), zoneArn('Z222')]);
      expect(change?.Condition).toEqual({
        'ForAllValues:StringEquals': {
          'route53:ChangeResourceRecordSetsRecordTypes': ['TXT'],
          'route53:ChangeResourceRecordSetsActions': allowedChanges[step],
        },
        'ForAllValues:StringLike': {
          'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['_acme-challenge.*'],
        },
      });
    }
    const otherSteps = Object.values(STEP_HANDLERS).filter(
      (step) => !['publish-challenges', 'cleanup'].includes(step),
    );
    for (const step of otherSteps)
      expect(actionsOf(template, step)).not.toContain('route53:ChangeResourceRecordSets');
  });

  it('imports into ACM only under the managed-by tag', () => {
    const statements = statementsOf(template, 'import-to-acm').filter((statement) =>
      [statement.Action].flat().includes('acm:ImportCertificate'),
    );
    expect(statements).toHaveLength(2);
    for (const statement of statements) {
      expect(JSON.stringify(statement.Condition)).toContain('acme-aws:managed-by');
    }
  });

  it('never grants a wildcard action', () => {
    for (const step of Object.values(STEP_HANDLERS)) {
      for (const action of actionsOf(template, step)) expect(action).not.toMatch(/\*$/);
    }
  });

  it('lets only RegisterAccount read the external account binding secret', () => {
    const eabStack = new AcmeStack(new App({ builtinCloudFormationValidation: false }), 'Eab2', {
      acme: {
        externalAccountBindingSecret: secretsmanager.Secret.fromSecretCompleteArn(
          new Stack(),
          'Imported',
          'arn:aws:secretsmanager:eu-west-1:123456789012:secret:zerossl-eab-AbCdEf',
        ),
      },
      env: { account: '123456789012', region: 'eu-west-1' },
    });
    const eab = Template.fromStack(eabStack);
    const readers = Object.values(STEP_HANDLERS).filter((step) =>
      actionsOf(eab, step).includes('secretsmanager:GetSecretValue'),
    );
    expect(readers).toEqual(['register-account']);
    const withSecret = Object.values(eab.findResources('AWS::Lambda::Function')).filter((fn) =>
      JSON.stringify(fn).includes('EAB_SECRET_ARN'),
    );
    expect(withSecret).toHaveLength(1);
  });

  it('refuses bad declared certificates at synth, naming the prop', () => {
    expect(() =>
      synth({ certificates: [{ id: 'web', domains: ['example.org'], keyType: 'EC_P521' as never }] }),
    ).toThrow(/certificates\[0\]\.keyType "EC_P521" is not supported: use one of EC_P256/);
    expect(() => synth({ certificates: [{ id: 'web', domains: ['exa mple.org'] }] })).toThrow(
      /certificates\[0\]\.domains\[0\] "exa mple.org" contains " "/,
    );
    expect(() =>
      synth({
        certificates: [
          { id: 'web', domains: ['example.org'] },
          { id: 'web', domains: ['example.net'] },
        ],
      }),
    ).toThrow(/certificates\[1\]\.id "web" is declared twice/);
    expect(() =>
      synth({
        hostedZones: [{ id: 'Z1', name: 'example.org' }],
        certificates: [{ id: 'web', domains: ['www.example.org', 'api.example.net'] }],
      }),
    ).toThrow(/"api.example.net", which no zone in hostedZones covers \(example.org\)/);
  });

  it('accepts declared domains that the hosted zones cover, and limits Route 53 writes to those zones', () => {
    const covered = synth({
      hostedZones: [
        { id: 'Z1', name: 'example.org' },
        { id: 'Z2', name: 'example.net.' },
      ],
      certificates: [{ id: 'web', domains: ['example.org', '*.example.org', 'api.example.net'] }],
    });
    const zones = statementsOf(covered, 'publish-challenges').find((statement) =>
      [statement.Action].flat().includes('route53:ChangeResourceRecordSets'),
    )?.Resource;
    expect(zones).toEqual([zoneArn('Z1'), zoneArn('Z2')]);
  });

  it('lets delegated TXT records into validation zones only, and assumes only the listed zone roles', () => {
    const delegated = synth({
      hostedZoneIds: ['Z111'],
      validationZoneIds: ['ZVAL'],
      zoneRoleArns: ['arn:aws:iam::111122223333:role/acme-dns'],
    });
    const validation = statementsOf(delegated, 'publish-challenges').find(
      (statement) =>
        [statement.Action].flat().includes('route53:ChangeResourceRecordSets') &&
        JSON.stringify(statement.Resource).includes('ZVAL'),
    );
    expect(validation?.Condition).toEqual({
      'ForAllValues:StringEquals': {
        'route53:ChangeResourceRecordSetsRecordTypes': ['TXT'],
        'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
      },
    });
    const assumers = Object.values(STEP_HANDLERS).filter((step) =>
      actionsOf(delegated, step).includes('sts:AssumeRole'),
    );
    expect(assumers.sort()).toEqual(['cleanup', 'create-order', 'publish-challenges', 'wait-for-dns-sync']);
    for (const step of assumers) {
      const assume = statementsOf(delegated, step).find((statement) =>
        [statement.Action].flat().includes('sts:AssumeRole'),
      );
      expect(assume?.Resource).toBe('arn:aws:iam::111122223333:role/acme-dns');
    }
  });

  it('declares what the state machine would accept at its first renewal, normalized as it would', () => {
    // The property is JSON text joined around tokens: resolve `AWS::Region` as deploy would.
    const declared = (template: Template) => {
      const joined = Object.values(template.findResources('Custom::AcmeDeclaredCertificates'))[0]?.Properties
        ?.Certificates as { 'Fn::Join': [string, unknown[]] };
      const parts = joined['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : 'eu-central-1'));
      return JSON.parse(parts.join(''));
    };

    const template = synth({
      certificates: [
        { id: 'idn', domains: ['Bücher.example.', '*.bücher.example'] },
        { id: 'both', domains: ['example.org'], regions: [Aws.REGION, 'us-east-1'] },
      ],
    });

    expect(declared(template)).toEqual([
      expect.objectContaining({
        id: 'idn',
        domains: ['xn--bcher-kva.example', '*.xn--bcher-kva.example'],
        regions: ['eu-west-1'],
      }),
      expect.objectContaining({ id: 'both', regions: ['eu-central-1', 'us-east-1'] }),
    ]);
    expect(() => synth({ certificates: [{ id: 'web', domains: ['-bad-.example.org'] }] })).toThrow(
      /domains\[0\] "-bad-.example.org" has the label "-bad-" starting or ending with a hyphen/,
    );
    expect(() =>
      synth({ certificates: [{ id: 'web', domains: [`${'a'.repeat(64)}.example.org`] }] }),
    ).toThrow(/certificates\[0\]\.domains\[0\]/);
  });

  it('refuses a plain-HTTP directory at synth, naming the prop', () => {
    expect(() => synth({ directoryUrl: 'http://acme.example/dir' })).toThrow(
      /directoryUrl "http:.*" is not an https URL: ACME requires TLS/,
    );
  });

  it('reads deploy settings from context, including Let’s Encrypt by name', () => {
    const context: Record<string, unknown> = {
      directoryUrl: 'letsencrypt-staging',
      contactEmail: 'ops@example.org',
      hostedZoneIds: 'Z1,Z2',
      domains: 'example.org,*.example.org',
    };
    expect(
      stackPropsFromContext(
        (key) =>
          ({
            hostedZones: 'Z1=example.org',
            certificates:
              '[{"id":"web","domains":["example.org"],"regions":["us-east-1"]},{"id":"signer","domains":["sign.example.org"],"kmsKey":true}]',
            notificationEmails: 'ops@example.org',
            accountKeyGeneration: '2',
          })[key],
      ).acme,
    ).toMatchObject({
      hostedZones: [{ id: 'Z1', name: 'example.org' }],
      certificates: [
        { id: 'web', domains: ['example.org'], regions: ['us-east-1'] },
        { id: 'signer', domains: ['sign.example.org'], kmsKey: true },
      ],
      notificationEmails: ['ops@example.org'],
      accountKeyGeneration: 2,
    });
    expect(() =>
      stackPropsFromContext((key) =>
        key === 'certificates'
          ? '[{"id":"signer","domains":["sign.example.org"],"kmsKey":"arn:aws:kms:x"}]'
          : undefined,
      ),
    ).toThrow(/kmsKey "arn:aws:kms:x": in context it can only be true/);
    expect(stackPropsFromContext((key) => context[key])).toEqual({
      acme: {
        directoryUrl: LETS_ENCRYPT_STAGING,
        contactEmail: 'ops@example.org',
        hostedZoneIds: ['Z1', 'Z2'],
      },
      exampleDomains: ['example.org', '*.example.org'],
    });
  });
});

describe('issuance state machine definition', () => {
  const workflow = synthesizeDefinition();
  const states = workflow.definition.States;

  it('names every step so the console reads as the workflow', () => {
    expect(Object.keys(workflow.taskHandlers).sort()).toEqual(Object.keys(STEP_HANDLERS).sort());
    expect(workflow.definition.StartAt).toBe('Prepare');
    expect(states.Prepare).toMatchObject({
      Type: 'Pass',
      Next: 'AccountAction?',
      ResultPath: '$.execution',
    });
    expect(states['AccountAction?']).toMatchObject({ Type: 'Choice', Default: 'RegisterAccount' });
  });

  it('runs account actions in ManageAccount alone, and only when the input names one', () => {
    const rule = ((states['AccountAction?']?.Choices ?? []) as Record<string, unknown>[])[0];
    expect(rule?.Next).toBe('ManageAccount');
    const described = JSON.stringify(rule);
    for (const action of ['rollover-account-key', 'update-account', 'deactivate-account']) {
      expect(described).toContain(`"StringEquals":"${action}"`);
    }
    // A comparison on a missing $.action would fail the execution, so presence is tested first.
    expect(described).toContain('"IsPresent":true');
    expect(states.ManageAccount).toMatchObject({ Next: 'AccountUpdated' });
    expect(states.ManageAccount?.Catch).toEqual([
      expect.objectContaining({
        ErrorEquals: ['States.ALL'],
        Next: 'AccountActionFailed',
        ResultPath: '$.error',
      }),
    ]);
    expect(states.AccountActionFailed).toMatchObject({
      Type: 'Fail',
      ErrorPath: '$.error.Error',
      CausePath: '$.error.Cause',
    });
  });

  it('routes every failure of every step through Cleanup, keeping the error', () => {
    // ManageAccount is not an issuance: there are no TXT records or lock to clean up after it.
    const issuanceSteps = Object.keys(STEP_HANDLERS).filter(
      (step) => step !== 'Cleanup' && step !== 'ManageAccount',
    );
    const catchers = (name: string) => (states[name]?.Catch ?? []) as Record<string, unknown>[];
    for (const name of issuanceSteps) {
      expect(catchers(name).at(-1)).toEqual(
        expect.objectContaining({ ErrorEquals: ['States.ALL'], Next: 'Cleanup', ResultPath: '$.error' }),
      );
    }
    // CreateOrder's one other catcher hands the run to the next CA, and reaches Cleanup when none is left.
    expect(catchers('CreateOrder')).toHaveLength(2);
    expect(catchers('CreateOrder')[0]).toEqual({
      ErrorEquals: [
        'CaUnavailableError',
        'CaaForbidsIssuanceError',
        'AcmeServerError',
        'AcmeConnectionError',
      ],
      Next: 'AnotherCa?',
      ResultPath: '$.caFailure',
    });
    for (const name of issuanceSteps.filter((step) => step !== 'CreateOrder')) {
      expect(catchers(name)).toHaveLength(1);
    }
    expect(states['AnotherCa?']).toMatchObject({
      Type: 'Choice',
      Choices: [{ Variable: '$.caFallback.next', IsPresent: true, Next: 'NextCa' }],
      Default: 'NoOtherCa',
    });
    expect(states.NextCa).toMatchObject({
      Type: 'Pass',
      Parameters: { 'input.$': 'States.JsonMerge($$.Execution.Input, $.caFallback.next, false)' },
      OutputPath: '$.input',
      Next: 'RegisterAccount',
    });
    expect(states.NoOtherCa).toMatchObject({
      InputPath: '$.caFailure',
      ResultPath: '$.error',
      Next: 'Cleanup',
    });
    expect(states.IssuanceFailed).toMatchObject({
      Type: 'Fail',
      ErrorPath: '$.error.Error',
      CausePath: '$.error.Cause',
    });
  });

  it('retries transient errors with jittered exponential backoff', () => {
    for (const name of Object.keys(STEP_HANDLERS)) {
      const retriers = states[name]?.Retry as {
        ErrorEquals: string[];
        BackoffRate: number;
        JitterStrategy?: string;
      }[];
      const transient = retriers.find((retrier) => retrier.ErrorEquals.includes('AwsTransientError'));
      expect(transient).toMatchObject({ BackoffRate: 2, JitterStrategy: 'FULL' });
      expect(transient?.ErrorEquals).toEqual(
        expect.arrayContaining(['AcmeServerError', 'AcmeConnectionError', 'BadNonceError']),
      );
    }
  });

  it('ends a run with nothing to do (locked by another execution, or not due) without doing anything', () => {
    expect(states['Proceed?']).toMatchObject({
      Type: 'Choice',
      Choices: [{ Variable: '$.skipped', IsPresent: true, Next: 'Skipped' }],
      Default: 'Revoke?',
    });
    expect(states.Skipped).toMatchObject({ Type: 'Succeed' });
  });

  it('revokes before ordering the replacement only when the action is revoke', () => {
    expect(states['Revoke?']).toMatchObject({
      Type: 'Choice',
      Choices: [{ Variable: '$.action', StringEquals: 'revoke', Next: 'RevokeCertificate' }],
      Default: 'CreateOrder',
    });
    expect(states.RevokeCertificate).toMatchObject({ Type: 'Task', Next: 'CreateOrder' });
  });

  it('goes straight to the import when an earlier run already issued the certificate', () => {
    expect(states['AlreadyIssued?']).toMatchObject({
      Choices: [{ Variable: '$.certificate', IsPresent: true, Next: 'ImportToAcm' }],
      Default: 'PublishChallenges',
    });
  });

  it('waits in Wait states driven by the state, never inside a Lambda', () => {
    const waitStates = Object.keys(states).filter((name) => states[name]?.Type === 'Wait');
    expect(waitStates.sort()).toEqual(['PauseForAuthorizations', 'PauseForCertificate', 'PauseForDnsSync']);
    for (const name of waitStates) expect(states[name]).toMatchObject({ SecondsPath: '$.retryAfterSeconds' });
  });
});
