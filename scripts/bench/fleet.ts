import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NodeHttpsTransport } from '../../lambdas/adapters/https-transport.js';
import { type AriStandIn, startAriStandIn } from '../../test/harness/ari-stand-in.js';
import type { LocalExecution } from '../../test/harness/cloud/step-functions.js';
import type { LocalCa, LocalDeployment } from '../../test/harness/local-issuance.js';
import { runRenewals } from '../../test/harness/renewals.js';
import { type ShiftedClock, shiftableClock } from './clock.js';
import type { CountingProxy } from './counting-proxy.js';
import {
  awsCallCounts,
  awsCallsSince,
  type CloudUsage,
  cloudCounters,
  cloudUsageSince,
  deployFresh,
  largestStatePayload,
  mapStates,
  type PayloadPeak,
  taskHandlers,
} from './deployments.js';
import { type Role, requestsByRole } from './requests.js';
import { type Summary, summarize } from './stats.js';

/**
 * The fleet as the bench measures it: the stack deployed with the fleet declared in its props (its
 * custom resource records every certificate at deploy time, as on AWS), then its Renewals state
 * machine run as the schedule starts it (test/harness/renewals.ts): the planner in its Lambda
 * environment, each due certificate an execution of the issuance state machine, every function
 * from its bundled asset. The CA is Pebble behind the counting proxy; Debian's Pebble has no ARI,
 * so an ARI stand-in serves the proxy's directory plus `renewalInfo` and makes certificates due by
 * answering with a renewal window in the past.
 */

/** One run of the renewals state machine over the whole registry, and what it cost. */
export interface FleetRunResult extends CloudUsage {
  readonly label: string;
  /** `setup`: the first run after the deploy, every certificate never issued; `renewal`: all due by ARI. */
  readonly kind: 'setup' | 'renewal';
  /** Registry records per page, as the schedule's input and the next-page state pass it on. */
  readonly pageSize: number;
  /** Days this process's clock had been moved ahead when the run started (one per earlier run). */
  readonly clockDaysAhead: number;
  readonly ok: boolean;
  readonly error?: string;
  /** Certificates the run was expected to renew. */
  readonly due: number;
  /** Executions of the renewals state machine: one per registry page. */
  readonly pages: number;
  /** Issuance executions started, and how many of them ended with a certificate in ACM. */
  readonly issuanceExecutions: number;
  readonly issued: number;
  /** Around the whole run, in this process: every page, every issuance. */
  readonly wallMs: number;
  /** Resident set size of the bench process (Lambda environments included), sampled every `RSS_SAMPLE_MS`. */
  readonly rss: { readonly beforeBytes: number; readonly peakBytes: number; readonly afterBytes: number };
  /** Counted at the wire: the counting proxy (Pebble's endpoints) plus the ARI stand-in (directory, renewalInfo). */
  readonly requests: {
    readonly total: number;
    readonly errors: number;
    readonly byRole: Readonly<Record<Role, number>>;
    readonly byPath: Readonly<Record<string, number>>;
  };
  /** Requests the functions sent to the proxy or the stand-in, as the local Lambda saw them leave. */
  readonly clientSideRequests: number;
  /** States entered plus retries, as Step Functions Standard bills them. */
  readonly stateTransitions: { readonly renewals: number; readonly issuance: number };
  /** State transitions of each issuance execution. */
  readonly transitionsPerIssuance?: Summary;
  /** Lambda invocations by the Lambda Task states of each machine. */
  readonly lambdaInvocations: { readonly renewals: number; readonly issuance: number };
  /** The largest state input or output of any renewals page, and of any issuance execution. */
  readonly maxStatePayload: { readonly renewals: PayloadPeak; readonly issuance: PayloadPeak };
  /** Every AWS call per `service:Command` during the run, from the fakes' counters. */
  readonly awsCalls: Readonly<Record<string, number>>;
  /** EventBridge events per detail type during the run. */
  readonly events: Readonly<Record<string, number>>;
}

export interface FleetResult {
  readonly certificates: number;
  /** Milliseconds to deploy the stack declaring the fleet: its custom resource records every certificate. */
  readonly deployMs?: number;
  /** Registry items right after the deploy. */
  readonly declaredOnDeploy?: number;
  /** `MaxConcurrency` of the deployed machine's Map state. */
  readonly maxConcurrency?: number;
  /** The page size the deployed schedule starts the machine with. */
  readonly schedulePageSize?: number;
  /** How often the resident set size was sampled. */
  readonly rssSampleMs: number;
  /** Items in the registry table after the runs, and how many of them are ACME account records. */
  readonly registry?: { readonly items: number; readonly accountRecords: number };
  readonly runs: readonly FleetRunResult[];
  /** Set when the fleet could not be measured at all. */
  readonly error?: string;
}

export interface FleetOptions {
  readonly proxy: CountingProxy;
  readonly challtestsrvUrl: string;
  /** challtestsrv's DNS, which the CA resolves with and the functions use as their resolver. */
  readonly dnsResolver: string;
  readonly workDir: string;
  /** Declared certificates in the stack. */
  readonly certificates: number;
  /** A page size smaller than the schedule's, to show paging. */
  readonly smallPageSize: number;
  readonly say: (line: string) => void;
}

export const RSS_SAMPLE_MS = 50;
const ARI_RETRY_AFTER_SECONDS = 6 * 60 * 60;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Deploys the stack with `certificates` declared certificates, issues them all in a first run of
 * the renewals machine (the setup, measured apart), then has the CA's renewal information say
 * "renew now" for every one of them and runs the machine twice more: with the schedule's page
 * size, and with `smallPageSize`. Each run after the first starts a day later than the one
 * before (this process's clock is moved ahead), because a renewal's execution name is the
 * certificate id and the day: a second run on the same day would start nothing.
 */
export async function runFleet(options: FleetOptions): Promise<FleetResult> {
  const directory = await new NodeHttpsTransport({ caPem: options.proxy.caPem }).request({
    method: 'GET',
    url: options.proxy.directoryUrl,
  });
  let ariSaysRenewNow = false;
  const standIn = await startAriStandIn({
    upstreamDirectory: JSON.parse(directory.body) as object,
    retryAfterSeconds: ARI_RETRY_AFTER_SECONDS,
    windows: () =>
      ariSaysRenewNow
        ? { start: new Date(Date.now() - 2 * DAY_MS), end: new Date(Date.now() - DAY_MS) }
        : { start: new Date(Date.now() + 60 * DAY_MS), end: new Date(Date.now() + 62 * DAY_MS) },
  });
  const clock = shiftableClock();
  let fresh: Awaited<ReturnType<typeof deployFresh>> | undefined;
  try {
    const bundlePath = join(options.workDir, 'fleet-ca.pem');
    await writeFile(bundlePath, `${options.proxy.caPem}\n${standIn.caPem}\n`);
    const ca: LocalCa = {
      directoryUrl: standIn.directoryUrl,
      caBundlePath: bundlePath,
      challtestsrvUrl: options.challtestsrvUrl,
      dnsResolver: options.dnsResolver,
    };
    const fleet = Array.from({ length: options.certificates }, (_, index) => ({
      id: `site-${index}`,
      domains: [`site-${index}.fleet.example.org`],
      keyType: 'EC_P256' as const,
      regions: ['us-east-1'],
    }));
    options.say(`fleet: deploying the stack with ${options.certificates} declared certificates`);
    fresh = await deployFresh(
      ca,
      fleet.flatMap((certificate) => certificate.domains),
      { acme: { certificates: fleet } },
    );
    const { deployment } = fresh;
    const declaredOnDeploy = (await deployment.aws.dynamodb.items(deployment.stack.registryTable)).length;
    const maxConcurrency = mapConcurrency(deployment);
    const schedulePageSize = scheduledPageSize(deployment);

    const context: RunContext = { ...options, deployment, standIn, clock };
    const runs: FleetRunResult[] = [];
    options.say(`fleet: first run, issuing ${options.certificates} declared certificates (setup)`);
    runs.push(await measureRun(context, 'first run after deploy (setup)', 'setup', schedulePageSize, 0));
    ariSaysRenewNow = true;
    for (const pageSize of [schedulePageSize, options.smallPageSize]) {
      clock.advance(DAY_MS);
      options.say(
        `fleet: a day later, renewing ${options.certificates} due certificates, page size ${pageSize}`,
      );
      runs.push(
        await measureRun(context, `all due, page size ${pageSize}`, 'renewal', pageSize, runs.length),
      );
    }
    const items = await deployment.aws.dynamodb.items(deployment.stack.registryTable);
    return {
      certificates: options.certificates,
      deployMs: fresh.deployMs,
      declaredOnDeploy,
      maxConcurrency,
      schedulePageSize,
      rssSampleMs: RSS_SAMPLE_MS,
      registry: {
        items: items.length,
        accountRecords: items.filter((item) => String(item.pk).startsWith('ACCOUNT#')).length,
      },
      runs,
    };
  } finally {
    clock.restore();
    await fresh?.close();
    await standIn.stop();
  }
}

interface RunContext extends FleetOptions {
  readonly deployment: LocalDeployment;
  readonly standIn: AriStandIn;
  readonly clock: ShiftedClock;
}

type RenewalsRun = Awaited<ReturnType<typeof runRenewals>>;

async function measureRun(
  context: RunContext,
  label: string,
  kind: FleetRunResult['kind'],
  pageSize: number,
  clockDaysAhead: number,
): Promise<FleetRunResult> {
  const { deployment, proxy, standIn } = context;
  const { aws, cloud } = deployment;
  const awsBefore = awsCallCounts(aws);
  const counters = cloudCounters(cloud);
  const eventsBefore = aws.eventBridge.events.length;
  const standInBefore = standIn.requests.length;
  const hosts = new Set([new URL(proxy.directoryUrl).host, new URL(standIn.url).host]);
  await proxy.reset();
  const rss = sampleRss();
  const started = performance.now();
  let run: RenewalsRun | undefined;
  let thrown: string | undefined;
  try {
    run = await runRenewals(deployment, { input: { pageSize } });
  } catch (error) {
    thrown = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  }
  const wallMs = performance.now() - started;
  const memory = rss.stop();
  const usage = cloudUsageSince(cloud, counters);
  const clientSideRequests = cloud.httpRequests
    .slice(counters.httpRequests)
    .filter((exchange) => hosts.has(exchange.host)).length;

  const tally = await proxy.tally();
  const byPath = withStandInRequests(tally.byPath, standIn.requests.slice(standInBefore));
  const events = countByDetailType(aws.eventBridge.events.slice(eventsBefore));

  const pages = run?.pages ?? [];
  const issuances = startedIssuances(deployment, run);
  const issued = issuances.filter(deliveredCertificate).length;
  const due = context.certificates;
  const problems = runProblems(run, { thrown, issued, due, iamDenials: usage.iamDenials });
  const transitionsPerIssuance = summarize(issuances.map((execution) => execution.stateTransitions));
  const invocations = lambdaInvocations(deployment);
  return {
    label,
    kind,
    pageSize,
    clockDaysAhead,
    ok: problems.length === 0,
    ...(problems.length > 0 ? { error: problems.join('; ').slice(0, 1000) } : {}),
    due,
    pages: pages.length,
    issuanceExecutions: issuances.length,
    issued,
    wallMs,
    rss: memory,
    requests: {
      total: Object.values(byPath).reduce((sum, count) => sum + count, 0),
      errors: tally.errors,
      byRole: requestsByRole(byPath),
      byPath,
    },
    clientSideRequests,
    stateTransitions: {
      renewals: pages.reduce((sum, page) => sum + page.stateTransitions, 0),
      issuance: issuances.reduce((sum, execution) => sum + execution.stateTransitions, 0),
    },
    ...(transitionsPerIssuance ? { transitionsPerIssuance } : {}),
    lambdaInvocations: {
      renewals: pages.reduce((sum, page) => sum + invocations(page.steps), 0),
      issuance: issuances.reduce((sum, execution) => sum + invocations(execution.steps), 0),
    },
    maxStatePayload: { renewals: largestStatePayload(pages), issuance: largestStatePayload(issuances) },
    ...usage,
    awsCalls: awsCallsSince(aws, awsBefore),
    events,
  };
}

/** The proxy's count by path plus the ARI stand-in's requests, every `renewalInfo` path as one. */
function withStandInRequests(
  proxyByPath: Readonly<Record<string, number>>,
  standInRequests: readonly string[],
): Record<string, number> {
  const byPath: Record<string, number> = { ...proxyByPath };
  for (const request of standInRequests) {
    const key = request.replace(/^(GET \/renewal-info)\/.*$/, '$1/…');
    byPath[key] = (byPath[key] ?? 0) + 1;
  }
  return byPath;
}

function countByDetailType(events: readonly { readonly detailType: string }[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const event of events) counts[event.detailType] = (counts[event.detailType] ?? 0) + 1;
  return counts;
}

/** The ended issuance executions that the run started. */
function startedIssuances(deployment: LocalDeployment, run: RenewalsRun | undefined): LocalExecution[] {
  const issuanceArn = deployment.stack.stateMachine('Issuance').arn;
  const startedNames = new Set(run?.started ?? []);
  return [...deployment.cloud.stepFunctions.executions.values()].flatMap((execution) =>
    execution.stateMachineArn === issuanceArn && startedNames.has(execution.name) && execution.result
      ? [execution.result]
      : [],
  );
}

/** Whether the execution ended with a certificate in ACM. */
function deliveredCertificate(execution: LocalExecution): boolean {
  return (
    execution.status === 'SUCCEEDED' &&
    typeof (execution.output as { certificateArn?: unknown } | undefined)?.certificateArn === 'string'
  );
}

/** What went wrong in the run, each as the report states it; empty when nothing did. */
function runProblems(
  run: RenewalsRun | undefined,
  outcome: {
    readonly thrown?: string;
    readonly issued: number;
    readonly due: number;
    readonly iamDenials: number;
  },
): string[] {
  return [
    ...(outcome.thrown ? [outcome.thrown] : []),
    ...(run?.pages ?? [])
      .filter((page) => page.status !== 'SUCCEEDED')
      .map((page) => `a page failed: ${page.error?.name}: ${page.error?.cause}`),
    ...(outcome.issued === outcome.due ? [] : [`${outcome.issued} of ${outcome.due} certificates issued`]),
    ...((run?.refused.length ?? 0) > 0 ? [`${run?.refused.length} executions refused`] : []),
    ...(outcome.iamDenials > 0 ? [`${outcome.iamDenials} IAM denials`] : []),
  ];
}

/**
 * Counts the Lambda invocations among an execution's steps: the Lambda Tasks only, since the Map
 * iteration's RenewCertificate is a Task too, but it starts an execution.
 */
function lambdaInvocations(
  deployment: LocalDeployment,
): (steps: readonly { name: string; runs: number }[]) => number {
  const lambdaTasks = new Set([
    ...taskHandlers(deployment, 'Renewals').keys(),
    ...taskHandlers(deployment, 'Issuance').keys(),
  ]);
  return (steps) =>
    steps.filter((step) => lambdaTasks.has(step.name)).reduce((sum, step) => sum + step.runs, 0);
}

/** Samples the process's resident set size until stopped; the peak includes the last sample. */
function sampleRss(): { stop(): FleetRunResult['rss'] } {
  const beforeBytes = process.memoryUsage.rss();
  let peakBytes = beforeBytes;
  const timer = setInterval(() => {
    peakBytes = Math.max(peakBytes, process.memoryUsage.rss());
  }, RSS_SAMPLE_MS);
  return {
    stop() {
      clearInterval(timer);
      const afterBytes = process.memoryUsage.rss();
      return { beforeBytes, peakBytes: Math.max(peakBytes, afterBytes), afterBytes };
    },
  };
}

/** `MaxConcurrency` of the Map state that renews the due certificates. */
function mapConcurrency(deployment: LocalDeployment): number {
  const maps = mapStates(deployment.stack, 'Renewals');
  const concurrency = maps[0]?.MaxConcurrency;
  if (maps.length !== 1 || typeof concurrency !== 'number')
    throw new Error('expected one Map state with a MaxConcurrency in the renewals state machine');
  return concurrency;
}

/** The `pageSize` of the schedule rule's input to the renewals state machine. */
function scheduledPageSize(deployment: LocalDeployment): number {
  const { stack } = deployment;
  for (const logicalId of stack.logicalIdsOf('AWS::Events::Rule')) {
    const targets = (stack.template.Resources[logicalId]?.Properties?.Targets ?? []) as { Input?: unknown }[];
    for (const target of targets) {
      if (typeof target.Input !== 'string') continue;
      const pageSize = (JSON.parse(target.Input) as { pageSize?: unknown }).pageSize;
      if (typeof pageSize === 'number') return pageSize;
    }
  }
  throw new Error('no schedule rule starts the renewals state machine with a pageSize');
}
