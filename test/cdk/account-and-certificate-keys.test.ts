import { App, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { AcmeStack } from '../../lib/acme-stack.js';
import { LETS_ENCRYPT_STAGING, type StepName } from '../../lib/steps.js';
import {
  actionsOfStatement,
  type CfnResource,
  everyStatement,
  identityStatements,
  isCertificateKey,
  keyId,
  keyPolicy,
  keyPolicyGrantees,
  roleIdsByStep,
  type Statement,
  type SynthesizedStack,
  synthStack,
} from './template.js';

const accountKeys = (resources: Readonly<Record<string, CfnResource>>) =>
  Object.entries(resources)
    .filter(
      ([, resource]) =>
        resource.Type === 'AWS::KMS::Key' &&
        String(resource.Properties?.Description).startsWith('ACME account key'),
    )
    .map(([id]) => id)
    .sort();

/** Who a key policy lets use the key for `action`: the roles its `aws:PrincipalArn` conditions name. */
function allowedPrincipals(statements: Statement[], action: string): string[] {
  return statements
    .filter((statement) => statement.Effect === 'Allow' && actionsOfStatement(statement).includes(action))
    .flatMap(keyPolicyGrantees)
    .sort();
}

/** Roles (by logical id) whose identity policies mention `action` on the resource `resourceId`. */
function rolesAllowed(resources: Readonly<Record<string, CfnResource>>, action: string, resourceId: string) {
  return everyStatement(resources)
    .filter(
      ({ type, statement }) =>
        type !== 'AWS::KMS::Key' &&
        statement.Effect === 'Allow' &&
        actionsOfStatement(statement).includes(action) &&
        JSON.stringify(statement.Resource).includes(`"${resourceId}"`),
    )
    .map(({ source }) => source)
    .sort();
}

/** The logical ids of the identity policies attached to the role `roleId`. */
function policiesOfRole(resources: Readonly<Record<string, CfnResource>>, roleId: string): string[] {
  return Object.entries(resources)
    .filter(
      ([, resource]) =>
        resource.Type === 'AWS::IAM::Policy' &&
        JSON.stringify(resource.Properties?.Roles).includes(`{"Ref":"${roleId}"}`),
    )
    .map(([id]) => id);
}

function environmentOf(resources: Readonly<Record<string, CfnResource>>, step: string) {
  const fn = Object.values(resources).find(
    (resource) =>
      resource.Type === 'AWS::Lambda::Function' &&
      JSON.stringify(resource.Properties?.Environment).includes(`"ACME_STEP":"${step}"`),
  );
  const environment = fn?.Properties?.Environment as { Variables: Record<string, unknown> } | undefined;
  if (!environment) throw new Error(`no function runs ${step}`);
  return environment.Variables;
}

function nagFindings(app: App): string[] {
  return [
    new AwsSolutionsChecks(undefined, { verbose: true }),
    new ServerlessChecks(undefined, { verbose: true }),
  ]
    .flatMap((pack) => pack.validateScope(app).violations)
    .flatMap((violation) => violation.violatingResources.map(() => violation.ruleName));
}

describe('account key generations', () => {
  let first: SynthesizedStack;
  let second: SynthesizedStack;
  beforeAll(() => {
    first = synthStack({ directoryUrl: LETS_ENCRYPT_STAGING, hostedZoneIds: ['Z111'] });
    second = synthStack({
      directoryUrl: LETS_ENCRYPT_STAGING,
      hostedZoneIds: ['Z111'],
      accountKeyGeneration: 2,
    });
  });

  it('keeps generation 1 under its original logical id and adds the new key beside it at generation 2', () => {
    const [original] = accountKeys(first.resources);
    expect(accountKeys(first.resources)).toHaveLength(1);
    expect(accountKeys(second.resources)).toContain(original);
    expect(accountKeys(second.resources)).toHaveLength(2);
    for (const id of accountKeys(second.resources)) {
      expect(second.resources[id]).toMatchObject({
        DeletionPolicy: 'Retain',
        Properties: { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' },
      });
    }
  });

  it('drops the key two generations back from the stack at generation 3', () => {
    const third = synthStack({
      directoryUrl: LETS_ENCRYPT_STAGING,
      hostedZoneIds: ['Z111'],
      accountKeyGeneration: 3,
    });
    const [original] = accountKeys(first.resources);
    expect(accountKeys(third.resources)).toHaveLength(2);
    expect(accountKeys(third.resources)).not.toContain(original);
  });

  it('signs with the new key everywhere and lets only the rollover steps use the previous one', () => {
    const roles = roleIdsByStep(second.resources);
    const [original] = accountKeys(first.resources);
    const newKey = accountKeys(second.resources).find((id) => id !== original) as string;
    const previousPolicy = keyPolicy(second.resources, (properties) =>
      String(properties.Description).startsWith('ACME account key, generation 1'),
    );
    const rollover = (['ManageAccount', 'RegisterAccount'] as StepName[]).map((step) => roles[step]).sort();
    expect(allowedPrincipals(previousPolicy, 'kms:Sign')).toEqual(rollover);
    expect(allowedPrincipals(previousPolicy, 'kms:GetPublicKey')).toEqual(rollover);
    const identitySigners = rolesAllowed(second.resources, 'kms:Sign', original as string);
    expect(identitySigners).toHaveLength(2);
    expect(identitySigners).toEqual(
      rollover.flatMap((roleId) => policiesOfRole(second.resources, roleId)).sort(),
    );
    for (const step of ['manage-account', 'register-account']) {
      expect(environmentOf(second.resources, step).PREVIOUS_ACCOUNT_KEY_ID).toEqual({ Ref: original });
      expect(environmentOf(second.resources, step).ACCOUNT_KEY_ID).toEqual({ Ref: newKey });
    }
    for (const step of ['create-order', 'finalize', 'wait-for-certificate', 'revoke-certificate']) {
      expect(environmentOf(second.resources, step).PREVIOUS_ACCOUNT_KEY_ID).toBeUndefined();
      expect(environmentOf(second.resources, step).ACCOUNT_KEY_ID).toEqual({ Ref: newKey });
    }
  });

  it('refuses a generation that is not a whole number from 1, naming the prop', () => {
    for (const accountKeyGeneration of [0, 1.5, -1]) {
      expect(() => synthStack({ directoryUrl: LETS_ENCRYPT_STAGING, accountKeyGeneration })).toThrow(
        /accountKeyGeneration .* is invalid: use a whole number from 1/,
      );
    }
  });

  it('stays free of cdk-nag findings at generation 2', () => {
    expect(nagFindings(second.app)).toEqual([]);
  });
});

describe('KMS-held certificate keys', () => {
  let synthesized: SynthesizedStack;
  beforeAll(() => {
    synthesized = synthStack(
      {
        directoryUrl: LETS_ENCRYPT_STAGING,
        hostedZoneIds: ['Z111'],
        certificates: [
          { id: 'signer', domains: ['sign.example.org'], keyType: 'EC_P384', kmsKey: true },
          { id: 'web', domains: ['example.org'] },
        ],
      },
      (stack) => {
        const workload = new iam.Role(stack, 'Workload', {
          assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
        });
        stack.certificates.grantCertificateKeyUse('signer', workload);
      },
    );
  });

  it('creates a retained SIGN_VERIFY key of the certificate key type, for the certificates that ask for one', () => {
    const keys = Object.values(synthesized.resources).filter(
      (resource) => resource.Type === 'AWS::KMS::Key' && isCertificateKey(resource.Properties ?? {}),
    );
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({
      DeletionPolicy: 'Retain',
      Properties: { KeySpec: 'ECC_NIST_P384', KeyUsage: 'SIGN_VERIFY' },
    });
  });

  it('lets Finalize sign CSRs with it, with the key type’s one algorithm, and no other step', () => {
    const roles = roleIdsByStep(synthesized.resources);
    const certificateKey = keyId(synthesized.resources, isCertificateKey);
    const policy = keyPolicy(synthesized.resources, isCertificateKey);
    const [workload] = Object.keys(synthesized.resources).filter(
      (id) => id.startsWith('Workload') && synthesized.resources[id]?.Type === 'AWS::IAM::Role',
    );
    expect(allowedPrincipals(policy, 'kms:Sign')).toEqual([roles.Finalize, workload].sort());
    for (const statement of policy.filter((s) => actionsOfStatement(s).includes('kms:Sign'))) {
      expect(statement.Condition).toEqual({
        StringEquals: { 'kms:SigningAlgorithm': 'ECDSA_SHA_384' },
        ArnEquals: { 'aws:PrincipalArn': expect.any(Array) },
      });
    }
    const signers = rolesAllowed(synthesized.resources, 'kms:Sign', certificateKey);
    expect(signers).toHaveLength(2);
    const finalizePolicies = policiesOfRole(synthesized.resources, roles.Finalize);
    expect(signers.some((source) => finalizePolicies.includes(source))).toBe(true);
    expect(signers.some((source) => source.startsWith('Workload'))).toBe(true);
  });

  it('gives the workload its certificate’s chains in the store, and nothing of other certificates', () => {
    const [workload] = Object.keys(synthesized.resources).filter(
      (id) => id.startsWith('Workload') && synthesized.resources[id]?.Type === 'AWS::IAM::Role',
    );
    const granted = identityStatements(synthesized.resources, workload as string);
    const getObject = granted.find((statement) => actionsOfStatement(statement).includes('s3:GetObject'));
    expect(JSON.stringify(getObject?.Resource)).toContain('"/certificates/signer/*"');
    expect(granted.flatMap(actionsOfStatement).sort()).toEqual(
      ['kms:Decrypt', 'kms:GetPublicKey', 'kms:Sign', 's3:GetObject', 's3:ListBucket'].sort(),
    );
  });

  it('records the key ARN in the declared configuration, where RegisterAccount checks it, and in no environment variable', () => {
    const certificateKey = keyId(synthesized.resources, isCertificateKey);
    const custom = Object.values(synthesized.resources).find((resource) =>
      resource.Type.startsWith('Custom::AcmeDeclaredCertificates'),
    );
    const rendered = JSON.stringify(custom?.Properties?.Certificates);
    expect(rendered).toContain(certificateKey);
    expect(rendered).toContain('kmsKeyArn');
    // A list of every key in the environment would outgrow Lambda's 4 KB with a few dozen certificates.
    expect(environmentOf(synthesized.resources, 'register-account')).not.toHaveProperty(
      'CERTIFICATE_KMS_KEY_ARNS',
    );
  });

  it('uses a key the caller brings through its identity policies, leaving that key’s policy alone', () => {
    const app = new App({ builtinCloudFormationValidation: false });
    const keys = new Stack(app, 'Keys', { env: { account: '123456789012', region: 'eu-west-1' } });
    const arn = 'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555';
    const byo = new AcmeStack(app, 'Byo', {
      acme: {
        directoryUrl: LETS_ENCRYPT_STAGING,
        hostedZoneIds: ['Z111'],
        certificates: [
          {
            id: 'signer',
            domains: ['sign.example.org'],
            keyType: 'RSA_3072',
            kmsKey: kms.Key.fromKeyArn(keys, 'Imported', arn),
          },
        ],
      },
      env: { account: '123456789012', region: 'eu-west-1' },
    });
    const template = app.synth().getStackByName(byo.stackName).template as {
      Resources: Record<string, CfnResource>;
    };
    const finalizePolicies = policiesOfRole(template.Resources, roleIdsByStep(template.Resources).Finalize);
    const finalizeSigns = everyStatement(template.Resources).filter(
      ({ source, statement }) =>
        finalizePolicies.includes(source) && actionsOfStatement(statement).includes('kms:Sign'),
    );
    const onImported = finalizeSigns.filter(({ statement }) =>
      JSON.stringify(statement.Resource).includes(arn),
    );
    expect(onImported).toHaveLength(1);
    expect(onImported[0]?.statement.Condition).toEqual({
      StringEquals: { 'kms:SigningAlgorithm': 'RSASSA_PKCS1_V1_5_SHA_256' },
    });
  });

  it('refuses kmsKey with regions, and grantCertificateKeyUse for a certificate without a KMS key', () => {
    expect(() =>
      synthStack({
        directoryUrl: LETS_ENCRYPT_STAGING,
        certificates: [{ id: 'signer', domains: ['sign.example.org'], kmsKey: true, regions: ['us-east-1'] }],
      }),
    ).toThrow(/certificates\[0\]\.regions cannot be given with kmsKey: .* never imported into ACM/);
    expect(() =>
      synthStack(
        { directoryUrl: LETS_ENCRYPT_STAGING, certificates: [{ id: 'web', domains: ['example.org'] }] },
        (stack) =>
          stack.certificates.grantCertificateKeyUse(
            'web',
            new iam.Role(stack, 'W', { assumedBy: new iam.AccountRootPrincipal() }),
          ),
      ),
    ).toThrow(/grantCertificateKeyUse\("web"\): no certificate with that id is declared with kmsKey/);
  });

  it('stays free of cdk-nag findings with a KMS certificate key and a grantee', () => {
    expect(nagFindings(synthesized.app)).toEqual([]);
  });
});
