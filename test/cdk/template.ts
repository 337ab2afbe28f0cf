import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AcmeStack, type AcmeStackProps } from '../../lib/acme-stack.js';
import { LETS_ENCRYPT_STAGING, STEP_HANDLERS, type StepName } from '../../lib/steps.js';

/**
 * Synthesizes `AcmeStack` the way the CDK tests need it: a fixed account and
 * region, and the raw template's resources for assertions that `Template` has no matcher for.
 */

export interface Statement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string | string[];
  readonly NotAction?: string | string[];
  readonly Principal?: unknown;
  readonly Resource?: unknown;
  readonly Condition?: Record<string, unknown>;
}

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
}

export interface SynthesizedStack {
  readonly app: App;
  readonly stack: AcmeStack;
  readonly template: Template;
  readonly resources: Readonly<Record<string, CfnResource>>;
}

/** How a test app synthesizes. */
export interface SynthOptions {
  /**
   * Run CDK's built-in CloudFormation validation, with its findings as errors. It costs seconds
   * per synthesis, so one test runs it (on the stack with every feature) and the others skip it.
   * @default false
   */
  readonly cloudFormationValidation?: boolean;
}

/** Builds the stack; `extend` may add to it (e.g. a grantee) before the template is taken. */
export function synthStack(
  acme: AcmeStackProps['acme'],
  extend?: (stack: AcmeStack) => void,
  options: SynthOptions = {},
): SynthesizedStack {
  const validate = options.cloudFormationValidation ?? false;
  const app = new App({
    context: validate ? { '@aws-cdk/core:validateAgainstDefaultRules': true } : {},
    builtinCloudFormationValidation: validate,
  });
  const stack = new AcmeStack(app, 'Test', { acme, env: { account: '123456789012', region: 'eu-west-1' } });
  extend?.(stack);
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources as Record<string, CfnResource>;
  return { app, stack, template, resources };
}

/**
 * The stack with every optional feature on, so every policy statement and every state the
 * construct can produce is in the template: declared certificates (one with a KMS key), named
 * hosted zones, validation zones, zone roles, an external account binding secret, notification
 * emails, a second account key generation, delivery to a secret and Advanced parameters, and
 * workloads given `grantReadCertificates`, `grantCertificateKeyUse`, `grantReadSecret` and
 * `grantReadParameters`, with a rule on the deliveries.
 */
export function synthEveryFeature(options: SynthOptions = {}): SynthesizedStack {
  return synthStack(
    {
      directoryUrl: LETS_ENCRYPT_STAGING,
      contactEmail: 'ops@example.org',
      hostedZones: [{ id: 'Z111', name: 'example.org' }],
      validationZoneIds: ['ZVAL'],
      zoneRoleArns: ['arn:aws:iam::111122223333:role/acme-dns'],
      certificates: [
        {
          id: 'web',
          domains: ['example.org', '*.example.org'],
          regions: ['us-east-1', 'eu-west-1'],
          secret: true,
          parameters: { path: '/certificates/web', tier: 'Advanced' },
        },
        { id: 'signer', domains: ['sign.example.org'], keyType: 'EC_P384', kmsKey: true },
      ],
      externalAccountBindingSecret: secretsmanager.Secret.fromSecretCompleteArn(
        new Stack(),
        'Eab',
        'arn:aws:secretsmanager:eu-west-1:123456789012:secret:zerossl-eab-AbCdEf',
      ),
      notificationEmails: ['oncall@example.org'],
      accountKeyGeneration: 2,
    },
    (stack) => {
      const reader = new iam.Role(stack, 'Reader', {
        assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      });
      stack.certificates.grantReadCertificates(reader);
      stack.certificates.grantReadSecret('web', reader);
      stack.certificates.grantReadParameters('web', reader);
      stack.certificates.onCertificateDelivered('web', 'WebDelivered');
      const signer = new iam.Role(stack, 'Signer', {
        assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      });
      stack.certificates.grantCertificateKeyUse('signer', signer);
    },
    options,
  );
}

export function toArray<T>(value: T | T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** The statements of a policy document, however CloudFormation spells them. */
export function statementsOf(document: unknown): Statement[] {
  return toArray((document as { Statement?: Statement | Statement[] } | undefined)?.Statement);
}

export function actionsOfStatement(statement: Statement): string[] {
  return toArray(statement.Action);
}

/** The logical id of the role each step's function runs as. */
export function roleIdsByStep(resources: Readonly<Record<string, CfnResource>>): Record<StepName, string> {
  const byFolder = new Map<string, string>();
  for (const resource of Object.values(resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const properties = resource.Properties as {
      Role: { 'Fn::GetAtt': [string, string] };
      Environment: { Variables: { ACME_STEP: string } };
    };
    byFolder.set(properties.Environment.Variables.ACME_STEP, properties.Role['Fn::GetAtt'][0]);
  }
  return Object.fromEntries(
    (Object.entries(STEP_HANDLERS) as [StepName, string][]).map(([step, folder]) => {
      const roleId = byFolder.get(folder);
      if (!roleId) throw new Error(`no function for ${step}`);
      return [step, roleId];
    }),
  ) as Record<StepName, string>;
}

/** Every statement of every identity policy attached to the role `roleId`. */
export function identityStatements(
  resources: Readonly<Record<string, CfnResource>>,
  roleId: string,
): Statement[] {
  return Object.values(resources)
    .filter((resource) => resource.Type === 'AWS::IAM::Policy')
    .filter((resource) =>
      toArray(resource.Properties?.Roles as { Ref: string }[] | undefined).some(
        (role) => role.Ref === roleId,
      ),
    )
    .flatMap((resource) => statementsOf(resource.Properties?.PolicyDocument));
}

/** Every policy statement in the template, labelled with where it lives. */
export function everyStatement(
  resources: Readonly<Record<string, CfnResource>>,
): { readonly source: string; readonly type: string; readonly statement: Statement }[] {
  const found: { source: string; type: string; statement: Statement }[] = [];
  for (const [id, resource] of Object.entries(resources)) {
    const add = (source: string, document: unknown) => {
      for (const statement of statementsOf(document)) found.push({ source, type: resource.Type, statement });
    };
    const properties = resource.Properties ?? {};
    switch (resource.Type) {
      case 'AWS::IAM::Policy':
      case 'AWS::IAM::ManagedPolicy':
      case 'AWS::S3::BucketPolicy':
        add(id, properties.PolicyDocument);
        break;
      case 'AWS::IAM::Role':
        add(`${id} trust`, properties.AssumeRolePolicyDocument);
        for (const policy of toArray(properties.Policies as { PolicyDocument: unknown }[] | undefined))
          add(id, policy.PolicyDocument);
        break;
      case 'AWS::KMS::Key':
        add(id, properties.KeyPolicy);
        break;
      case 'AWS::Logs::ResourcePolicy':
        add(id, JSON.parse(String(properties.PolicyDocument)));
        break;
    }
  }
  return found;
}

/** The logical id a statement's principal points at (`root` for the account), or the raw value. */
export function principalIds(statement: Statement): string[] {
  const aws = (statement.Principal as { AWS?: unknown } | undefined)?.AWS;
  return toArray(aws as unknown[] | unknown).map((principal) => {
    const getAtt = (principal as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
    if (getAtt) return getAtt[0];
    if (JSON.stringify(principal).endsWith(':root"]]}')) return 'root';
    return JSON.stringify(principal);
  });
}

/**
 * The principals a key policy statement narrows its account principal to, through an
 * `ArnEquals` `aws:PrincipalArn` condition: logical ids of `Fn::GetAtt` ARNs, or the raw values.
 * Undefined when the statement has no such condition.
 */
export function principalArnIds(statement: Statement): string[] | undefined {
  const arnEquals = statement.Condition?.ArnEquals as Record<string, unknown> | undefined;
  const arns = arnEquals?.['aws:PrincipalArn'];
  if (arns === undefined) return undefined;
  return toArray(arns as unknown[] | unknown).map((arn) => {
    const getAtt = (arn as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
    return getAtt ? getAtt[0] : JSON.stringify(arn);
  });
}

/**
 * Who a key policy statement lets use the key: the principals of its `aws:PrincipalArn`
 * condition when it has one (its principal is then the account), else its principals.
 */
export function keyPolicyGrantees(statement: Statement): string[] {
  return principalArnIds(statement) ?? principalIds(statement);
}

/** The account root's own statement in a key policy: root principal, not narrowed to roles. */
export function isRootStatement(statement: Statement): boolean {
  return principalIds(statement).includes('root') && principalArnIds(statement) === undefined;
}

/** The statements of the key policy of the key that matches `predicate`. */
export function keyPolicy(
  resources: Readonly<Record<string, CfnResource>>,
  predicate: (properties: Record<string, unknown>) => boolean,
): Statement[] {
  const keys = Object.values(resources).filter(
    (resource) => resource.Type === 'AWS::KMS::Key' && predicate(resource.Properties ?? {}),
  );
  if (keys.length !== 1) throw new Error(`expected one matching key, found ${keys.length}`);
  return statementsOf(keys[0]?.Properties?.KeyPolicy);
}

export const isAccountKey = (properties: Record<string, unknown>) =>
  properties.KeyUsage === 'SIGN_VERIFY' && String(properties.Description).startsWith('ACME account key');
export const isStoreKey = (properties: Record<string, unknown>) => properties.KeyUsage !== 'SIGN_VERIFY';
/** The KMS key of a certificate declared with `kmsKey: true`. */
export const isCertificateKey = (properties: Record<string, unknown>) =>
  properties.KeyUsage === 'SIGN_VERIFY' &&
  String(properties.Description).startsWith('Key of the certificate');

/** The logical id of the key matching `predicate`. */
export function keyId(
  resources: Readonly<Record<string, CfnResource>>,
  predicate: (properties: Record<string, unknown>) => boolean,
): string {
  const [id] = Object.entries(resources).find(
    ([, resource]) => resource.Type === 'AWS::KMS::Key' && predicate(resource.Properties ?? {}),
  ) ?? [undefined];
  if (!id) throw new Error('no matching key');
  return id;
}
