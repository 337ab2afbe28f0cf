import diagnosticsChannel from 'node:diagnostics_channel';
import { writeFile } from 'node:fs/promises';
import type { ClientRequest } from 'node:http';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbRegistry } from '../../lambdas/adapters/dynamodb-registry.js';
import { NodeHttpsTransport } from '../../lambdas/adapters/https-transport.js';
import { syncDeclaredCertificates } from '../../lambdas/core/renewal/declared.js';
import { type AriStandIn, startAriStandIn } from '../../test/harness/ari-stand-in.js';
import { installLocalAws, type LocalAws, type LocalCa } from '../../test/harness/local-issuance.js';
import { LocalExecutions, runRenewals } from '../../test/harness/renewals.js';
import type { SynthesizedWorkflow } from '../../test/harness/state-machine.js';
import type { CountingProxy } from './counting-proxy.js';
import { awsCallCounts } from './ours.js';
import { type Role, requestsByRole } from './requests.js';
import { type Summary, summarize } from './stats.js';

/**
 * The fleet as the bench measures it: the synthesized Renewals state machine run locally with the
 * real planner (test/harness/renewals.ts), each due certificate an execution of the synthesized
 * issuance state machine with every real handler. The CA is Pebble behind the counting proxy;
 * Debian's Pebble has no ARI, so an ARI stand-in serves the proxy's directory plus `renewalInfo`
 * and makes certificates due by answering with a renewal window in the past, without moving the
 * clock.
 */

/** One run of the renewals state machine over the whole registry, and what it cost. */
export interface FleetRunResult {
  readonly label: string;
  /** `setup`: the first run after the deploy, every certificate never issued; `renewal`: all due by ARI. */
  readonly kind: 'setup' | 'renewal';
  /** Registry records per page, as the schedule's input and the next-page state pass it on. */
  readonly pageSize: number;
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
  /** Resident set size of the bench process, sampled every `RSS_SAMPLE_MS`. */
  readonly rss: { readonly beforeBytes: number; readonly peakBytes: number; readonly afterBytes: number };
  /** Counted at the wire: the counting proxy (Pebble's endpoints) plus the ARI stand-in (directory, renewalInfo). */
  readonly requests: {
    readonly total: number;
    readonly errors: number;
    readonly byRole: Readonly<Record<Role, number>>;
    readonly byPath: Readonly<Record<string, number>>;
  };
  /** Requests to the proxy or the stand-in counted inside our process at `http.client.request.start`. */
  readonly clientSideRequests: number;
  /** States entered plus retries, as Step Functions Standard bills them. */
  readonly stateTransitions: { readonly renewals: number; readonly issuance: number };
  /** State transitions of each issuance execution. */
  readonly transitionsPerIssuance?: Summary;
  readonly lambdaInvocations: { readonly renewals: number; readonly issuance: number };
  /** Every AWS call per `service:Command` during the run, from the fakes' counters. */
  readonly awsCalls: Readonly<Record<string, number>>;
  /** EventBridge events per detail type during the run. */
  readonly events: Readonly<Record<string, number>>;
}

export interface FleetResult {
  readonly certificates: number;
  /** `MaxConcurrency` of the synthesized machine's Map state. */
  readonly maxConcurrency?: number;
  /** The page size the synthesized schedule starts the machine with. */
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
  readonly issuance: SynthesizedWorkflow;
  readonly renewals: SynthesizedWorkflow;
  readonly proxy: CountingProxy;
  readonly challtestsrvUrl: string;
  readonly workDir: string;
  /** Declared certificates in the registry. */
  readonly certificates: number;
  /** A page size smaller than the schedule's, to show paging. */
  readonly smallPageSize: number;
  /** Handler environment on top of the local one (log level, metrics). */
  readonly environment: Readonly<Record<string, string>>;
  readonly say: (line: string) => void;
}

export const RSS_SAMPLE_MS = 50;
const ARI_RETRY_AFTER_SECONDS = 6 * 60 * 60;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Seeds `certificates` declared certificates as a deploy does, issues them all in a first run of
 * the renewals machine (the setup, measured apart), then has the CA's renewal information say
 * "renew now" for every one of them and runs the machine twice more: with the schedule's page
 * size, and with `smallPageSize`.
 */
export async function runFleet(options: FleetOptions): Promise<FleetResult> {
  const maxConcurrency = mapConcurrency(options.renewals);
  const schedulePageSize = scheduledPageSize(options.renewals);
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
  let aws: LocalAws | undefined;
  try {
    const bundlePath = join(options.workDir, 'fleet-ca.pem');
    await writeFile(bundlePath, `${options.proxy.caPem}\n${standIn.caPem}\n`);
    const ca: LocalCa = {
      directoryUrl: standIn.directoryUrl,
      caBundlePath: bundlePath,
      challtestsrvUrl: options.challtestsrvUrl,
    };
    const fleet = Array.from({ length: options.certificates }, (_, index) => ({
      id: `site-${index}`,
      domains: [`site-${index}.fleet.example.org`],
      keyType: 'EC_P256',
      regions: ['us-east-1'],
    }));
    aws = installLocalAws(
      ca,
      fleet.flatMap((certificate) => certificate.domains),
    );
    const tableName = String(options.issuance.environment.REGISTRY_TABLE);
    if (!(await aws.dynamodb.hasTable(tableName))) await aws.dynamodb.createTable(tableName);
    const silent = { debug: () => {}, info: () => {}, warn: () => {} };
    await syncDeclaredCertificates(fleet, {
      registry: new DynamoDbRegistry({ client: new DynamoDBClient({ region: 'us-east-1' }), tableName }),
      log: silent,
    });

    const context = { ...options, ca, aws, standIn };
    const runs: FleetRunResult[] = [];
    options.say(`fleet: first run, issuing ${options.certificates} declared certificates (setup)`);
    runs.push(
      await measureRun(
        context,
        'first run after deploy (setup)',
        'setup',
        options.renewals,
        schedulePageSize,
      ),
    );
    ariSaysRenewNow = true;
    for (const pageSize of [schedulePageSize, options.smallPageSize]) {
      options.say(`fleet: renewing ${options.certificates} due certificates, page size ${pageSize}`);
      runs.push(
        await measureRun(context, `all due, page size ${pageSize}`, 'renewal', options.renewals, pageSize),
      );
    }
    const items = await aws.dynamodb.items(tableName);
    return {
      certificates: options.certificates,
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
    // Stopping the DynamoDB fake's dynalite is asynchronous.
    await aws?.restore();
    await standIn.stop();
  }
}

interface RunContext extends FleetOptions {
  readonly ca: LocalCa;
  readonly aws: LocalAws;
  readonly standIn: AriStandIn;
}

async function measureRun(
  context: RunContext,
  label: string,
  kind: FleetRunResult['kind'],
  renewals: SynthesizedWorkflow,
  pageSize: number,
): Promise<FleetRunResult> {
  const { aws, proxy, standIn } = context;
  // Execution names are `<certificateId>-<yyyymmdd>`, so Step Functions refuses a second one the
  // same day. Each run here stands for a run on another day, so each gets its own name history.
  const executions = new LocalExecutions();
  const awsBefore = awsCallCounts(aws);
  const eventsBefore = aws.eventBridge.events.length;
  const standInBefore = standIn.requests.length;
  const hosts = new Set([new URL(proxy.directoryUrl).host, new URL(standIn.url).host]);
  let clientSideRequests = 0;
  const onRequest = (message: unknown) => {
    const host = (message as { request: ClientRequest }).request.getHeader('host');
    if (typeof host === 'string' && hosts.has(host)) clientSideRequests += 1;
  };
  await proxy.reset();
  diagnosticsChannel.subscribe('http.client.request.start', onRequest);
  const rss = sampleRss();
  const started = performance.now();
  let run: Awaited<ReturnType<typeof runRenewals>> | undefined;
  let thrown: string | undefined;
  try {
    run = await runRenewals({
      renewals,
      issuance: context.issuance,
      ca: context.ca,
      aws,
      executions,
      environment: context.environment,
      input: { pageSize },
    });
  } catch (error) {
    thrown = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  }
  const wallMs = performance.now() - started;
  const memory = rss.stop();
  diagnosticsChannel.unsubscribe('http.client.request.start', onRequest);

  const tally = await proxy.tally();
  const byPath: Record<string, number> = { ...tally.byPath };
  for (const request of standIn.requests.slice(standInBefore)) {
    const key = request.replace(/^(GET \/renewal-info)\/.*$/, '$1/…');
    byPath[key] = (byPath[key] ?? 0) + 1;
  }
  const awsAfter = awsCallCounts(aws);
  const awsCalls: Record<string, number> = {};
  for (const [key, count] of Object.entries(awsAfter)) {
    const delta = count - (awsBefore[key] ?? 0);
    if (delta > 0) awsCalls[key] = delta;
  }
  const events: Record<string, number> = {};
  for (const event of aws.eventBridge.events.slice(eventsBefore))
    events[event.detailType] = (events[event.detailType] ?? 0) + 1;

  const pages = run?.pages ?? [];
  const issuances = (run?.started ?? []).flatMap((name) => {
    const execution = executions.results.get(name);
    return execution ? [execution] : [];
  });
  const issued = issuances.filter(
    (execution) =>
      execution.status === 'SUCCEEDED' &&
      typeof (execution.output as { certificateArn?: unknown } | undefined)?.certificateArn === 'string',
  ).length;
  const due = context.certificates;
  const problems = [
    ...(thrown ? [thrown] : []),
    ...pages
      .filter((page) => page.status !== 'SUCCEEDED')
      .map((page) => `a page failed: ${page.error?.name}: ${page.error?.cause}`),
    ...(issued === due ? [] : [`${issued} of ${due} certificates issued`]),
    ...((run?.refused.length ?? 0) > 0 ? [`${run?.refused.length} executions refused`] : []),
  ];
  const transitionsPerIssuance = summarize(issuances.map((execution) => execution.stateTransitions));
  const invocations = (steps: readonly { runs: number }[]) => steps.reduce((sum, step) => sum + step.runs, 0);
  return {
    label,
    kind,
    pageSize,
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
    awsCalls,
    events,
  };
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
function mapConcurrency(renewals: SynthesizedWorkflow): number {
  const maps = Object.values(renewals.definition.States).filter((state) => state.Type === 'Map');
  const concurrency = maps[0]?.MaxConcurrency;
  if (maps.length !== 1 || typeof concurrency !== 'number')
    throw new Error('expected one Map state with a MaxConcurrency in the renewals state machine');
  return concurrency;
}

/** The `pageSize` of the schedule rule's input to the renewals state machine. */
function scheduledPageSize(renewals: SynthesizedWorkflow): number {
  for (const resource of Object.values(renewals.template.Resources)) {
    if (resource.Type !== 'AWS::Events::Rule') continue;
    for (const target of (resource.Properties?.Targets ?? []) as { Input?: unknown }[]) {
      if (typeof target.Input !== 'string') continue;
      const pageSize = (JSON.parse(target.Input) as { pageSize?: unknown }).pageSize;
      if (typeof pageSize === 'number') return pageSize;
    }
  }
  throw new Error('no schedule rule starts the renewals state machine with a pageSize');
}
