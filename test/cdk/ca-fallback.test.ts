import { Stack } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AcmeCertificatesProps } from '../../lib/acme-certificates-props.js';
import { LETS_ENCRYPT_STAGING, STEP_HANDLERS } from '../../lib/steps.js';
import {
  actionsOfStatement,
  type CfnResource,
  identityStatements,
  roleIdsByStep,
  type SynthesizedStack,
  synthStack,
  toArray,
} from './template.js';

/**
 * The construct's `certificateAuthorities`: the list reaches the functions that choose a CA
 * (RegisterAccount, which walks it, and the planner, which paces by the first CA and asks the
 * issuing one for renewal information), each CA's binding secret is readable by RegisterAccount
 * alone, and synth refuses what the runtime would refuse.
 */

const SECOND = 'https://acme.zerossl.com/v2/DV90';
const EAB_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:zerossl-eab-AbCdEf';
const PLANNER = 'plan-renewals';

function bindingSecret(): secretsmanager.ISecret {
  return secretsmanager.Secret.fromSecretCompleteArn(new Stack(), 'Eab', EAB_ARN);
}

/** Every function's environment, by its ACME_STEP. */
function environments(
  resources: Readonly<Record<string, CfnResource>>,
): Map<string, Record<string, unknown>> {
  const byStep = new Map<string, Record<string, unknown>>();
  for (const resource of Object.values(resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const variables =
      (resource.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ??
      {};
    byStep.set(String(variables.ACME_STEP), variables);
  }
  return byStep;
}

/** The logical id of the role the function of `folder` runs as. */
function roleOf(resources: Readonly<Record<string, CfnResource>>, folder: string): string {
  for (const resource of Object.values(resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const properties = resource.Properties as {
      Role: { 'Fn::GetAtt': [string, string] };
      Environment: { Variables: { ACME_STEP: string } };
    };
    if (properties.Environment.Variables.ACME_STEP === folder) return properties.Role['Fn::GetAtt'][0];
  }
  throw new Error(`no function for ${folder}`);
}

describe('certificateAuthorities on the construct', () => {
  let synthesized: SynthesizedStack;
  beforeAll(() => {
    synthesized = synthStack({
      certificateAuthorities: [
        { directoryUrl: LETS_ENCRYPT_STAGING },
        { directoryUrl: SECOND, externalAccountBindingSecret: bindingSecret(), profile: 'default' },
      ],
    });
  });

  it('gives RegisterAccount and the planner the list in its order, with the binding secret of the CA that has one', () => {
    const byStep = environments(synthesized.resources);

    for (const folder of [STEP_HANDLERS.RegisterAccount, PLANNER]) {
      const list = byStep.get(folder)?.ACME_CERTIFICATE_AUTHORITIES;
      expect(typeof list).toBe('string');
      expect(JSON.parse(list as string)).toEqual([
        { directoryUrl: LETS_ENCRYPT_STAGING },
        { directoryUrl: SECOND, profile: 'default', eabSecretArn: EAB_ARN },
      ]);
    }
  });

  it('gives the list to no other function', () => {
    const withList = [...environments(synthesized.resources)]
      .filter(([, variables]) => 'ACME_CERTIFICATE_AUTHORITIES' in variables)
      .map(([folder]) => folder)
      .sort();

    expect(withList).toEqual([PLANNER, STEP_HANDLERS.RegisterAccount].sort());
  });

  it('makes the first CA every function’s ACME_DIRECTORY_URL, and sets no deployment-wide binding', () => {
    const byStep = environments(synthesized.resources);

    expect(byStep.size).toBeGreaterThan(Object.keys(STEP_HANDLERS).length);
    for (const variables of byStep.values()) {
      expect(variables.ACME_DIRECTORY_URL).toBe(LETS_ENCRYPT_STAGING);
      expect(variables).not.toHaveProperty('EAB_SECRET_ARN');
    }
  });

  it('lets only RegisterAccount read the binding secret', () => {
    const { resources } = synthesized;
    const roles = Object.entries(resources)
      .filter(([, resource]) => resource.Type === 'AWS::IAM::Role')
      .map(([roleId]) => roleId);
    const readers = roles.filter((roleId) =>
      identityStatements(resources, roleId).some(
        (statement) =>
          statement.Effect === 'Allow' &&
          actionsOfStatement(statement).includes('secretsmanager:GetSecretValue') &&
          toArray(statement.Resource).includes(EAB_ARN),
      ),
    );

    expect(readers).toEqual([roleIdsByStep(resources).RegisterAccount]);
    expect(readers).not.toContain(roleOf(resources, PLANNER));
  });
});

describe('certificateAuthorities refused at synth', () => {
  const refusal = (acme: AcmeCertificatesProps) => () => synthStack(acme);

  it('refuses it together with directoryUrl', () => {
    expect(
      refusal({ directoryUrl: LETS_ENCRYPT_STAGING, certificateAuthorities: [{ directoryUrl: SECOND }] }),
    ).toThrow(
      /^AcmeCertificates: certificateAuthorities replaces directoryUrl and externalAccountBindingSecret/,
    );
  });

  it('refuses it together with externalAccountBindingSecret', () => {
    expect(
      refusal({
        externalAccountBindingSecret: bindingSecret(),
        certificateAuthorities: [{ directoryUrl: SECOND }],
      }),
    ).toThrow(
      /^AcmeCertificates: certificateAuthorities replaces directoryUrl and externalAccountBindingSecret/,
    );
  });

  it('refuses an http entry, naming the prop', () => {
    expect(
      refusal({
        certificateAuthorities: [
          { directoryUrl: LETS_ENCRYPT_STAGING },
          { directoryUrl: 'http://ca.example/directory' },
        ],
      }),
    ).toThrow(
      'AcmeCertificates: certificateAuthorities[1].directoryUrl "http://ca.example/directory" is not an https URL',
    );
  });

  it('refuses a CA listed twice', () => {
    expect(
      refusal({
        certificateAuthorities: [{ directoryUrl: SECOND }, { directoryUrl: SECOND }],
      }),
    ).toThrow('AcmeCertificates: certificateAuthorities lists a directory URL twice');
  });
});
