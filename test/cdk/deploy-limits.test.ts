import { App, Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { AcmeStack } from '../../lib/acme-stack.js';
import { LETS_ENCRYPT_STAGING } from '../../lib/steps.js';
import { type CfnResource, synthStack } from './template.js';

/** Settings that keep a deploy within what CloudFormation and CloudWatch Logs allow. */

const CERTIFICATES = [{ id: 'web', domains: ['example.org'] }];

/** The log group name of each state machine's LoggingConfiguration, by state machine logical id. */
function stateMachineLogGroups(resources: Readonly<Record<string, CfnResource>>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(resources)
      .filter(([, resource]) => resource.Type === 'AWS::StepFunctions::StateMachine')
      .map(([id, resource]) => {
        const configuration = resource.Properties?.LoggingConfiguration as {
          Destinations: { CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [string, string] } } }[];
        };
        const [logGroupId] =
          configuration.Destinations[0]?.CloudWatchLogsLogGroup.LogGroupArn['Fn::GetAtt'] ?? [];
        return [id, resources[logGroupId as string]?.Properties?.LogGroupName];
      }),
  );
}

describe('state machine log groups', () => {
  it('names both state machines’ log groups under /aws/vendedlogs/states/', () => {
    const { resources } = synthStack({ directoryUrl: LETS_ENCRYPT_STAGING, hostedZoneIds: ['Z111'] });

    const names = Object.values(stateMachineLogGroups(resources));

    expect(names).toHaveLength(2);
    for (const name of names) expect(name).toMatch(/^\/aws\/vendedlogs\/states\/[A-Za-z0-9._/#-]+$/);
    expect(new Set(names).size).toBe(2);
  });

  it('gives two stacks in one account and region different log group names', () => {
    const app = new App({ builtinCloudFormationValidation: false });
    const env = { account: '123456789012', region: 'eu-west-1' };
    const acme = { directoryUrl: LETS_ENCRYPT_STAGING, hostedZoneIds: ['Z111'] };
    const staging = new AcmeStack(app, 'Staging', { acme, env });
    const production = new AcmeStack(app, 'Production', { acme, env });
    const namesOf = (stack: AcmeStack) =>
      Object.values(
        stateMachineLogGroups(Template.fromStack(stack).toJSON().Resources as Record<string, CfnResource>),
      );

    const stagingNames = namesOf(staging);
    const productionNames = namesOf(production);

    expect(stagingNames).toHaveLength(2);
    for (const name of stagingNames) expect(productionNames).not.toContain(name);
  });
});

describe('declared certificates custom resource', () => {
  const customResource = (resources: Readonly<Record<string, CfnResource>>) => {
    const found = Object.values(resources).filter(
      (resource) => resource.Type === 'Custom::AcmeDeclaredCertificates',
    );
    expect(found).toHaveLength(1);
    return found[0] as CfnResource;
  };
  const syncTimeout = (resources: Readonly<Record<string, CfnResource>>, custom: CfnResource) => {
    const token = custom.Properties?.ServiceToken as { 'Fn::GetAtt'?: [string, string] } | undefined;
    const [functionId] = token?.['Fn::GetAtt'] ?? [];
    return Number(resources[functionId as string]?.Properties?.Timeout);
  };

  it('makes CloudFormation wait five minutes for it, not the default hour', () => {
    const { resources } = synthStack({ hostedZoneIds: ['Z111'], certificates: CERTIFICATES });

    const custom = customResource(resources);

    expect(custom.Properties?.ServiceTimeout).toBe('300');
    expect(syncTimeout(resources, custom)).toBeLessThan(300);
  });

  it('keeps the sync function’s timeout below the service timeout even with a long functionTimeout', () => {
    const { resources } = synthStack({
      hostedZoneIds: ['Z111'],
      certificates: CERTIFICATES,
      functionTimeout: Duration.minutes(10),
    });

    const custom = customResource(resources);

    expect(syncTimeout(resources, custom)).toBeLessThan(Number(custom.Properties?.ServiceTimeout));
  });
});
