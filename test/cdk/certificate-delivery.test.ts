import { Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { EVENT_DELIVERED as CORE_EVENT_DELIVERED } from '../../lambdas/core/workflow/deliver-certificate.js';
import type { AcmeStackProps } from '../../lib/acme-stack.js';
import { EVENT_DELIVERED } from '../../lib/monitoring.js';
import { LETS_ENCRYPT_STAGING, type StepName } from '../../lib/steps.js';
import { synthesizeDefinition } from '../harness/state-machine.js';
import {
  actionsOfStatement,
  type CfnResource,
  everyStatement,
  identityStatements,
  keyPolicy,
  keyPolicyGrantees,
  roleIdsByStep,
  type SynthesizedStack,
  synthStack,
  toArray,
} from './template.js';

const DELIVERING: AcmeStackProps['acme'] = {
  directoryUrl: LETS_ENCRYPT_STAGING,
  hostedZoneIds: ['Z111'],
  certificates: [
    {
      id: 'web',
      domains: ['example.org'],
      secret: true,
      parameters: { path: '/certificates/web' },
    },
    { id: 'api', domains: ['api.example.org'], secret: { name: 'tls/api' } },
    { id: 'edge', domains: ['edge.example.org'], parameters: { path: '/edge/tls', tier: 'Advanced' } },
    { id: 'plain', domains: ['plain.example.org'] },
  ],
};

const isDeliveryKey = (properties: Record<string, unknown>) =>
  String(properties.Description).startsWith('Encrypts the certificates and private keys delivered');

/** The secrets of the template, by name. */
function secretsByName(resources: Readonly<Record<string, CfnResource>>): Record<string, CfnResource> {
  return Object.fromEntries(
    Object.values(resources)
      .filter((resource) => resource.Type === 'AWS::SecretsManager::Secret')
      .map((resource) => [String(resource.Properties?.Name), resource]),
  );
}

function logicalIdOfSecret(resources: Readonly<Record<string, CfnResource>>, name: string): string {
  const [id] = Object.entries(resources).find(
    ([, resource]) => resource.Type === 'AWS::SecretsManager::Secret' && resource.Properties?.Name === name,
  ) ?? [undefined];
  if (!id) throw new Error(`no secret ${name}`);
  return id;
}

/** The declared certificates as the custom resource hands them to the registry. */
function declaredCertificates(resources: Readonly<Record<string, CfnResource>>): unknown[] {
  const custom = Object.values(resources).find(
    (resource) => resource.Type === 'Custom::AcmeDeclaredCertificates',
  );
  const certificates = custom?.Properties?.Certificates as string | { 'Fn::Join': [string, unknown[]] };
  if (typeof certificates === 'string') return JSON.parse(certificates);
  // References stay references: a JSON string of the intrinsic, for assertions to compare.
  const text = certificates['Fn::Join'][1]
    .map((part) => (typeof part === 'string' ? part : JSON.stringify(part).replace(/"/g, "'")))
    .join('');
  return JSON.parse(text);
}

/** Roles (logical ids) whose identity policies allow `action`, with the resources they allow it on. */
function rolesAllowing(resources: Readonly<Record<string, CfnResource>>, action: string) {
  const roles = Object.entries(resources).filter(([, resource]) => resource.Type === 'AWS::IAM::Role');
  return Object.fromEntries(
    roles
      .map(([roleId]) => [
        roleId,
        identityStatements(resources, roleId)
          .filter(
            (statement) =>
              statement.Effect === 'Allow' &&
              actionsOfStatement(statement).some((allowed) => allowed === action || allowed === '*'),
          )
          .flatMap((statement) => toArray(statement.Resource)),
      ])
      .filter(([, allowed]) => (allowed as unknown[]).length > 0),
  );
}

const parameterArn = (name: string) => ({
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:ssm:eu-west-1:123456789012:parameter/${name}`]],
});

describe('certificate delivery', () => {
  let synthesized: SynthesizedStack;
  let roles: Record<StepName, string>;
  let reader: { secret?: iam.Grant; parameters?: iam.Grant };

  beforeAll(() => {
    reader = {};
    synthesized = synthStack(DELIVERING, (stack) => {
      const workload = new iam.Role(stack, 'Workload', {
        assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      });
      reader.secret = stack.certificates.grantReadSecret('web', workload);
      reader.parameters = stack.certificates.grantReadParameters('web', workload);
      stack.certificates.onCertificateDelivered('web', 'ReloadWeb');
    });
    roles = roleIdsByStep(synthesized.resources);
  });

  describe('secrets', () => {
    it('creates one secret per certificate declared with secret, named after the stack and id unless named', () => {
      expect(Object.keys(secretsByName(synthesized.resources)).sort()).toEqual([
        'acme-aws/Test/web/certificate',
        'tls/api',
      ]);
    });

    it('encrypts each secret with the delivery key and starts it with a pending value', () => {
      const deliveryKey = Object.entries(synthesized.resources).find(
        ([, resource]) => resource.Type === 'AWS::KMS::Key' && isDeliveryKey(resource.Properties ?? {}),
      )?.[0];
      const web = secretsByName(synthesized.resources)['acme-aws/Test/web/certificate'];

      expect(web?.Properties?.KmsKeyId).toEqual({ 'Fn::GetAtt': [deliveryKey, 'Arn'] });
      expect(web?.Properties?.SecretString).toBe(
        '{"status":"pending","certificateId":"web","message":"No certificate has been issued yet; this secret gets a new version (AWSCURRENT) at each issuance and renewal."}',
      );
      expect(
        JSON.parse(String(secretsByName(synthesized.resources)['tls/api']?.Properties?.SecretString)),
      ).toEqual(expect.objectContaining({ status: 'pending', certificateId: 'api' }));
    });

    it('creates the delivery key with rotation, retained on delete, only when a certificate declares a delivery', () => {
      synthesized.template.hasResource('AWS::KMS::Key', {
        Properties: { Description: Match.stringLikeRegexp('delivered'), EnableKeyRotation: true },
        DeletionPolicy: 'Retain',
      });
      const without = synthStack({ directoryUrl: LETS_ENCRYPT_STAGING, hostedZoneIds: ['Z111'] }, (stack) => {
        expect(stack.certificates.deliveryKey).toBeUndefined();
        expect(stack.certificates.deliverySecrets).toEqual({});
      });
      expect(
        Object.values(without.resources).filter((resource) => isDeliveryKey(resource.Properties ?? {})),
      ).toEqual([]);
    });

    it('uses the deliveryKey given instead of creating one, adding identity statements only', () => {
      const keyArn = 'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555';
      const given = synthStack({
        hostedZoneIds: ['Z111'],
        certificates: [
          { id: 'web', domains: ['example.org'], secret: true, parameters: { path: '/certificates/web' } },
        ],
        deliveryKey: kms.Key.fromKeyArn(new Stack(), 'Given', keyArn),
      });

      expect(
        Object.values(given.resources).filter((resource) => isDeliveryKey(resource.Properties ?? {})),
      ).toEqual([]);
      expect(secretsByName(given.resources)['acme-aws/Test/web/certificate']?.Properties?.KmsKeyId).toBe(
        keyArn,
      );
      expect(declaredCertificates(given.resources)).toEqual([
        expect.objectContaining({ delivery: expect.objectContaining({ parameterKeyArn: keyArn }) }),
      ]);
      const deliverer = roleIdsByStep(given.resources).DeliverCertificate;
      const onKey = identityStatements(given.resources, deliverer).filter(
        (statement) => statement.Resource === keyArn,
      );
      expect(onKey.map((statement) => actionsOfStatement(statement).sort())).toEqual([
        ['kms:Decrypt', 'kms:GenerateDataKey'],
        ['kms:Encrypt'],
      ]);
    });
  });

  it('hands the registry each certificate’s delivery targets, and nothing for one without', () => {
    const declared = declaredCertificates(synthesized.resources) as Record<string, unknown>[];
    // References as declaredCertificates spells them.
    const reference = (intrinsic: unknown) => JSON.stringify(intrinsic).replace(/"/g, "'");
    const secretArn = (name: string) => reference({ Ref: logicalIdOfSecret(synthesized.resources, name) });
    const deliveryKey = Object.entries(synthesized.resources).find(([, resource]) =>
      isDeliveryKey(resource.Properties ?? {}),
    )?.[0];
    const keyArn = reference({ 'Fn::GetAtt': [deliveryKey, 'Arn'] });

    expect(declared.map((certificate) => [certificate.id, certificate.delivery])).toEqual([
      [
        'web',
        {
          secretArn: secretArn('acme-aws/Test/web/certificate'),
          parameterPath: '/certificates/web',
          parameterTier: 'Standard',
          parameterKeyArn: keyArn,
        },
      ],
      ['api', { secretArn: secretArn('tls/api') }],
      [
        'edge',
        {
          parameterPath: '/edge/tls',
          parameterTier: 'Advanced',
          parameterKeyArn: keyArn,
        },
      ],
      ['plain', undefined],
    ]);
  });

  describe('least privilege', () => {
    it('lets only DeliverCertificate put secret values, and only into the declared secrets', () => {
      expect(rolesAllowing(synthesized.resources, 'secretsmanager:PutSecretValue')).toEqual({
        [roles.DeliverCertificate]: [
          { Ref: logicalIdOfSecret(synthesized.resources, 'acme-aws/Test/web/certificate') },
          { Ref: logicalIdOfSecret(synthesized.resources, 'tls/api') },
        ],
      });
    });

    it('lets only DeliverCertificate put parameters, and only under the declared paths', () => {
      expect(rolesAllowing(synthesized.resources, 'ssm:PutParameter')).toEqual({
        [roles.DeliverCertificate]: [parameterArn('certificates/web/*'), parameterArn('edge/tls/*')],
      });
    });

    it('lets no resource policy or other statement anywhere allow writing them', () => {
      const writers = everyStatement(synthesized.resources).filter(({ statement }) =>
        actionsOfStatement(statement).some((action) =>
          /^(secretsmanager:(PutSecretValue|UpdateSecret|\*)|ssm:(PutParameter|\*))$/.test(action),
        ),
      );
      expect(new Set(writers.map(({ source }) => source))).toEqual(
        new Set(
          Object.entries(synthesized.resources)
            .filter(
              ([, resource]) =>
                resource.Type === 'AWS::IAM::Policy' &&
                toArray(resource.Properties?.Roles as { Ref: string }[]).some(
                  (role) => role.Ref === roles.DeliverCertificate,
                ),
            )
            .map(([id]) => id),
        ),
      );
    });

    it('gives DeliverCertificate the delivery key through Secrets Manager and Parameter Store only', () => {
      const statements = keyPolicy(synthesized.resources, isDeliveryKey).filter((statement) =>
        keyPolicyGrantees(statement).includes(roles.DeliverCertificate),
      );
      expect(
        statements.map((statement) => [
          actionsOfStatement(statement).sort(),
          statement.Condition?.StringEquals,
        ]),
      ).toEqual([
        [
          ['kms:Decrypt', 'kms:GenerateDataKey'],
          { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' },
        ],
        // Advanced parameters are envelope-encrypted, with a data key.
        [['kms:Encrypt', 'kms:GenerateDataKey'], { 'kms:ViaService': 'ssm.eu-west-1.amazonaws.com' }],
      ]);
    });

    it('lets the account use the delivery key at deploy only through Secrets Manager, for the declared secrets', () => {
      const unnamed = keyPolicy(synthesized.resources, isDeliveryKey).filter(
        (statement) => statement.Sid !== 'AccountAdministersButDoesNotUse' && !statement.Condition?.ArnEquals,
      );
      expect(unnamed).toHaveLength(1);
      expect(unnamed[0]).toMatchObject({
        Sid: 'CreateDeliverySecretsAtDeploy',
        Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
        Condition: {
          StringEquals: {
            'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com',
            'kms:CallerAccount': '123456789012',
          },
        },
      });
      const arns = JSON.stringify(unnamed[0]?.Condition?.StringLike);
      expect(arns).toContain(':secret:acme-aws/Test/web/certificate-??????');
      expect(arns).toContain(':secret:tls/api-??????');
    });

    it('gives the other steps nothing of the delivery key', () => {
      const others = Object.entries(roles)
        .filter(([step]) => step !== 'DeliverCertificate')
        .map(([, roleId]) => roleId);
      const grantees = keyPolicy(synthesized.resources, isDeliveryKey).flatMap(keyPolicyGrantees);
      for (const role of others) expect(grantees).not.toContain(role);
    });
  });

  describe('grants', () => {
    it('grantReadSecret returns the Grant of reading exactly that secret, decrypting through Secrets Manager', () => {
      expect(reader.secret?.success).toBe(true);
      const statements = reader.secret?.principalStatements.map((statement) => statement.toStatementJson());
      expect(statements).toEqual([
        expect.objectContaining({
          Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
          Resource: expect.anything(),
        }),
        expect.objectContaining({
          Action: 'kms:Decrypt',
          Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' } },
        }),
      ]);
      const [workload] = Object.keys(synthesized.resources).filter((id) => id.startsWith('Workload'));
      const secret = identityStatements(synthesized.resources, workload as string).find((statement) =>
        actionsOfStatement(statement).includes('secretsmanager:GetSecretValue'),
      );
      expect(secret?.Resource).toEqual({
        Ref: logicalIdOfSecret(synthesized.resources, 'acme-aws/Test/web/certificate'),
      });
    });

    it('grantReadParameters returns the Grant of reading the path, decrypting through Parameter Store', () => {
      expect(reader.parameters?.success).toBe(true);
      const [workload] = Object.keys(synthesized.resources).filter((id) => id.startsWith('Workload'));
      const read = identityStatements(synthesized.resources, workload as string).find((statement) =>
        actionsOfStatement(statement).includes('ssm:GetParameter'),
      );
      expect(read).toMatchObject({
        Action: ['ssm:GetParameter', 'ssm:GetParameters', 'ssm:GetParametersByPath'],
        Resource: [parameterArn('certificates/web'), parameterArn('certificates/web/*')],
      });
      const decrypt = keyPolicy(synthesized.resources, isDeliveryKey).filter((statement) =>
        keyPolicyGrantees(statement).includes(workload as string),
      );
      expect(decrypt.map((statement) => [statement.Action, statement.Condition?.StringEquals])).toEqual([
        ['kms:Decrypt', { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' }],
        ['kms:Decrypt', { 'kms:ViaService': 'ssm.eu-west-1.amazonaws.com' }],
      ]);
    });

    it('refuses a grant for a certificate without that delivery, listing those with it', () => {
      synthStack(DELIVERING, (stack) => {
        const workload = new iam.Role(stack, 'Workload', { assumedBy: new iam.AccountRootPrincipal() });
        expect(() => stack.certificates.grantReadSecret('edge', workload)).toThrow(
          'AcmeCertificates: grantReadSecret("edge"): no certificate with that id is declared with secret (declared with secret: web, api).',
        );
        expect(() => stack.certificates.grantReadParameters('api', workload)).toThrow(
          'AcmeCertificates: grantReadParameters("api"): no certificate with that id is declared with parameters (declared with parameters: web, edge).',
        );
        expect(() => stack.certificates.onCertificateDelivered('plain', 'Reload')).toThrow(
          'AcmeCertificates: onCertificateDelivered("plain"): no certificate with that id is declared with secret or parameters',
        );
      });
    });
  });

  it('puts a rule on the Certificate Delivered events of one certificate', () => {
    expect(EVENT_DELIVERED).toBe(CORE_EVENT_DELIVERED);
    synthesized.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['acme-aws'],
        'detail-type': ['Certificate Delivered'],
        detail: { certificateId: ['web'] },
      },
    });
  });

  it('delivers after the import, through the usual Catch, only when ImportToAcm says so', () => {
    const states = synthesizeDefinition().definition.States;

    expect(states.ImportToAcm).toMatchObject({ Next: 'Deliver?' });
    expect(states['Deliver?']).toMatchObject({
      Type: 'Choice',
      Choices: [{ Variable: '$.deliver', IsPresent: true, Next: 'DeliverCertificate' }],
      Default: 'Cleanup',
    });
    expect(states.DeliverCertificate).toMatchObject({ Next: 'Cleanup' });
    expect(states.DeliverCertificate?.Catch).toEqual([
      expect.objectContaining({ ErrorEquals: ['States.ALL'], Next: 'Cleanup', ResultPath: '$.error' }),
    ]);
  });

  it('leaves no cdk-nag finding unfixed or unacknowledged', () => {
    // The delivery rule's targets, and so their dead-letter queues, are the app's own.
    const own = (path: string | undefined) => !path?.startsWith('Test/Certificates/ReloadWeb/');
    const violations = [
      new AwsSolutionsChecks(undefined, { verbose: true }),
      new ServerlessChecks(undefined, { verbose: true }),
    ].flatMap((pack) =>
      pack
        .validateScope(synthesized.app)
        .violations.flatMap((violation) =>
          violation.violatingResources
            .filter((resource) => own(resource.constructPath))
            .map((resource) => `${violation.ruleName} ${resource.constructPath}`),
        ),
    );
    expect(violations).toEqual([]);
  });

  it.each([
    [
      [{ id: 'web', domains: ['example.org'], secret: { name: 'web cert' } }],
      'AcmeCertificates: certificates[0].secret.name "web cert" is not a secret name',
    ],
    [
      [{ id: 'web', domains: ['example.org'], parameters: { path: '/aws/web' } }],
      'AcmeCertificates: certificates[0].parameters.path "/aws/web" starts with "aws" or "ssm"',
    ],
    [
      [
        { id: 'web', domains: ['example.org'], secret: { name: 'shared' } },
        { id: 'api', domains: ['api.example.org'], secret: { name: 'shared' } },
      ],
      'AcmeCertificates: certificates[1].secret names the secret "shared", which certificates[0] is delivered to',
    ],
  ])('refuses bad delivery props at synth (%#)', (certificates, message) => {
    expect(() => synthStack({ hostedZoneIds: ['Z111'], certificates: certificates as never })).toThrow(
      message,
    );
  });
});
