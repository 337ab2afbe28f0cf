import type { FleetResult, FleetRunResult } from './fleet.js';
import { list, mb, once, per, plural, table } from './report-format.js';
import { text } from './report-text.js';
import { ROLES } from './requests.js';
import { formatCount, formatMs } from './stats.js';

const RUN_COLUMNS = [
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
];

/** Section 6: the renewals state machine over a fleet, as scripts/bench/fleet.ts measured it. */
export function fleetSection(fleet: FleetResult): string[] {
  const heading = [`## 6. Fleet: renewing ${fleet.certificates || 'a fleet of'} due certificates`, ''];
  if (fleet.runs.length === 0) {
    return [...heading, text('fleet-not-measured', { error: fleet.error ?? 'no runs' }), ''];
  }
  return [
    ...heading,
    fleetSetup(fleet),
    '',
    ...(fleet.error ? [text('fleet-error', { error: fleet.error }), ''] : []),
    table(RUN_COLUMNS, fleet.runs.map(runRow)),
    '',
    text('fleet-requests-by-role'),
    '',
    requestsTable(fleet.runs),
    '',
    ...list(fleetNotes(fleet)),
    '',
  ];
}

/** What the fleet is and how the runs go, with the deploy's figures. */
function fleetSetup(fleet: FleetResult): string {
  const renewals = fleet.runs.filter((run) => run.kind === 'renewal');
  const smallest = [...renewals].sort((a, b) => a.pageSize - b.pageSize)[0];
  return text('fleet-setup', {
    certificates: fleet.certificates,
    declaredOnDeploy: fleet.declaredOnDeploy ?? '—',
    deployMs: fleet.deployMs !== undefined ? formatMs(once(fleet.deployMs)) : '—',
    maxConcurrency: String(fleet.maxConcurrency),
    schedulePageSize: String(fleet.schedulePageSize),
    smallestPageSize: smallest?.pageSize ?? '—',
  });
}

function runRow(run: FleetRunResult): string[] {
  const { due, stateTransitions, lambdaInvocations, maxStatePayload } = run;
  return [
    run.ok ? run.label : `${run.label} **(failed: ${run.error})**`,
    `${run.issued} of ${due}`,
    String(run.pages),
    String(run.issuanceExecutions),
    formatMs(once(run.wallMs)),
    `${Math.round(run.wallMs / due)} ms`,
    `${mb(run.rss.peakBytes)} (${mb(run.rss.beforeBytes)})`,
    per(run.requests.total, due),
    `${per(stateTransitions.renewals + stateTransitions.issuance, due)} ` +
      `(${per(stateTransitions.renewals, due)} + ${per(stateTransitions.issuance, due)})`,
    per(lambdaInvocations.renewals + lambdaInvocations.issuance, due),
    String(run.lambdaColdStarts),
    per(run.iamAuthorizedCalls, due),
    String(run.iamDenials),
    `${maxStatePayload.renewals.bytes.toLocaleString('en-US')} bytes (${maxStatePayload.renewals.where}) / ` +
      `${maxStatePayload.issuance.bytes.toLocaleString('en-US')} bytes`,
  ];
}

/** ACME requests per run and role, per certificate in brackets, with the roles any run sent. */
function requestsTable(runs: readonly FleetRunResult[]): string {
  const roles = ROLES.filter((role) => runs.some((run) => run.requests.byRole[role] > 0));
  return table(
    ['request', ...runs.map((run) => run.label)],
    [
      ...roles.map((role) => [
        role,
        ...runs.map((run) => `${run.requests.byRole[role]} (${per(run.requests.byRole[role], run.due)})`),
      ]),
      ['**total**', ...runs.map((run) => `**${run.requests.total} (${per(run.requests.total, run.due)})**`)],
    ],
  );
}

function fleetNotes(fleet: FleetResult): string[] {
  const renewals = fleet.runs.filter((run) => run.kind === 'renewal');
  return [
    pagesNote(fleet, renewals),
    requestsNote(fleet.runs),
    reusedAuthorizationsNote(renewals),
    text('fleet-note-transitions', {
      transitions: fleet.runs
        .map((run) => `${formatCount(run.transitionsPerIssuance)} in “${run.label}”`)
        .join(', '),
    }),
    newAccountsNote(fleet),
    text('fleet-note-cold-starts', {
      coldStarts: fleet.runs.map((run) => `${run.lambdaColdStarts} in “${run.label}”`).join(', '),
      maxConcurrency: String(fleet.maxConcurrency),
    }),
    text('fleet-note-wall-time'),
    text('fleet-note-memory', { rssSampleMs: fleet.rssSampleMs }),
    text('fleet-note-stand-ins'),
  ].filter((note): note is string => note !== undefined);
}

function pagesNote(fleet: FleetResult, renewals: readonly FleetRunResult[]): string | undefined {
  if (!fleet.registry) return undefined;
  const { items, accountRecords } = fleet.registry;
  return text('fleet-note-pages', {
    pages: renewals
      .map((run) => `${run.pages} execution${plural(run.pages)} at page size ${run.pageSize}`)
      .join(', '),
    items,
    certificates: fleet.certificates,
    accountRecords,
    records: `record${plural(accountRecords)}`,
  });
}

function requestsNote(runs: readonly FleetRunResult[]): string {
  const agree = runs.every((run) => run.clientSideRequests === run.requests.total);
  return text('fleet-note-requests', {
    crossCheck: text(agree ? 'fleet-cross-check-agree' : 'fleet-cross-check-failed'),
  });
}

/** Renewals whose authorization Pebble still held valid, so they skipped the challenge. */
function reusedAuthorizationsNote(renewals: readonly FleetRunResult[]): string | undefined {
  const reused = renewals
    .map((run) => ({ run, count: run.requests.byRole.authorization - run.requests.byRole.challenge }))
    .filter(({ count }) => count > 0);
  if (reused.length === 0) return undefined;
  const perIssuance = renewals.flatMap((run) =>
    run.transitionsPerIssuance ? [run.transitionsPerIssuance] : [],
  );
  return text('fleet-note-reused', {
    reused: reused.map(({ run, count }) => `${count} in “${run.label}”`).join(', '),
    fewest: Math.min(...perIssuance.map((summary) => summary.min)),
    usual: perIssuance[0]?.median ?? '—',
  });
}

/** Why the setup registered the account more than once, when it did. */
function newAccountsNote(fleet: FleetResult): string | undefined {
  const setup = fleet.runs.find((run) => run.kind === 'setup');
  const newAccounts = setup?.requests.byRole.newAccount ?? 0;
  if (!setup || newAccounts <= 1) return undefined;
  return text('fleet-note-new-accounts', {
    newAccounts,
    maxConcurrency: String(fleet.maxConcurrency),
    errors: setup.requests.errors,
  });
}
