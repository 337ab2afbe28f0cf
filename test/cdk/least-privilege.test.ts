import { Match } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { beforeAll, describe, expect, it } from 'vitest';
import { LETS_ENCRYPT_STAGING, type StepName } from '../../lib/steps.js';
import {
  actionsOfStatement,
  type CfnResource,
  everyStatement,
  identityStatements,
  isAccountKey,
  isRootStatement,
  isStoreKey,
  keyId,
  keyPolicy,
  keyPolicyGrantees,
  principalArnIds,
  principalIds,
  roleIdsByStep,
  type Statement,
  type SynthesizedStack,
  statementsOf,
  synthStack,
} from './template.js';

const SIGNERS: StepName[] = [
  'ManageAccount',
  'RegisterAccount',
  'RevokeCertificate',
  'CreateOrder',
  'AnswerChallenges',
  'WaitForAuthorizations',
  'Finalize',
  'WaitForCertificate',
];
const STORE_READERS: StepName[] = [
  'Finalize',
  'WaitForCertificate',
  'ImportToAcm',
  'DeliverCertificate',
  'RevokeCertificate',
];
const STORE_WRITERS: StepName[] = ['Finalize', 'WaitForCertificate'];
const KEY_USAGE = [
  'kms:Sign',
  'kms:Verify',
  'kms:GetPublicKey',
  'kms:Decrypt',
  'kms:Encrypt',
  'kms:GenerateDataKey',
  'kms:ReEncryptFrom',
  'kms:ReEncryptTo',
  'kms:CreateGrant',
];

/**
 * Grantees (role logical ids) that a key policy allows `action`, by the `aws:PrincipalArn`
 * condition of its usage statements. The account root's own statement allows no usage at all.
 */
function keyPolicyPrincipals(statements: Statement[], action: string): string[] {
  return statements
    .filter((statement) => statement.Effect === 'Allow' && actionsOfStatement(statement).includes(action))
    .flatMap(keyPolicyGrantees)
    .sort();
}

const ROOT_ONLY_CONDITION = { ArnEquals: { 'aws:PrincipalArn': expect.any(Array) } };

/** Role logical ids whose identity policies allow `action` on the resource `resourceId`. */
function rolesAllowed(resources: Readonly<Record<string, CfnResource>>, action: string, resourceId: string) {
  return Object.entries(resources)
    .filter(([, resource]) => resource.Type === 'AWS::IAM::Role')
    .filter(([roleId]) =>
      identityStatements(resources, roleId).some(
        (statement) =>
          statement.Effect === 'Allow' &&
          actionsOfStatement(statement).includes(action) &&
          JSON.stringify(statement.Resource).includes(`"${resourceId}"`),
      ),
    )
    .map(([roleId]) => roleId)
    .sort();
}

describe('least privilege', () => {
  let synthesized: SynthesizedStack;
  let roles: Record<StepName, string>;
  const rolesOf = (steps: StepName[]) => steps.map((step) => roles[step]).sort();

  beforeAll(() => {
    synthesized = synthStack({ directoryUrl: LETS_ENCRYPT_STAGING, hostedZoneIds: ['Z111', 'Z222'] });
    roles = roleIdsByStep(synthesized.resources);
  });

  describe('account key', () => {
    it('lets the account administer the key but not sign, read its public key or grant usage', () => {
      const root = keyPolicy(synthesized.resources, isAccountKey).filter(isRootStatement);
      expect(root).toHaveLength(1);
      const actions = actionsOfStatement(root[0] as Statement);
      expect(actions).toEqual(
        expect.arrayContaining(['kms:PutKeyPolicy', 'kms:ScheduleKeyDeletion', 'kms:DescribeKey']),
      );
      for (const usage of KEY_USAGE) expect(actions).not.toContain(usage);
    });

    it('allows kms:Sign in its key policy only to the roles of the signing steps, and only ES256', () => {
      const statements = keyPolicy(synthesized.resources, isAccountKey);
      expect(keyPolicyPrincipals(statements, 'kms:Sign')).toEqual(rolesOf(SIGNERS));
      expect(keyPolicyPrincipals(statements, 'kms:GetPublicKey')).toEqual(rolesOf(SIGNERS));
      for (const statement of statements.filter((s) => actionsOfStatement(s).includes('kms:Sign')))
        expect(statement.Condition).toEqual({
          StringEquals: { 'kms:SigningAlgorithm': 'ECDSA_SHA_256' },
          ...ROOT_ONLY_CONDITION,
        });
    });

    it('allows kms:Sign in identity policies only to the roles of the signing steps', () => {
      const accountKey = keyId(synthesized.resources, isAccountKey);
      expect(rolesAllowed(synthesized.resources, 'kms:Sign', accountKey)).toEqual(rolesOf(SIGNERS));
      const anySign = everyStatement(synthesized.resources).filter(
        ({ type, statement }) =>
          type !== 'AWS::KMS::Key' && actionsOfStatement(statement).includes('kms:Sign'),
      );
      expect(new Set(anySign.map(({ source }) => source)).size).toBe(SIGNERS.length);
    });
  });

  describe('store key', () => {
    it('lets the account administer the key but not decrypt or encrypt with it', () => {
      const root = keyPolicy(synthesized.resources, isStoreKey).filter(isRootStatement);
      expect(root).toHaveLength(1);
      for (const usage of KEY_USAGE) expect(actionsOfStatement(root[0] as Statement)).not.toContain(usage);
    });

    it('allows kms:Decrypt only to the readers and kms:GenerateDataKey only to the writers, through S3', () => {
      const statements = keyPolicy(synthesized.resources, isStoreKey);
      expect(keyPolicyPrincipals(statements, 'kms:Decrypt')).toEqual(rolesOf(STORE_READERS));
      expect(keyPolicyPrincipals(statements, 'kms:GenerateDataKey')).toEqual(rolesOf(STORE_WRITERS));
      for (const statement of statements.filter((s) => !isRootStatement(s)))
        expect(statement.Condition).toEqual({
          StringEquals: { 'kms:ViaService': 's3.eu-west-1.amazonaws.com' },
          ...ROOT_ONLY_CONDITION,
        });
    });

    it('gives no role but the readers kms:Decrypt in an identity policy', () => {
      const storeKey = keyId(synthesized.resources, isStoreKey);
      expect(rolesAllowed(synthesized.resources, 'kms:Decrypt', storeKey)).toEqual(rolesOf(STORE_READERS));
      expect(rolesAllowed(synthesized.resources, 'kms:GenerateDataKey', storeKey)).toEqual(
        rolesOf(STORE_WRITERS),
      );
      const anyDecrypt = everyStatement(synthesized.resources).filter(
        ({ type, statement }) =>
          type !== 'AWS::KMS::Key' && actionsOfStatement(statement).includes('kms:Decrypt'),
      );
      expect(new Set(anyDecrypt.map(({ source }) => source)).size).toBe(STORE_READERS.length);
    });

    it('adds a grantReadCertificates grantee to the key policy and lets it read certificates only', () => {
      const { resources } = synthStack(
        { directoryUrl: LETS_ENCRYPT_STAGING, hostedZoneIds: ['Z111'] },
        (stack) => {
          const workload = new iam.Role(stack, 'Workload', {
            assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
          });
          stack.certificates.grantReadCertificates(workload);
        },
      );
      const [workload] = Object.keys(resources).filter((id) => id.startsWith('Workload'));
      const withWorkload = [...rolesOf(STORE_READERS), workload as string].sort();
      const statements = keyPolicy(resources, isStoreKey);
      expect(keyPolicyPrincipals(statements, 'kms:Decrypt')).toEqual(withWorkload);
      expect(keyPolicyPrincipals(statements, 'kms:GenerateDataKey')).toEqual(rolesOf(STORE_WRITERS));
      const granted = identityStatements(resources, workload as string);
      expect(granted.flatMap(actionsOfStatement).sort()).toEqual([
        'kms:Decrypt',
        's3:GetObject',
        's3:ListBucket',
      ]);
      const getObject = granted.find((statement) => actionsOfStatement(statement).includes('s3:GetObject'));
      expect(JSON.stringify(getObject?.Resource)).toContain('"/certificates/*"');
    });
  });

  describe('key policy principals', () => {
    let rich: SynthesizedStack;
    beforeAll(() => {
      rich = synthStack(
        {
          directoryUrl: LETS_ENCRYPT_STAGING,
          hostedZoneIds: ['Z111'],
          accountKeyGeneration: 2,
          certificates: [{ id: 'signer', domains: ['sign.example.org'], kmsKey: true }],
        },
        (stack) => {
          const workload = new iam.Role(stack, 'Workload', {
            assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
          });
          stack.certificates.grantCertificateKeyUse('signer', workload);
          stack.certificates.grantReadCertificates(new iam.User(stack, 'Reader'));
          stack.certificates.grantReadCertificates(
            iam.Role.fromRoleArn(stack, 'Imported', 'arn:aws:iam::123456789012:role/existing-reader'),
          );
          stack.certificates.grantReadCertificates(
            iam.Role.fromRoleArn(stack, 'Partner', 'arn:aws:iam::210987654321:role/partner-reader'),
          );
        },
      );
    });
    const keyStatements = () =>
      Object.entries(rich.resources)
        .filter(([, resource]) => resource.Type === 'AWS::KMS::Key')
        .flatMap(([id, resource]) =>
          statementsOf(resource.Properties?.KeyPolicy).map((statement) => ({ id, statement })),
        );

    it('names no role created in the stack as a principal, since KMS rejects roles it cannot resolve yet', () => {
      const roles = new Set(
        Object.entries(rich.resources)
          .filter(([, resource]) => resource.Type === 'AWS::IAM::Role')
          .map(([id]) => id),
      );
      const statements = keyStatements();
      expect(statements.length).toBeGreaterThan(10);
      const namingRoles = statements.filter(({ statement }) =>
        principalIds(statement).some((principal) => roles.has(principal)),
      );
      expect(namingRoles).toEqual([]);
      for (const { statement } of statements) expect(principalIds(statement)).not.toEqual([]);
    });

    it('lets the account principal use a key only narrowed to named ARNs by aws:PrincipalArn', () => {
      for (const { id, statement } of keyStatements().filter(
        ({ statement }) => !isRootStatement(statement),
      )) {
        const arns = principalArnIds(statement);
        expect(arns, `${id}: ${JSON.stringify(statement)}`).toBeDefined();
        expect(arns?.length).toBeGreaterThan(0);
        expect(Object.keys(statement.Condition ?? {})).toContain('ArnEquals');
      }
    });

    it('lists the grantees of one usage in one statement', () => {
      const accountKey = keyPolicy(rich.resources, (properties) =>
        String(properties.Description).startsWith('ACME account key, generation 2'),
      );
      for (const action of ['kms:Sign', 'kms:GetPublicKey']) {
        const statements = accountKey.filter((statement) => actionsOfStatement(statement).includes(action));
        expect(statements).toHaveLength(1);
        expect(keyPolicyPrincipals(statements, action)).toHaveLength(SIGNERS.length);
      }
      const storeKey = keyPolicy(rich.resources, isStoreKey);
      for (const action of ['kms:Decrypt', 'kms:GenerateDataKey']) {
        const statements = storeKey.filter((statement) => actionsOfStatement(statement).includes(action));
        const grantees = keyPolicyPrincipals(statements, action);
        expect(new Set(grantees).size).toBe(grantees.length);
      }
    });

    it('names a user or an imported role by its ARN, and a role of another account under that account', () => {
      const decrypt = keyPolicy(rich.resources, isStoreKey).filter((statement) =>
        actionsOfStatement(statement).includes('kms:Decrypt'),
      );
      const [reader] = Object.keys(rich.resources).filter(
        (id) => id.startsWith('Reader') && rich.resources[id]?.Type === 'AWS::IAM::User',
      );
      const grantees = decrypt.flatMap(keyPolicyGrantees);
      expect(grantees).toContain(reader);
      expect(grantees).toContain(JSON.stringify('arn:aws:iam::123456789012:role/existing-reader'));
      const partner = decrypt.find((statement) =>
        keyPolicyGrantees(statement).includes(
          JSON.stringify('arn:aws:iam::210987654321:role/partner-reader'),
        ),
      );
      expect(JSON.stringify(partner?.Principal)).toContain(':iam::210987654321:root');
      expect(keyPolicyGrantees(partner as Statement)).toEqual([
        JSON.stringify('arn:aws:iam::210987654321:role/partner-reader'),
      ]);
    });
  });

  it('retains both keys, the registry and both buckets when the stack is deleted', () => {
    const retained = Object.values(synthesized.resources)
      .filter((resource) =>
        ['AWS::KMS::Key', 'AWS::DynamoDB::Table', 'AWS::S3::Bucket'].includes(resource.Type),
      )
      .map((resource) => [resource.Type, resource.DeletionPolicy, resource.UpdateReplacePolicy]);
    expect(retained.sort()).toEqual([
      ['AWS::DynamoDB::Table', 'Retain', 'Retain'],
      ['AWS::KMS::Key', 'Retain', 'Retain'],
      ['AWS::KMS::Key', 'Retain', 'Retain'],
      ['AWS::S3::Bucket', 'Retain', 'Retain'],
      ['AWS::S3::Bucket', 'Retain', 'Retain'],
    ]);
  });

  it('expires noncurrent versions of the certificate store and logs its requests to a separate bucket', () => {
    synthesized.template.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      LifecycleConfiguration: {
        Rules: [{ NoncurrentVersionExpiration: { NoncurrentDays: 90 }, Status: 'Enabled' }],
      },
      LoggingConfiguration: { DestinationBucketName: Match.anyValue(), LogFilePrefix: 'certificate-store/' },
    });
  });

  it('locks the access-log bucket down: private, SSE-S3, TLS-only, written only by S3 logging for the store', () => {
    const [logBucket] = Object.entries(synthesized.resources).find(
      ([, resource]) => resource.Type === 'AWS::S3::Bucket' && !resource.Properties?.LoggingConfiguration,
    ) ?? [undefined];
    expect(logBucket).toBeDefined();
    synthesized.template.hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: { DestinationBucketName: { Ref: logBucket } },
    });
    expect(synthesized.resources[logBucket as string]?.Properties).toMatchObject({
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      LifecycleConfiguration: { Rules: [{ ExpirationInDays: 365, Status: 'Enabled' }] },
    });
    const policy = Object.values(synthesized.resources).find(
      (resource) =>
        resource.Type === 'AWS::S3::BucketPolicy' &&
        JSON.stringify(resource.Properties?.Bucket) === JSON.stringify({ Ref: logBucket }),
    );
    const statements = statementsOf(policy?.Properties?.PolicyDocument);
    expect(statements.filter((statement) => statement.Effect === 'Allow')).toEqual([
      expect.objectContaining({
        Action: 's3:PutObject',
        Principal: { Service: 'logging.s3.amazonaws.com' },
        Condition: {
          ArnLike: {
            'aws:SourceArn': {
              'Fn::GetAtt': [expect.stringMatching(/^CertificatesCertificateStore/), 'Arn'],
            },
          },
          StringEquals: { 'aws:SourceAccount': '123456789012' },
        },
      }),
    ]);
    expect(statements).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
  });

  it('never allows a wildcard action in any policy of the template', () => {
    const statements = everyStatement(synthesized.resources);
    expect(statements.length).toBeGreaterThan(50);
    const wildcards = statements
      .filter(({ statement }) => statement.Effect === 'Allow')
      .flatMap(({ source, statement }) =>
        [...actionsOfStatement(statement), ...(statement.NotAction ? ['NotAction'] : [])]
          .filter((action) => action.includes('*') || action === 'NotAction')
          .map((action) => `${source}: ${action}`),
      );
    expect(wildcards).toEqual([]);
    // Denials may be broad: `s3:*` without TLS is stronger than any list of actions.
    for (const { statement } of statements.filter(({ statement }) => statement.Effect === 'Deny')) {
      if (actionsOfStatement(statement).some((action) => action.includes('*')))
        expect(statement.Condition).toEqual({ Bool: { 'aws:SecureTransport': 'false' } });
    }
  });

  it('runs only our own functions: the thirteen steps, the renewal planner and the ended-execution cleanup, and no custom resource framework', () => {
    const types = Object.values(synthesized.resources).map((resource) => resource.Type);
    expect(
      types.filter((type) => type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource'),
    ).toEqual([]);
    expect(types.filter((type) => type === 'AWS::Lambda::Function')).toHaveLength(15);
  });

  it('records declared certificates through one custom resource served by our own function', () => {
    const declared = synthStack({
      hostedZoneIds: ['Z1'],
      certificates: [
        { id: 'web', domains: ['example.org', '*.example.org'], regions: ['us-east-1', 'eu-west-1'] },
      ],
    });
    const entries = Object.entries(declared.resources);
    const custom = entries.filter(([, resource]) => resource.Type.startsWith('Custom::'));
    expect(custom.map(([, resource]) => resource.Type)).toEqual(['Custom::AcmeDeclaredCertificates']);
    const serviceToken = custom[0]?.[1].Properties?.ServiceToken as { 'Fn::GetAtt': [string, string] };
    const syncFunction = declared.resources[serviceToken['Fn::GetAtt'][0]];
    expect(syncFunction?.Type).toBe('AWS::Lambda::Function');
    expect(JSON.stringify(syncFunction?.Properties?.Environment)).toContain('sync-declared-certificates');
    expect(entries.filter(([, resource]) => resource.Type === 'AWS::Lambda::Function')).toHaveLength(16);
    expect(JSON.parse(String(custom[0]?.[1].Properties?.Certificates))).toEqual([
      {
        id: 'web',
        domains: ['example.org', '*.example.org'],
        keyType: 'EC_P256',
        regions: ['us-east-1', 'eu-west-1'],
      },
    ]);
  });

  it('gives each function a role of its own without AWS managed policies, writing only its own logs', () => {
    for (const resource of Object.values(synthesized.resources).filter((r) => r.Type === 'AWS::IAM::Role'))
      expect(resource.Properties?.ManagedPolicyArns).toBeUndefined();
    for (const [step, roleId] of Object.entries(roles)) {
      const logStatements = identityStatements(synthesized.resources, roleId).filter((statement) =>
        actionsOfStatement(statement).some((action) => action.startsWith('logs:')),
      );
      expect(logStatements).toEqual([
        expect.objectContaining({
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: { 'Fn::GetAtt': [expect.stringMatching(new RegExp(`^Certificates${step}Logs`)), 'Arn'] },
        }),
      ]);
    }
  });

  it('traces every function and the state machine, and logs every transition without execution data', () => {
    for (const resource of Object.values(synthesized.resources).filter(
      (r) => r.Type === 'AWS::Lambda::Function',
    ))
      expect(resource.Properties?.TracingConfig).toEqual({ Mode: 'Active' });
    synthesized.template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: false },
    });
  });
});
