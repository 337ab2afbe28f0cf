import '../setup/polyfills.js';
import { App } from 'aws-cdk-lib';
import { AcmeStack, type AcmeStackProps } from '../../lib/acme-stack.js';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './cloud/constants.js';

/**
 * The synthesized definition of one state machine, for assertions on its shape (the CDK tests).
 * Runs of a state machine go through a deployment instead (`local-issuance.ts`).
 */
export interface SynthesizedDefinition {
  readonly definition: Record<string, unknown> & { States: Record<string, Record<string, unknown>> };
  /** The step folder (`ACME_STEP`) of the function each Lambda Task invokes, by state name. */
  readonly taskHandlers: Readonly<Record<string, string>>;
}

type CfnResource = { readonly Type: string; readonly Properties?: Record<string, unknown> };

/** Synthesizes the stack and extracts one state machine's definition. */
export function synthesizeDefinition(
  props: Partial<AcmeStackProps['acme']> = {},
  which: 'Issuance' | 'Renewals' = 'Issuance',
): SynthesizedDefinition {
  const app = new App({ builtinCloudFormationValidation: false });
  const stack = new AcmeStack(app, 'AcmeLocal', {
    acme: { directoryUrl: 'https://acme.invalid/directory', ...props },
    env: { account: LOCAL_ACCOUNT, region: LOCAL_REGION },
  });
  const resources = (
    app.synth().getStackArtifact(stack.artifactId).template as { Resources: Record<string, CfnResource> }
  ).Resources;
  const [machine, ...others] = Object.entries(resources).filter(
    ([logicalId, resource]) =>
      resource.Type === 'AWS::StepFunctions::StateMachine' && logicalId.includes(which),
  );
  if (!machine || others.length > 0) throw new Error(`Expected one ${which} state machine`);
  // References become their logical ids, which is all an assertion on the shape needs.
  const join = machine[1].Properties?.DefinitionString as { 'Fn::Join': [string, unknown[]] };
  const text = join['Fn::Join'][1]
    .map((part) => (typeof part === 'string' ? part : JSON.stringify(part).replace(/"/g, '')))
    .join('');
  const definition = JSON.parse(text) as SynthesizedDefinition['definition'];
  const taskHandlers: Record<string, string> = {};
  for (const [name, state] of Object.entries(definition.States)) {
    const logicalId = /Fn::GetAtt:\[([A-Za-z0-9]+),Arn\]/.exec(String(state.Resource))?.[1];
    const step = logicalId
      ? (resources[logicalId]?.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)
          ?.Variables?.ACME_STEP
      : undefined;
    if (typeof step === 'string') taskHandlers[name] = step;
  }
  return { definition, taskHandlers };
}
