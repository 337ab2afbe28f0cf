/**
 * `npm run bench`: measures what `cdk deploy` ships, on this machine. The stack is synthesized with
 * its Lambda bundles and deployed into a local cloud (test/harness/local-issuance.ts): its state
 * machines run from the synthesized definitions, every function from its bundled asset in a
 * Lambda execution environment, every AWS call authorized first by IAM evaluated from the
 * template. Against a local Pebble it measures one issuance (beside certbot and lego when they
 * are installed), the account lifecycle (key rollover, contact update) and KMS-held certificate
 * keys, what delivering a certificate to Secrets Manager and Parameter Store adds to a renewal,
 * a scheduled renewal run over a fleet of declared certificates, the bundles of the cloud
 * assembly (the prebuilt ones of dist/assets, which synthesis copies into it) and the synthesis
 * itself, the npm package as `npm pack` lists it, and a dns-01 issuance against a dns-persist-01
 * one with its record in place (on a Pebble of its own behind the dns-persist-01 validator), and writes bench/results.md and
 * bench/results.json. Every figure is measured in the run; see scripts/bench/report.ts for what the
 * results hold and scripts/bench/*.ts for how each is taken.
 *
 *   npm run bench -- [--runs 5] [--init-samples 10] [--fleet 200] [--out bench]
 *                    [--only issuance,lifecycle,delivery,fleet,bundles,soak,package,pacing,dns-persist]
 *
 * `--only` runs some sections and merges them into the results already in the output folder: the
 * sections it ran replace theirs, every other one is kept as it was with the time it was measured,
 * and results.md is rendered anew from the merged results.json (report.ts, `mergeResults`). With
 * no results there to merge into, it writes what it ran and leaves the other sections empty.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { arch, cpus, loadavg, platform, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import '../test/setup/polyfills.js';
import type { StackPropsForTest, SynthesizedStack } from '../test/harness/cloud/assembly.js';
import { type LocalCa, synthesizeFor } from '../test/harness/local-issuance.js';
import { isPebbleInstalled, type PebbleEnvironment, startPebble } from '../test/harness/pebble.js';
import { runSoak, type SoakResult } from '../test/harness/soak.js';
import {
  type AccountAndKmsResult,
  LIFECYCLE_DOMAIN,
  runAccountAndKms,
  SCENARIOS,
} from './bench/account-and-kms.js';
import {
  bundleSettings,
  handlersOutsideStacks,
  type InitTimings,
  shippedBundles,
  timeInit,
} from './bench/bundles.js';
import { type LambdaUsage, renewalCost } from './bench/cost.js';
import { type CountingProxy, startCountingProxy } from './bench/counting-proxy.js';
import { DELIVERY_DOMAIN, type DeliveryResult, runDelivery } from './bench/delivery.js';
import {
  deployFresh,
  type EnvironmentSize,
  environmentSizes,
  MAX_ENVIRONMENT_BYTES,
  MAX_PAYLOAD_BYTES,
  taskHandlers,
} from './bench/deployments.js';
import { DNS_PERSIST_DOMAINS, type DnsPersistResult, runDnsPersist } from './bench/dns-persist.js';
import { type FleetResult, RSS_SAMPLE_MS, runFleet } from './bench/fleet.js';
import { type OurRun, runOurPair } from './bench/ours.js';
import { type PacingResult, runPacing } from './bench/pacing.js';
import { measurePackage, type PackageResult } from './bench/package.js';
import { debianVersion, findPeers, type PeerClient } from './bench/peers.js';
import {
  BENCH_SECTIONS,
  type BenchResults,
  type BenchSection,
  type BundleResult,
  type CaseResult,
  type ClientCaseResult,
  type ClientName,
  type ConfigurationResult,
  type CostResult,
  isBenchResults,
  mergeResults,
  type OurCaseExtras,
  renderMarkdown,
  type SynthesisResult,
} from './bench/report.js';
import { ROLES, type Role, requestFloor, requestsByRole, total } from './bench/requests.js';
import { type Summary, summarize } from './bench/stats.js';
import { targets } from './bench/targets.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    'init-samples': { type: 'string', default: '10' },
    fleet: { type: 'string', default: '200' },
    out: { type: 'string', default: 'bench' },
    only: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(
    `npm run bench -- [--runs 5] [--init-samples 10] [--fleet 200] [--out bench] [--only ${BENCH_SECTIONS.join(',')}]\n`,
  );
  process.exit(0);
}
const runs = positiveInteger(values.runs, '--runs');
const initSamples = positiveInteger(values['init-samples'], '--init-samples');
const fleetSize = values.fleet === '0' ? 0 : positiveInteger(values.fleet, '--fleet');
const outDir = resolve(values.out);
const only = new Set((values.only ?? BENCH_SECTIONS.join(',')).split(',').map((name) => name.trim()));
for (const name of only) {
  if (!(BENCH_SECTIONS as readonly string[]).includes(name)) {
    process.stderr.write(`bench: --only takes ${BENCH_SECTIONS.join(', ')}; got "${name}"\n`);
    process.exit(2);
  }
}
const selected = (section: BenchSection) => only.has(section);
const say = (line: string) => process.stderr.write(`bench: ${line}\n`);
/** The results a run with `--only` merges into, read first so that a missing file is said at once. */
const previous =
  values.only === undefined ? undefined : await readPreviousResults(join(outDir, 'results.json'));

/** Pebble tuned for repeatable counts: no validation sleep, no injected badNonce, no authz reuse. */
/** The soaks of section 10: a long one at the rate the issue sets the 90% bar for, and a harsh one. */
const SOAKS = [
  { runs: 100, faultRate: 0.05, seed: 1 },
  { runs: 30, faultRate: 0.2, seed: 2 },
] as const;
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

/**
 * The stack configurations the bench deploys, each inspected once on a deployment of its own
 * (environment sizes, synthesis time): the defaults first, then those of section 8.
 */
const CONFIGURATIONS: readonly { readonly label: string; readonly props: StackPropsForTest }[] = [
  { label: 'defaults', props: {} },
  {
    label: 'accountKeyGeneration 2',
    props: SCENARIOS.find((scenario) => scenario.id === 'rollover')?.props ?? {},
  },
  {
    label: 'one certificate declared with kmsKey: true',
    props: SCENARIOS.find((scenario) => scenario.id === 'kms-ec-p256')?.props ?? {},
  },
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
const loadAtStart = loadavg()[0] ?? 0;
const workDir = await mkdtemp(join(tmpdir(), 'acme-aws-bench-'));
const peers: PeerClient[] = [];
let pebble: PebbleEnvironment | undefined;
let proxy: CountingProxy | undefined;
try {
  // The package first: its build (`npm run build`, as `prepack` runs it) rewrites dist/assets,
  // which every synthesis below copies into its cloud assembly.
  let pkg: PackageResult = { error: 'skipped (--only)' };
  if (selected('package')) {
    say('building the package and listing it with npm pack --dry-run');
    try {
      const measured = await measurePackage();
      pkg = measured;
      say(
        `package: tarball ${measured.tarballBytes} bytes, unpacked ${measured.unpackedBytes} bytes, ${measured.files} files`,
      );
    } catch (error) {
      say(`the package could not be measured: ${error instanceof Error ? error.stack : String(error)}`);
      pkg = { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
    }
  }

  pebble = await startPebble({ env: PEBBLE_ENV });
  say(`Pebble at ${pebble.directoryUrl}`);
  proxy = await startCountingProxy({
    upstreamDirectoryUrl: pebble.directoryUrl,
    upstreamCaPem: pebble.caBundlePem,
  });
  const proxyCaPath = join(workDir, 'proxy-ca.pem');
  await writeFile(proxyCaPath, proxy.caPem);
  const ca: LocalCa = {
    directoryUrl: proxy.directoryUrl,
    caBundlePath: proxyCaPath,
    challtestsrvUrl: pebble.challtestsrvUrl,
    dnsResolver: pebble.dnsResolver,
  };

  // The synthesis first of all, so that the first one is the first in this process.
  say('synthesizing the stack with its bundles');
  const { synthesis, stacks } = measureSynthesis(ca);
  say(
    `synthesis: first ${Math.round(synthesis.firstMs)} ms, cached ${synthesis.cachedMs.toFixed(2)} ms; ` +
      synthesis.otherConfigurations.map((other) => `${other.label} ${Math.round(other.ms)} ms`).join(', '),
  );
  // Right after the synthesis, so that the second build for the metafile sees the sources that
  // `npm run build` bundled into dist/assets moments before (package.json's `bench` script, or the
  // package section above).
  say('measuring the bundles of the cloud assembly');
  const bundles = await shippedBundles(stacks);
  say('deploying each configuration once, to read its functions as deployed');
  const inspected = await inspectConfigurations(ca);

  const { found, missing } = await findPeers({ ...ca, dnsResolver: pebble.dnsResolver });
  peers.push(...found);
  say(
    `peers: ${found.map((peer) => `${peer.name} ${peer.version}`).join(', ') || 'none'}${missing.length > 0 ? `; not installed: ${missing.join(', ')}` : ''}`,
  );

  const runsByCase = new Map<string, Map<ClientName, ClientRun[]>>();
  const oursByCase = new Map<string, OurRun[]>();
  const deployMs: number[] = [];
  if (selected('issuance')) {
    // Warm-ups, not counted: the runtime root, the SDK in this process and the file cache for us,
    // the binaries for the peers.
    await runOurPair({ ca, proxy }, ['warm-up.example.org'], 'warm-up');
    for (const peer of peers)
      await peer.issue(join(workDir, `${peer.name}-warm-up`), ['warm-up.example.org']);

    const record = (caseId: string, client: ClientName, run: ClientRun) => {
      const byClient = runsByCase.get(caseId) ?? new Map<ClientName, ClientRun[]>();
      runsByCase.set(caseId, byClient);
      byClient.set(client, [...(byClient.get(client) ?? []), run]);
    };
    for (let round = 1; round <= runs; round += 1) {
      for (const benchCase of CASES) {
        say(`run ${round}/${runs}: ${benchCase.label}`);
        const pair = await runOurPair({ ca, proxy }, benchCase.domains, `bench-${benchCase.key}-${round}`);
        deployMs.push(pair.deployMs);
        for (const [account, run] of [
          ['new', pair.newAccount],
          ['existing', pair.existingAccount],
        ] as const) {
          const caseId = `${benchCase.key}/${account}`;
          if (!run.ok) say(`ours failed (${benchCase.label}, ${account} account): ${run.error}`);
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
  }

  let accountAndKms: AccountAndKmsResult = {
    domain: LIFECYCLE_DOMAIN,
    runs,
    scenarios: [],
    error: 'skipped (--only)',
  };
  if (selected('lifecycle')) {
    try {
      accountAndKms = await runAccountAndKms({ ca, proxy, runs, say });
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
  }

  // What delivery to Secrets Manager and Parameter Store adds to a renewal (bench/delivery.ts).
  let delivery: DeliveryResult = { domain: DELIVERY_DOMAIN, runs, variants: [], error: 'skipped (--only)' };
  if (selected('delivery')) {
    try {
      delivery = await runDelivery({ ca, runs, say });
      for (const variant of delivery.variants) {
        if (!variant.cost) continue;
        say(
          `delivery (${variant.label}): adds ${JSON.stringify(variant.added?.awsCalls)}, ` +
            `${variant.added?.stateTransitions} transitions, ${variant.added?.lambdaInvocations} invocations; ` +
            `$${variant.cost.perRenewalUsd.toPrecision(3)} per renewal + $${variant.cost.monthlyUsd.toFixed(2)}/month`,
        );
      }
    } catch (error) {
      say(`delivery could not be measured: ${error instanceof Error ? error.stack : String(error)}`);
      delivery = {
        domain: DELIVERY_DOMAIN,
        runs,
        variants: [],
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      };
    }
  }

  let fleet: FleetResult = {
    certificates: 0,
    rssSampleMs: RSS_SAMPLE_MS,
    runs: [],
    error: fleetSize === 0 ? 'skipped (--fleet 0)' : 'skipped (--only)',
  };
  if (fleetSize > 0 && selected('fleet')) {
    try {
      fleet = await runFleet({
        proxy,
        challtestsrvUrl: pebble.challtestsrvUrl,
        dnsResolver: pebble.dnsResolver,
        workDir,
        certificates: fleetSize,
        smallPageSize: FLEET_SMALL_PAGE_SIZE,
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

  const environmentOf = (folder: string) =>
    inspected.environments.find((environments) => environments.has(folder))?.get(folder) ?? {};
  let init = new Map<string, InitTimings>();
  if (selected('bundles')) {
    say(`timing init of ${bundles.length} bundles (${initSamples} samples each)`);
    init = await timeInit({
      workDir: join(workDir, 'bundles'),
      bundles,
      environment: environmentOf,
      samples: initSamples,
    });
  }
  const bundleResults: BundleResult[] = bundles.map((bundle) => {
    const timings = init.get(bundle.folder);
    const importMs = summarize(timings?.importMs ?? []);
    const processMs = summarize(timings?.processMs ?? []);
    const externalImportMs = summarize(timings?.externalImportMs ?? []);
    return {
      step: bundle.name,
      folder: bundle.folder,
      logicalId: bundle.config.logicalId,
      bytes: bundle.bytes,
      gzipBytes: bundle.gzipBytes,
      bytesWithoutKeepNames: bundle.bytesWithoutKeepNames,
      ...(importMs ? { importMs } : {}),
      ...(processMs ? { processMs } : {}),
      externalImports: bundle.externalImports,
      ...(externalImportMs ? { externalImportMs } : {}),
      largestInputs: bundle.largestInputs,
      memoryMb: bundle.config.memoryMb,
      architecture: bundle.config.architecture,
      runtime: bundle.config.runtime,
      objectKey: bundle.objectKey,
      sha256: bundle.sha256,
      matchesRebuild: bundle.rebuiltSha256 === bundle.sha256,
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
        ...(ours.length > 0 ? { ours: summarizeOurs(ours) } : {}),
      });
    }
  }

  // Without the bundles section, init times come from the results merged into, as section 4 will show them.
  const bundlesForCost = selected('bundles') || !previous ? bundleResults : previous.bundles.functions;
  const cost: CostResult[] = cases
    .filter((caseResult) => caseResult.account === 'existing' && caseResult.ours)
    .map((caseResult) => ({
      caseId: caseResult.id,
      label: `Renewal: ${caseResult.label.replace(/, existing account$/, '')}`,
      cost: renewalCost({
        stateTransitions: caseResult.ours?.stateTransitions?.median ?? 0,
        lambdas: lambdaUsage(caseResult.ours as OurCaseExtras, inspected.taskHandlers, bundlesForCost),
        awsCalls: Object.fromEntries(
          Object.entries(caseResult.ours?.awsCalls ?? {}).map(([key, summary]) => [key, summary.median]),
        ),
        accountKeySpec: accountKeySpec(stacks[0]),
      }),
    }));

  // The chaos soak (test/harness/soak.ts) on its own Pebble, as `npm run demo -- --soak` runs it.
  const soakResults: SoakResult[] = [];
  if (selected('soak') && pebble) {
    for (const { runs: soakRuns, faultRate, seed } of SOAKS) {
      say(`chaos soak: ${soakRuns} runs at fault rate ${faultRate}`);
      soakResults.push(
        await runSoak({
          pebble,
          runs: soakRuns,
          faultRate,
          seed,
          domains: ['soak.example.org', '*.soak.example.org'],
        }),
      );
    }
  }

  let pacing: PacingResult | undefined;
  if (selected('pacing')) {
    try {
      pacing = await runPacing(say);
    } catch (error) {
      say(`pacing could not be simulated: ${error instanceof Error ? error.stack : String(error)}`);
      pacing = { limits: [], scenarios: [], error: error instanceof Error ? error.message : String(error) };
    }
  }

  // dns-01 against dns-persist-01, on a Pebble of its own behind the validator (bench/dns-persist.ts).
  let dnsPersist: DnsPersistResult | undefined;
  if (selected('dns-persist')) {
    try {
      dnsPersist = await runDnsPersist({ runs, say });
      for (const variant of dnsPersist.variants) {
        say(
          `dns-persist (${variant.label}): ${variant.acmeRequests?.median} ACME requests, ` +
            `${variant.awsCallsTotal?.median} AWS calls, ${variant.stateTransitions?.median} transitions`,
        );
      }
    } catch (error) {
      say(`dns-persist-01 could not be measured: ${error instanceof Error ? error.stack : String(error)}`);
      dnsPersist = {
        domains: DNS_PERSIST_DOMAINS,
        runs,
        draft: '',
        pebbleEnvironment: {},
        records: [],
        variants: [],
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      };
    }
  }

  const deploy = summarize(deployMs);
  const generatedAt = new Date().toISOString();
  const measuredSections = BENCH_SECTIONS.filter(
    (section) => selected(section) && (section !== 'fleet' || fleetSize > 0),
  );
  const results: BenchResults = {
    generatedAt,
    benchSeconds: (performance.now() - benchStarted) / 1000,
    skippedSections: BENCH_SECTIONS.filter((section) => !selected(section)),
    sectionsMeasuredAt: Object.fromEntries(measuredSections.map((section) => [section, generatedAt])),
    machine: {
      cpu: cpus()[0]?.model.trim() ?? 'unknown CPU',
      cores: cpus().length,
      memoryGb: Math.round(totalmem() / 1024 ** 3),
      os: `${platform()} ${release()} ${arch()}`,
      node: process.versions.node,
      loadAverage: { start: loadAtStart, end: loadavg()[0] ?? 0 },
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
    deployment: {
      quotas: { environmentBytes: MAX_ENVIRONMENT_BYTES, statePayloadBytes: MAX_PAYLOAD_BYTES },
      synthesis,
      ...(deploy ? { deployMs: deploy } : {}),
      configurations: inspected.configurations,
    },
    bundles: {
      settings: bundleSettings(),
      functions: bundleResults,
      outsideStacks: handlersOutsideStacks(bundles),
    },
    accountAndKms,
    delivery,
    ...(pacing ? { pacing } : {}),
    ...(dnsPersist ? { dnsPersist } : {}),
    fleet,
    soak: soakResults,
    package: pkg,
    cost,
    targets: targets(cases, bundleResults, accountAndKms, fleet, inspected.configurations, pkg),
  };

  const written = previous ? mergeResults(previous, results) : results;
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'results.json'), `${JSON.stringify(written, null, 2)}\n`);
  await writeFile(join(outDir, 'results.md'), renderMarkdown(written));
  const kept = BENCH_SECTIONS.filter(
    (section) => !measuredSections.includes(section) && !written.skippedSections.includes(section),
  );
  say(
    `wrote ${join(outDir, 'results.md')} and results.json in ${results.benchSeconds.toFixed(0)} s` +
      (kept.length > 0 ? `, keeping ${kept.join(', ')} from the results there` : ''),
  );
  const failed = cases.some((caseResult) => (caseResult.clients.ours?.failures.length ?? 0) > 0);
  if (failed) {
    say('some of our issuances failed; see results.json');
    process.exitCode = 1;
  }
  const lifecycleFailed =
    selected('lifecycle') &&
    (accountAndKms.error !== undefined ||
      accountAndKms.scenarios.some((scenario) => scenario.failures.length > 0));
  if (lifecycleFailed) {
    say(
      'an account action or a KMS-held key issuance failed; see the Account lifecycle section of results.md',
    );
    process.exitCode = 1;
  }
  if (
    selected('delivery') &&
    (delivery.error !== undefined || delivery.variants.some((variant) => variant.failures.length > 0))
  ) {
    say('a delivery run failed; see the Certificate delivery section of results.md');
    process.exitCode = 1;
  }
  const fleetFailed =
    fleetSize > 0 && selected('fleet') && (fleet.error !== undefined || fleet.runs.some((run) => !run.ok));
  if (fleetFailed) {
    say('the fleet run failed or fell short; see the Fleet section of results.md');
    process.exitCode = 1;
  }
  if (selected('package') && 'error' in pkg) {
    say('the npm package could not be built or listed; see the npm package section of results.md');
    process.exitCode = 1;
  }
  if (
    dnsPersist &&
    (dnsPersist.error !== undefined || dnsPersist.variants.some((variant) => variant.failures.length > 0))
  ) {
    say('a dns-01 or dns-persist-01 run failed; see section 14 of results.md');
    process.exitCode = 1;
  }
  const denials = results.targets.find((target) => target.name.startsWith('IAM denials'));
  if (denials && !denials.met) {
    say('IAM denied a call of the unedited stack; see the Targets of results.md');
    process.exitCode = 1;
  }
} finally {
  for (const peer of peers) await peer.close();
  await proxy?.close();
  await pebble?.stop();
  await rm(workDir, { recursive: true, force: true });
}

/**
 * Times `synthesizeFor` (the stack synthesized with its bundles, test/harness/cloud/assembly.ts):
 * the first synthesis in this process, which stages every function's prebuilt asset folder from
 * dist/assets (hashes it and copies it into the cloud assembly); the same configuration again,
 * which the harness answers from its cache; and each other configuration the bench deploys, a new
 * synthesis whose unchanged assets CDK reuses from this process's asset cache.
 */
function measureSynthesis(ca: LocalCa): { synthesis: SynthesisResult; stacks: SynthesizedStack[] } {
  const timed = (props: StackPropsForTest) => {
    const started = performance.now();
    const stack = synthesizeFor(ca, props);
    return { stack, ms: performance.now() - started };
  };
  const [first, ...others] = CONFIGURATIONS;
  const firstRun = timed(first?.props ?? {});
  const cached = timed(first?.props ?? {});
  const otherRuns = others.map((configuration) => ({ ...configuration, ...timed(configuration.props) }));
  return {
    synthesis: {
      firstMs: firstRun.ms,
      cachedMs: cached.ms,
      otherConfigurations: otherRuns.map(({ label, ms }) => ({ label, ms })),
      functions: Object.values(firstRun.stack.template.Resources).filter(
        (resource) => resource.Type === 'AWS::Lambda::Function',
      ).length,
    },
    stacks: [firstRun.stack, ...otherRuns.map((run) => run.stack)],
  };
}

/**
 * Deploys each configuration into a local cloud of its own and reads what only a deployment has:
 * every function's environment as deployed (its size against Lambda's 4 KB quota), and for the
 * defaults, which function each Task state invokes.
 */
async function inspectConfigurations(ca: LocalCa): Promise<{
  configurations: ConfigurationResult[];
  environments: Map<string, Record<string, string>>[];
  taskHandlers: Map<string, string>;
}> {
  const configurations: ConfigurationResult[] = [];
  const environments: Map<string, Record<string, string>>[] = [];
  let handlers = new Map<string, string>();
  for (const [index, configuration] of CONFIGURATIONS.entries()) {
    const fresh = await deployFresh(ca, [LIFECYCLE_DOMAIN], configuration.props);
    try {
      const { stack } = fresh.deployment;
      const sizes: EnvironmentSize[] = environmentSizes(stack);
      configurations.push({
        label: configuration.label,
        props: configuration.props,
        deployMs: fresh.deployMs,
        functions: sizes.length,
        environments: sizes,
      });
      environments.push(
        new Map(
          stack
            .logicalIdsOf('AWS::Lambda::Function')
            .map((logicalId) => stack.environmentOf(logicalId))
            .flatMap((variables) => (variables.ACME_STEP ? [[variables.ACME_STEP, variables] as const] : [])),
        ),
      );
      if (index === 0) handlers = taskHandlers(fresh.deployment, 'Issuance');
    } finally {
      await fresh.close();
    }
  }
  return { configurations, environments, taskHandlers: handlers };
}

/**
 * The results already in the output folder, or undefined when there are none a run with `--only`
 * can merge into (said on stderr): the run then writes only what it measures.
 */
async function readPreviousResults(file: string): Promise<BenchResults | undefined> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    say(
      `not merging into ${file} (${error instanceof Error ? error.message : String(error)}): results.json and results.md will hold only the sections this run measures`,
    );
    return undefined;
  }
  if (!isBenchResults(parsed)) {
    say(
      `not merging into ${file}, which does not hold the bench's results: results.json and results.md will hold only the sections this run measures`,
    );
    return undefined;
  }
  return parsed;
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
      pick((run) => run.lambdaColdStarts + run.lambdaWarmInvocations),
    ),
    ...optional(
      'iamAuthorizedCalls',
      pick((run) => run.iamAuthorizedCalls),
    ),
    ...optional(
      'iamDecisions',
      pick((run) => run.iamDecisions),
    ),
    ...optional(
      'iamDenials',
      pick((run) => run.iamDenials),
    ),
    ...optional(
      'lambdaColdStarts',
      pick((run) => run.lambdaColdStarts),
    ),
    ...optional(
      'lambdaWarmInvocations',
      pick((run) => run.lambdaWarmInvocations),
    ),
    ...optional(
      'maxStatePayloadBytes',
      pick((run) => run.maxStatePayload.bytes),
    ),
    maxStatePayloadWhere: [...new Set(ok.map((run) => run.maxStatePayload.where))],
    steps: stepNames.map((name) => {
      const ms = pick((run) => run.steps.find((step) => step.name === name)?.ms ?? 0);
      const stepRuns = pick((run) => run.steps.find((step) => step.name === name)?.runs ?? 0);
      return { name, ...(ms ? { ms } : {}), ...(stepRuns ? { runs: stepRuns } : {}) };
    }),
    clientSideCountsAgree: ourRuns.every((run) => run.clientSideRequests === run.requests.total),
    iamMatchesServedCalls: ok.every(
      (run) => run.iamAuthorizedCalls === Object.values(run.awsCalls).reduce((sum, count) => sum + count, 0),
    ),
  };
}

/** The account key's KMS key spec, from the synthesized template. */
function accountKeySpec(stack: SynthesizedStack | undefined): string {
  for (const resource of Object.values(stack?.template.Resources ?? {})) {
    const spec = resource.Type === 'AWS::KMS::Key' ? resource.Properties?.KeySpec : undefined;
    if (typeof spec === 'string' && spec !== 'SYMMETRIC_DEFAULT') return spec;
  }
  return 'unknown';
}

/** What each Task state of the execution used, with its function's configuration and init time. */
function lambdaUsage(
  ours: OurCaseExtras,
  handlers: ReadonlyMap<string, string>,
  bundleResults: readonly BundleResult[],
): LambdaUsage[] {
  return ours.steps.map((step) => {
    const bundle = bundleResults.find((candidate) => candidate.folder === handlers.get(step.name));
    return {
      step: step.name,
      invocations: step.runs?.median ?? 0,
      durationMs: step.ms?.median ?? 0,
      initMs: bundle?.importMs?.median,
      memoryMb: bundle?.memoryMb ?? 128,
      architecture: bundle?.architecture === 'arm64' ? 'arm64' : 'x86_64',
    };
  });
}
