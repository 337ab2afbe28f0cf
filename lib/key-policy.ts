import { Lazy, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';

/**
 * What the account root may do with any of our keys: manage its life cycle, policy, aliases and
 * tags, spelled out (no `kms:*`, no `Get*`). It is not allowed to use the key (`kms:Sign`,
 * `kms:Decrypt`, `kms:GenerateDataKey`, `kms:GetPublicKey`) nor to `kms:CreateGrant`, which
 * would hand usage to anyone; each usage statement of the key policy lists, in an
 * `aws:PrincipalArn` condition, the roles that may use the key instead.
 */
export const KEY_ADMIN_ACTIONS: readonly string[] = [
  'kms:CancelKeyDeletion',
  'kms:CreateAlias',
  'kms:DeleteAlias',
  'kms:DescribeKey',
  'kms:DisableKey',
  'kms:DisableKeyRotation',
  'kms:EnableKey',
  'kms:EnableKeyRotation',
  'kms:GetKeyPolicy',
  'kms:GetKeyRotationStatus',
  'kms:ListGrants',
  'kms:ListKeyPolicies',
  'kms:ListKeyRotations',
  'kms:ListResourceTags',
  'kms:PutKeyPolicy',
  'kms:RevokeGrant',
  'kms:RotateKeyOnDemand',
  'kms:ScheduleKeyDeletion',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:UpdateAlias',
  'kms:UpdateKeyDescription',
];

/**
 * The starting policy of every key we create. It replaces CDK's default "the account may do
 * kms:*": the root administers, and each statement that allows use lists its roles in a
 * condition (see `grantKeyUse`).
 */
export function adminOnlyKeyPolicy(): iam.PolicyDocument {
  return new iam.PolicyDocument({
    statements: [
      new iam.PolicyStatement({
        sid: 'AccountAdministersButDoesNotUse',
        principals: [new iam.AccountRootPrincipal()],
        actions: [...KEY_ADMIN_ACTIONS],
        resources: ['*'],
      }),
    ],
  });
}

/**
 * Allows `actions` on `key` twice: in the key policy (which is what lets the grantee use the key
 * at all, since the root statement carries no usage), and in the grantee's identity policy, so
 * each role's policy still lists everything it may do. IAM evaluates both: either alone denies.
 * A key this library does not own (an `IKey` imported by the caller) keeps its own key policy,
 * which must already let the account's IAM policies use it: the grantee gets the identity
 * statement only.
 */
export function grantKeyUse(
  key: kms.IKey,
  grantee: iam.IGrantable,
  actions: string[],
  conditions?: Record<string, unknown>,
): iam.Grant {
  if (key instanceof kms.Key) addToKeyPolicy(key, grantee.grantPrincipal, actions, conditions);
  return iam.Grant.addToPrincipal({
    grantee,
    actions,
    resourceArns: [key.keyArn],
    ...(conditions ? { conditions: conditions as Record<string, Record<string, unknown>> } : {}),
  });
}

/**
 * The key policies' usage statements, by key and by what they allow (the principal's account,
 * actions and conditions): each holds the ARNs its `aws:PrincipalArn` condition lists.
 */
const keyUsage = new WeakMap<kms.Key, Map<string, string[]>>();

/**
 * Adds a principal to the key policy statement that allows `actions` under `conditions`. The
 * statement's principal is the account root, narrowed to the grantees by an `aws:PrincipalArn`
 * condition: KMS rejects a key policy that names a role it cannot resolve yet
 * (MalformedPolicyDocumentException), which a role created in the same deployment may be,
 * while a condition is only compared. Grantees with the same actions and conditions share one
 * statement; a grantee of another account is listed under that account's root. A principal
 * without an ARN (a service principal, say) is named as the statement's principal itself.
 */
function addToKeyPolicy(
  key: kms.Key,
  principal: iam.IPrincipal,
  actions: string[],
  conditions: Record<string, unknown> = {},
): void {
  const fragment = principal.policyFragment;
  const arns = (fragment.principalJson.AWS ?? []) as string[];
  const others = Object.keys(fragment.principalJson).filter((type) => type !== 'AWS');
  if (arns.length === 0 || others.length > 0 || Object.keys(fragment.conditions).length > 0) {
    key.addToResourcePolicy(
      new iam.PolicyStatement({ principals: [principal], actions, resources: ['*'], conditions }),
    );
    return;
  }
  const stackAccount = Stack.of(key).account;
  const account = principal.principalAccount;
  const otherAccount =
    account !== undefined &&
    !Token.isUnresolved(account) &&
    !Token.isUnresolved(stackAccount) &&
    account !== stackAccount
      ? account
      : undefined;
  const byUsage = keyUsage.get(key) ?? new Map<string, string[]>();
  keyUsage.set(key, byUsage);
  const usage = JSON.stringify([otherAccount ?? '', [...actions].sort(), conditions]);
  const listed = byUsage.get(usage);
  if (listed) {
    for (const arn of arns) if (!listed.includes(arn)) listed.push(arn);
    return;
  }
  const principalArns = [...new Set(arns)];
  byUsage.set(usage, principalArns);
  const arnEquals = (conditions.ArnEquals ?? {}) as Record<string, unknown>;
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      principals: [otherAccount ? new iam.AccountPrincipal(otherAccount) : new iam.AccountRootPrincipal()],
      actions,
      resources: ['*'],
      conditions: {
        ...conditions,
        ArnEquals: { ...arnEquals, 'aws:PrincipalArn': Lazy.list({ produce: () => principalArns }) },
      },
    }),
  );
}
