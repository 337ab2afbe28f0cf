import { type LocalCa, type LocalDeployment, runLocalIssuance } from '../../test/harness/local-issuance.js';
import type { CountingProxy, RequestTally } from './counting-proxy.js';
import {
  awsCallCounts,
  awsCallsSince,
  type CloudUsage,
  cloudCounters,
  cloudUsageSince,
  deployFresh,
  largestStatePayload,
  type PayloadPeak,
  waitStates,
} from './deployments.js';

/**
 * Our issuance as the bench measures it: the stack synthesized with its bundles and deployed into
 * a local cloud (test/harness/local-issuance.ts), its issuance state machine run from the
 * synthesized definition, every function from its bundled asset in a local Lambda execution
 * environment, every AWS call authorized by IAM from the template first. It reaches Pebble through
 * the counting proxy.
 */

/** One local issuance and what it cost. */
export interface OurRun extends CloudUsage {
  readonly ok: boolean;
  readonly error?: string;
  /** Around the whole local execution, in this process: Lambda cold starts included when there were any. */
  readonly wallMs: number;
  /** Counted by the proxy, at the wire. */
  readonly requests: RequestTally;
  /** Requests the functions sent to the proxy, as the local Lambda saw them leave; must equal `requests.total`. */
  readonly clientSideRequests: number;
  readonly kmsSignCalls: number;
  readonly route53ChangeCalls: number;
  readonly route53GetChangeCalls: number;
  readonly acmCalls: number;
  /** Every AWS call per `service:Command`, from the fakes' counters. */
  readonly awsCalls: Readonly<Record<string, number>>;
  /** States entered plus retries: what Step Functions Standard bills. */
  readonly stateTransitions: number;
  /** Transitions into Wait states (each lasted 0 ms locally). */
  readonly waitStateEntries: number;
  /** Task time and invocations per step. */
  readonly steps: readonly { readonly name: string; readonly ms: number; readonly runs: number }[];
  /** The largest state input or output of the execution. */
  readonly maxStatePayload: PayloadPeak;
}

export interface OurIssuanceOptions {
  /** The CA as our functions see it: the proxy's directory and CA bundle, challtestsrv for DNS. */
  readonly ca: LocalCa;
  readonly proxy: CountingProxy;
}

/** A new-account issuance and an existing-account one on the same deployment. */
export interface OurPair {
  readonly newAccount: OurRun;
  readonly existingAccount: OurRun;
  /** Milliseconds to deploy the stack into the new local cloud. */
  readonly deployMs: number;
}

/**
 * Deploys the stack into a new local cloud (new KMS keys, so a new ACME account) and runs a
 * new-account issuance for `domains`, then a second one on the same deployment: the account URL is
 * recorded by then, so that is the existing-account case, and the certificate id is the same, so
 * it re-imports as a renewal does. The first run starts every function's execution environment
 * (cold starts); the second finds them warm.
 */
export async function runOurPair(
  options: OurIssuanceOptions,
  domains: readonly string[],
  certificateId: string,
): Promise<OurPair> {
  const fresh = await deployFresh(options.ca, domains);
  try {
    const newAccount = await runOnce(options, fresh.deployment, domains, certificateId);
    const existingAccount = await runOnce(options, fresh.deployment, domains, certificateId);
    return { newAccount, existingAccount, deployMs: fresh.deployMs };
  } finally {
    await fresh.close();
  }
}

async function runOnce(
  options: OurIssuanceOptions,
  deployment: LocalDeployment,
  domains: readonly string[],
  certificateId: string,
): Promise<OurRun> {
  const { aws, cloud } = deployment;
  const before = awsCallCounts(aws);
  const counters = cloudCounters(cloud);
  await options.proxy.reset();
  const started = performance.now();
  const run = await runLocalIssuance({
    deployment,
    input: { certificateId, domains },
    // Wait states and retry pauses last 0 ms locally; their transitions still count.
    pauseMs: 0,
  });
  const wallMs = performance.now() - started;
  const requests = await options.proxy.tally();
  const waits = waitStates(deployment.stack, 'Issuance');
  const waitStateEntries = run.execution.events.filter(
    (event) => event.type === 'StateEntered' && 'state' in event && waits.has(event.state.name),
  ).length;
  return {
    ok: run.execution.status === 'SUCCEEDED',
    ...(run.execution.error ? { error: `${run.execution.error.name}: ${run.execution.error.cause}` } : {}),
    wallMs,
    requests,
    clientSideRequests: run.acmeRequests,
    kmsSignCalls: run.kmsSignCalls,
    route53ChangeCalls: run.route53ChangeCalls,
    route53GetChangeCalls: run.route53GetChangeCalls,
    acmCalls: run.acmCalls,
    awsCalls: awsCallsSince(aws, before),
    stateTransitions: run.execution.stateTransitions,
    waitStateEntries,
    steps: run.execution.steps.map(({ name, ms, runs }) => ({ name, ms, runs })),
    maxStatePayload: largestStatePayload([run.execution]),
    ...cloudUsageSince(cloud, counters),
  };
}
