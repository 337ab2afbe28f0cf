import { getDenialReasons, runSimulation } from '@cloud-copilot/iam-simulate';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './constants.js';

/**
 * IAM for the local cloud: the roles and policies of the deployed template, the resource policies
 * of its keys and buckets, and the authorization of every request before a fake serves it.
 * Evaluation is AWS's own logic as packaged by `@cloud-copilot/iam-simulate` (identity and
 * resource policies, same- and cross-account rules, KMS key policies that must allow a caller
 * themselves or delegate to the account), never a hand-written evaluator.
 */

/** A policy document as it appears in a template, resolved. */
export type PolicyDocument = Record<string, unknown>;

export interface LocalRole {
  readonly arn: string;
  readonly name: string;
  readonly account: string;
  readonly trustPolicy?: PolicyDocument;
  readonly policies: readonly { readonly name: string; readonly document: PolicyDocument }[];
}

/** Who makes a request: a role session (a function's role, a state machine's role, an assumed role). */
export interface CallerIdentity {
  /** `arn:aws:sts::<account>:assumed-role/<role>/<session>` */
  readonly arn: string;
  readonly roleArn: string;
  readonly account: string;
}

export interface AuthorizationRequest {
  readonly action: string;
  readonly resource: string;
  /** The account that owns the resource. @default the caller's */
  readonly resourceAccount?: string;
  readonly context?: Readonly<Record<string, string | readonly string[]>>;
  /** The resource's own policy (a KMS key policy, a bucket policy, a role's trust policy). */
  readonly resourcePolicy?: PolicyDocument;
}

export interface AuthorizationDecision {
  readonly allowed: boolean;
  /** AWS's wording of a denial: `User: … is not authorized to perform: … on resource: … because …`. */
  readonly message: string;
}

/** One decision, kept for the tests and the demo's count. */
export interface RecordedDecision {
  readonly principal: string;
  readonly action: string;
  readonly resource: string;
  readonly allowed: boolean;
  readonly message: string;
}

export class LocalIam {
  readonly #roles = new Map<string, LocalRole>();
  /** Every decision, oldest first. */
  readonly decisions: RecordedDecision[] = [];

  /** Adds or replaces a role (a deployment updates its roles in place). */
  putRole(role: LocalRole): void {
    this.#roles.set(role.arn, role);
  }

  deleteRole(roleArn: string): void {
    this.#roles.delete(roleArn);
  }

  role(roleArn: string): LocalRole | undefined {
    return this.#roles.get(roleArn);
  }

  /** The session identity of a role, as STS names it. */
  session(roleArn: string, sessionName: string): CallerIdentity {
    const match = /^arn:(aws[\w-]*):iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(roleArn);
    if (!match) throw new Error(`not a role ARN: ${roleArn}`);
    const [, partition, account, name] = match as unknown as [string, string, string, string];
    return { arn: `arn:${partition}:sts::${account}:assumed-role/${name}/${sessionName}`, roleArn, account };
  }

  /** Decides one request as IAM would, and records the decision. */
  async authorize(caller: CallerIdentity, request: AuthorizationRequest): Promise<AuthorizationDecision> {
    const role = this.#roles.get(caller.roleArn);
    const now = new Date();
    const result = await runSimulation(
      {
        request: {
          principal: caller.arn,
          action: request.action,
          resource: { resource: request.resource, accountId: request.resourceAccount ?? caller.account },
          contextVariables: {
            'aws:PrincipalArn': caller.roleArn,
            'aws:PrincipalAccount': caller.account,
            'aws:PrincipalType': 'AssumedRole',
            'aws:SecureTransport': 'true',
            'aws:RequestedRegion': LOCAL_REGION,
            'aws:CurrentTime': now.toISOString(),
            'aws:EpochTime': String(Math.floor(now.getTime() / 1000)),
            ...(request.resourceAccount ? { 'aws:ResourceAccount': request.resourceAccount } : {}),
            ...(request.context as Record<string, string | string[]> | undefined),
          },
        },
        identityPolicies: (role?.policies ?? []).map((policy) => ({
          name: policy.name,
          policy: policy.document,
        })),
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        resourcePolicy: request.resourcePolicy,
      },
      {},
    );
    if (result.resultType === 'error') {
      throw new Error(
        `The IAM simulation of ${request.action} on ${request.resource} could not run: ${JSON.stringify(result.errors)}`,
      );
    }
    const allowed = result.overallResult === 'Allowed';
    const analysis = result.resultType === 'single' ? result.result.analysis : result.results[0]?.analysis;
    const message = allowed
      ? 'Allowed'
      : `User: ${caller.arn} is not authorized to perform: ${request.action} on resource: ${request.resource} ${denialReason(analysis, request)}`;
    this.decisions.push({
      principal: caller.arn,
      action: request.action,
      resource: request.resource,
      allowed,
      message,
    });
    return { allowed, message };
  }

  /**
   * Decides a request an AWS service makes with its own service principal (EventBridge invoking
   * a rule's target), which only the resource's policy can allow.
   */
  async authorizeService(
    servicePrincipal: string,
    request: AuthorizationRequest,
  ): Promise<AuthorizationDecision> {
    const result = await runSimulation(
      {
        request: {
          principal: servicePrincipal,
          action: request.action,
          resource: { resource: request.resource, accountId: request.resourceAccount ?? LOCAL_ACCOUNT },
          contextVariables: { ...(request.context as Record<string, string | string[]> | undefined) },
        },
        identityPolicies: [],
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        resourcePolicy: request.resourcePolicy,
      },
      {},
    );
    if (result.resultType === 'error') {
      throw new Error(
        `The IAM simulation of ${request.action} by ${servicePrincipal} could not run: ${JSON.stringify(result.errors)}`,
      );
    }
    const allowed = result.overallResult === 'Allowed';
    const message = allowed
      ? 'Allowed'
      : `${servicePrincipal} is not authorized to perform: ${request.action} on resource: ${request.resource} because no resource-based policy allows the ${request.action} action`;
    this.decisions.push({
      principal: servicePrincipal,
      action: request.action,
      resource: request.resource,
      allowed,
      message,
    });
    return { allowed, message };
  }

  /** The decisions that denied a request. */
  get denials(): readonly RecordedDecision[] {
    return this.decisions.filter((decision) => !decision.allowed);
  }
}

/** AWS's explanation at the end of an access-denied message. */
function denialReason(
  analysis: Parameters<typeof getDenialReasons>[0] | undefined,
  request: AuthorizationRequest,
): string {
  // A wildcard resource that no statement matched has no analysis: nothing allowed it.
  if (!analysis) return `because no identity-based policy allows the ${request.action} action`;
  const denials = getDenialReasons(analysis);
  const explicit = denials.find((denial) => denial.denialType === 'Explicit');
  if (explicit) {
    const where = explicit.policyType === 'resource' ? 'a resource-based policy' : 'an identity-based policy';
    return `with an explicit deny in ${where}`;
  }
  if (denials.some((denial) => denial.policyType === 'identity'))
    return `because no identity-based policy allows the ${request.action} action`;
  return `because no resource-based policy allows the ${request.action} action`;
}

/** The account that owns an ARN, or the local account when the ARN names none (Route 53, S3). */
export function accountOf(arn: string): string {
  return arn.split(':')[4] || LOCAL_ACCOUNT;
}
