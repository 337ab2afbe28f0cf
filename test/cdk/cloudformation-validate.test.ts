import { describe, expect, it } from 'vitest';
import { synthEveryFeature } from './template.js';

/**
 * CDK's own CloudFormation validation (its built-in rules over the synthesized template, the
 * checks `cdk synth` runs by default) finds nothing in the stack with every feature on. Its
 * findings are errors here, so any new one fails the synthesis.
 */
describe('CDK’s built-in CloudFormation validation', () => {
  it('finds nothing in the stack with every optional feature', () => {
    const { resources } = synthEveryFeature({ cloudFormationValidation: true });

    expect(Object.keys(resources).length).toBeGreaterThan(0);
  });
});
