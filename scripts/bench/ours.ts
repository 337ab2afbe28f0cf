import type { LocalAws, LocalCa } from '../../test/harness/local-issuance.js';
import { installLocalAws, runLocalIssuance } from '../../test/harness/local-issuance.js';
import type { SynthesizedWorkflow } from '../../test/harness/state-machine.js';
import type { CountingProxy, RequestTally } from './counting-proxy.js';

/**
 * Our issuance as the bench measures it: the synthesized state machine with every real handler
 * (test/harness), reaching Pebble through the counting proxy, with AWS faked at the SDK boundary.
 */

/** One local issuance and what it cost. */
export interface OurRun {
  readonly ok: boolean;
  readonly error?: string;
  /** Around the whole local execution, in this process (handlers already loaded). */
  readonly wallMs: number;
  /** Counted by the proxy, at the wire. */
  readonly requests: RequestTally;
  /** Counted inside our process at `http.client.request.start`; must equal `requests.total`. */
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
}

export interface OurIssuanceOptions {
  readonly workflow: SynthesizedWorkflow;
  /** The CA as our client sees it: the proxy's directory and CA bundle, challtestsrv for DNS. */
  readonly ca: LocalCa;
  readonly proxy: CountingProxy;
}

/**
 * Runs a new-account issuance for `domains` on fresh AWS fakes (a new KMS account key), then a
 * second one on the same fakes: the account URL is recorded by then, so that is the
 * existing-account case, and the certificate id is the same, so it re-imports as a renewal does.
 */
export async function runOurPair(
  options: OurIssuanceOptions,
  domains: readonly string[],
  certificateId: string,
): Promise<{ newAccount: OurRun; existingAccount: OurRun }> {
  const aws = installLocalAws(options.ca, domains);
  try {
    const newAccount = await runOnce(options, aws, domains, certificateId);
    const existingAccount = await runOnce(options, aws, domains, certificateId);
    return { newAccount, existingAccount };
  } finally {
    aws.restore();
  }
}

async function runOnce(
  options: OurIssuanceOptions,
  aws: LocalAws,
  domains: readonly string[],
  certificateId: string,
): Promise<OurRun> {
  const before = awsCallCounts(aws);
  await options.proxy.reset();
  const started = performance.now();
  const run = await runLocalIssuance({
    workflow: options.workflow,
    ca: options.ca,
    aws,
    input: { certificateId, domains },
    // Wait states and retry pauses last 0 ms locally; their transitions still count.
    pauseMs: 0,
    // Quiet: handler logs at WARN, no EMF metric lines on stdout.
    environment: { POWERTOOLS_LOG_LEVEL: 'WARN', POWERTOOLS_METRICS_DISABLED: 'true' },
  });
  const wallMs = performance.now() - started;
  const requests = await options.proxy.tally();
  const after = awsCallCounts(aws);
  const awsCalls: Record<string, number> = {};
  for (const [key, count] of Object.entries(after)) {
    const delta = count - (before[key] ?? 0);
    if (delta > 0) awsCalls[key] = delta;
  }
  const waitStates = new Set(options.workflow.waitStates);
  const waitStateEntries = run.execution.events.filter(
    (event) => event.type === 'StateEntered' && 'state' in event && waitStates.has(event.state.name),
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
    awsCalls,
    stateTransitions: run.execution.stateTransitions,
    waitStateEntries,
    steps: run.execution.steps.map(({ name, ms, runs }) => ({ name, ms, runs })),
  };
}

/**
 * Every fake on `LocalAws` that counts its calls, flattened to `service:Command`. Generic on
 * purpose: a fake added to the harness later is counted (and priced, if the price table knows
 * it) without touching the bench.
 */
export function awsCallCounts(aws: LocalAws): Record<string, number> {
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
