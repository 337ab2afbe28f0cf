import type { CfnTemplate } from './assembly.js';

/**
 * Hand edits of a synthesized template, for tests that take one permission away and show that
 * the deployment then fails the way AWS would make it fail.
 */

type Statement = {
  Action?: string | string[];
  Resource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
};
type Mutable<T> = { -readonly [K in keyof T]: Mutable<T[K]> };

function statementsOf(document: unknown): Statement[] {
  return ((document as { Statement?: Statement[] } | undefined)?.Statement ?? []) as Statement[];
}

function refersTo(value: unknown, logicalIdPart: string): boolean {
  return JSON.stringify(value).includes(logicalIdPart);
}

/**
 * Removes `action` from the identity policies attached to the roles whose logical id contains
 * `roleLogicalIdPart` (e.g. `ImportToAcmRole`, `IssuanceRole`), and optionally only from
 * statements whose resources mention `resourcePart`. Fails when nothing was removed, so a test
 * cannot pass by removing nothing.
 */
export function removeIdentityPermission(
  template: CfnTemplate,
  roleLogicalIdPart: string,
  action: string,
  resourcePart?: string,
): void {
  let removed = 0;
  for (const resource of Object.values(template.Resources) as Mutable<CfnTemplate['Resources'][string]>[]) {
    if (resource.Type !== 'AWS::IAM::Policy' || !refersTo(resource.Properties?.Roles, roleLogicalIdPart))
      continue;
    const document = resource.Properties?.PolicyDocument as { Statement: Statement[] };
    document.Statement = document.Statement.flatMap((statement) => {
      const actions = [statement.Action ?? []].flat();
      if (!actions.includes(action) || (resourcePart && !refersTo(statement.Resource, resourcePart)))
        return [statement];
      removed += 1;
      const rest = actions.filter((candidate) => candidate !== action);
      return rest.length === 0 ? [] : [{ ...statement, Action: rest }];
    });
  }
  if (removed === 0) throw new Error(`No identity policy of ${roleLogicalIdPart} allows ${action}`);
}

/**
 * Takes the role whose logical id contains `roleLogicalIdPart` out of every `aws:PrincipalArn`
 * list that lets it use `action` in the policy of the KMS key whose logical id contains
 * `keyLogicalIdPart`.
 */
export function removeFromKeyPolicy(
  template: CfnTemplate,
  keyLogicalIdPart: string,
  action: string,
  roleLogicalIdPart: string,
): void {
  let removed = 0;
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::KMS::Key' || !logicalId.includes(keyLogicalIdPart)) continue;
    for (const statement of statementsOf(resource.Properties?.KeyPolicy)) {
      if (![statement.Action ?? []].flat().includes(action)) continue;
      const arnEquals = statement.Condition?.ArnEquals;
      const arns = arnEquals?.['aws:PrincipalArn'];
      if (!arnEquals || !Array.isArray(arns)) continue;
      const kept = arns.filter((arn) => !refersTo(arn, roleLogicalIdPart));
      removed += arns.length - kept.length;
      arnEquals['aws:PrincipalArn'] = kept;
    }
  }
  if (removed === 0)
    throw new Error(`The policy of ${keyLogicalIdPart} names no ${roleLogicalIdPart} for ${action}`);
}
