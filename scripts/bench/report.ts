import type { SoakResult } from '../../test/harness/soak.js';
import type { AccountAndKmsResult } from './account-and-kms.js';
import type { BundleSettings } from './bundles.js';
import type { RenewalCost } from './cost.js';
import type { DeliveryResult } from './delivery.js';
import type { EnvironmentSize } from './deployments.js';
import type { DnsPersistResult } from './dns-persist.js';
import type { FleetResult } from './fleet.js';
import type { PacingResult } from './pacing.js';
import type { PackageResult } from './package.js';
import { accountAndKmsSection } from './report-account-and-kms.js';
import { bundlesSection } from './report-bundles.js';
import { costSection } from './report-cost.js';
import { deliverySection } from './report-delivery.js';
import { deploymentSection } from './report-deployment.js';
import { dnsPersistSection } from './report-dns-persist.js';
import { fleetSection } from './report-fleet.js';
import { table } from './report-format.js';
import {
  awsCallsSection,
  headlineSection,
  requestsSection,
  stateTransitionsSection,
  wallTimeSection,
} from './report-issuance.js';
import { pacingSection } from './report-pacing.js';
import { packageSection } from './report-package.js';
import { soakSection } from './report-soak.js';
import { text } from './report-text.js';
import type { Role } from './requests.js';
import type { Summary } from './stats.js';
import { targets } from './targets.js';

/** The sections `npm run bench -- --only` can name, in the order a full run measures them. */
export const BENCH_SECTIONS = [
  'issuance',
  'lifecycle',
  'delivery',
  'fleet',
  'bundles',
  'soak',
  'package',
  'pacing',
  'dns-persist',
] as const;
export type BenchSection = (typeof BENCH_SECTIONS)[number];

/** Everything `npm run bench` measured, as written to bench/results.json. */
export interface BenchResults {
  readonly generatedAt: string;
  readonly benchSeconds: number;
  /** The sections these results hold no measurement of (`--only` left them out); they are empty. */
  readonly skippedSections: readonly string[];
  /**
   * When each measured section was measured. A run with `--only` keeps the sections it did not run
   * from the results it merges into, with their times; results written before this field existed
   * were measured whole at `generatedAt`.
   */
  readonly sectionsMeasuredAt?: Readonly<Partial<Record<BenchSection, string>>>;
  readonly machine: {
    readonly cpu: string;
    readonly cores: number;
    readonly memoryGb: number;
    readonly os: string;
    readonly node: string;
    /** The one-minute load average when the bench started and when it ended. */
    readonly loadAverage: { readonly start: number; readonly end: number };
  };
  readonly runs: number;
  readonly initSamples: number;
  readonly ca: { readonly pebble: string; readonly environment: Readonly<Record<string, string>> };
  readonly peers: readonly PeerInfo[];
  readonly cases: readonly CaseResult[];
  /** The synthesis, the deploys, and what the deployed functions are configured with. */
  readonly deployment: {
    /** The AWS quotas the figures are held to, in bytes. */
    readonly quotas: { readonly environmentBytes: number; readonly statePayloadBytes: number };
    readonly synthesis: SynthesisResult;
    /** `deployLocally` of the defaults into a new local cloud, once per issuance pair of section 1. */
    readonly deployMs?: Summary;
    readonly configurations: readonly ConfigurationResult[];
  };
  readonly bundles: {
    readonly settings: BundleSettings;
    readonly functions: readonly BundleResult[];
    /** Handler folders under lambdas/ that no function of the synthesized stacks runs. */
    readonly outsideStacks: readonly string[];
  };
  /** Account key rollover, contact update and KMS-held certificate keys (account-and-kms.ts). */
  readonly accountAndKms: AccountAndKmsResult;
  /** Section 12: what delivery to Secrets Manager and Parameter Store adds to a renewal (delivery.ts). */
  readonly delivery?: DeliveryResult;
  /** Section 13: 1,000 first issuances paced within Let's Encrypt's limits (pacing.ts). */
  readonly pacing?: PacingResult;
  /** Section 14: one dns-01 issuance against one dns-persist-01 issuance with its record in place (dns-persist.ts). */
  readonly dnsPersist?: DnsPersistResult;
  readonly fleet: FleetResult;
  readonly cost: readonly CostResult[];
  /** Section 10: the chaos soaks, one per fault rate (empty when skipped). */
  readonly soak: readonly SoakResult[];
  /** Section 11: the npm package as `npm pack --dry-run` lists it after the build (package.ts). */
  readonly package: PackageResult;
  readonly targets: readonly TargetResult[];
}

export type ClientName = 'ours' | 'certbot' | 'lego';

/**
 * How long synthesizing the stack with its bundles takes in one process. The bundles are prebuilt
 * (`npm run build`, dist/assets); synthesis hashes each function's asset folder and copies it into
 * the cloud assembly.
 */
export interface SynthesisResult {
  /** The first synthesis in the process: CDK stages every function's asset folder. */
  readonly firstMs: number;
  /** The same props again: the harness's per-process cache answers. */
  readonly cachedMs: number;
  /** Other props, synthesized anew: CDK reuses the assets it staged in this process. */
  readonly otherConfigurations: readonly { readonly label: string; readonly ms: number }[];
  /** Functions in the default stack, each one bundle. */
  readonly functions: number;
}

/** One stack configuration, deployed once to read its functions as deployed. */
export interface ConfigurationResult {
  readonly label: string;
  readonly props: unknown;
  readonly deployMs: number;
  readonly functions: number;
  /** Every function's environment variables, largest first. */
  readonly environments: readonly EnvironmentSize[];
}

export interface PeerInfo {
  readonly name: 'certbot' | 'lego';
  readonly version?: string;
  readonly installed: boolean;
  readonly invocation?: string;
}

export interface CaseResult {
  readonly id: string;
  readonly label: string;
  readonly domains: readonly string[];
  readonly account: 'new' | 'existing';
  /** The fewest requests the protocol allows, per role (see requests.ts). */
  readonly floor: Readonly<Record<Role, number>>;
  readonly floorTotal: number;
  readonly clients: Readonly<Partial<Record<ClientName, ClientCaseResult>>>;
  readonly ours?: OurCaseExtras;
}

export interface ClientCaseResult {
  readonly succeeded: number;
  readonly failures: readonly string[];
  readonly requests?: Summary;
  readonly wallMs?: Summary;
  readonly byRole: Readonly<Partial<Record<Role, Summary>>>;
  /** Every successful run: total requests, wall time and requests per path. */
  readonly raw: readonly {
    readonly requests: number;
    readonly errorResponses: number;
    readonly wallMs: number;
    readonly byPath: Readonly<Record<string, number>>;
  }[];
}

export interface OurCaseExtras {
  readonly kmsSignCalls?: Summary;
  readonly route53ChangeCalls?: Summary;
  readonly route53GetChangeCalls?: Summary;
  readonly acmCalls?: Summary;
  /** Every AWS call per `service:Command`. */
  readonly awsCalls: Readonly<Record<string, Summary>>;
  readonly stateTransitions?: Summary;
  readonly waitStateEntries?: Summary;
  readonly lambdaInvocations?: Summary;
  /** The functions' AWS calls IAM authorized. */
  readonly iamAuthorizedCalls?: Summary;
  /** Every IAM decision, Step Functions invoking the functions included. */
  readonly iamDecisions?: Summary;
  readonly iamDenials?: Summary;
  /** Lambda execution environments started during the execution. */
  readonly lambdaColdStarts?: Summary;
  readonly lambdaWarmInvocations?: Summary;
  /** Bytes of the largest state input or output. */
  readonly maxStatePayloadBytes?: Summary;
  /** Where the largest payload was, in each run. */
  readonly maxStatePayloadWhere: readonly string[];
  readonly steps: readonly { readonly name: string; readonly ms?: Summary; readonly runs?: Summary }[];
  /** Whether the count inside our process equalled the proxy's in every run. */
  readonly clientSideCountsAgree: boolean;
  /** Whether, in every run, the calls IAM authorized equalled the calls the fakes served. */
  readonly iamMatchesServedCalls: boolean;
}

export interface BundleResult {
  readonly step: string;
  readonly folder: string;
  /** The function's logical id in the synthesized template. */
  readonly logicalId: string;
  readonly bytes: number;
  readonly gzipBytes: number;
  /** The same build without `keepNames`. */
  readonly bytesWithoutKeepNames: number;
  readonly importMs?: Summary;
  readonly processMs?: Summary;
  readonly externalImports: readonly string[];
  readonly externalImportMs?: Summary;
  readonly largestInputs: readonly { readonly name: string; readonly bytes: number }[];
  readonly memoryMb: number;
  readonly architecture: string;
  readonly runtime: string;
  /** The S3 object key of the asset, as the template's function code names it. */
  readonly objectKey: string;
  /** SHA-256 of the asset's `index.mjs`. */
  readonly sha256: string;
  /**
   * Whether building it again with scripts/build/lambda-bundles.ts's options (for the metafile) gave
   * the bytes `npm run build` wrote to dist/assets and synthesis copied into the assembly.
   */
  readonly matchesRebuild: boolean;
}

export interface CostResult {
  readonly caseId: string;
  readonly label: string;
  readonly cost: RenewalCost;
}

export interface TargetResult {
  readonly name: string;
  readonly target: string;
  readonly measured: string;
  readonly met: boolean;
  readonly why?: string;
}

/**
 * When each section of `results` was measured; a section left out holds no measurement. Results
 * written before `sectionsMeasuredAt` existed were measured whole at `generatedAt`, but for the
 * sections `--only` skipped and those the bench did not have yet.
 */
export function sectionsMeasuredAt(results: BenchResults): Partial<Record<BenchSection, string>> {
  if (results.sectionsMeasuredAt) return { ...results.sectionsMeasuredAt };
  const held: Record<BenchSection, boolean> = {
    issuance: true,
    lifecycle: true,
    delivery: results.delivery !== undefined,
    fleet: true,
    bundles: true,
    soak: true,
    package: true,
    pacing: results.pacing !== undefined,
    'dns-persist': results.dnsPersist !== undefined,
  };
  return Object.fromEntries(
    BENCH_SECTIONS.filter((section) => held[section] && !results.skippedSections.includes(section)).map(
      (section) => [section, results.generatedAt],
    ),
  );
}

/**
 * The results of a run with `--only` merged into earlier ones: each section `latest` measured is
 * taken from it, every other section exactly as `previous` holds it, with the time it was measured
 * there. The targets are held anew to the merged figures; the machine and the CA are the latest
 * run's. Section 9 (synthesis, deployments, environments) stays with the issuance sections, whose
 * per-issuance figures it shows, so that each section of the report comes from one run.
 */
export function mergeResults(previous: BenchResults, latest: BenchResults): BenchResults {
  const measuredNow = sectionsMeasuredAt(latest);
  const measuredBefore = sectionsMeasuredAt(previous);
  const from = (section: BenchSection) => (measuredNow[section] !== undefined ? latest : previous);
  const measuredAt: Partial<Record<BenchSection, string>> = {};
  for (const section of BENCH_SECTIONS) {
    const at = measuredNow[section] ?? measuredBefore[section];
    if (at !== undefined) measuredAt[section] = at;
  }
  const issuance = from('issuance');
  const bundles = from('bundles');
  const { delivery } = from('delivery');
  const { pacing } = from('pacing');
  const { dnsPersist } = from('dns-persist');
  const merged = {
    generatedAt: latest.generatedAt,
    benchSeconds: latest.benchSeconds,
    skippedSections: BENCH_SECTIONS.filter((section) => measuredAt[section] === undefined),
    sectionsMeasuredAt: measuredAt,
    machine: latest.machine,
    runs: issuance.runs,
    initSamples: bundles.initSamples,
    ca: latest.ca,
    peers: issuance.peers,
    cases: issuance.cases,
    deployment: issuance.deployment,
    bundles: bundles.bundles,
    accountAndKms: from('lifecycle').accountAndKms,
    ...(delivery ? { delivery } : {}),
    ...(pacing ? { pacing } : {}),
    ...(dnsPersist ? { dnsPersist } : {}),
    fleet: from('fleet').fleet,
    soak: from('soak').soak,
    package: from('package').package,
    cost: issuance.cost,
  };
  return {
    ...merged,
    targets: targets(
      merged.cases,
      merged.bundles.functions,
      merged.accountAndKms,
      merged.fleet,
      merged.deployment.configurations,
      merged.package,
    ),
  };
}

/**
 * Whether a parsed results.json has what merging into it reads. A file that fails this is not
 * merged into: the run writes only what it measured.
 */
export function isBenchResults(value: unknown): value is BenchResults {
  if (typeof value !== 'object' || value === null) return false;
  const results = value as Record<string, unknown>;
  const isObject = (candidate: unknown) => typeof candidate === 'object' && candidate !== null;
  const { deployment, bundles } = results as {
    deployment?: Record<string, unknown>;
    bundles?: Record<string, unknown>;
  };
  return (
    typeof results.generatedAt === 'string' &&
    typeof results.benchSeconds === 'number' &&
    Array.isArray(results.skippedSections) &&
    (results.sectionsMeasuredAt === undefined || isObject(results.sectionsMeasuredAt)) &&
    isObject(results.machine) &&
    typeof results.runs === 'number' &&
    typeof results.initSamples === 'number' &&
    isObject(results.ca) &&
    Array.isArray(results.peers) &&
    Array.isArray(results.cases) &&
    isObject(deployment) &&
    isObject(deployment?.synthesis) &&
    Array.isArray(deployment?.configurations) &&
    isObject(bundles) &&
    Array.isArray(bundles?.functions) &&
    isObject(results.accountAndKms) &&
    isObject(results.fleet) &&
    Array.isArray(results.soak) &&
    isObject(results.package) &&
    Array.isArray(results.cost)
  );
}

/**
 * Renders the results as Markdown, the headline table first: one function per section, each
 * building its headings and tables from the results and taking its paragraphs from
 * report-template.md. When some sections were kept from an earlier run (`--only`), each measured
 * section says under its heading when it was measured.
 */
export function renderMarkdown(results: BenchResults): string {
  const measuredAt = sectionsMeasuredAt(results);
  const mixed = Object.values(measuredAt).some((at) => at !== results.generatedAt);
  const dated = (section: BenchSection, lines: string[]) => {
    const at = measuredAt[section];
    if (!mixed || at === undefined) return lines;
    const [heading = '', ...rest] = lines;
    return [heading, '', text('section-measured-at', { measuredAt: at }), ...rest];
  };
  const sections = [
    introSection(results, mixed ? measuredAt : undefined),
    dated('issuance', headlineSection(results)),
    targetsSection(results.targets),
    dated('issuance', requestsSection(results)),
    dated('issuance', awsCallsSection(results.cases)),
    dated('issuance', stateTransitionsSection(results)),
    dated('bundles', bundlesSection(results)),
    dated('issuance', wallTimeSection(results.cases)),
    dated('fleet', fleetSection(results.fleet)),
    dated('issuance', costSection(results.cost)),
    dated('lifecycle', accountAndKmsSection(results.accountAndKms)),
    dated('issuance', deploymentSection(results)),
    dated('soak', soakSection(results.soak ?? [])),
    dated('package', packageSection(results.package ?? { error: 'not in these results' })),
    dated(
      'delivery',
      deliverySection(
        results.delivery ?? { domain: '', runs: 0, variants: [], error: 'not in these results' },
      ),
    ),
    dated('pacing', pacingSection(results.pacing)),
    dated('dns-persist', dnsPersistSection(results.dnsPersist)),
    methodSection(results, mixed),
  ];
  return `${sections.flat().join('\n')}\n`;
}

/**
 * The title, when and where the bench ran, and what it runs. `measuredAt` is given when some
 * sections were kept from an earlier run.
 */
function introSection(
  results: BenchResults,
  measuredAt: Partial<Record<BenchSection, string>> | undefined,
): string[] {
  const { machine, skippedSections } = results;
  const compared = results.peers.some((peer) => peer.installed);
  const measuredNow = BENCH_SECTIONS.filter((section) => measuredAt?.[section] === results.generatedAt);
  return [
    '# Benchmark results',
    '',
    measuredAt
      ? text('intro-written-merged', {
          generatedAt: results.generatedAt,
          sections: measuredNow.length > 0 ? measuredNow.join(', ') : 'no section',
          benchSeconds: results.benchSeconds.toFixed(0),
          runs: results.runs,
        })
      : text('intro-written', {
          generatedAt: results.generatedAt,
          runs: results.runs,
          benchSeconds: results.benchSeconds.toFixed(0),
        }),
    '',
    text('intro-machine', {
      cpu: machine.cpu,
      cores: machine.cores,
      memoryGb: machine.memoryGb,
      os: machine.os,
      node: machine.node,
      peers: text(compared ? 'intro-peers-compared' : 'intro-peers-absent'),
    }),
    '',
    text('intro-what-runs'),
    '',
    ...(skippedSections.length > 0
      ? [text('intro-partial-run', { sections: skippedSections.join(', ') }), '']
      : []),
  ];
}

/** The targets the results are held to, and whether this run met them. */
function targetsSection(targets: readonly TargetResult[]): string[] {
  return [
    '### Targets',
    '',
    table(
      ['target', 'measured', 'met', 'why'],
      targets.map((target) => [
        `${target.name}: ${target.target}`,
        target.measured,
        target.met ? 'yes' : '**no**',
        target.why ?? '',
      ]),
    ),
    '',
  ];
}

/**
 * How the CA, the counting, our runs and the peers' runs were set up, and the machine's load during
 * the latest run, which is all the load `mixed` results (some sections kept from earlier runs) hold.
 */
function methodSection(results: BenchResults, mixed: boolean): string[] {
  const { machine } = results;
  return [
    '## Method',
    '',
    text('method-ca', {
      pebble: results.ca.pebble,
      environment: Object.entries(results.ca.environment)
        .map(([key, value]) => `\`${key}=${value}\``)
        .join(', '),
    }),
    text('method-counting-and-ours'),
    ...results.peers.map((peer) =>
      peer.installed
        ? text('method-peer-installed', {
            name: peer.name,
            version: String(peer.version),
            invocation: String(peer.invocation),
          })
        : text('method-peer-missing', { name: peer.name }),
    ),
    text(mixed ? 'method-timings-latest-run' : 'method-timings', {
      loadStart: machine.loadAverage.start.toFixed(1),
      loadEnd: machine.loadAverage.end.toFixed(1),
      cores: machine.cores,
    }),
    '',
  ];
}
