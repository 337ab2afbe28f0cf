import type { AccountAndKmsResult, ScenarioId, ScenarioResult } from './account-and-kms.js';
import type { BundleSettings } from './bundles.js';
import { PRICES_AS_OF, type RenewalCost } from './cost.js';
import type { FleetResult, FleetRunResult } from './fleet.js';
import { ROLES, type Role, requestsByRole } from './requests.js';
import { formatCount, formatMs, formatRatio, type Summary } from './stats.js';

/** Everything `npm run bench` measured, as written to bench/results.json. */
export interface BenchResults {
  readonly generatedAt: string;
  readonly benchSeconds: number;
  readonly machine: {
    readonly cpu: string;
    readonly cores: number;
    readonly memoryGb: number;
    readonly os: string;
    readonly node: string;
  };
  readonly runs: number;
  readonly initSamples: number;
  readonly ca: { readonly pebble: string; readonly environment: Readonly<Record<string, string>> };
  readonly peers: readonly PeerInfo[];
  readonly cases: readonly CaseResult[];
  readonly bundles: {
    readonly settings: BundleSettings;
    readonly functions: readonly BundleResult[];
    /** Why the bundles could not be compared with `cdk synth`'s, when they could not. */
    readonly cdkSynthError?: string;
  };
  /** Account key rollover, contact update and KMS-held certificate keys (account-and-kms.ts). */
  readonly accountAndKms: AccountAndKmsResult;
  readonly fleet: FleetResult;
  readonly cost: readonly CostResult[];
  readonly targets: readonly TargetResult[];
}

export type ClientName = 'ours' | 'certbot' | 'lego';

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
  readonly steps: readonly { readonly name: string; readonly ms?: Summary; readonly runs?: Summary }[];
  /** Whether the count inside our process equalled the proxy's in every run. */
  readonly clientSideCountsAgree: boolean;
}

export interface BundleResult {
  readonly step: string;
  readonly folder: string;
  readonly bytes: number;
  readonly gzipBytes: number;
  readonly importMs?: Summary;
  readonly processMs?: Summary;
  readonly externalImports: readonly string[];
  readonly externalImportMs?: Summary;
  readonly largestInputs: readonly { readonly name: string; readonly bytes: number }[];
  readonly memoryMb: number;
  readonly architecture: string;
  readonly runtime: string;
  readonly sha256: string;
  /** Whether the bundle is byte-identical to the `index.mjs` that `cdk synth` produced. */
  readonly matchesCdkSynth?: boolean;
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
      'The ratios against certbot and lego, run against the same Pebble in the same bench, are the headline.',
    '',
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
    'Requests are counted at the wire by one counting HTTPS proxy in front of Pebble, the same for all three ' +
      'clients. Our wall time is one local execution of the synthesized state machine in an already running ' +
      'process, with Wait states lasting 0 ms; the peers’ wall time is their process from start to exit. On AWS ' +
      'our issuance takes longer: the Wait states really wait (Route 53 propagation, Retry-After).',
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
  const agree = results.cases.every((caseResult) => caseResult.ours?.clientSideCountsAgree);
  push(
    agree
      ? 'Cross-check: in every run, the requests our process sent (counted at Node’s `http.client.request.start`) equal what the proxy received.'
      : '**Cross-check failed:** in some run the requests our process sent differ from what the proxy received; see results.json.',
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
  );

  push('## 3. State transitions per issuance', '');
  push(
    table(
      ['case', 'state transitions', 'of which Wait states (0 ms each locally)', 'Lambda invocations'],
      results.cases.map((caseResult) => [
        caseResult.label,
        formatCount(caseResult.ours?.stateTransitions),
        formatCount(caseResult.ours?.waitStateEntries),
        formatCount(caseResult.ours?.lambdaInvocations),
      ]),
    ),
    '',
    'Transitions count every state entered plus retries, as Step Functions Standard bills them. Each further ' +
      'poll loop on AWS (Wait, Task, Choice) adds three.',
    '',
  );

  push('## 4. Lambda bundles', '');
  const settings = results.bundles.settings;
  push(
    `Each \`lambdas/<step>/handler.ts\` bundled with esbuild as \`NodejsFunction\` bundles it for this stack: ` +
      `\`--bundle --platform=${settings.platform} --format=${settings.format} --target=${settings.target} --minify ` +
      `--main-fields=${settings.mainFields.join(',')}\`, the \`createRequire\` banner from lib/acme-certificates.ts, ` +
      `and external ${settings.external.map((name) => `\`${name}\``).join(', ')}: ${settings.externalReason}.`,
    '',
    cdkSynthNote(results),
    '',
    `Init is the time to \`import()\` the bundle in a fresh \`node\` process (median of ${results.initSamples}); ` +
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
        'minified',
        'gzip',
        'init (import the bundle)',
        'importing its SDK modules alone',
        'largest inputs',
      ],
      results.bundles.functions.map((fn) => [
        fn.step,
        kb(fn.bytes),
        kb(fn.gzipBytes),
        formatMs(fn.importMs),
        formatMs(fn.externalImportMs),
        fn.largestInputs.map((input) => `${input.name} ${kb(input.bytes)}`).join(', '),
      ]),
    ),
    '',
  );
  const sdkSets = [...new Set(results.bundles.functions.map((fn) => fn.externalImports.join(', ')))];
  push(
    `SDK modules each bundle imports: ${sdkSets.map((set) => `\`${set || 'none'}\``).join('; ')}.`,
    configurationNote(results.bundles.functions),
    '',
  );

  push('## 5. End-to-end wall time', '');
  push(
    'See the headline. Our handler time per step (the apex + wildcard, new account case), as Lambda would bill ' +
      'it warm:',
    '',
  );
  const apexNew = results.cases.find(
    (caseResult) => caseResult.domains.length > 1 && caseResult.account === 'new',
  );
  push(
    table(
      ['step', 'handler time', 'invocations'],
      (apexNew?.ours?.steps ?? []).map((step) => [step.name, formatMs(step.ms), formatCount(step.runs)]),
    ),
    '',
  );

  push(...fleetSection(results.fleet));

  push('## 7. Cost per renewal on AWS', '');
  push(
    `Measured units × list prices (${PRICES_AS_OF}), no free tier. A renewal is the existing-account issuance. ` +
      'Lambda duration uses the handler times measured here, which underestimate real ones (every KMS, Route 53, ' +
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
    '- Ours: `runLocalIssuance` (test/harness) runs the synthesized ASL in aws-local-stepfunctions with every ' +
      'real handler; AWS is faked at the SDK boundary. New account = fresh fakes (a new KMS account key); ' +
      'existing account = the same fakes again (the account URL is recorded) and the same certificate id, so ' +
      'the certificate is re-imported like a renewal. One warm-up issuance per client is not counted.',
    ...results.peers.map((peer) =>
      peer.installed
        ? `- ${peer.name} ${peer.version}: \`${peer.invocation}\`. New account = a fresh state directory; existing = the same directory again.`
        : `- ${peer.name}: not installed, so not run (Debian: \`apt-get install ${peer.name}\`).`,
    ),
    '- Timings are wall-clock `performance.now()` in the bench process; runs of all clients are interleaved.',
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
    'The synthesized Renewals state machine run locally (`runRenewals`, test/harness/renewals.ts) with the real ' +
      'planner; each due certificate is a `StartExecution.sync:2` of the synthesized issuance state machine with ' +
      `every real handler, at most ${fleet.maxConcurrency} at a time (the synthesized Map state's ` +
      `\`MaxConcurrency\`). ${fleet.certificates} declared certificates (one name each, EC P-256, one region) are ` +
      'seeded with `syncDeclaredCertificates` as a deploy does. The first run issues them all: that is the setup, ' +
      'measured apart. Then an ARI stand-in in front of the counting proxy answers every `renewalInfo` with a window ' +
      'in the past (the CA says "renew now"; the clock does not move), and the machine runs again with the ' +
      `schedule's page size (${fleet.schedulePageSize}) and once more with ${smallest?.pageSize ?? '—'}. ` +
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
        ? 'Cross-check: in every run, the requests our process sent to either (counted at Node’s ' +
          '`http.client.request.start`) equal what the two servers received.'
        : '**Cross-check failed:** in some run the requests our process sent differ from what the two servers ' +
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
  notes.push(
    'Wall time: `performance.now()` around the whole run (every page, every issuance) in the bench process, with ' +
      'the handlers already loaded; all issuances share one Node process and the machine’s cores with Pebble. On ' +
      'AWS the Wait states really wait (Route 53 propagation, Retry-After), so a run takes longer than here.',
    `Memory: the bench process’s resident set size (\`process.memoryUsage.rss()\`), sampled every ` +
      `${fleet.rssSampleMs} ms during the run; Pebble and the counting proxy run in other processes and are not ` +
      'included. The process holds the whole local Step Functions, the AWS fakes and every handler; it grows from ' +
      'run to run because every execution’s event log and the fakes’ state stay in memory. It says nothing about ' +
      'Lambda memory on AWS, where each function has the memory section 4 lists.',
    'Local stand-ins, each a deviation from AWS: execution names are `<certificateId>-<yyyymmdd>`, so a second ' +
      'run on the same day would start nothing; each run here stands for another day’s and gets its own execution ' +
      'name history. A smaller page size is passed in the first execution’s input, and each page passes it on to ' +
      'the next.',
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

function configurationNote(functions: readonly BundleResult[]): string {
  const inStack = functions.filter((fn) => fn.runtime !== 'unknown');
  const outside = functions.filter((fn) => fn.runtime === 'unknown').map((fn) => fn.step);
  const configurations = [
    ...new Set(inStack.map((fn) => `${fn.runtime}, ${fn.architecture}, ${fn.memoryMb} MB`)),
  ];
  return (
    `In the synthesized template every function is ${configurations.join(' or ')}.` +
    (outside.length > 0 ? ` Not a function of the stack (yet): ${outside.join(', ')}.` : '')
  );
}

function cdkSynthNote(results: BenchResults): string {
  const { functions, cdkSynthError } = results.bundles;
  if (cdkSynthError) return `Not compared with \`cdk synth\` in this run: ${cdkSynthError}`;
  const compared = functions.filter((fn) => fn.matchesCdkSynth !== undefined);
  const differing = compared.filter((fn) => !fn.matchesCdkSynth).map((fn) => fn.step);
  const notInStack = functions.filter((fn) => fn.matchesCdkSynth === undefined).map((fn) => fn.step);
  const outside =
    notInStack.length > 0 ? ` Not in the synthesized stack, so not compared: ${notInStack.join(', ')}.` : '';
  return differing.length === 0
    ? `Checked in this run: each bundle is byte-identical to the \`index.mjs\` that \`cdk synth\` produced for that function (${compared.length} of ${functions.length}).${outside}`
    : `**Differs from \`cdk synth\`:** ${differing.join(', ')} ${differing.length === 1 ? 'is' : 'are'} not byte-identical to the asset \`cdk synth\` produced: either the sources changed during the run or the bench's esbuild options no longer mirror lib/acme-certificates.ts.${outside}`;
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
    'Each measured execution starts from a new deployment: fresh AWS fakes with a new KMS account key, at the ' +
      'same Pebble and through the same counting proxy as section 1, with Wait states lasting 0 ms. What it needs ' +
      `first (the issuance of ${section.domain} that registers the account, a second account key) runs before the ` +
      `tally and is not counted. ${section.runs} runs per row after one warm-up round that is not counted; medians ` +
      'with min–max in brackets where runs differed. Wall time is `performance.now()` around the whole local ' +
      'execution, as in section 1.',
    '',
    'A new account key generation is what raising `accountKeyGeneration` deploys: a second KMS key, with ' +
      '`ACCOUNT_KEY_ID` set to it and `PREVIOUS_ACCOUNT_KEY_ID` to the first, on ManageAccount and RegisterAccount.',
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
    `One issuance of ${section.domain} on a new deployment (so a new account, like section 1's “one name, new ` +
      'account”), with the certificate key generated in Finalize as usual, or held in KMS: a key of the given ' +
      'spec, declared to the deployment (`CERTIFICATE_KMS_KEY_ARNS`) and named by `kmsKeyArn` in the input.',
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
        'Finalize handler time',
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
        `RegisterAccount) and ${delta(renewRollover.wallMs, renew.wallMs, ' ms')} of wall time. ` +
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
      ? 'Cross-check: in every run of this section, the requests our process sent equal what the proxy received.'
      : '**Cross-check failed:** in some run of this section the requests our process sent differ from what the proxy received.',
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
    `KMS-held ÷ generated, medians: ${ratios.join('; ')}. Generating the key in Finalize (node:crypto; an RSA ` +
      'key takes far longer than an EC one) is replaced by one KMS `Sign` over the CSR, which the fake answers in ' +
      'process: on AWS that is a network round trip to KMS instead. A generated key also costs the S3 write of ' +
      '`privkey.pem` and the ACM import, which the table of calls above shows.',
  );
  return notes;
}
