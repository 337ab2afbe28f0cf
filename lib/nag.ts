import { Stack, Validations } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { IConstruct } from 'constructs';

/**
 * Acknowledges cdk-nag's AwsSolutions-IAM5 finding for one wildcard resource on `scope` (and its
 * children), with the reason it cannot be narrower. The finding id renders CloudFormation
 * references the way cdk-nag does (`<LogicalId.Arn>/orders/*`), so an acknowledgment covers that
 * resource only, never the rule as a whole.
 */
export function acknowledgeWildcard(scope: IConstruct, resource: string, reason: string): void {
  const render = (node: unknown): string => {
    if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
    if (typeof node === 'object' && node !== null) {
      const intrinsic = node as Record<string, unknown>;
      if ('Fn::Join' in intrinsic) {
        const [separator, parts] = intrinsic['Fn::Join'] as [string, unknown[]];
        return parts.map(render).join(separator);
      }
      if ('Fn::GetAtt' in intrinsic) {
        const [logicalId, attribute] = intrinsic['Fn::GetAtt'] as [string, string];
        return `<${logicalId}.${attribute}>`;
      }
      if ('Ref' in intrinsic) return `<${String(intrinsic.Ref)}>`;
    }
    return JSON.stringify(node);
  };
  const finding = render(Stack.of(scope).resolve(resource));
  Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM5[Resource::${finding}]`, reason });
}

/**
 * The role of one of our functions, which is where cdk-nag reports its policy's findings; every
 * function this library builds has one.
 */
export function roleOf(fn: lambda.IFunction): iam.IRole {
  if (!fn.role) throw new Error(`AcmeCertificates: function ${fn.node.path} has no role`);
  return fn.role;
}
