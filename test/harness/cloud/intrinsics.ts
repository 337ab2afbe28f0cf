import { LOCAL_ACCOUNT, LOCAL_PARTITION, LOCAL_REGION } from './constants.js';

/**
 * CloudFormation's intrinsic functions, evaluated the way the service evaluates them at deploy
 * time, over the physical ids the local deployment assigned. A reference the deployment cannot
 * answer is an error: a template that refers to something that does not exist fails here as it
 * would fail to deploy.
 */

export interface ResolutionContext {
  readonly stackName: string;
  readonly stackId: string;
  /** `Ref` of a resource or parameter. */
  ref(logicalId: string): string;
  /** `Fn::GetAtt` of a resource. */
  getAtt(logicalId: string, attribute: string): string;
  /** A condition's value. */
  condition?(name: string): boolean;
}

/** Marks a value that `AWS::NoValue` removed. */
const NO_VALUE = Symbol('AWS::NoValue');

export function resolveIntrinsics(value: unknown, context: ResolutionContext): unknown {
  const resolved = resolve(value, context);
  return resolved === NO_VALUE ? undefined : resolved;
}

function pseudo(name: string, context: ResolutionContext): string | typeof NO_VALUE | undefined {
  switch (name) {
    case 'AWS::Partition':
      return LOCAL_PARTITION;
    case 'AWS::Region':
      return LOCAL_REGION;
    case 'AWS::AccountId':
      return LOCAL_ACCOUNT;
    case 'AWS::URLSuffix':
      return 'amazonaws.com';
    case 'AWS::StackName':
      return context.stackName;
    case 'AWS::StackId':
      return context.stackId;
    case 'AWS::NoValue':
      return NO_VALUE;
    default:
      return undefined;
  }
}

function asString(value: unknown, where: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new Error(`${where} needs a string, got ${JSON.stringify(value)}`);
}

function resolve(value: unknown, context: ResolutionContext): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    return value.map((item) => resolve(item, context)).filter((item) => item !== NO_VALUE);
  }
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object);
  if (keys.length === 1) {
    const [key] = keys as [string];
    const argument = object[key];
    switch (key) {
      case 'Ref': {
        const name = asString(argument, 'Ref');
        return pseudo(name, context) ?? context.ref(name);
      }
      case 'Fn::GetAtt': {
        const [logicalId, attribute] = Array.isArray(argument)
          ? (argument as [string, string])
          : (asString(argument, 'Fn::GetAtt').split(/\.(.*)/s) as [string, string]);
        return context.getAtt(logicalId, asString(resolve(attribute, context), 'Fn::GetAtt'));
      }
      case 'Fn::Join': {
        const [separator, parts] = argument as [string, unknown];
        const list = resolve(parts, context);
        if (!Array.isArray(list)) throw new Error('Fn::Join needs a list');
        return list.map((part) => asString(part, 'Fn::Join')).join(separator);
      }
      case 'Fn::Sub': {
        const [template, variables] = Array.isArray(argument)
          ? (argument as [string, Record<string, unknown>])
          : [asString(argument, 'Fn::Sub'), {}];
        const values = resolve(variables, context) as Record<string, unknown>;
        return template.replace(/\$\{(!?)([^}]+)\}/g, (_whole, literal: string, name: string) => {
          if (literal) return `\${${name}}`;
          if (name in values) return asString(values[name], 'Fn::Sub');
          const [logicalId, attribute] = name.split(/\.(.*)/s) as [string, string | undefined];
          if (attribute) return context.getAtt(logicalId, attribute);
          const fromPseudo = pseudo(name, context);
          if (typeof fromPseudo === 'string') return fromPseudo;
          return context.ref(name);
        });
      }
      case 'Fn::Select': {
        const [index, list] = argument as [unknown, unknown];
        const items = resolve(list, context);
        if (!Array.isArray(items)) throw new Error('Fn::Select needs a list');
        const position = Number(resolve(index, context));
        if (!(position in items)) throw new Error(`Fn::Select index ${position} out of range`);
        return items[position];
      }
      case 'Fn::Split': {
        const [separator, text] = argument as [string, unknown];
        return asString(resolve(text, context), 'Fn::Split').split(separator);
      }
      case 'Fn::Base64':
        return Buffer.from(asString(resolve(argument, context), 'Fn::Base64')).toString('base64');
      case 'Fn::GetAZs':
        return ['a', 'b', 'c'].map((zone) => `${LOCAL_REGION}${zone}`);
      case 'Fn::If': {
        const [condition, whenTrue, whenFalse] = argument as [string, unknown, unknown];
        return resolve(evaluateCondition(condition, context) ? whenTrue : whenFalse, context);
      }
      case 'Fn::Equals': {
        const [a, b] = argument as [unknown, unknown];
        return JSON.stringify(resolve(a, context)) === JSON.stringify(resolve(b, context));
      }
      case 'Fn::Not':
        return !resolve((argument as [unknown])[0], context);
      case 'Fn::And':
        return (argument as unknown[]).every((item) => resolve(item, context) === true);
      case 'Fn::Or':
        return (argument as unknown[]).some((item) => resolve(item, context) === true);
      case 'Condition':
        // `{"Condition": "<name>"}` refers to a condition; a policy's `Condition` block is an object.
        if (typeof argument === 'string') return evaluateCondition(argument, context);
        break;
      case 'Fn::ImportValue':
        throw new Error('Fn::ImportValue is not available in the local cloud');
      default:
        break;
    }
  }
  const result: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(object)) {
    const resolved = resolve(item, context);
    if (resolved !== NO_VALUE) result[key] = resolved;
  }
  return result;
}

function evaluateCondition(name: string, context: ResolutionContext): boolean {
  if (!context.condition) throw new Error(`Condition ${name} cannot be evaluated here`);
  return context.condition(name);
}
