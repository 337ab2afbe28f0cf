import { App, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { AcmeStack } from '../../lib/acme-stack.js';
import { LETS_ENCRYPT_STAGING } from '../../lib/steps.js';
import { type SynthesizedStack, synthStack } from './template.js';

/**
 * cdk-nag 3 is a policy-validation plugin, not an Aspect: it runs when the app synthesizes and
 * reads acknowledgments (`Validations.of(construct).acknowledge`) from construct metadata. These
 * tests run both packs over the synthesized tree and list every finding that is left.
 */

interface Finding {
  readonly rule: string;
  readonly severity: string;
  readonly path: string;
}

function findings(scope: IConstruct): Finding[] {
  return [
    new AwsSolutionsChecks(undefined, { verbose: true }),
    new ServerlessChecks(undefined, { verbose: true }),
  ]
    .flatMap((pack) => pack.validateScope(scope).violations)
    .flatMap((violation) =>
      violation.violatingResources.map((resource) => ({
        rule: violation.ruleName,
        severity: violation.severity ?? 'error',
        path: resource.constructPath ?? resource.resourceLogicalId ?? '',
      })),
    );
}

interface Acknowledgment {
  readonly path: string;
  readonly id: string;
  readonly reason: string;
}

function acknowledgments(scope: IConstruct): Acknowledgment[] {
  return scope.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          path: construct.node.path,
          id: id.replace(/^Annotation::/i, ''),
          reason,
        })),
      ),
  );
}

describe('cdk-nag', () => {
  let configured: SynthesizedStack;
  let configuredFindings: Finding[];
  beforeAll(() => {
    configured = synthStack({ directoryUrl: LETS_ENCRYPT_STAGING, hostedZoneIds: ['Z111', 'Z222'] });
    configuredFindings = findings(configured.app);
  });

  it('leaves no AwsSolutions or Serverless error or warning unfixed or unacknowledged', () => {
    expect(configuredFindings).toEqual([]);
  });

  it('lets the app synthesize with both packs registered as validation plugins', () => {
    const app = new App({ builtinCloudFormationValidation: false });
    new AcmeStack(app, 'Test', {
      acme: { directoryUrl: LETS_ENCRYPT_STAGING, hostedZoneIds: ['Z111'] },
      env: { account: '123456789012', region: 'eu-west-1' },
    });
    Validations.of(app).addPlugins(
      new AwsSolutionsChecks(app, { verbose: true }),
      new ServerlessChecks(app, { verbose: true }),
    );
    // A finding that is neither fixed nor acknowledged makes synth throw `ValidationFailed`.
    expect(() => app.synth()).not.toThrow();
  });

  it('acknowledges the store prefix for a grantReadCertificates grantee too', () => {
    const { app } = synthStack({ directoryUrl: LETS_ENCRYPT_STAGING, hostedZoneIds: ['Z111'] }, (stack) => {
      const workload = new iam.Role(stack, 'Workload', {
        assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      });
      stack.certificates.grantReadCertificates(workload);
    });
    expect(findings(app)).toEqual([]);
  });

  it('reports the all-zones Route 53 fallback instead of acknowledging it', () => {
    const { app } = synthStack({ directoryUrl: LETS_ENCRYPT_STAGING });
    expect(findings(app)).toEqual([
      {
        rule: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:route53:::hostedzone/*]',
        severity: 'error',
        path: 'Test/Certificates/Steps/PublishChallengesRole/DefaultPolicy/Resource',
      },
      {
        rule: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:route53:::hostedzone/*]',
        severity: 'error',
        path: 'Test/Certificates/Steps/CleanupRole/DefaultPolicy/Resource',
      },
      {
        rule: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:route53:::hostedzone/*]',
        severity: 'error',
        path: 'Test/Certificates/Steps/CleanupEndedExecutionRole/DefaultPolicy/Resource',
      },
    ]);
  });

  it('acknowledges findings inside the construct, one rule or wildcard at a time, each with a reason', () => {
    const acknowledged = acknowledgments(configured.app);
    expect(acknowledged.length).toBeGreaterThan(0);
    for (const { path, id, reason } of acknowledged) {
      expect(path).toMatch(/^Test\/Certificates\/./);
      expect(id).toMatch(/^(AwsSolutions|Serverless)-/);
      // A wildcard rule is acknowledged per resource, never as a whole.
      expect(id).not.toMatch(/^AwsSolutions-IAM5$/);
      expect(reason.length, `${path} ${id}`).toBeGreaterThan(60);
    }
    expect(new Set(acknowledged.map(({ id }) => id.replace(/\[.*\]$/, '[…]')))).toEqual(
      new Set([
        'AwsSolutions-S1',
        'AwsSolutions-L1',
        'Serverless-LambdaDLQ',
        'Serverless-LambdaLatestVersion',
        'AwsSolutions-IAM5[…]',
        'AwsSolutions-SQS3',
        'Serverless-SQSRedrivePolicy',
      ]),
    );
    expect(acknowledged.filter(({ id }) => id === 'AwsSolutions-S1').map(({ path }) => path)).toEqual([
      'Test/Certificates/Store/AccessLogs',
    ]);
  });
});
