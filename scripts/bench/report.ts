import type { SoakResult } from '../../test/harness/soak.js';
import type { AccountAndKmsResult, ScenarioId, ScenarioResult } from './account-and-kms.js';
import type { BundleSettings } from './bundles.js';
import { PRICES_AS_OF, type RenewalCost } from './cost.js';
import type { EnvironmentSize } from './deployments.js';
import type { FleetResult, FleetRunResult } from './fleet.js';
import { ROLES, type Role, requestsByRole } from './requests.js';
import { formatCount, formatMs, formatRatio, type Summary } from './stats.js';

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
  readonly fleet: FleetResult;
  readonly cost: readonly CostResult[];
  /** Section 10: the chaos soaks, one per fault rate (empty when skipped). */
  readonly soak: readonly SoakResult[];
  readonly targets: readonly TargetResult[];
}

export type ClientName = 'ours' | 'certbot' | 'lego';

/** How long synthesizing the stack with its bundles takes in one process. */
export interface SynthesisResult {
  /** The first synthesis in the process: CDK builds every bundle. */
  readonly firstMs: number;
  /** The same props again: the harness's per-process cache answers. */
  readonly cachedMs: number;
  /** Other props, synthesized anew: CDK reuses the bundles it built in this process. */
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
  /** Whether building it again with lib/lambda-bundle.ts's options (for the metafile) gave the same bytes. */
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

const CLIENTS: readonly ClientName[] = ['ours', 'certbot', 'lego'];

const kb = (bytes: number) => `${(bytes / 1000).toFixed(1)} KB`;
/** Dollars to three significant digits, never in exponent notation: `$0.000000220`. */
const usd = (value: number) =>
  value === 0 ? '$0' : `$${value.toFixed(Math.min(12, Math.max(2, 2 - Math.floor(Math.log10(value)))))}`;

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function clientTitle(results: BenchResults, client: ClientName): string {
  if (client === 'ours') return 'acme-aws (ours)';
  const peer = results.peers.find((candidate) => candidate.name === client);
  return peer?.installed ? `${client} ${peer.version}` : client;
}

function cell(
  results: BenchResults,
  caseResult: CaseResult,
  client: ClientName,
  pick: (r: ClientCaseResult) => string,
): string {
  const peer = results.peers.find((candidate) => candidate.name === client);
  if (client !== 'ours' && !peer?.installed) return 'not installed';
  const measured = caseResult.clients[client];
  if (!measured || measured.succeeded === 0) return `failed (${measured?.failures.length ?? 0} runs)`;
  return pick(measured);
}

/** Renders the results as Markdown, the headline table first. */
export function renderMarkdown(results: BenchResults): string {
  const out: string[] = [];
  const push = (...lines: string[]) => out.push(...lines);
  const installedPeers = results.peers.filter((peer) => peer.installed);

  push(
    '# Benchmark results',
    '',
    `Written by \`npm run bench\` on ${results.generatedAt}; every figure below was measured in that run ` +
      `(${results.runs} runs per case, medians with min–max in brackets where runs differed). The bench took ` +
      `${results.benchSeconds.toFixed(0)} s.`,
    '',
    `Absolute times are specific to this machine (${results.machine.cpu}, ${results.machine.cores} cores, ` +
      `${results.machine.memoryGb} GB, ${results.machine.os}, Node ${results.machine.node}) and a local Pebble. ` +
      (installedPeers.length > 0
        ? 'The ratios against certbot and lego, run against the same Pebble in the same bench, are the headline.'
        : 'Neither certbot nor lego is installed on this machine, so this run has no peer columns to compare with.'),
    '',
    'What runs is what `cdk deploy` ships: the stack synthesized with its Lambda bundles (lib/lambda-bundle.ts) ' +
      'and deployed into a local cloud (test/harness/local-issuance.ts). The state machines run from the ' +
      'synthesized definitions; every function runs its bundled asset from the cloud assembly in Lambda execution ' +
      'environments of its own (worker threads), which start cold on a new deployment and stay warm after; every ' +
      'AWS call a function makes is authorized first by IAM evaluated from the template’s policies, then served by ' +
      'a fake. Figures that depend on that (wall time, Task time, cold starts, IAM) are not comparable with results ' +
      'of the bench before it, which ran the handlers’ sources in the bench process, already loaded.',
    '',
    ...(results.skippedSections.length > 0
      ? [`**Partial run:** ${results.skippedSections.join(', ')} not measured (\`--only\`).`, '']
      : []),
    '## Headline',
    '',
  );

  const headlineHeader = [
    'per issuance',
    ...CLIENTS.map((client) => clientTitle(results, client)),
    ...installedPeers.map((peer) => `ours ÷ ${peer.name}`),
    'floor',
  ];
  const headlineRows: string[][] = [];
  for (const caseResult of results.cases) {
    headlineRows.push([
      `ACME requests: ${caseResult.label}`,
      ...CLIENTS.map((client) => cell(results, caseResult, client, (r) => formatCount(r.requests))),
      ...installedPeers.map((peer) =>
        formatRatio(caseResult.clients.ours?.requests, caseResult.clients[peer.name]?.requests),
      ),
      String(caseResult.floorTotal),
    ]);
  }
  for (const caseResult of results.cases) {
    headlineRows.push([
      `Wall time: ${caseResult.label}`,
      ...CLIENTS.map((client) => cell(results, caseResult, client, (r) => formatMs(r.wallMs))),
      ...installedPeers.map((peer) =>
        formatRatio(caseResult.clients.ours?.wallMs, caseResult.clients[peer.name]?.wallMs),
      ),
      '',
    ]);
  }
  push(table(headlineHeader, headlineRows), '');
  push(
    'Requests are counted at the wire by one counting HTTPS proxy in front of Pebble, the same for every ' +
      'client. Our wall time is one execution of the deployed issuance state machine, with Wait states lasting ' +
      '0 ms, measured in the bench process around `runLocalIssuance`. A new account means a new deployment (a new ' +
      'local cloud, so new KMS keys), so its run starts every function’s execution environment cold: the ' +
      'environment’s start and the import of the bundle and its SDK clients are in that wall time. The ' +
      'existing-account run follows on the same deployment and finds the environments warm. ' +
      (installedPeers.length > 0 ? 'The peers’ wall time is their process from start to exit. ' : '') +
      'On AWS the Wait states really wait (Route 53 propagation, Retry-After) and every AWS and ACME call crosses ' +
      'a network, which these local times leave out.',
    '',
  );

  push('### Targets', '');
  push(
    table(
      ['target', 'measured', 'met', 'why'],
      results.targets.map((target) => [
        `${target.name}: ${target.target}`,
        target.measured,
        target.met ? 'yes' : '**no**',
        target.why ?? '',
      ]),
    ),
    '',
  );

  push('## 1. ACME HTTP requests per issuance', '');
  push(
    'The floor is the fewest requests RFC 8555 allows against Pebble (which answers finalize with ' +
      '`processing`): directory, one newNonce, newAccount (new account only), newOrder, one read per ' +
      'authorization, one POST per challenge, one order poll before and one after finalize, finalize, and the ' +
      'certificate. It matches the table in DESIGN.md. A directory cached across executions would save one more.',
    '',
  );
  for (const caseResult of results.cases) {
    push(`### ${caseResult.label}`, '');
    const rows = ROLES.filter(
      (role) =>
        caseResult.floor[role] > 0 ||
        CLIENTS.some((client) => (caseResult.clients[client]?.byRole[role]?.max ?? 0) > 0),
    ).map((role) => [
      role,
      String(caseResult.floor[role]),
      ...CLIENTS.map((client) =>
        cell(results, caseResult, client, (r) => formatCount(r.byRole[role] ?? zero)),
      ),
    ]);
    rows.push([
      '**total**',
      `**${caseResult.floorTotal}**`,
      ...CLIENTS.map((client) => cell(results, caseResult, client, (r) => `**${formatCount(r.requests)}**`)),
    ]);
    push(table(['request', 'floor', ...CLIENTS.map((client) => clientTitle(results, client))], rows), '');
  }
  const above = results.cases.flatMap((caseResult) => oursAboveFloor(caseResult));
  push(
    above.length === 0
      ? 'Ours: at the floor in every run.'
      : `Ours, runs above the floor: ${above.join('; ')}. Locally every Wait state lasts 0 ms, so a poll can reach ` +
          'Pebble before it has finished validating or issuing; the poll loop then runs once more (one more order ' +
          'poll, three more state transitions). On AWS the Wait honours Retry-After, or the configured poll interval.',
    '',
  );
  const agree = results.cases.every((caseResult) => caseResult.ours?.clientSideCountsAgree ?? true);
  push(
    agree
      ? 'Cross-check: in every run, the requests our functions sent (counted by the local Lambda as each left an execution environment) equal what the proxy received.'
      : '**Cross-check failed:** in some run the requests our functions sent differ from what the proxy received; see results.json.',
    '',
  );

  push('## 2. AWS calls per issuance (ours)', '');
  push(
    table(
      [
        'case',
        'KMS Sign',
        'Route 53 changes (publish + cleanup)',
        'Route 53 GetChange polls',
        'ACM calls',
        'authorized by IAM',
        'IAM denials',
        'all calls',
      ],
      results.cases.map((caseResult) => {
        const ours = caseResult.ours;
        return [
          caseResult.label,
          formatCount(ours?.kmsSignCalls),
          formatCount(ours?.route53ChangeCalls),
          formatCount(ours?.route53GetChangeCalls),
          formatCount(ours?.acmCalls),
          formatCount(ours?.iamAuthorizedCalls),
          formatCount(ours?.iamDenials),
          Object.entries(ours?.awsCalls ?? {})
            .map(([key, summary]) => `${key} ${formatCount(summary)}`)
            .join(', '),
        ];
      }),
    ),
    '',
    'The Route 53 fake reports a change `PENDING` on the first GetChange and `INSYNC` on the next, so one poll ' +
      'loop runs; real Route 53 usually needs a few more.',
    '',
    `Every one of these calls was authorized first, as IAM would, against the deployed roles' policies and the ` +
      'resource policies (key policies, the bucket policy) of the template, with the request’s condition keys. ' +
      iamCrossCheck(results.cases),
    '',
  );

  push('## 3. State transitions per issuance', '');
  push(
    table(
      [
        'case',
        'state transitions',
        'of which Wait states (0 ms each locally)',
        'Lambda invocations',
        'of which cold starts',
        'warm',
        `largest state payload (of ${kib(results.deployment.quotas.statePayloadBytes)})`,
      ],
      results.cases.map((caseResult) => [
        caseResult.label,
        formatCount(caseResult.ours?.stateTransitions),
        formatCount(caseResult.ours?.waitStateEntries),
        formatCount(caseResult.ours?.lambdaInvocations),
        formatCount(caseResult.ours?.lambdaColdStarts),
        formatCount(caseResult.ours?.lambdaWarmInvocations),
        caseResult.ours?.maxStatePayloadBytes
          ? `${formatCount(caseResult.ours.maxStatePayloadBytes)} bytes (${caseResult.ours.maxStatePayloadWhere.join(', ')})`
          : '—',
      ]),
    ),
    '',
    'Transitions count every state entered plus retries, as Step Functions Standard bills them. Each further ' +
      'poll loop on AWS (Wait, Task, Choice) adds three.',
    '',
    'Cold starts are execution environments the local Lambda started for the execution; a new account runs on a ' +
      'new deployment, so every function it invokes starts cold once, and a function invoked again in the same ' +
      'execution (the DNS check’s poll loop) is warm the second time. On AWS, environments of a deployment stay warm for minutes to hours between executions and are not ' +
      'shared between functions, so a renewal a day after the last one typically starts cold too; the ' +
      'existing-account rows show the cost of an execution when they are warm. The largest payload is the JSON of ' +
      'a state’s input or output, as Step Functions holds it to its quota of 256 KiB.',
    '',
  );

  push('## 4. Lambda bundles', '');
  const settings = results.bundles.settings;
  push(
    'The bundles that ship: each function’s `index.mjs` in the cloud assembly synthesized for the deployments ' +
      'above, the asset its template’s code refers to, measured as it is. lib/lambda-bundle.ts builds them during ' +
      `synthesis with esbuild: \`--bundle --platform=${settings.platform} --format=${settings.format} ` +
      `--target=${settings.target}${settings.minify ? ' --minify' : ''}${settings.keepNames ? ' --keep-names' : ''} ` +
      `--main-fields=${settings.mainFields.join(',')}\`, the \`createRequire\` banner, and external ` +
      `${settings.external.map((name) => `\`${name}\``).join(', ')}: ${settings.externalReason}. \`--keep-names\` ` +
      'keeps error class names (Step Functions matches Retry and Catch on them); what it costs is the difference ' +
      `between the first two columns below (${keepNamesCost(results.bundles.functions)}).`,
    '',
    rebuildNote(results),
    '',
    `Init is the time to \`import()\` the bundle, copied from the assembly, in a fresh \`node\` process with the ` +
      `function's environment as deployed (median of ${results.initSamples}); ` +
      'the externalized AWS SDK v3 resolves from node_modules, as the Lambda runtime provides it. The adapters load ' +
      'their SDK clients lazily, on the step’s first call, so the next column (importing only the SDK modules the ' +
      'bundle can load, the same way) is paid once per cold start too: a cold start costs both columns together. ' +
      'For the Route 53 steps it includes STS, which only zones in other accounts load.',
    '',
  );
  push(
    table(
      [
        'function',
        'minified, as shipped',
        'without keepNames',
        'gzip',
        'init (import the bundle)',
        'importing its SDK modules alone',
        'largest inputs',
        'SHA-256 of the asset’s index.mjs',
      ],
      results.bundles.functions.map((fn) => [
        fn.step,
        kb(fn.bytes),
        kb(fn.bytesWithoutKeepNames),
        kb(fn.gzipBytes),
        formatMs(fn.importMs),
        formatMs(fn.externalImportMs),
        fn.largestInputs.map((input) => `${input.name} ${kb(input.bytes)}`).join(', '),
        `\`${fn.sha256.slice(0, 16)}…\``,
      ]),
    ),
    '',
  );
  const sdkSets = [...new Set(results.bundles.functions.map((fn) => fn.externalImports.join(', ')))];
  push(
    `SDK modules each bundle imports: ${sdkSets.map((set) => `\`${set || 'none'}\``).join('; ')}.`,
    configurationNote(results.bundles),
    '',
  );

  push('## 5. End-to-end wall time', '');
  push(
    'See the headline. Task time per step in the apex + wildcard case (from the state’s entry to its exit, so ' +
      'the invocation through the local Lambda included): on a new deployment, where the step’s execution ' +
      'environment starts cold, and on the existing account, where it is warm, as Lambda bills a warm invocation.',
    '',
  );
  const apexNew = results.cases.find(
    (caseResult) => caseResult.domains.length > 1 && caseResult.account === 'new',
  );
  const apexExisting = results.cases.find(
    (caseResult) => caseResult.domains.length > 1 && caseResult.account === 'existing',
  );
  const stepNames = [
    ...new Set(
      [...(apexNew?.ours?.steps ?? []), ...(apexExisting?.ours?.steps ?? [])].map((step) => step.name),
    ),
  ];
  push(
    table(
      ['step', 'Task time, cold (new deployment)', 'Task time, warm (existing account)', 'invocations'],
      stepNames.map((name) => {
        const cold = apexNew?.ours?.steps.find((step) => step.name === name);
        const warm = apexExisting?.ours?.steps.find((step) => step.name === name);
        return [name, formatMs(cold?.ms), formatMs(warm?.ms), formatCount(warm?.runs ?? cold?.runs)];
      }),
    ),
    '',
  );

  push(...fleetSection(results.fleet));

  push('## 7. Cost per renewal on AWS', '');
  push(
    `Measured units × list prices (${PRICES_AS_OF}), no free tier. A renewal is the existing-account issuance. ` +
      'Lambda duration uses the warm Task times measured here, which underestimate real ones (every KMS, Route 53, ' +
      'S3 and ACME call crosses a network on AWS).',
    '',
  );
  for (const { label, cost } of results.cost) {
    push(`### ${label}`, '');
    push(
      table(
        ['item', 'units', 'unit price', 'cost', 'note'],
        cost.lines.map((line) => [
          line.item,
          `${Number.isInteger(line.quantity) ? line.quantity : line.quantity.toPrecision(3)} ${line.unit}${line.quantity === 1 ? '' : 's'}`,
          line.price.usd === 0 ? 'free' : `$${line.price.usd} per ${line.price.per.toLocaleString('en-US')}`,
          usd(line.usd),
          line.note ?? '',
        ]),
      ),
      '',
      `**Total: ${usd(cost.warmUsd)} per renewal with warm functions; ${usd(cost.coldUsd)} if every function ` +
        `starts cold (adds each bundle’s measured init time, billed since August 2025).** That is ` +
        `${usd(cost.coldUsd * 1000)} per 1,000 renewals at most. ${largestShare(cost)}` +
        (cost.unpriced.length > 0 ? ` Not priced: ${cost.unpriced.join(', ')}.` : ''),
      '',
    );
  }
  const sources = new Map<string, string>();
  for (const { cost } of results.cost)
    for (const line of cost.lines) sources.set(line.price.item, line.price.source);
  push(
    `Price sources (${PRICES_AS_OF}):`,
    '',
    ...[...sources].map(([item, source]) => `- ${item}: ${source}`),
    '',
    'Not included: CloudWatch Logs ingestion, X-Ray traces, S3 storage, and the fixed $1 per KMS key per month ' +
      '(two keys) — none of them scales per renewal in a way this bench measures.',
    '',
  );

  push(...accountAndKmsSection(results.accountAndKms));

  push(...deploymentSection(results));

  push(...soakSection(results.soak ?? []));

  push('## Method', '');
  push(
    `- CA: Debian's Pebble ${results.ca.pebble} with pebble-challtestsrv for DNS, on loopback, environment ` +
      `${Object.entries(results.ca.environment)
        .map(([key, value]) => `\`${key}=${value}\``)
        .join(
          ', ',
        )}: no sleep before validation, no injected badNonce, no authorization reuse, so every run ` +
      'validates every name and the counts are repeatable.',
    '- Counting: a Node `https` reverse proxy on 127.0.0.1 with its own loopback test certificate (the Pebble ' +
      'harness’s TLS helper) forwards to Pebble, keeps the `Host` header (so Pebble builds its URLs for the ' +
      'proxy and the JWS `url` checks pass), rewrites any absolute Pebble URL left in `Location`, `Link` or JSON ' +
      'bodies, and counts every request it receives.',
    '- Ours: `deployLocally` (test/harness/local-issuance.ts) synthesizes the stack with its bundles and deploys ' +
      'it into a local cloud of AWS fakes; `runLocalIssuance` runs its issuance state machine (aws-local-stepfunctions ' +
      'over the synthesized definition) with every function in the local Lambda and every AWS call authorized by ' +
      'IAM first. The functions log to the cloud’s log groups at the stack’s default level (INFO) with metrics on, ' +
      'as deployed. New account = a new deployment (a new local cloud: new KMS keys, cold execution ' +
      'environments); existing account = the same deployment again (the account URL is recorded, the environments ' +
      'warm) and the same certificate id, so the certificate is re-imported like a renewal. One warm-up pair is ' +
      'not counted.',
    ...results.peers.map((peer) =>
      peer.installed
        ? `- ${peer.name} ${peer.version}: \`${peer.invocation}\`. New account = a fresh state directory; existing = the same directory again.`
        : `- ${peer.name}: not installed, so not run (Debian: \`apt-get install ${peer.name}\`).`,
    ),
    '- Timings are wall-clock `performance.now()` in the bench process; runs of all clients are interleaved. ' +
      `The one-minute load average was ${results.machine.loadAverage.start.toFixed(1)} when the bench started and ` +
      `${results.machine.loadAverage.end.toFixed(1)} when it ended, on ${results.machine.cores} cores: the times ` +
      'vary with whatever else the machine runs; the counts do not.',
    '',
  );
  return `${out.join('\n')}\n`;
}

const zero: Summary = { median: 0, min: 0, max: 0, n: 0 };

const mb = (bytes: number) => `${Math.round(bytes / 1024 ** 2)} MB`;
/** `count` per certificate: whole numbers as they are, others to two decimals. */
const per = (count: number, certificates: number) => {
  const value = count / certificates;
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
};

/** Section 6: the renewals state machine over a fleet, as scripts/bench/fleet.ts measured it. */
function fleetSection(fleet: FleetResult): string[] {
  const out = [`## 6. Fleet: renewing ${fleet.certificates || 'a fleet of'} due certificates`, ''];
  if (fleet.runs.length === 0) return [...out, `Not measured in this run: ${fleet.error ?? 'no runs'}.`, ''];
  const renewals = fleet.runs.filter((run) => run.kind === 'renewal');
  const setup = fleet.runs.find((run) => run.kind === 'setup');
  const smallest = [...renewals].sort((a, b) => a.pageSize - b.pageSize)[0];
  out.push(
    `The stack deployed with ${fleet.certificates} certificates declared in its props (one name each, EC P-256, ` +
      'one region): its custom resource, run at deploy by the SyncDeclaredCertificates function as CloudFormation ' +
      `runs it, recorded them in the registry (${fleet.declaredOnDeploy ?? '—'} items after a deploy of ` +
      `${fleet.deployMs !== undefined ? formatMs({ median: fleet.deployMs, min: fleet.deployMs, max: fleet.deployMs, n: 1 }) : '—'}). ` +
      'Its Renewals state machine runs as the schedule starts it (`runRenewals`, test/harness/renewals.ts): the ' +
      'planner in its Lambda environment; each due certificate a `StartExecution.sync:2` of the deployed issuance ' +
      `state machine, at most ${fleet.maxConcurrency} at a time (the deployed Map state's \`MaxConcurrency\`), ` +
      'every function from its bundled asset. The first run issues them all: that is the setup, measured apart. ' +
      'Then an ARI stand-in in front of the counting proxy answers every `renewalInfo` with a window in the past ' +
      '(the CA says "renew now"), and the machine runs again a day later with the schedule’s page size ' +
      `(${fleet.schedulePageSize}) and once more another day later with ${smallest?.pageSize ?? '—'}. ` +
      'One repetition of each run.',
    '',
  );
  if (fleet.error) out.push(`**Fleet error:** ${fleet.error}`, '');
  out.push(
    table(
      [
        'run',
        'certificates issued',
        'renewals executions (pages)',
        'issuance executions',
        'wall time',
        'per certificate',
        'peak RSS (at start)',
        'ACME requests per certificate',
        'state transitions per certificate (renewals + issuance)',
        'Lambda invocations per certificate',
        'of which cold starts (whole run)',
        'AWS calls authorized by IAM per certificate',
        'IAM denials',
        'largest state payload: renewals page / issuance',
      ],
      fleet.runs.map((run) => [
        run.ok ? run.label : `${run.label} **(failed: ${run.error})**`,
        `${run.issued} of ${run.due}`,
        String(run.pages),
        String(run.issuanceExecutions),
        formatMs({ median: run.wallMs, min: run.wallMs, max: run.wallMs, n: 1 }),
        `${Math.round(run.wallMs / run.due)} ms`,
        `${mb(run.rss.peakBytes)} (${mb(run.rss.beforeBytes)})`,
        per(run.requests.total, run.due),
        `${per(run.stateTransitions.renewals + run.stateTransitions.issuance, run.due)} ` +
          `(${per(run.stateTransitions.renewals, run.due)} + ${per(run.stateTransitions.issuance, run.due)})`,
        per(run.lambdaInvocations.renewals + run.lambdaInvocations.issuance, run.due),
        String(run.lambdaColdStarts),
        per(run.iamAuthorizedCalls, run.due),
        String(run.iamDenials),
        `${run.maxStatePayload.renewals.bytes.toLocaleString('en-US')} bytes (${run.maxStatePayload.renewals.where}) / ` +
          `${run.maxStatePayload.issuance.bytes.toLocaleString('en-US')} bytes`,
      ]),
    ),
    '',
    'ACME requests per run, by role (per certificate in brackets):',
    '',
    table(
      ['request', ...fleet.runs.map((run) => run.label)],
      [
        ...ROLES.filter((role) => fleet.runs.some((run) => run.requests.byRole[role] > 0)).map((role) => [
          role,
          ...fleet.runs.map(
            (run) => `${run.requests.byRole[role]} (${per(run.requests.byRole[role], run.due)})`,
          ),
        ]),
        [
          '**total**',
          ...fleet.runs.map((run) => `**${run.requests.total} (${per(run.requests.total, run.due)})**`),
        ],
      ],
    ),
    '',
    ...fleetNotes(fleet, setup, renewals).map((note) => `- ${note}`),
    '',
  );
  return out;
}

function fleetNotes(
  fleet: FleetResult,
  setup: FleetRunResult | undefined,
  renewals: readonly FleetRunResult[],
): string[] {
  const notes: string[] = [];
  const registry = fleet.registry;
  if (registry) {
    notes.push(
      `Pages: ${renewals.map((run) => `${run.pages} execution${run.pages === 1 ? '' : 's'} at page size ${run.pageSize}`).join(', ')}. The ` +
        `planner reads the registry with a DynamoDB Scan of page-size items, and the table holds ${registry.items} ` +
        `items: the ${fleet.certificates} certificates and ${registry.accountRecords} ACME account ` +
        `record${registry.accountRecords === 1 ? '' : 's'}. A page that reaches its limit carries a cursor, so the ` +
        'next page runs in a fresh execution (`StartNextPage`) until a page ends short.',
    );
  }
  notes.push(
    'Requests are counted at the wire: the counting proxy in front of Pebble, as in section 1, plus the ARI ' +
      'stand-in, which serves the directory and `renewalInfo`. ' +
      (fleet.runs.every((run) => run.clientSideRequests === run.requests.total)
        ? 'Cross-check: in every run, the requests our functions sent to either (counted by the local Lambda as ' +
          'each left an execution environment) equal what the two servers received.'
        : '**Cross-check failed:** in some run the requests our functions sent differ from what the two servers ' +
          'received; see results.json.') +
      ' A renewal is the existing-account issuance of section 1 plus one `renewalInfo` GET by the planner; each ' +
      'page’s planner reads the directory once.',
  );
  const reused = renewals
    .map((run) => ({ run, count: run.requests.byRole.authorization - run.requests.byRole.challenge }))
    .filter(({ count }) => count > 0);
  const perIssuance = renewals.flatMap((run) =>
    run.transitionsPerIssuance ? [run.transitionsPerIssuance] : [],
  );
  if (reused.length > 0) {
    const fewest = Math.min(...perIssuance.map((summary) => summary.min));
    notes.push(
      `Authorizations still valid: ${reused.map(({ run, count }) => `${count} in “${run.label}”`).join(', ')}. ` +
        'Pebble keeps a valid authorization unless `rand.Intn(100) > PEBBLE_AUTHZREUSE`, so even at 0 it reuses ' +
        `one in a hundred; those renewals skip publishing, the DNS check and the challenge (${fewest} transitions ` +
        `instead of ${perIssuance[0]?.median ?? '—'}).`,
    );
  }
  notes.push(
    `State transitions per issuance execution: ${fleet.runs
      .map((run) => `${formatCount(run.transitionsPerIssuance)} in “${run.label}”`)
      .join(
        ', ',
      )}. The renewals machine adds four per page (PlanRenewals, the Map state, MorePages?, FleetPageDone), ` +
      'two more when there is a next page (NextPageInput, StartNextPage), and one per certificate (the Map ' +
      'iteration’s RenewCertificate). ' +
      'In these local runs every Wait state and retry pause of an issuance lasts 10 ms (the harness’s default for ' +
      'runRenewals), so an order poll can come early and loop once more, as in section 1.',
  );
  const newAccounts = setup?.requests.byRole.newAccount ?? 0;
  if (setup && newAccounts > 1) {
    notes.push(
      `The setup’s ${newAccounts} newAccount requests: the first ${fleet.maxConcurrency} issuances start together, ` +
        'before any of them has recorded the account URL, and each registers with the same KMS account key ' +
        `(${setup.requests.errors} error responses in the run). Later issuances find the account recorded.`,
    );
  }
  const coldStarts = fleet.runs.map((run) => `${run.lambdaColdStarts} in “${run.label}”`).join(', ');
  notes.push(
    `Lambda cold starts: ${coldStarts}. With ${fleet.maxConcurrency} issuances at a time, the local Lambda starts ` +
      'another execution environment of a function whenever every one it has is busy, as Lambda scales out, and ' +
      'keeps them for the next runs of the same deployment (on AWS an idle environment is reclaimed after minutes ' +
      'to hours, so a daily run would start cold again).',
    'Wall time: `performance.now()` around the whole run (every page, every issuance) in the bench process; all ' +
      'Lambda environments (worker threads) share the bench process and the machine’s cores with Pebble. On AWS the ' +
      'Wait states really wait (Route 53 propagation, Retry-After), so a run takes longer than here.',
    `Memory: the bench process’s resident set size (\`process.memoryUsage.rss()\`), sampled every ` +
      `${fleet.rssSampleMs} ms during the run; it includes every Lambda execution environment, since each is a ` +
      'worker thread of this process. Pebble and the counting proxy run in other processes and are not included. ' +
      'It grows from run to run because every execution’s event log, the log lines and the fakes’ state stay in ' +
      'memory. It says nothing about Lambda memory on AWS, where each function has the memory section 4 lists.',
    'Local stand-ins, each a deviation from AWS: execution names are `<certificateId>-<yyyymmdd>`, so a second ' +
      'run on the same day would start nothing; the bench moves its clock (and so the functions’) a day ahead ' +
      'before each renewal run, while Pebble keeps the real one. A smaller page size is passed in the first ' +
      'execution’s input, and each page passes it on to the next.',
  );
  return notes;
}

/** `one name, new account: 1 of 5 runs had order poll 3 (floor 2)`, per case where ours went above. */
function oursAboveFloor(caseResult: CaseResult): string[] {
  const ours = caseResult.clients.ours;
  if (!ours) return [];
  const excess = new Map<string, number>();
  for (const run of ours.raw) {
    const byRole = requestsByRole(run.byPath);
    for (const role of ROLES) {
      if (byRole[role] > caseResult.floor[role]) {
        const key = `${role} ${byRole[role]} (floor ${caseResult.floor[role]})`;
        excess.set(key, (excess.get(key) ?? 0) + 1);
      }
    }
  }
  return [...excess].map(
    ([what, runs]) => `${caseResult.label}: ${runs} of ${ours.raw.length} runs had ${what}`,
  );
}

/** `Step Functions … transitions are 82% of it.` for the costliest line. */
function largestShare(cost: RenewalCost): string {
  const largest = [...cost.lines].sort((a, b) => b.usd - a.usd)[0];
  if (!largest || cost.warmUsd === 0) return '';
  return `${largest.item} make up ${Math.round((largest.usd / cost.warmUsd) * 100)}% of the warm total.`;
}

function configurationNote(bundles: BenchResults['bundles']): string {
  const configurations = [
    ...new Set(bundles.functions.map((fn) => `${fn.runtime}, ${fn.architecture}, ${fn.memoryMb} MB`)),
  ];
  return (
    `In the synthesized template every function is ${configurations.join(' or ')}.` +
    (bundles.outsideStacks.length > 0
      ? ` Handler folders no function of the stack runs: ${bundles.outsideStacks.join(', ')}.`
      : '')
  );
}

function rebuildNote(results: BenchResults): string {
  const { functions } = results.bundles;
  const differing = functions.filter((fn) => !fn.matchesRebuild).map((fn) => fn.step);
  const stacks = results.deployment.configurations.map((configuration) => configuration.label).join('; ');
  return (
    `${functions.length} functions, each with its own asset, across the configurations synthesized (${stacks}); ` +
    'a function that only some configurations have (SyncDeclaredCertificates needs declared certificates) is ' +
    'taken from the first that has it. The largest inputs come from esbuild’s metafile of a second build with the ' +
    'same options (lib/lambda-bundle.ts `BUNDLE_OPTIONS`). ' +
    (differing.length === 0
      ? `Checked in this run: that build is byte-identical (SHA-256) to the asset of every function (${functions.length} of ${functions.length}).`
      : `**The second build differs from the asset** for ${differing.join(', ')}: the sources changed during the run, or synthesis no longer bundles with \`BUNDLE_OPTIONS\`; the sizes above are the assets’ all the same.`)
  );
}

/** `4.1–7.0% per bundle` for what `keepNames` adds to the bundles. */
function keepNamesCost(functions: readonly BundleResult[]): string {
  const shares = functions
    .filter((fn) => fn.bytesWithoutKeepNames > 0)
    .map((fn) => ((fn.bytes - fn.bytesWithoutKeepNames) / fn.bytesWithoutKeepNames) * 100);
  if (shares.length === 0) return 'not measured';
  return `${Math.min(...shares).toFixed(1)}–${Math.max(...shares).toFixed(1)}% per bundle`;
}

/** `12,345 bytes (4.7% of 256 KiB)`. */
function ofQuota(bytes: number, quota: number): string {
  return `${bytes.toLocaleString('en-US')} bytes (${((bytes / quota) * 100).toFixed(1)}% of ${kib(quota)})`;
}

/** `256 KiB` or `4 KB` as AWS names its quotas. */
function kib(bytes: number): string {
  return bytes >= 64 * 1024 ? `${bytes / 1024} KiB` : `${bytes / 1024} KB`;
}

/** Whether IAM authorized exactly the calls the fakes served, in every issuance. */
function iamCrossCheck(cases: readonly CaseResult[]): string {
  const measured = cases.filter((caseResult) => caseResult.ours?.iamAuthorizedCalls);
  if (measured.length === 0) return '';
  const agree = measured.every((caseResult) => caseResult.ours?.iamMatchesServedCalls);
  return agree
    ? 'Cross-check: in every run, the calls IAM authorized equal the calls the fakes served (the last column).'
    : '**Cross-check failed:** in some run the calls IAM authorized differ from the calls the fakes served; see results.json.';
}

/** Section 9: synthesis, deploys, and the per-issuance figures only a deployment has, against AWS's quotas. */
function deploymentSection(results: BenchResults): string[] {
  const { synthesis, configurations, quotas, deployMs } = results.deployment;
  const out = ['## 9. What ships: synthesis, deployment, IAM and AWS quotas', ''];
  out.push(
    '### Synthesis with bundling',
    '',
    table(
      ['synthesis', 'time'],
      [
        [
          `first in the process (every one of ${synthesis.functions} functions bundled by esbuild)`,
          `${Math.round(synthesis.firstMs)} ms`,
        ],
        ['the same props again (the harness’s per-process cache)', `${synthesis.cachedMs.toFixed(2)} ms`],
        ...synthesis.otherConfigurations.map((other) => [
          `another configuration (${other.label}): synthesized anew, CDK reuses the bundles it built`,
          `${Math.round(other.ms)} ms`,
        ]),
      ],
    ),
    '',
    'Synthesis is `synthesizeStack` (test/harness/cloud/assembly.ts): the CDK app built and synthesized in the bench ' +
      'process with bundling on, CDK’s built-in template validation off (the CDK tests run it). Loading aws-cdk-lib ' +
      'itself happens at import and is not in these times.' +
      (deployMs
        ? ` Deploying the synthesized defaults into a new local cloud (\`deployLocally\`, its synthesis cached) took ${formatMs(deployMs)} per issuance pair of section 1.`
        : ''),
    '',
    '### Per issuance',
    '',
    table(
      [
        'case',
        'AWS calls authorized by IAM',
        'IAM decisions (Step Functions invoking the functions included)',
        'IAM denials',
        'Lambda cold starts',
        'warm invocations',
        `largest state payload (quota ${kib(quotas.statePayloadBytes)})`,
      ],
      results.cases
        .filter((caseResult) => caseResult.ours)
        .map((caseResult) => {
          const ours = caseResult.ours as OurCaseExtras;
          return [
            caseResult.label,
            formatCount(ours.iamAuthorizedCalls),
            formatCount(ours.iamDecisions),
            formatCount(ours.iamDenials),
            formatCount(ours.lambdaColdStarts),
            formatCount(ours.lambdaWarmInvocations),
            ours.maxStatePayloadBytes
              ? ofQuota(ours.maxStatePayloadBytes.max, quotas.statePayloadBytes)
              : '—',
          ];
        }),
    ),
    '',
    'The largest payload column shows the largest in any run. Sections 6 and 8 give the same figures for the fleet ' +
      'and the account actions; the targets above take the largest of all.',
    '',
    '### Environment variables per function, as deployed',
    '',
    table(
      ['configuration', 'functions', 'largest environment (keys and values)', 'function', 'smallest'],
      configurations.map((configuration) => {
        const largest = configuration.environments[0];
        const smallest = configuration.environments.at(-1);
        return [
          configuration.label,
          String(configuration.functions),
          largest ? ofQuota(largest.bytes, quotas.environmentBytes) : '—',
          largest ? `${largest.function} (${largest.variables} variables)` : '—',
          smallest ? `${smallest.bytes} bytes (${smallest.function})` : '—',
        ];
      }),
    ),
    '',
    'Measured as Lambda measures its 4 KB quota: every key and value of the function’s environment, resolved as ' +
      'deployed (physical names generated as CloudFormation generates them, for the stack name `AcmeLocal`; a longer ' +
      'stack name lengthens the table, bucket and key references). What the local network adds (the CA bundle, the ' +
      'DNS servers standing in for the VPC resolver) is not the function’s configuration and not counted. Every ' +
      'function of each configuration is in results.json.',
    '',
  );
  return out;
}

/** Section 8: account actions and KMS-held certificate keys, as account-and-kms.ts measured them. */
function accountAndKmsSection(section: AccountAndKmsResult): string[] {
  const out = ['## 8. Account lifecycle and KMS-held keys', ''];
  if (section.error) out.push(`**Not measured in this run:** ${section.error}`, '');
  if (section.scenarios.length === 0) return out;
  const find = (id: ScenarioId) => section.scenarios.find((scenario) => scenario.id === id);
  const account = section.scenarios.filter((scenario) => scenario.group === 'account');
  const kms = section.scenarios.filter((scenario) => scenario.group === 'kms');
  out.push(
    'Each measured execution starts from a deployment of its own: the stack deployed into a new local cloud (new ' +
      'KMS keys, no account), at the same Pebble and through the same counting proxy as section 1, with Wait states ' +
      `lasting 0 ms. What it needs first (the issuance of ${section.domain} that registers the account, a deploy ` +
      `with a new account key generation) runs before the tally and is not counted. ${section.runs} runs per row ` +
      'after one warm-up round that is not counted; medians with min–max in brackets where runs differed. Wall ' +
      'time is `performance.now()` around the whole execution, as in section 1, cold starts included: the ' +
      'cold-start column says how many execution environments the execution had to start.',
    '',
    'A new account key generation is the stack deployed again with `accountKeyGeneration: 2`, as an operator ' +
      'raising it would deploy it: CloudFormation adds a second KMS key, and every function’s `ACCOUNT_KEY_ID` ' +
      'changes to it, with `PREVIOUS_ACCOUNT_KEY_ID` naming the first on ManageAccount and RegisterAccount. ' +
      'Every function’s configuration changed, so Lambda discards its warm environments and the next execution ' +
      'starts them cold.',
    '',
    '### Account actions',
    '',
    table(
      [
        'execution',
        'input',
        'before it (not measured)',
        'ACME requests',
        'floor',
        'KMS Sign: current account key',
        'KMS Sign: previous account key',
        'state transitions',
        'AWS calls authorized by IAM',
        'Lambda cold starts',
        'wall time',
      ],
      account.map((scenario) => [
        scenario.label,
        `\`${JSON.stringify(scenario.input)}\``,
        scenario.before,
        measured(scenario, (s) => formatCount(s.requests)),
        String(scenario.floorTotal),
        measured(scenario, (s) => formatCount(s.kmsSignByKey['account key'] ?? zero)),
        measured(scenario, (s) => formatCount(s.kmsSignByKey['previous account key'] ?? zero)),
        measured(scenario, (s) => formatCount(s.stateTransitions)),
        measured(scenario, (s) => formatCount(s.iamAuthorizedCalls)),
        measured(scenario, (s) => formatCount(s.lambdaColdStarts)),
        measured(scenario, (s) => formatMs(s.wallMs)),
      ]),
    ),
    '',
    'Requests by role, ours / floor:',
    '',
    rolesTable(account),
    '',
    ...accountNotes(section, find).map((note) => `- ${note}`),
    '',
    '### KMS-held certificate keys',
    '',
    `One issuance of ${section.domain} on a new deployment (so a new account and cold functions, like section 1's ` +
      '“one name, new account”), with the certificate key generated in Finalize as usual, or held in KMS: the ' +
      'certificate declared in the stack with `kmsKey: true` and the key type, so the deployment creates a KMS key of ' +
      'that spec, names it to RegisterAccount (`CERTIFICATE_KMS_KEY_ARNS`) and lets Finalize sign with it; the input ' +
      'names it by `kmsKeyArn`.',
    '',
    table(
      [
        'certificate key',
        'ACME requests',
        'floor',
        'KMS Sign: account key',
        'KMS Sign: certificate key',
        'ACM calls',
        'state transitions',
        'AWS calls authorized by IAM',
        'Finalize Task time (cold)',
        'wall time',
      ],
      kms.map((scenario) => [
        scenario.label,
        measured(scenario, (s) => formatCount(s.requests)),
        String(scenario.floorTotal),
        measured(scenario, (s) => formatCount(s.kmsSignByKey['account key'] ?? zero)),
        measured(scenario, (s) => formatCount(s.kmsSignByKey['certificate key'] ?? zero)),
        measured(scenario, (s) => formatCount(s.acmCalls)),
        measured(scenario, (s) => formatCount(s.stateTransitions)),
        measured(scenario, (s) => formatCount(s.iamAuthorizedCalls)),
        measured(scenario, (s) => formatMs(s.steps.Finalize)),
        measured(scenario, (s) => formatMs(s.wallMs)),
      ]),
    ),
    '',
    'Every AWS call, per execution:',
    '',
    table(
      ['call', ...kms.map((scenario) => scenario.label)],
      [...new Set(kms.flatMap((scenario) => Object.keys(scenario.awsCalls)))]
        .sort()
        .map((call) => [
          call,
          ...kms.map((scenario) => measured(scenario, (s) => formatCount(s.awsCalls[call] ?? zero))),
        ]),
    ),
    '',
    ...kmsNotes(kms, find).map((note) => `- ${note}`),
    '',
  );
  return out;
}

/** A scenario's figure, or why there is none. */
function measured(scenario: ScenarioResult, pick: (scenario: ScenarioResult) => string): string {
  return scenario.succeeded === 0 ? `failed (${scenario.failures.length} runs)` : pick(scenario);
}

/** Requests per role for `scenarios`, `ours / floor` in each cell, with the roles any of them uses. */
function rolesTable(scenarios: readonly ScenarioResult[]): string {
  const roles = ROLES.filter((role) =>
    scenarios.some((scenario) => scenario.floor[role] > 0 || (scenario.byRole[role]?.max ?? 0) > 0),
  );
  return table(
    ['request', ...scenarios.map((scenario) => scenario.label)],
    [
      ...roles.map((role) => [
        role,
        ...scenarios.map(
          (scenario) =>
            `${measured(scenario, (s) => formatCount(s.byRole[role] ?? zero))} / ${scenario.floor[role]}`,
        ),
      ]),
      [
        '**total**',
        ...scenarios.map(
          (scenario) => `**${measured(scenario, (s) => formatCount(s.requests))} / ${scenario.floorTotal}**`,
        ),
      ],
    ],
  );
}

/** `directory 1 (floor 0)` for each role where some run of `scenario` went above its floor. */
function aboveFloor(scenario: ScenarioResult): string[] {
  return ROLES.filter((role) => (scenario.byRole[role]?.max ?? 0) > scenario.floor[role]).map(
    (role) => `${role} ${formatCount(scenario.byRole[role])} (floor ${scenario.floor[role]})`,
  );
}

/** The difference of two medians, signed: `+1`, `−0.5`, `+12 ms`. */
function delta(ours: Summary | undefined, base: Summary | undefined, unit = ''): string {
  if (!ours || !base) return '—';
  const value = ours.median - base.median;
  const shown = unit === ' ms' ? Math.round(value) : Number(value.toFixed(1));
  return `${shown < 0 ? '−' : '+'}${Math.abs(shown)}${unit}`;
}

function accountNotes(
  section: AccountAndKmsResult,
  find: (id: ScenarioId) => ScenarioResult | undefined,
): string[] {
  const notes: string[] = [];
  const rollover = find('rollover');
  if (rollover?.requests) {
    const extra = aboveFloor(rollover);
    notes.push(
      'Floor of a rollover: an execution of its own cannot make fewer than 3 requests: the directory GET (for the ' +
        '`keyChange` URL; nothing is cached across executions), one newNonce HEAD (no earlier response in the ' +
        `execution has left a nonce to reuse) and the \`keyChange\` POST. Ours: ${formatCount(rollover.requests)}, ` +
        (extra.length === 0 ? 'at the floor in every run.' : `above it in: ${extra.join('; ')}.`),
    );
  }
  notes.push(
    'The other floors: a contact update likewise needs the directory, a nonce and the POST to the account URL (3); ' +
      'a forced renewal is section 1’s existing-account issuance, and an automatic rollover adds `keyChange` to it; ' +
      'a rollover already done needs nothing, since the registry records the account on the current key.',
  );
  const again = find('rollover-again');
  if (again?.requests && again.requests.median > 0) {
    const onlyDirectory =
      again.byRole.directory?.min === again.requests.max && again.requests.min === again.requests.max;
    notes.push(
      `Asking for the rollover again makes ${formatCount(again.requests)} request${again.requests.median === 1 ? '' : 's'}` +
        (onlyDirectory
          ? ': the directory GET, which ManageAccount sends before it reads the registry; the registry alone answers ' +
            'that the account is already on the current key, so no nonce and no `keyChange` follow.'
          : `, above the floor of 0 in: ${aboveFloor(again).join('; ')}.`),
    );
  }
  const renew = find('renew');
  const renewRollover = find('renew-rollover');
  if (renew?.requests && renewRollover?.requests) {
    const extra = [...aboveFloor(renew), ...aboveFloor(renewRollover)];
    notes.push(
      'The automatic rollover adds to a forced renewal (medians, renewal after a new key minus renewal with the ' +
        `same key): ${delta(renewRollover.requests, renew.requests)} request (\`keyChange\`), ` +
        `${delta(renewRollover.kmsSignCalls, renew.kmsSignCalls)} KMS Sign calls, ` +
        `${delta(renewRollover.stateTransitions, renew.stateTransitions)} state transitions (it happens inside ` +
        `RegisterAccount), ${delta(renewRollover.lambdaColdStarts, renew.lambdaColdStarts)} Lambda cold starts ` +
        '(the deploy of the new key generation changed every function, so its environments start anew; the renewal ' +
        'with the same key finds those of the first issuance warm) and ' +
        `${delta(renewRollover.wallMs, renew.wallMs, ' ms')} of wall time, most of it those cold starts. ` +
        (extra.length === 0
          ? 'Both are at their floors in every run.'
          : `Runs above the floor: ${extra.join('; ')}.` +
            (extra.some((what) => what.startsWith('order poll'))
              ? ' As in section 1, with Wait states of 0 ms an order poll can come before Pebble is done and loop once more.'
              : '')),
    );
  }
  const runs = section.scenarios.filter((scenario) => scenario.group === 'account').flatMap((s) => s.raw);
  const signsPerPost = runs.every((run) => {
    const posts = Object.entries(run.byPath)
      .filter(([path]) => path.startsWith('POST '))
      .reduce((sum, [, count]) => sum + count, 0);
    const signs = (run.kmsSign['account key'] ?? 0) + (run.kmsSign['previous account key'] ?? 0);
    return signs === posts + (run.byPath['POST /rollover-account-key'] ?? 0);
  });
  notes.push(
    '`keyChange` is a JWS inside a JWS (RFC 8555 §7.3.5): the inner one, signed by the new key, proves it; the ' +
      'outer one, signed by the old key, authorizes the change. So a rollover costs one KMS Sign with each key. ' +
      'After it, every request is signed by the new key alone. ' +
      (signsPerPost
        ? 'Cross-check: in every run, the account keys’ Sign calls equal the POSTs (one JWS each) plus one per `keyChange`.'
        : '**Cross-check failed:** in some run the account keys’ Sign calls differ from the POSTs plus one per `keyChange`; see results.json.'),
  );
  notes.push(
    section.scenarios.every((scenario) => scenario.clientSideCountsAgree)
      ? 'Cross-check: in every run of this section, the requests our functions sent equal what the proxy received.'
      : '**Cross-check failed:** in some run of this section the requests our functions sent differ from what the proxy received.',
  );
  return notes;
}

function kmsNotes(
  kms: readonly ScenarioResult[],
  find: (id: ScenarioId) => ScenarioResult | undefined,
): string[] {
  const notes: string[] = [];
  const held = kms.filter((scenario) => scenario.id.startsWith('kms-'));
  const acmCalls = held.reduce((most, scenario) => Math.max(most, scenario.acmCalls?.max ?? 0), 0);
  notes.push(
    acmCalls === 0
      ? 'ACM: no call in any run with a KMS-held key. ACM imports a certificate only with its private key, which ' +
          'never leaves KMS; the certificate goes to the S3 store alone (and no `privkey.pem` with it).'
      : `**ACM was called** (up to ${acmCalls} times in a run) although the certificate key is held in KMS.`,
  );
  const certificateSigns = held.map((scenario) => scenario.kmsSignByKey['certificate key']);
  if (certificateSigns.every((summary) => summary?.min === 1 && summary.max === 1)) {
    notes.push(
      'The certificate key signs once per issuance, the CSR in Finalize; the account key signs every POST, as in ' +
        'section 2. Neither adds an ACME request: the CA sees the same protocol whoever holds the key.',
    );
  }
  const extra = kms.flatMap((scenario) => aboveFloor(scenario).map((what) => `${scenario.label}: ${what}`));
  if (extra.length > 0) {
    notes.push(
      `Runs above the floor: ${extra.join('; ')}.` +
        (extra.every((what) => what.includes(': order poll '))
          ? ' Only order polls: as in section 1, with Wait states of 0 ms a poll can come before Pebble is done and ' +
            'loop once more (one more POST, one more account-key Sign and three more state transitions each time).'
          : ''),
    );
  }
  const ratios = (
    [
      ['EC P-256', 'generated-ec-p256', 'kms-ec-p256'],
      ['RSA 2048', 'generated-rsa-2048', 'kms-rsa-2048'],
    ] as const
  ).map(([name, generatedId, heldId]) => {
    const generated = find(generatedId);
    const inKms = find(heldId);
    return `${name}: wall time ${formatRatio(inKms?.wallMs, generated?.wallMs)}, Finalize ${formatRatio(inKms?.steps.Finalize, generated?.steps.Finalize)}`;
  });
  notes.push(
    `KMS-held ÷ generated, medians: ${ratios.join('; ')}. Every function is cold on the new deployment, so ` +
      'Finalize’s Task time holds its cold start too (compare its warm time in section 5), and the difference of ' +
      'the key path is a fraction of it. Generating the key in Finalize (node:crypto; an RSA ' +
      'key takes far longer than an EC one) is replaced by one KMS `Sign` over the CSR, which the fake answers in ' +
      'process: on AWS that is a network round trip to KMS instead. A generated key also costs the S3 write of ' +
      '`privkey.pem` and the ACM import, which the table of calls above shows.',
  );
  return notes;
}

function soakSection(soaks: readonly SoakResult[]): string[] {
  const out = ['## 10. Chaos soak', ''];
  if (soaks.length === 0) return [...out, 'Not measured in this run.', ''];
  out.push(
    'Issuances of `soak.example.org` and `*.soak.example.org` one after another on one deployment, with faults ' +
      'injected at the given rate into every AWS call (throttling, a server error, or a timeout after the service ' +
      'did the work; the SDK’s own retries are not in the way, so every fault reaches our code), every CA exchange ' +
      '(connection dropped before the CA got the request, or after it acted) and every step (the function crashing ' +
      'before or after its work). Then each certificate whose run failed gets its next run without faults, as the ' +
      'renewal schedule would start it (test/harness/soak.ts).',
    '',
    '| Fault rate | Runs | Issued | Failed cleanly | Failed otherwise | Faults injected | Orphaned TXT values | Orders at the CA (bound: runs + lost newOrder answers) | Certificates left at the CA, then lost after the next runs | Next runs issued (new orders) | Seconds |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const soak of soaks) {
    const issuedPercent = (soak.issued / Math.max(1, soak.runs)) * 100;
    out.push(
      `| ${soak.faultRate} | ${soak.runs} | ${soak.issued} (${issuedPercent.toFixed(0)}%) | ${soak.failedClean} | ${soak.failedUnclean} | ${soak.faultsInjected} | ${soak.orphanedTxtValues} | ${soak.ordersAtCa} (${soak.runs + soak.lostNewOrderResponses}) | ${soak.certificatesLeftAtCa}, then ${soak.lostCertificates} | ${soak.nextRunsIssued} of ${soak.nextRuns} (${soak.ordersByNextRuns}) | ${(soak.durationMs / 1000).toFixed(0)} |`,
    );
  }
  out.push('');
  for (const soak of soaks) {
    const kinds = Object.entries(soak.faultsByKind)
      .map(([kind, count]) => `${kind} ${count}`)
      .join(', ');
    out.push(`- Rate ${soak.faultRate}, seed ${soak.seed}: ${kinds}.`);
  }
  out.push('');
  return out;
}
