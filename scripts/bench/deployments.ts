import type { StackPropsForTest } from '../../test/harness/cloud/assembly.js';
import {
  type DeployedStack,
  type LocalCloud,
  MAX_ENVIRONMENT_BYTES,
} from '../../test/harness/cloud/cloud.js';
import {
  forEachState,
  type LocalExecution,
  MAX_PAYLOAD_BYTES,
} from '../../test/harness/cloud/step-functions.js';
import {
  deployLocally,
  installLocalAws,
  type LocalCa,
  type LocalDeployment,
} from '../../test/harness/local-issuance.js';

/**
 * What every scenario of the bench shares: the stack deployed as `cdk deploy` ships it (its
 * synthesized template and bundled assets, test/harness/local-issuance.ts) into a fresh local
 * cloud, and the figures only a deployment has: what IAM authorized and denied, how many Lambda
 * execution environments started, the payloads Step Functions carried and the functions'
 * environment variables, each next to the AWS quota it must stay under.
 */

export { MAX_ENVIRONMENT_BYTES, MAX_PAYLOAD_BYTES };

/** A deployment of its own: new AWS fakes and a new local cloud, so new KMS keys and no ACME account yet. */
export interface FreshDeployment {
  readonly deployment: LocalDeployment;
  /** Milliseconds `deployLocally` took: the synthesis (cached after the first) and the deploy. */
  readonly deployMs: number;
  /** Stops the cloud's execution environments and removes the AWS fakes. */
  close(): Promise<void>;
}

/** Installs the AWS fakes with a hosted zone per registrable domain of `domains`, and deploys the stack into them. */
export async function deployFresh(
  ca: LocalCa,
  domains: readonly string[],
  props?: StackPropsForTest,
): Promise<FreshDeployment> {
  const aws = installLocalAws(ca, domains);
  const started = performance.now();
  let deployment: LocalDeployment;
  try {
    deployment = await deployLocally(ca, aws, props ? { props } : {});
  } catch (error) {
    await aws.restore();
    throw error;
  }
  const deployMs = performance.now() - started;
  return {
    deployment,
    deployMs,
    async close() {
      await deployment.cloud.shutdown();
      await aws.restore();
    },
  };
}

/** The local cloud's running totals, to take differences around an execution. */
export interface CloudCounters {
  readonly authorizedCalls: number;
  readonly decisions: number;
  readonly coldStarts: number;
  readonly invocations: number;
  readonly httpRequests: number;
}

export function cloudCounters(cloud: LocalCloud): CloudCounters {
  return {
    authorizedCalls: cloud.authorizedCalls,
    decisions: cloud.iam.decisions.length,
    coldStarts: sum(cloud.lambda.coldStarts),
    invocations: sum(cloud.lambda.invocations),
    httpRequests: cloud.httpRequests.length,
  };
}

/** What the local cloud did since `before`. */
export interface CloudUsage {
  /** The functions' AWS calls that IAM authorized (and a fake then served). */
  readonly iamAuthorizedCalls: number;
  /** Every IAM decision: the functions' calls, and Step Functions invoking them under the state machine's role. */
  readonly iamDecisions: number;
  /** Decisions that denied a request. */
  readonly iamDenials: number;
  /** Lambda execution environments started (each one a cold start). */
  readonly lambdaColdStarts: number;
  /** Invocations that found an idle environment. */
  readonly lambdaWarmInvocations: number;
}

export function cloudUsageSince(cloud: LocalCloud, before: CloudCounters): CloudUsage {
  const now = cloudCounters(cloud);
  const coldStarts = now.coldStarts - before.coldStarts;
  return {
    iamAuthorizedCalls: now.authorizedCalls - before.authorizedCalls,
    iamDecisions: now.decisions - before.decisions,
    iamDenials: cloud.iam.decisions.slice(before.decisions).filter((decision) => !decision.allowed).length,
    lambdaColdStarts: coldStarts,
    lambdaWarmInvocations: now.invocations - before.invocations - coldStarts,
  };
}

/** The largest payload an execution carried, and where. */
export interface PayloadPeak {
  /** Bytes of UTF-8 JSON, as Step Functions measures the 256 KiB quota. */
  readonly bytes: number;
  /** `<state> input` or `<state> output` (or the execution's). */
  readonly where: string;
}

/** The largest JSON of any state's input or output (and the execution's) in the executions' event logs. */
export function largestStatePayload(executions: readonly LocalExecution[]): PayloadPeak {
  let peak: PayloadPeak = { bytes: 0, where: 'none' };
  const consider = (value: unknown, where: string) => {
    const bytes = Buffer.byteLength(JSON.stringify(value ?? null));
    if (bytes > peak.bytes) peak = { bytes, where };
  };
  for (const execution of executions) {
    for (const event of execution.events) {
      if ('state' in event) {
        consider(event.state.input, `${event.state.name} input`);
        if (event.state.output !== undefined) consider(event.state.output, `${event.state.name} output`);
      } else if (event.type === 'ExecutionStarted') {
        consider(event.input, 'execution input');
      } else if (event.type === 'ExecutionSucceeded') {
        consider(event.output, 'execution output');
      }
    }
  }
  return peak;
}

/** One function's environment variables as deployed, measured as Lambda measures its 4 KB quota. */
export interface EnvironmentSize {
  /** The step folder in its `ACME_STEP`, or its logical id. */
  readonly function: string;
  readonly variables: number;
  /** Bytes of every key and value together. */
  readonly bytes: number;
}

/** Every function's environment in `stack`, largest first. */
export function environmentSizes(stack: DeployedStack): EnvironmentSize[] {
  return stack
    .logicalIdsOf('AWS::Lambda::Function')
    .map((logicalId) => {
      const variables = stack.environmentOf(logicalId);
      return {
        function: variables.ACME_STEP ?? logicalId,
        variables: Object.keys(variables).length,
        bytes: Buffer.byteLength(
          Object.entries(variables)
            .map(([key, value]) => key + value)
            .join(''),
        ),
      };
    })
    .sort((a, b) => b.bytes - a.bytes);
}

/** The step folder (`ACME_STEP`) of the function each Lambda Task of a deployed state machine invokes, by state name. */
export function taskHandlers(
  deployment: LocalDeployment,
  machine: 'Issuance' | 'Renewals',
): Map<string, string> {
  const handlers = new Map<string, string>();
  forEachState(deployment.stack.stateMachine(machine).definition.States, (name, state) => {
    if (state.Type !== 'Task') return;
    const step = deployment.cloud.lambda.function(String(state.Resource))?.environment.ACME_STEP;
    if (step) handlers.set(name, step);
  });
  return handlers;
}

/** The names of the Wait states of a deployed state machine, nested ones included. */
export function waitStates(stack: DeployedStack, machine: 'Issuance' | 'Renewals'): Set<string> {
  const names = new Set<string>();
  forEachState(stack.stateMachine(machine).definition.States, (name, state) => {
    if (state.Type === 'Wait') names.add(name);
  });
  return names;
}

/** The Map states of a deployed state machine. */
export function mapStates(stack: DeployedStack, machine: 'Issuance' | 'Renewals'): Record<string, unknown>[] {
  const maps: Record<string, unknown>[] = [];
  forEachState(stack.stateMachine(machine).definition.States, (_name, state) => {
    if (state.Type === 'Map') maps.push(state);
  });
  return maps;
}

/**
 * Every fake on `LocalAws` that counts its calls, flattened to `service:Command`. Generic on
 * purpose: a fake added to the harness later is counted (and priced, if the price table knows
 * it) without touching the bench.
 */
export function awsCallCounts(aws: object): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const [service, fake] of Object.entries(aws)) {
    const calls = (fake as { calls?: unknown } | null)?.calls;
    if (typeof calls !== 'object' || calls === null) continue;
    for (const [command, count] of Object.entries(calls as Record<string, number | undefined>)) {
      if (typeof count === 'number') counts[`${service}:${command}`] = count;
    }
  }
  return counts;
}

/** The calls per `service:Command` made since `before`, those that changed only. */
export function awsCallsSince(aws: object, before: Readonly<Record<string, number>>): Record<string, number> {
  const calls: Record<string, number> = {};
  for (const [key, count] of Object.entries(awsCallCounts(aws))) {
    const delta = count - (before[key] ?? 0);
    if (delta > 0) calls[key] = delta;
  }
  return calls;
}

function sum(counts: Readonly<Record<string, number>>): number {
  return Object.values(counts).reduce((total, count) => total + count, 0);
}
