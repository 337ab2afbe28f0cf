import type { AccountAndKmsResult, ScenarioId, ScenarioResult } from './account-and-kms.js';
import { list, plural, table, zero } from './report-format.js';
import { text } from './report-text.js';
import { ROLES } from './requests.js';
import { formatCount, formatMs, formatRatio, type Summary } from './stats.js';

type FindScenario = (id: ScenarioId) => ScenarioResult | undefined;

/** Section 8: account actions and KMS-held certificate keys, as account-and-kms.ts measured them. */
export function accountAndKmsSection(section: AccountAndKmsResult): string[] {
  const out = ['## 8. Account lifecycle and KMS-held keys', ''];
  if (section.error) out.push(text('account-and-kms-not-measured', { error: section.error }), '');
  if (section.scenarios.length === 0) return out;
  return [
    ...out,
    text('account-and-kms-method', { domain: section.domain, runs: section.runs }),
    '',
    ...accountActions(section),
    ...kmsHeldKeys(section),
  ];
}

/** The account actions: rollover, contact update, renewals with and without a new account key. */
function accountActions(section: AccountAndKmsResult): string[] {
  const account = section.scenarios.filter((scenario) => scenario.group === 'account');
  return [
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
    text('account-requests-by-role'),
    '',
    rolesTable(account),
    '',
    ...list(accountNotes(section)),
    '',
  ];
}

/** One issuance with the certificate key generated, or held in KMS, for each key type. */
function kmsHeldKeys(section: AccountAndKmsResult): string[] {
  const kms = section.scenarios.filter((scenario) => scenario.group === 'kms');
  return [
    '### KMS-held certificate keys',
    '',
    text('kms-method', { domain: section.domain }),
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
    text('kms-aws-calls'),
    '',
    awsCallsTable(kms),
    '',
    ...list(kmsNotes(kms, finder(section))),
    '',
  ];
}

function finder(section: AccountAndKmsResult): FindScenario {
  return (id) => section.scenarios.find((scenario) => scenario.id === id);
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

/** Every AWS call per `service:Command`, one column per scenario. */
function awsCallsTable(scenarios: readonly ScenarioResult[]): string {
  const calls = [...new Set(scenarios.flatMap((scenario) => Object.keys(scenario.awsCalls)))].sort();
  return table(
    ['call', ...scenarios.map((scenario) => scenario.label)],
    calls.map((call) => [
      call,
      ...scenarios.map((scenario) => measured(scenario, (s) => formatCount(s.awsCalls[call] ?? zero))),
    ]),
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

function accountNotes(section: AccountAndKmsResult): string[] {
  const find = finder(section);
  return [
    rolloverFloorNote(find('rollover')),
    text('account-note-other-floors'),
    rolloverAgainNote(find('rollover-again')),
    rolloverCostNote(find('renew'), find('renew-rollover')),
    keyChangeNote(section),
    text(
      section.scenarios.every((scenario) => scenario.clientSideCountsAgree)
        ? 'account-cross-check-agree'
        : 'account-cross-check-failed',
    ),
  ].filter((note): note is string => note !== undefined);
}

function rolloverFloorNote(rollover: ScenarioResult | undefined): string | undefined {
  if (!rollover?.requests) return undefined;
  const extra = aboveFloor(rollover);
  return text('account-note-rollover-floor', {
    requests: formatCount(rollover.requests),
    verdict: extra.length === 0 ? 'at the floor in every run.' : `above it in: ${extra.join('; ')}.`,
  });
}

/** A rollover asked for again, which the registry alone should answer. */
function rolloverAgainNote(again: ScenarioResult | undefined): string | undefined {
  if (!again?.requests || again.requests.median <= 0) return undefined;
  const requests = `${formatCount(again.requests)} request${plural(again.requests.median)}`;
  const onlyDirectory =
    again.byRole.directory?.min === again.requests.max && again.requests.min === again.requests.max;
  return onlyDirectory
    ? text('account-note-rollover-again-directory', { requests })
    : text('account-note-rollover-again-above', { requests, above: aboveFloor(again).join('; ') });
}

/** What the automatic rollover adds to a forced renewal. */
function rolloverCostNote(
  renew: ScenarioResult | undefined,
  renewRollover: ScenarioResult | undefined,
): string | undefined {
  if (!renew?.requests || !renewRollover?.requests) return undefined;
  const extra = [...aboveFloor(renew), ...aboveFloor(renewRollover)];
  const orderPolls = extra.some((what) => what.startsWith('order poll'));
  return text('account-note-rollover-cost', {
    requests: delta(renewRollover.requests, renew.requests),
    kmsSignCalls: delta(renewRollover.kmsSignCalls, renew.kmsSignCalls),
    stateTransitions: delta(renewRollover.stateTransitions, renew.stateTransitions),
    coldStarts: delta(renewRollover.lambdaColdStarts, renew.lambdaColdStarts),
    wallTime: delta(renewRollover.wallMs, renew.wallMs, ' ms'),
    verdict:
      extra.length === 0
        ? 'Both are at their floors in every run.'
        : `Runs above the floor: ${extra.join('; ')}.` +
          (orderPolls ? ` ${text('account-note-order-polls')}` : ''),
  });
}

/** `keyChange` signs with both keys: the account keys' Sign calls are the POSTs plus one per rollover. */
function keyChangeNote(section: AccountAndKmsResult): string {
  const runs = section.scenarios.filter((scenario) => scenario.group === 'account').flatMap((s) => s.raw);
  const signsPerPost = runs.every((run) => {
    const posts = Object.entries(run.byPath)
      .filter(([path]) => path.startsWith('POST '))
      .reduce((sum, [, count]) => sum + count, 0);
    const signs = (run.kmsSign['account key'] ?? 0) + (run.kmsSign['previous account key'] ?? 0);
    return signs === posts + (run.byPath['POST /rollover-account-key'] ?? 0);
  });
  return text('account-note-key-change', {
    crossCheck: text(signsPerPost ? 'account-key-change-agree' : 'account-key-change-failed'),
  });
}

function kmsNotes(kms: readonly ScenarioResult[], find: FindScenario): string[] {
  const held = kms.filter((scenario) => scenario.id.startsWith('kms-'));
  const certificateSigns = held.map((scenario) => scenario.kmsSignByKey['certificate key']);
  return [
    acmNote(held),
    certificateSigns.every((summary) => summary?.min === 1 && summary.max === 1)
      ? text('kms-note-certificate-key')
      : undefined,
    kmsAboveFloorNote(kms),
    kmsRatiosNote(find),
  ].filter((note): note is string => note !== undefined);
}

/** Whether ACM was left alone when the certificate key never leaves KMS. */
function acmNote(held: readonly ScenarioResult[]): string {
  const acmCalls = held.reduce((most, scenario) => Math.max(most, scenario.acmCalls?.max ?? 0), 0);
  return acmCalls === 0 ? text('kms-note-acm-none') : text('kms-note-acm-called', { calls: acmCalls });
}

function kmsAboveFloorNote(kms: readonly ScenarioResult[]): string | undefined {
  const extra = kms.flatMap((scenario) => aboveFloor(scenario).map((what) => `${scenario.label}: ${what}`));
  if (extra.length === 0) return undefined;
  const onlyOrderPolls = extra.every((what) => what.includes(': order poll '));
  return text('kms-note-above-floor', {
    runs: extra.join('; '),
    orderPolls: onlyOrderPolls ? ` ${text('kms-note-order-polls')}` : '',
  });
}

/** KMS-held ÷ generated wall time and Finalize time, per key type. */
function kmsRatiosNote(find: FindScenario): string {
  const pairs = [
    ['EC P-256', 'generated-ec-p256', 'kms-ec-p256'],
    ['RSA 2048', 'generated-rsa-2048', 'kms-rsa-2048'],
  ] as const;
  const ratios = pairs.map(([name, generatedId, heldId]) => {
    const generated = find(generatedId);
    const inKms = find(heldId);
    return `${name}: wall time ${formatRatio(inKms?.wallMs, generated?.wallMs)}, Finalize ${formatRatio(inKms?.steps.Finalize, generated?.steps.Finalize)}`;
  });
  return text('kms-note-ratios', { ratios: ratios.join('; ') });
}
