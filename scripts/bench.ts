/**
 * `npm run bench`: measures one issuance against a local Pebble, the account lifecycle (key
 * rollover, contact update) and KMS-held certificate keys, and a scheduled renewal run over a
 * fleet of declared certificates, and writes bench/results.md and bench/results.json. Every
 * figure is measured in the run; see scripts/bench/report.ts for what the results hold and
 * scripts/bench/*.ts for how each is taken.
 *
 *   npm run bench -- [--runs 5] [--init-samples 10] [--fleet 200] [--out bench]
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { arch, cpus, platform, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import '../test/setup/polyfills.js';
import { isPebbleInstalled, type PebbleEnvironment, startPebble } from '../test/harness/pebble.js';
import { type SynthesizedWorkflow, synthesizeWorkflow } from '../test/harness/state-machine.js';
import { type AccountAndKmsResult, LIFECYCLE_DOMAIN, runAccountAndKms } from './bench/account-and-kms.js';
import { buildBundles, bundleSettings, cdkSynthBundles, timeInit } from './bench/bundles.js';
import { type LambdaUsage, renewalCost } from './bench/cost.js';
import { type CountingProxy, startCountingProxy } from './bench/counting-proxy.js';
import { type FleetResult, RSS_SAMPLE_MS, runFleet } from './bench/fleet.js';
import { type OurRun, runOurPair } from './bench/ours.js';
import { debianVersion, findPeers, type PeerClient } from './bench/peers.js';
import {
  type BenchResults,
  type BundleResult,
  type CaseResult,
  type ClientCaseResult,
  type ClientName,
  type CostResult,
  type OurCaseExtras,
  renderMarkdown,
  type TargetResult,
} from './bench/report.js';
import { ROLES, type Role, requestFloor, requestsByRole, total } from './bench/requests.js';
import { type Summary, summarize } from './bench/stats.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    'init-samples': { type: 'string', default: '10' },
    fleet: { type: 'string', default: '200' },
    out: { type: 'string', default: 'bench' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write('npm run bench -- [--runs 5] [--init-samples 10] [--fleet 200] [--out bench]\n');
  process.exit(0);
}
const runs = positiveInteger(values.runs, '--runs');
const initSamples = positiveInteger(values['init-samples'], '--init-samples');
const fleetSize = values.fleet === '0' ? 0 : positiveInteger(values.fleet, '--fleet');
const outDir = resolve(values.out);
const say = (line: string) => process.stderr.write(`bench: ${line}\n`);

/** The targets the issue sets. */
const TARGET_REQUESTS_APEX_WILDCARD_NEW = 11;
const TARGET_BUNDLE_BYTES = 300_000;
const TARGET_INIT_MS = 150;
/** Pebble tuned for repeatable counts: no validation sleep, no injected badNonce, no authz reuse. */
const PEBBLE_ENV = { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' };
/** A page size below the schedule's, so that the fleet's second renewal run spans several pages. */
const FLEET_SMALL_PAGE_SIZE = 50;

interface BenchCase {
  readonly key: string;
  readonly label: string;
  readonly domains: readonly string[];
}
const CASES: readonly BenchCase[] = [
  { key: 'one-name', label: 'one name', domains: ['example.org'] },
  { key: 'apex-wildcard', label: 'example.org + *.example.org', domains: ['example.org', '*.example.org'] },
];

interface ClientRun {
  readonly ok: boolean;
  readonly error?: string;
  readonly requests: number;
  /** Responses of 400 or more among them (a badNonce retry, for example). */
  readonly errorResponses: number;
  readonly wallMs: number;
  readonly byPath: Readonly<Record<string, number>>;
}

if (!isPebbleInstalled()) {
  process.stderr.write(
    "bench: pebble and pebble-challtestsrv are not installed. Install Debian's package first:\n\n  sudo sh -c 'apt-get update && apt-get install -y pebble'\n",
  );
  process.exit(1);
}

const benchStarted = performance.now();
const workDir = await mkdtemp(join(tmpdir(), 'acme-aws-bench-'));
const peers: PeerClient[] = [];
let pebble: PebbleEnvironment | undefined;
let proxy: CountingProxy | undefined;
try {
  pebble = await startPebble({ env: PEBBLE_ENV });
  say(`Pebble at ${pebble.directoryUrl}`);
  proxy = await startCountingProxy({
    upstreamDirectoryUrl: pebble.directoryUrl,
    upstreamCaPem: pebble.caBundlePem,
  });
  const proxyCaPath = join(workDir, 'proxy-ca.pem');
  await writeFile(proxyCaPath, proxy.caPem);
  const ca = {
    directoryUrl: proxy.directoryUrl,
    caBundlePath: proxyCaPath,
    challtestsrvUrl: pebble.challtestsrvUrl,
  };

  const workflow = synthesizeWorkflow();
  const functions = functionConfig(workflow);
  const { found, missing } = await findPeers({ ...ca, dnsResolver: pebble.dnsResolver });
  peers.push(...found);
  say(
    `peers: ${found.map((peer) => `${peer.name} ${peer.version}`).join(', ') || 'none'}${missing.length > 0 ? `; not installed: ${missing.join(', ')}` : ''}`,
  );

  // Warm-ups, not counted: our handlers load on first use, and the peers' binaries get cached.
  await runOurPair({ workflow, ca, proxy }, ['warm-up.example.org'], 'warm-up');
  for (const peer of peers) await peer.issue(join(workDir, `${peer.name}-warm-up`), ['warm-up.example.org']);

  const runsByCase = new Map<string, Map<ClientName, ClientRun[]>>();
  const oursByCase = new Map<string, OurRun[]>();
  const record = (caseId: string, client: ClientName, run: ClientRun) => {
    const byClient = runsByCase.get(caseId) ?? new Map<ClientName, ClientRun[]>();
    runsByCase.set(caseId, byClient);
    byClient.set(client, [...(byClient.get(client) ?? []), run]);
  };
  for (let round = 1; round <= runs; round += 1) {
    for (const benchCase of CASES) {
      say(`run ${round}/${runs}: ${benchCase.label}`);
      const pair = await runOurPair(
        { workflow, ca, proxy },
        benchCase.domains,
        `bench-${benchCase.key}-${round}`,
      );
      for (const [account, run] of [
        ['new', pair.newAccount],
        ['existing', pair.existingAccount],
      ] as const) {
        const caseId = `${benchCase.key}/${account}`;
        oursByCase.set(caseId, [...(oursByCase.get(caseId) ?? []), run]);
        record(caseId, 'ours', {
          ok: run.ok,
          ...(run.error ? { error: run.error } : {}),
          requests: run.requests.total,
          errorResponses: run.requests.errors,
          wallMs: run.wallMs,
          byPath: run.requests.byPath,
        });
      }
      for (const peer of peers) {
        const stateDir = join(workDir, `${peer.name}-${benchCase.key}-${round}`);
        for (const account of ['new', 'existing'] as const) {
          await proxy.reset();
          const run = await peer.issue(stateDir, benchCase.domains);
          const tally = await proxy.tally();
          if (!run.ok)
            say(`${peer.name} failed (${benchCase.label}, ${account} account):\n${run.outputTail ?? ''}`);
          record(`${benchCase.key}/${account}`, peer.name, {
            ok: run.ok,
            ...(run.ok ? {} : { error: run.outputTail ?? 'failed' }),
            requests: tally.total,
            errorResponses: tally.errors,
            wallMs: run.wallMs,
            byPath: tally.byPath,
          });
        }
      }
    }
  }
  let accountAndKms: AccountAndKmsResult;
  try {
    accountAndKms = await runAccountAndKms({ workflow, ca, proxy, runs, say });
  } catch (error) {
    say(
      `the account lifecycle and KMS-held keys could not be measured: ${error instanceof Error ? error.stack : String(error)}`,
    );
    accountAndKms = {
      domain: LIFECYCLE_DOMAIN,
      runs,
      scenarios: [],
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    };
  }
  let fleet: FleetResult = {
    certificates: 0,
    rssSampleMs: RSS_SAMPLE_MS,
    runs: [],
    error: 'skipped (--fleet 0)',
  };
  if (fleetSize > 0) {
    try {
      fleet = await runFleet({
        issuance: workflow,
        renewals: synthesizeWorkflow({}, 'Renewals'),
        proxy,
        challtestsrvUrl: pebble.challtestsrvUrl,
        workDir,
        certificates: fleetSize,
        smallPageSize: FLEET_SMALL_PAGE_SIZE,
        environment: { POWERTOOLS_LOG_LEVEL: 'WARN', POWERTOOLS_METRICS_DISABLED: 'true' },
        say,
      });
    } catch (error) {
      say(`the fleet could not be measured: ${error instanceof Error ? error.stack : String(error)}`);
      fleet = {
        certificates: fleetSize,
        rssSampleMs: RSS_SAMPLE_MS,
        runs: [],
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      };
    }
  }
  await proxy.close();
  proxy = undefined;

  const runtime = functions.values().next().value?.runtime ?? 'nodejs22.x';
  const settings = bundleSettings(runtime);
  // cdk synth right before our own build, so that both see the same sources; once more if a
  // bundle differs, in case a source file changed in between.
  say('running cdk synth, to compare our bundles with the ones it ships');
  let synthesized = cdkSynthBundles(join(workDir, 'cdk.out'));
  let bundles = await buildBundles(join(workDir, 'bundles'), settings);
  const differs = () =>
    bundles.some((bundle) => {
      const shipped = synthesized.hashes?.get(bundle.folder);
      return shipped !== undefined && shipped !== bundle.sha256;
    });
  if (differs()) {
    say('a bundle differs from cdk synth; synthesizing and bundling once more');
    await rm(join(workDir, 'cdk.out'), { recursive: true, force: true });
    synthesized = cdkSynthBundles(join(workDir, 'cdk.out'));
    bundles = await buildBundles(join(workDir, 'bundles'), settings);
  }
  say(`timing init of ${bundles.length} bundles (${initSamples} samples each)`);
  const init = await timeInit({
    workDir: join(workDir, 'bundles'),
    bundles,
    environment: { ...workflow.environment, AWS_REGION: 'us-east-1' },
    samples: initSamples,
  });
  const bundleResults: BundleResult[] = bundles.map((bundle) => {
    const config = functions.get(bundle.folder);
    const timings = init.get(bundle.folder);
    const importMs = summarize(timings?.importMs ?? []);
    const processMs = summarize(timings?.processMs ?? []);
    const externalImportMs = summarize(timings?.externalImportMs ?? []);
    return {
      step: bundle.name,
      folder: bundle.folder,
      bytes: bundle.bytes,
      gzipBytes: bundle.gzipBytes,
      ...(importMs ? { importMs } : {}),
      ...(processMs ? { processMs } : {}),
      externalImports: bundle.externalImports,
      ...(externalImportMs ? { externalImportMs } : {}),
      largestInputs: bundle.largestInputs,
      memoryMb: config?.memoryMb ?? 0,
      architecture: config?.architecture ?? 'unknown',
      runtime: config?.runtime ?? 'unknown',
      sha256: bundle.sha256,
      ...(synthesized.hashes?.has(bundle.folder)
        ? { matchesCdkSynth: synthesized.hashes.get(bundle.folder) === bundle.sha256 }
        : {}),
    };
  });

  const cases: CaseResult[] = [];
  for (const benchCase of CASES) {
    for (const account of ['new', 'existing'] as const) {
      const caseId = `${benchCase.key}/${account}`;
      const floor = requestFloor(benchCase.domains.length, account === 'new');
      const clients: Partial<Record<ClientName, ClientCaseResult>> = {};
      for (const [client, clientRuns] of runsByCase.get(caseId) ?? [])
        clients[client] = summarizeClient(clientRuns);
      const ours = oursByCase.get(caseId) ?? [];
      cases.push({
        id: caseId,
        label: `${benchCase.label}, ${account} account`,
        domains: benchCase.domains,
        account,
        floor,
        floorTotal: total(floor),
        clients,
        ours: summarizeOurs(ours),
      });
    }
  }

  const cost: CostResult[] = cases
    .filter((caseResult) => caseResult.account === 'existing' && caseResult.ours)
    .map((caseResult) => ({
      caseId: caseResult.id,
      label: `Renewal: ${caseResult.label.replace(/, existing account$/, '')}`,
      cost: renewalCost({
        stateTransitions: caseResult.ours?.stateTransitions?.median ?? 0,
        lambdas: lambdaUsage(caseResult.ours as OurCaseExtras, workflow, functions, bundleResults),
        awsCalls: Object.fromEntries(
          Object.entries(caseResult.ours?.awsCalls ?? {}).map(([key, summary]) => [key, summary.median]),
        ),
        accountKeySpec: accountKeySpec(workflow),
      }),
    }));

  const results: BenchResults = {
    generatedAt: new Date().toISOString(),
    benchSeconds: (performance.now() - benchStarted) / 1000,
    machine: {
      cpu: cpus()[0]?.model.trim() ?? 'unknown CPU',
      cores: cpus().length,
      memoryGb: Math.round(totalmem() / 1024 ** 3),
      os: `${platform()} ${release()} ${arch()}`,
      node: process.versions.node,
    },
    runs,
    initSamples,
    ca: { pebble: debianVersion('pebble') ?? 'unknown version', environment: PEBBLE_ENV },
    peers: (['certbot', 'lego'] as const).map((name) => {
      const peer = peers.find((candidate) => candidate.name === name);
      return peer
        ? { name, version: peer.version, installed: true, invocation: peer.invocation }
        : { name, installed: false };
    }),
    cases,
    bundles: {
      settings,
      functions: bundleResults,
      ...(synthesized.error ? { cdkSynthError: synthesized.error } : {}),
    },
    accountAndKms,
    fleet,
    cost,
    targets: targets(cases, bundleResults),
  };

  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(join(outDir, 'results.md'), renderMarkdown(results));
  say(`wrote ${join(outDir, 'results.md')} and results.json in ${results.benchSeconds.toFixed(0)} s`);
  const failed = cases.some((caseResult) => (caseResult.clients.ours?.failures.length ?? 0) > 0);
  if (failed) {
    say('some of our issuances failed; see results.json');
    process.exitCode = 1;
  }
  const lifecycleFailed =
    accountAndKms.error !== undefined ||
    accountAndKms.scenarios.some((scenario) => scenario.failures.length > 0);
  if (lifecycleFailed) {
    say(
      'an account action or a KMS-held key issuance failed; see the Account lifecycle section of results.md',
    );
    process.exitCode = 1;
  }
  const fleetFailed = fleetSize > 0 && (fleet.error !== undefined || fleet.runs.some((run) => !run.ok));
  if (fleetFailed) {
    say('the fleet run failed or fell short; see the Fleet section of results.md');
    process.exitCode = 1;
  }
} finally {
  for (const peer of peers) await peer.close();
  await proxy?.close();
  await pebble?.stop();
  await rm(workDir, { recursive: true, force: true });
}

function positiveInteger(value: string, flag: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) {
    process.stderr.write(`bench: ${flag} needs a positive integer, got "${value}"\n`);
    process.exit(2);
  }
  return parsed;
}

function summarizeClient(clientRuns: readonly ClientRun[]): ClientCaseResult {
  const ok = clientRuns.filter((run) => run.ok);
  const byRole: Partial<Record<Role, Summary>> = {};
  const roleCounts = ok.map((run) => requestsByRole(run.byPath));
  for (const role of ROLES) {
    const summary = summarize(roleCounts.map((counts) => counts[role]));
    if (summary) byRole[role] = summary;
  }
  const requests = summarize(ok.map((run) => run.requests));
  const wallMs = summarize(ok.map((run) => run.wallMs));
  return {
    succeeded: ok.length,
    failures: clientRuns.filter((run) => !run.ok).map((run) => (run.error ?? 'failed').slice(-500)),
    ...(requests ? { requests } : {}),
    ...(wallMs ? { wallMs } : {}),
    byRole,
    raw: ok.map(({ requests: count, errorResponses, wallMs: ms, byPath }) => ({
      requests: count,
      errorResponses,
      wallMs: ms,
      byPath,
    })),
  };
}

function summarizeOurs(ourRuns: readonly OurRun[]): OurCaseExtras {
  const ok = ourRuns.filter((run) => run.ok);
  const pick = (value: (run: OurRun) => number) => summarize(ok.map(value));
  const optional = <K extends string>(key: K, summary: Summary | undefined) =>
    (summary ? { [key]: summary } : {}) as Partial<Record<K, Summary>>;
  const awsKeys = [...new Set(ok.flatMap((run) => Object.keys(run.awsCalls)))].sort();
  const awsCalls: Record<string, Summary> = {};
  for (const key of awsKeys) {
    const summary = pick((run) => run.awsCalls[key] ?? 0);
    if (summary) awsCalls[key] = summary;
  }
  const stepNames = [...new Set(ok.flatMap((run) => run.steps.map((step) => step.name)))];
  return {
    ...optional(
      'kmsSignCalls',
      pick((run) => run.kmsSignCalls),
    ),
    ...optional(
      'route53ChangeCalls',
      pick((run) => run.route53ChangeCalls),
    ),
    ...optional(
      'route53GetChangeCalls',
      pick((run) => run.route53GetChangeCalls),
    ),
    ...optional(
      'acmCalls',
      pick((run) => run.acmCalls),
    ),
    awsCalls,
    ...optional(
      'stateTransitions',
      pick((run) => run.stateTransitions),
    ),
    ...optional(
      'waitStateEntries',
      pick((run) => run.waitStateEntries),
    ),
    ...optional(
      'lambdaInvocations',
      pick((run) => run.steps.reduce((sum, step) => sum + step.runs, 0)),
    ),
    steps: stepNames.map((name) => {
      const ms = pick((run) => run.steps.find((step) => step.name === name)?.ms ?? 0);
      const stepRuns = pick((run) => run.steps.find((step) => step.name === name)?.runs ?? 0);
      return { name, ...(ms ? { ms } : {}), ...(stepRuns ? { runs: stepRuns } : {}) };
    }),
    clientSideCountsAgree: ourRuns.every((run) => run.clientSideRequests === run.requests.total),
  };
}

interface FunctionConfig {
  readonly memoryMb: number;
  readonly architecture: 'arm64' | 'x86_64';
  readonly runtime: string;
}

/** Memory, architecture and runtime per handler folder (`ACME_STEP`), from the synthesized template. */
function functionConfig(workflow: SynthesizedWorkflow): Map<string, FunctionConfig> {
  const config = new Map<string, FunctionConfig>();
  for (const resource of Object.values(workflow.template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const properties = resource.Properties ?? {};
    const folder = (properties.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables
      ?.ACME_STEP;
    if (typeof folder !== 'string') continue;
    const architectures = properties.Architectures as string[] | undefined;
    config.set(folder, {
      // Lambda's defaults when the template leaves them out.
      memoryMb: Number(properties.MemorySize ?? 128),
      architecture: architectures?.[0] === 'arm64' ? 'arm64' : 'x86_64',
      runtime: String(properties.Runtime ?? 'unknown'),
    });
  }
  return config;
}

function accountKeySpec(workflow: SynthesizedWorkflow): string {
  for (const resource of Object.values(workflow.template.Resources)) {
    const spec = resource.Type === 'AWS::KMS::Key' ? resource.Properties?.KeySpec : undefined;
    if (typeof spec === 'string' && spec !== 'SYMMETRIC_DEFAULT') return spec;
  }
  return 'unknown';
}

/** What each Task state of the execution used, with its function's configuration and init time. */
function lambdaUsage(
  ours: OurCaseExtras,
  workflow: SynthesizedWorkflow,
  functions: ReadonlyMap<string, FunctionConfig>,
  bundleResults: readonly BundleResult[],
): LambdaUsage[] {
  return ours.steps.map((step) => {
    const folder = workflow.taskHandlers[step.name];
    const config = folder ? functions.get(folder) : undefined;
    return {
      step: step.name,
      invocations: step.runs?.median ?? 0,
      durationMs: step.ms?.median ?? 0,
      initMs: bundleResults.find((bundle) => bundle.folder === folder)?.importMs?.median,
      memoryMb: config?.memoryMb ?? 128,
      architecture: config?.architecture ?? 'x86_64',
    };
  });
}

function targets(cases: readonly CaseResult[], bundleResults: readonly BundleResult[]): TargetResult[] {
  const results: TargetResult[] = [];
  const apexNew = cases.find((caseResult) => caseResult.id === 'apex-wildcard/new');
  const ours = apexNew?.clients.ours;
  if (apexNew && ours?.requests) {
    const met = ours.requests.max <= TARGET_REQUESTS_APEX_WILDCARD_NEW;
    const aboveFloor = ROLES.filter((role) => (ours.byRole[role]?.median ?? 0) > apexNew.floor[role]).map(
      (role) => `${role} ${ours.byRole[role]?.median} vs floor ${apexNew.floor[role]}`,
    );
    results.push({
      name: 'ACME requests, apex + wildcard, new account',
      target: `≤ ${TARGET_REQUESTS_APEX_WILDCARD_NEW}`,
      measured: `${ours.requests.median} (max ${ours.requests.max}); floor ${apexNew.floorTotal}`,
      met,
      ...(met
        ? {}
        : {
            why:
              aboveFloor.length > 0
                ? `above the floor in: ${aboveFloor.join('; ')}`
                : `at the protocol floor (${apexNew.floorTotal}); one fewer needs the directory GET skipped, i.e. a directory cached across executions (DESIGN.md)`,
          }),
    });
  }
  const largest = [...bundleResults].sort((a, b) => b.bytes - a.bytes)[0];
  if (largest) {
    const over = bundleResults.filter((bundle) => bundle.bytes > TARGET_BUNDLE_BYTES);
    results.push({
      name: 'Bundle size, each function',
      target: `≤ ${TARGET_BUNDLE_BYTES / 1000} KB minified`,
      measured: `largest ${(largest.bytes / 1000).toFixed(1)} KB (${largest.step}); ${over.length} of ${bundleResults.length} over`,
      met: over.length === 0,
      ...(over.length === 0
        ? {}
        : {
            why: `over: ${over.map((bundle) => bundle.step).join(', ')}; largest inputs of ${largest.step}: ${largest.largestInputs
              .map((input) => `${input.name} ${(input.bytes / 1000).toFixed(1)} KB`)
              .join(', ')}`,
          }),
    });
  }
  const slowest = [...bundleResults].sort((a, b) => (b.importMs?.median ?? 0) - (a.importMs?.median ?? 0))[0];
  if (slowest?.importMs) {
    const over = bundleResults.filter((bundle) => (bundle.importMs?.median ?? 0) > TARGET_INIT_MS);
    const sdkMs = slowest.externalImportMs?.median ?? 0;
    results.push({
      name: 'Cold init (import the bundle), each function',
      target: `≤ ${TARGET_INIT_MS} ms`,
      measured: `slowest ${Math.round(slowest.importMs.median)} ms (${slowest.step}); ${over.length} of ${bundleResults.length} over`,
      met: over.length === 0,
      ...(over.length === 0
        ? {}
        : {
            why:
              `importing the same SDK modules alone takes ${Math.round(sdkMs)} ms (median), so the bundle's own ` +
              `code adds about ${Math.max(0, Math.round(slowest.importMs.median - sdkMs))} ms: ${slowest.step} imports ` +
              `${slowest.externalImports.length} SDK modules (${slowest.externalImports.join(', ')}), whatever it uses`,
          }),
    });
  }
  return results;
}
