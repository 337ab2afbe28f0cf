import { describe, expect, it } from 'vitest';
import { STEP_HANDLERS } from '../../lib/steps.js';
import { type CfnResource, synthStack } from './template.js';

/**
 * CreateOrder refuses a CNAME target that IAM would not let PublishChallenges write; it learns
 * which zones take any name from `VALIDATION_ZONE_IDS`, which the construct sets from
 * `validationZoneIds`.
 */

function environments(
  resources: Readonly<Record<string, CfnResource>>,
): Record<string, Record<string, unknown>> {
  return Object.fromEntries(
    Object.values(resources)
      .filter((resource) => resource.Type === 'AWS::Lambda::Function')
      .map((resource) => {
        const environment = resource.Properties?.Environment as
          | { Variables: Record<string, unknown> }
          | undefined;
        const variables = environment?.Variables ?? {};
        return [String(variables.ACME_STEP), variables];
      }),
  );
}

describe('validation zones in the Lambda environment', () => {
  it('tells CreateOrder, and no other step, the validation zone ids', () => {
    const { resources } = synthStack({
      hostedZoneIds: ['Z111'],
      validationZoneIds: ['ZVAL1', '/hostedzone/ZVAL2'],
    });

    const byStep = environments(resources);

    expect(byStep[STEP_HANDLERS.CreateOrder]?.VALIDATION_ZONE_IDS).toBe('ZVAL1,ZVAL2');
    const others = Object.entries(byStep).filter(
      ([step, variables]) => step !== STEP_HANDLERS.CreateOrder && 'VALIDATION_ZONE_IDS' in variables,
    );
    expect(others).toEqual([]);
  });

  it('sets no VALIDATION_ZONE_IDS without validation zones, which CreateOrder reads as none', () => {
    const { resources } = synthStack({ hostedZoneIds: ['Z111'] });

    expect(environments(resources)[STEP_HANDLERS.CreateOrder]).not.toHaveProperty('VALIDATION_ZONE_IDS');
  });
});

describe('writable zones in the Lambda environment', () => {
  it('tells CreateOrder, and no other step, the hosted zones it may write', () => {
    const { resources } = synthStack({ hostedZoneIds: ['Z111', '/hostedzone/Z222'] });

    const byStep = environments(resources);

    expect(byStep[STEP_HANDLERS.CreateOrder]?.HOSTED_ZONE_IDS).toBe('Z111,Z222');
    const others = Object.entries(byStep).filter(
      ([step, variables]) => step !== STEP_HANDLERS.CreateOrder && 'HOSTED_ZONE_IDS' in variables,
    );
    expect(others).toEqual([]);
  });

  it('sets no HOSTED_ZONE_IDS when every zone of the account may be written', () => {
    const { resources } = synthStack({});

    expect(environments(resources)[STEP_HANDLERS.CreateOrder]).not.toHaveProperty('HOSTED_ZONE_IDS');
  });
});
