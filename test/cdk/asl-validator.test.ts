import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import { type CfnResource, synthEveryFeature } from './template.js';

/**
 * Every state machine of the synthesized template, checked by asl-validator (JSON schemas of the
 * Amazon States Language, transitions, terminal states, paths): an independent reading of what
 * Step Functions would accept at deploy. References in `DefinitionString` become stand-in ARNs.
 */

interface AslValidation {
  readonly isValid: boolean;
  readonly errorsText: (separator?: string) => string;
}
/** asl-validator ships CommonJS without types: `validator(definition, options?)`. */
const validateAsl = createRequire(import.meta.url)('asl-validator') as (
  definition: unknown,
  options?: { readonly checkPaths?: boolean; readonly checkArn?: boolean },
) => AslValidation;

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';

/** A stand-in ARN for `Ref` or `Fn::GetAtt [id, 'Arn']` of the resource `id`, by its type. */
function standInArn(resources: Readonly<Record<string, CfnResource>>, id: string): string {
  const type = resources[id]?.Type;
  switch (type) {
    case 'AWS::Lambda::Function':
      return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${id}`;
    case 'AWS::StepFunctions::StateMachine':
      return `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${id}`;
    default:
      throw new Error(`no stand-in ARN for ${id} (${type ?? 'not in the template'}): add one to the test`);
  }
}

const PSEUDO_PARAMETERS: Readonly<Record<string, string>> = {
  'AWS::Partition': 'aws',
  'AWS::Region': REGION,
  'AWS::AccountId': ACCOUNT,
  'AWS::URLSuffix': 'amazonaws.com',
};

/** Evaluates the intrinsic functions CDK puts in a definition, failing on any it does not know. */
function resolve(node: unknown, resources: Readonly<Record<string, CfnResource>>): unknown {
  if (Array.isArray(node)) return node.map((item) => resolve(item, resources));
  if (typeof node !== 'object' || node === null) return node;
  const entries = Object.entries(node);
  const [first] = entries;
  if (entries.length === 1 && first && (first[0] === 'Ref' || first[0].startsWith('Fn::'))) {
    const [name, argument] = first;
    if (name === 'Ref') {
      const id = String(argument);
      return PSEUDO_PARAMETERS[id] ?? standInArn(resources, id);
    }
    if (name === 'Fn::GetAtt') {
      const [id, attribute] = argument as [string, string];
      if (attribute !== 'Arn') throw new Error(`no stand-in for Fn::GetAtt ${id}.${attribute}`);
      return standInArn(resources, id);
    }
    if (name === 'Fn::Join') {
      const [separator, parts] = argument as [string, unknown[]];
      return parts.map((part) => String(resolve(part, resources))).join(separator);
    }
    if (name === 'Fn::Select') {
      const [index, list] = argument as [number, unknown];
      return (resolve(list, resources) as unknown[])[index];
    }
    if (name === 'Fn::Split') {
      const [separator, text] = argument as [string, unknown];
      return String(resolve(text, resources)).split(separator);
    }
    throw new Error(`no evaluation of ${name} in a state machine definition: add one to the test`);
  }
  return Object.fromEntries(entries.map(([key, value]) => [key, resolve(value, resources)]));
}

/** Each state machine's definition, parsed, by logical id. */
function definitions(resources: Readonly<Record<string, CfnResource>>): [string, unknown][] {
  return Object.entries(resources)
    .filter(([, resource]) => resource.Type === 'AWS::StepFunctions::StateMachine')
    .map(([id, resource]) => {
      const text = resolve(resource.Properties?.DefinitionString, resources);
      if (typeof text !== 'string') throw new Error(`${id}: DefinitionString is not a string`);
      return [id, JSON.parse(text) as unknown];
    });
}

describe('state machine definitions under asl-validator', () => {
  let machines: [string, unknown][];
  beforeAll(() => {
    const { resources } = synthEveryFeature();
    machines = definitions(resources);
  });

  it('finds both state machines: the issuance and the renewals', () => {
    expect(machines).toHaveLength(2);
  });

  it('passes every definition, with ARN and path checks', () => {
    const invalid = machines
      .map(([id, definition]) => [id, validateAsl(definition, { checkPaths: true, checkArn: true })] as const)
      .filter(([, result]) => !result.isValid)
      .map(([id, result]) => `${id}:\n${result.errorsText('\n')}`);

    expect(invalid.join('\n\n')).toBe('');
  });

  it('reports a definition with a transition to a missing state, so a pass means something', () => {
    const [, definition] = machines[0] ?? [];
    const broken = structuredClone(definition) as { StartAt: string };
    broken.StartAt = 'NoSuchState';

    const result = validateAsl(broken, { checkPaths: true, checkArn: true });

    expect(result.isValid).toBe(false);
    expect(result.errorsText()).toContain('NoSuchState');
  });
});
