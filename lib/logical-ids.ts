import { CfnElement, CfnResource, Stack } from 'aws-cdk-lib';
import { Construct, type IConstruct } from 'constructs';

/**
 * Keeps the CloudFormation logical ID a resource had before it moved into a sub-construct.
 *
 * A logical ID is derived from the construct path, so moving a resource one level down renames
 * it, and CloudFormation replaces a renamed resource: a new KMS account key (the CA account is
 * lost), an empty table or bucket, or a failed update for a resource with a fixed physical name.
 * `formerPath` is where the resource used to be under `formerScope` (`'AccountKey'`,
 * `'AccessLogs/Policy'`). The ID is computed by CDK itself, for a throwaway construct placed at
 * that path and removed again, so it matches whatever the former path produced, renames included.
 */
export function keepLogicalId(resource: IConstruct, formerScope: IConstruct, formerPath: string): void {
  const element = resource instanceof CfnElement ? resource : resource.node.defaultChild;
  if (!(element instanceof CfnElement)) {
    throw new Error(`keepLogicalId: ${resource.node.path} has no CloudFormation resource to pin`);
  }
  const [first, ...rest] = [...formerPath.split('/'), element.node.id];
  if (first === undefined) throw new Error('keepLogicalId: formerPath is empty');
  let parent = new Construct(formerScope, first);
  for (const id of rest.slice(0, -1)) parent = new Construct(parent, id);
  const probe = new CfnResource(parent, rest.at(-1) ?? 'Resource', {
    type: 'AWS::CloudFormation::WaitConditionHandle',
  });
  const logicalId = Stack.of(probe).getLogicalId(probe);
  formerScope.node.tryRemoveChild(first);
  element.overrideLogicalId(logicalId);
}
