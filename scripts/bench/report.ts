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

/** Everything `npm run bench` measured, as written to bench/results.json. */
export interface BenchResults {
  readonly generatedAt: string;
  readonly benchSeconds: number;
  /** The sections `--only` left out of this run; they are empty. */
  readonly skippedSections: readonly string[];
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
 * Renders the results as Markdown, the headline table first: one function per section, each
 * building its headings and tables from the results and taking its paragraphs from
 * report-template.md.
 */
export function renderMarkdown(results: BenchResults): string {
  const sections = [
    introSection(results),
    headlineSection(results),
    targetsSection(results.targets),
    requestsSection(results),
    awsCallsSection(results.cases),
    stateTransitionsSection(results),
    bundlesSection(results),
    wallTimeSection(results.cases),
    fleetSection(results.fleet),
    costSection(results.cost),
    accountAndKmsSection(results.accountAndKms),
    deploymentSection(results),
    soakSection(results.soak ?? []),
    packageSection(results.package ?? { error: 'not in these results' }),
    deliverySection(results.delivery ?? { domain: '', runs: 0, variants: [], error: 'not in these results' }),
    pacingSection(results.pacing),
    dnsPersistSection(results.dnsPersist),
    methodSection(results),
  ];
  return `${sections.flat().join('\n')}\n`;
}

/** The title, when and where the bench ran, and what it runs. */
function introSection(results: BenchResults): string[] {
  const { machine, skippedSections } = results;
  const compared = results.peers.some((peer) => peer.installed);
  return [
    '# Benchmark results',
    '',
    text('intro-written', {
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

/** How the CA, the counting, our runs and the peers' runs were set up, and the machine's load. */
function methodSection(results: BenchResults): string[] {
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
    text('method-timings', {
      loadStart: machine.loadAverage.start.toFixed(1),
      loadEnd: machine.loadAverage.end.toFixed(1),
      cores: machine.cores,
    }),
    '',
  ];
}
