import type { BenchResults, CaseResult, ClientCaseResult, ClientName } from './report.js';
import { kib, table, zero } from './report-format.js';
import { text } from './report-text.js';
import { ROLES, requestsByRole } from './requests.js';
import { formatCount, formatMs, formatRatio } from './stats.js';

const CLIENTS: readonly ClientName[] = ['ours', 'certbot', 'lego'];

function clientTitle(results: BenchResults, client: ClientName): string {
  if (client === 'ours') return 'acme-aws (ours)';
  const peer = results.peers.find((candidate) => candidate.name === client);
  return peer?.installed ? `${client} ${peer.version}` : client;
}

/** A client's figure for a case, or why there is none. */
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

/** The headline: requests and wall time per case for every client, ratios against the installed peers. */
export function headlineSection(results: BenchResults): string[] {
  const installedPeers = results.peers.filter((peer) => peer.installed);
  const header = [
    'per issuance',
    ...CLIENTS.map((client) => clientTitle(results, client)),
    ...installedPeers.map((peer) => `ours ÷ ${peer.name}`),
    'floor',
  ];
  const requestRows = results.cases.map((caseResult) => [
    `ACME requests: ${caseResult.label}`,
    ...CLIENTS.map((client) => cell(results, caseResult, client, (r) => formatCount(r.requests))),
    ...installedPeers.map((peer) =>
      formatRatio(caseResult.clients.ours?.requests, caseResult.clients[peer.name]?.requests),
    ),
    String(caseResult.floorTotal),
  ]);
  const wallTimeRows = results.cases.map((caseResult) => [
    `Wall time: ${caseResult.label}`,
    ...CLIENTS.map((client) => cell(results, caseResult, client, (r) => formatMs(r.wallMs))),
    ...installedPeers.map((peer) =>
      formatRatio(caseResult.clients.ours?.wallMs, caseResult.clients[peer.name]?.wallMs),
    ),
    '',
  ]);
  const peersWallTime = installedPeers.length > 0 ? `${text('headline-peers-wall-time')} ` : '';
  return [
    '## Headline',
    '',
    table(header, [...requestRows, ...wallTimeRows]),
    '',
    text('headline-note', { peersWallTime }),
    '',
  ];
}

/** Section 1: ACME requests per role against the protocol's floor, one table per case. */
export function requestsSection(results: BenchResults): string[] {
  const above = results.cases.flatMap((caseResult) => oursAboveFloor(caseResult));
  const agree = results.cases.every((caseResult) => caseResult.ours?.clientSideCountsAgree ?? true);
  return [
    '## 1. ACME HTTP requests per issuance',
    '',
    text('requests-floor'),
    '',
    ...results.cases.flatMap((caseResult) => [
      `### ${caseResult.label}`,
      '',
      requestsTable(results, caseResult),
      '',
    ]),
    above.length === 0 ? text('requests-at-floor') : text('requests-above-floor', { runs: above.join('; ') }),
    '',
    text(agree ? 'requests-cross-check-agree' : 'requests-cross-check-failed'),
    '',
  ];
}

/** One case's requests per role, for the roles the floor or any client has, and the total. */
function requestsTable(results: BenchResults, caseResult: CaseResult): string {
  const roles = ROLES.filter(
    (role) =>
      caseResult.floor[role] > 0 ||
      CLIENTS.some((client) => (caseResult.clients[client]?.byRole[role]?.max ?? 0) > 0),
  );
  const rows = roles.map((role) => [
    role,
    String(caseResult.floor[role]),
    ...CLIENTS.map((client) => cell(results, caseResult, client, (r) => formatCount(r.byRole[role] ?? zero))),
  ]);
  rows.push([
    '**total**',
    `**${caseResult.floorTotal}**`,
    ...CLIENTS.map((client) => cell(results, caseResult, client, (r) => `**${formatCount(r.requests)}**`)),
  ]);
  return table(['request', 'floor', ...CLIENTS.map((client) => clientTitle(results, client))], rows);
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

/** Section 2: the AWS calls our functions made per issuance, each authorized by IAM first. */
export function awsCallsSection(cases: readonly CaseResult[]): string[] {
  return [
    '## 2. AWS calls per issuance (ours)',
    '',
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
      cases.map(({ label, ours }) => [
        label,
        formatCount(ours?.kmsSignCalls),
        formatCount(ours?.route53ChangeCalls),
        formatCount(ours?.route53GetChangeCalls),
        formatCount(ours?.acmCalls),
        formatCount(ours?.iamAuthorizedCalls),
        formatCount(ours?.iamDenials),
        Object.entries(ours?.awsCalls ?? {})
          .map(([key, summary]) => `${key} ${formatCount(summary)}`)
          .join(', '),
      ]),
    ),
    '',
    text('aws-calls-route53-fake'),
    '',
    text('aws-calls-iam', { crossCheck: iamCrossCheck(cases) }),
    '',
  ];
}

/** Whether IAM authorized exactly the calls the fakes served, in every issuance. */
function iamCrossCheck(cases: readonly CaseResult[]): string {
  const measured = cases.filter((caseResult) => caseResult.ours?.iamAuthorizedCalls);
  if (measured.length === 0) return '';
  const agree = measured.every((caseResult) => caseResult.ours?.iamMatchesServedCalls);
  return text(agree ? 'aws-calls-iam-agree' : 'aws-calls-iam-failed');
}

/** Section 3: state transitions, Lambda invocations and the largest state payload per issuance. */
export function stateTransitionsSection(results: BenchResults): string[] {
  return [
    '## 3. State transitions per issuance',
    '',
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
      results.cases.map(({ label, ours }) => [
        label,
        formatCount(ours?.stateTransitions),
        formatCount(ours?.waitStateEntries),
        formatCount(ours?.lambdaInvocations),
        formatCount(ours?.lambdaColdStarts),
        formatCount(ours?.lambdaWarmInvocations),
        ours?.maxStatePayloadBytes
          ? `${formatCount(ours.maxStatePayloadBytes)} bytes (${ours.maxStatePayloadWhere.join(', ')})`
          : '—',
      ]),
    ),
    '',
    text('state-transitions-notes'),
    '',
  ];
}

/** Section 5: Task time per step of the apex + wildcard case, cold and warm. */
export function wallTimeSection(cases: readonly CaseResult[]): string[] {
  const apex = (account: CaseResult['account']) =>
    cases.find((caseResult) => caseResult.domains.length > 1 && caseResult.account === account)?.ours?.steps;
  const cold = apex('new');
  const warm = apex('existing');
  const stepNames = [...new Set([...(cold ?? []), ...(warm ?? [])].map((step) => step.name))];
  return [
    '## 5. End-to-end wall time',
    '',
    text('wall-time-steps'),
    '',
    table(
      ['step', 'Task time, cold (new deployment)', 'Task time, warm (existing account)', 'invocations'],
      stepNames.map((name) => {
        const coldStep = cold?.find((step) => step.name === name);
        const warmStep = warm?.find((step) => step.name === name);
        return [
          name,
          formatMs(coldStep?.ms),
          formatMs(warmStep?.ms),
          formatCount(warmStep?.runs ?? coldStep?.runs),
        ];
      }),
    ),
    '',
  ];
}
