import {
  installLocalAws,
  type LocalAws,
  type LocalCa,
  type LocalIssuanceResult,
  runLocalIssuance,
} from '../../test/harness/local-issuance.js';
import type { SynthesizedWorkflow } from '../../test/harness/state-machine.js';
import type { CountingProxy, RequestTally } from './counting-proxy.js';
import { awsCallCounts } from './ours.js';
import { ROLES, type Role, requestFloor, requestsByRole, total } from './requests.js';
import { type Summary, summarize } from './stats.js';

/**
 * The account lifecycle (key rollover on demand and on the first renewal after a new key, contact
 * update) and KMS-held certificate keys, measured the way ours.ts measures an issuance: the
 * synthesized state machine with every real handler, through the counting proxy, on AWS fakes.
 * Each measured execution starts from a fresh deployment (new fakes, a new KMS account key);
 * what it needs first, such as the issuance that registers the account, runs before the tally.
 */

/** The one name every execution here issues for. */
export const LIFECYCLE_DOMAIN = 'lifecycle.example.org';
const CERTIFICATE_ID = 'web';
/** Quiet handlers: warnings only, no EMF metric lines on stdout. */
const QUIET = { POWERTOOLS_LOG_LEVEL: 'WARN', POWERTOOLS_METRICS_DISABLED: 'true' };

export type ScenarioId =
  | 'rollover'
  | 'rollover-again'
  | 'update-account'
  | 'renew'
  | 'renew-rollover'
  | 'generated-ec-p256'
  | 'kms-ec-p256'
  | 'generated-rsa-2048'
  | 'kms-rsa-2048';

/** Whose key signed a KMS `Sign` call. */
export type KeyRole = 'account key' | 'previous account key' | 'certificate key' | 'other key';
export const KEY_ROLES: readonly KeyRole[] = [
  'account key',
  'previous account key',
  'certificate key',
  'other key',
];

export interface ScenarioDefinition {
  readonly id: ScenarioId;
  readonly group: 'account' | 'kms';
  readonly label: string;
  /** The measured execution's input, with placeholders for ids that differ per run. */
  readonly input: Readonly<Record<string, unknown>>;
  /** Environment the measured execution gets on top of the deployment's, with placeholders. */
  readonly environment?: Readonly<Record<string, string>>;
  /** What ran before the measured execution, uncounted. */
  readonly before: string;
  readonly floor: Readonly<Record<Role, number>>;
}

const NEXT_GENERATION = { ACCOUNT_KEY_ID: '<new KMS key>', PREVIOUS_ACCOUNT_KEY_ID: '<first KMS key>' };
const FIRST_ISSUANCE = `a new deployment; its first issuance of ${LIFECYCLE_DOMAIN} registers the account`;
const RENEW = { action: 'renew', certificateId: CERTIFICATE_ID, force: true };

/** The fewest requests for `roles`, nothing else. */
function floorOf(roles: Partial<Record<Role, number>>): Record<Role, number> {
  return Object.fromEntries(ROLES.map((role) => [role, roles[role] ?? 0])) as Record<Role, number>;
}

/**
 * Every scenario, in report order. The floors:
 * - a rollover in its own execution: the directory (for the `keyChange` URL; nothing is cached
 *   across executions), one newNonce, and `keyChange` (RFC 8555 §7.3.5);
 * - a rollover already done: nothing, since the registry records the account on the current key;
 * - a contact update: the directory, one newNonce, and a POST to the account URL (§7.3.2);
 * - a renewal: an existing-account issuance (requests.ts), plus `keyChange` when it rolls over;
 * - an issuance on a fresh deployment: a new-account issuance, whoever holds the certificate key.
 */
export const SCENARIOS: readonly ScenarioDefinition[] = [
  {
    id: 'rollover',
    group: 'account',
    label: 'rollover-account-key',
    input: { action: 'rollover-account-key' },
    environment: NEXT_GENERATION,
    before: `${FIRST_ISSUANCE}; then a second account key (a new accountKeyGeneration)`,
    floor: floorOf({ directory: 1, newNonce: 1, keyChange: 1 }),
  },
  {
    id: 'rollover-again',
    group: 'account',
    label: 'rollover-account-key again (already done)',
    input: { action: 'rollover-account-key' },
    environment: NEXT_GENERATION,
    before: 'the rollover above, on the same deployment',
    floor: floorOf({}),
  },
  {
    id: 'update-account',
    group: 'account',
    label: 'update-account with a contact',
    input: { action: 'update-account', contact: ['ops@example.org'] },
    before: FIRST_ISSUANCE,
    floor: floorOf({ directory: 1, newNonce: 1, account: 1 }),
  },
  {
    id: 'renew',
    group: 'account',
    label: 'renew (forced), same account key',
    input: RENEW,
    before: FIRST_ISSUANCE,
    floor: requestFloor(1, false),
  },
  {
    id: 'renew-rollover',
    group: 'account',
    label: 'renew (forced), first run after a new account key: automatic rollover',
    input: RENEW,
    environment: NEXT_GENERATION,
    before: `${FIRST_ISSUANCE}; then a second account key (a new accountKeyGeneration)`,
    floor: { ...requestFloor(1, false), keyChange: 1 },
  },
  ...(
    [
      ['ec-p256', 'EC_P256', 'ECC_NIST_P256', 'EC P-256'],
      ['rsa-2048', 'RSA_2048', 'RSA_2048', 'RSA 2048'],
    ] as const
  ).flatMap(([suffix, keyType, keySpec, name]): ScenarioDefinition[] => [
    {
      id: `generated-${suffix}`,
      group: 'kms',
      label: `${name}, key generated in Finalize`,
      input: { certificateId: 'signer', domains: [LIFECYCLE_DOMAIN], keyType },
      before: 'a new deployment (no account yet)',
      floor: requestFloor(1, true),
    },
    {
      id: `kms-${suffix}`,
      group: 'kms',
      label: `${name}, key held in KMS (${keySpec})`,
      input: { certificateId: 'signer', domains: [LIFECYCLE_DOMAIN], keyType, kmsKeyArn: '<key ARN>' },
      environment: { CERTIFICATE_KMS_KEY_ARNS: '<key ARN>' },
      before: `a new deployment (no account yet) with a ${keySpec} SIGN_VERIFY key declared for the certificate`,
      floor: requestFloor(1, true),
    },
  ]),
];

/** One scenario over every run, as written to results.json. */
export interface ScenarioResult extends ScenarioDefinition {
  readonly floorTotal: number;
  readonly succeeded: number;
  readonly failures: readonly string[];
  /** At the wire, by the counting proxy. */
  readonly requests?: Summary;
  readonly byRole: Readonly<Partial<Record<Role, Summary>>>;
  /** POSTs among them: each one a JWS the account key signs. */
  readonly postRequests?: Summary;
  readonly kmsSignCalls?: Summary;
  readonly kmsSignByKey: Readonly<Partial<Record<KeyRole, Summary>>>;
  readonly acmCalls?: Summary;
  /** Every AWS call per `service:Command`. */
  readonly awsCalls: Readonly<Partial<Record<string, Summary>>>;
  readonly stateTransitions?: Summary;
  /** Around the whole local execution, in this process (handlers already loaded). */
  readonly wallMs?: Summary;
  /** Handler time per Task state. */
  readonly steps: Readonly<Partial<Record<string, Summary>>>;
  /** Whether the count inside our process equalled the proxy's in every run. */
  readonly clientSideCountsAgree: boolean;
  readonly raw: readonly {
    readonly requests: number;
    readonly errorResponses: number;
    readonly wallMs: number;
    readonly byPath: Readonly<Record<string, number>>;
    readonly kmsSign: Readonly<Partial<Record<KeyRole, number>>>;
  }[];
}

/** The section as written to results.json. */
export interface AccountAndKmsResult {
  readonly domain: string;
  /** Measured runs per scenario, after one warm-up round that is not counted. */
  readonly runs: number;
  readonly scenarios: readonly ScenarioResult[];
  /** Why the section could not be measured, when it could not. */
  readonly error?: string;
}

export interface AccountAndKmsOptions {
  readonly workflow: SynthesizedWorkflow;
  /** The CA as our client sees it: the proxy's directory and CA bundle, challtestsrv for DNS. */
  readonly ca: LocalCa;
  readonly proxy: CountingProxy;
  readonly runs: number;
  readonly say: (line: string) => void;
}

/** One measured execution and what it cost. */
interface ScenarioRun {
  readonly ok: boolean;
  readonly error?: string;
  readonly wallMs: number;
  readonly requests: RequestTally;
  readonly clientSideRequests: number;
  readonly kmsSign: Readonly<Partial<Record<KeyRole, number>>>;
  readonly acmCalls: number;
  readonly awsCalls: Readonly<Record<string, number>>;
  readonly stateTransitions: number;
  readonly steps: readonly { readonly name: string; readonly ms: number }[];
}

/**
 * Runs every scenario `runs` times, after one warm-up round (ManageAccount and the KMS signing
 * path load on first use), interleaving the scenarios within each round.
 */
export async function runAccountAndKms(options: AccountAndKmsOptions): Promise<AccountAndKmsResult> {
  const byScenario = new Map<ScenarioId, ScenarioRun[]>();
  for (let round = 0; round <= options.runs; round += 1) {
    options.say(
      round === 0
        ? 'account lifecycle and KMS-held keys: warm-up round'
        : `account lifecycle and KMS-held keys: run ${round}/${options.runs}`,
    );
    const measured = await oneRound(options);
    if (round === 0) continue;
    for (const [id, run] of measured) {
      if (!run.ok) options.say(`${id} failed: ${run.error}`);
      byScenario.set(id, [...(byScenario.get(id) ?? []), run]);
    }
  }
  return {
    domain: LIFECYCLE_DOMAIN,
    runs: options.runs,
    scenarios: SCENARIOS.map((scenario) => summarizeScenario(scenario, byScenario.get(scenario.id) ?? [])),
  };
}

/** Which key each KMS key id is, for one measured execution. */
type KeyRoles = ReadonlyMap<string, KeyRole>;

/** The deployment after `accountKeyGeneration` is raised: a second account key beside the first. */
function nextGeneration(aws: LocalAws): { environment: Record<string, string>; keys: KeyRoles } {
  const newKey = aws.kms.createKey();
  return {
    environment: { ACCOUNT_KEY_ID: newKey, PREVIOUS_ACCOUNT_KEY_ID: aws.accountKeyId },
    keys: new Map([
      [newKey, 'account key'],
      [aws.accountKeyId, 'previous account key'],
    ]),
  };
}

async function oneRound(options: AccountAndKmsOptions): Promise<Map<ScenarioId, ScenarioRun>> {
  const runs = new Map<ScenarioId, ScenarioRun>();
  const session = async (
    ids: readonly ScenarioId[],
    firstIssuance: boolean,
    body: (aws: LocalAws, sameKey: KeyRoles) => Promise<readonly ScenarioRun[]>,
  ) => {
    const aws = installLocalAws(options.ca, [LIFECYCLE_DOMAIN]);
    try {
      if (firstIssuance) await issueFirst(options, aws);
      const measured = await body(aws, new Map([[aws.accountKeyId, 'account key']]));
      ids.forEach((id, index) => {
        runs.set(id, measured[index] ?? notRun('the session measured fewer executions than it names'));
      });
    } catch (error) {
      for (const id of ids) runs.set(id, notRun(message(error)));
    } finally {
      aws.restore();
    }
  };

  await session(['rollover', 'rollover-again'], true, async (aws) => {
    const next = nextGeneration(aws);
    const input = { action: 'rollover-account-key' };
    const rollover = await measure(options, aws, input, next, expectChanged(true));
    const again = await measure(options, aws, input, next, expectChanged(false));
    return [rollover, again];
  });
  await session(['update-account'], true, async (aws, keys) => [
    await measure(
      options,
      aws,
      { action: 'update-account', contact: ['ops@example.org'] },
      { keys },
      expectChanged(true),
    ),
  ]);
  await session(['renew'], true, async (aws, keys) => [await measure(options, aws, RENEW, { keys })]);
  await session(['renew-rollover'], true, async (aws) => [
    await measure(options, aws, RENEW, nextGeneration(aws), (result) => {
      const changed = result.acmeResponsesByStatus['POST /rollover-account-key 200'] ?? 0;
      return changed === 1 ? undefined : `expected one keyChange answered 200, saw ${changed}`;
    }),
  ]);
  for (const [suffix, keyType, keySpec] of [
    ['ec-p256', 'EC_P256', 'ECC_NIST_P256'],
    ['rsa-2048', 'RSA_2048', 'RSA_2048'],
  ] as const) {
    const input = { certificateId: 'signer', domains: [LIFECYCLE_DOMAIN], keyType };
    await session([`generated-${suffix}`], false, async (aws, keys) => [
      await measure(options, aws, input, { keys }),
    ]);
    await session([`kms-${suffix}`], false, async (aws, keys) => {
      const keyId = aws.kms.createKey({ keySpec });
      const arn = aws.kms.keys.get(keyId)?.arn;
      if (!arn) throw new Error('the KMS fake lost the certificate key it just created');
      return [
        await measure(
          options,
          aws,
          { ...input, kmsKeyArn: arn },
          {
            environment: { CERTIFICATE_KMS_KEY_ARNS: arn },
            keys: new Map([...keys, [keyId, 'certificate key']]),
          },
        ),
      ];
    });
  }
  return runs;
}

/** The first issuance of a deployment, which registers its account; not measured. */
async function issueFirst(options: AccountAndKmsOptions, aws: LocalAws): Promise<void> {
  const first = await runLocalIssuance({
    workflow: options.workflow,
    ca: options.ca,
    aws,
    input: { certificateId: CERTIFICATE_ID, domains: [LIFECYCLE_DOMAIN] },
    pauseMs: 0,
    environment: QUIET,
  });
  if (first.execution.status !== 'SUCCEEDED') {
    throw new Error(
      `the first issuance, before the measured execution, failed: ${first.execution.error?.name}: ${first.execution.error?.cause}`,
    );
  }
}

/** A check of what the execution did, beyond succeeding: an error message, or undefined. */
type Check = (result: LocalIssuanceResult) => string | undefined;

function expectChanged(changed: boolean): Check {
  return (result) => {
    const said = (result.execution.output as { changed?: unknown } | undefined)?.changed;
    return said === changed
      ? undefined
      : `expected "changed": ${changed}, the execution said ${String(said)}`;
  };
}

async function measure(
  options: AccountAndKmsOptions,
  aws: LocalAws,
  input: Record<string, unknown>,
  deployment: { readonly environment?: Record<string, string>; readonly keys: KeyRoles },
  check?: Check,
): Promise<ScenarioRun> {
  const before = awsCallCounts(aws);
  const kmsRequestsBefore = aws.kms.requests.length;
  await options.proxy.reset();
  const started = performance.now();
  const result = await runLocalIssuance({
    workflow: options.workflow,
    ca: options.ca,
    aws,
    input,
    // Wait states and retry pauses last 0 ms locally; their transitions still count.
    pauseMs: 0,
    environment: { ...QUIET, ...deployment.environment },
  });
  const wallMs = performance.now() - started;
  const requests = await options.proxy.tally();
  const awsCalls: Record<string, number> = {};
  for (const [key, count] of Object.entries(awsCallCounts(aws))) {
    const delta = count - (before[key] ?? 0);
    if (delta > 0) awsCalls[key] = delta;
  }
  const { execution } = result;
  const error =
    execution.status === 'SUCCEEDED'
      ? check?.(result)
      : `${execution.error?.name ?? 'Error'}: ${execution.error?.cause ?? ''}`;
  return {
    ok: error === undefined,
    ...(error === undefined ? {} : { error }),
    wallMs,
    requests,
    clientSideRequests: result.acmeRequests,
    kmsSign: signsByKey(aws, kmsRequestsBefore, deployment.keys),
    acmCalls: result.acmCalls,
    awsCalls,
    stateTransitions: execution.stateTransitions,
    steps: execution.steps.map(({ name, ms }) => ({ name, ms })),
  };
}

/** KMS `Sign` calls since request number `from`, per key role; a key is named by id or ARN. */
function signsByKey(aws: LocalAws, from: number, keys: KeyRoles): Partial<Record<KeyRole, number>> {
  const counts: Partial<Record<KeyRole, number>> = {};
  for (const request of aws.kms.requests.slice(from)) {
    if (request.command !== 'Sign') continue;
    const named = (request.input as { KeyId?: string }).KeyId;
    const key = [...aws.kms.keys.values()].find((each) => each.keyId === named || each.arn === named);
    const role = (key && keys.get(key.keyId)) ?? 'other key';
    counts[role] = (counts[role] ?? 0) + 1;
  }
  return counts;
}

function notRun(error: string): ScenarioRun {
  return {
    ok: false,
    error,
    wallMs: 0,
    requests: { total: 0, byPath: {}, errors: 0 },
    clientSideRequests: 0,
    kmsSign: {},
    acmCalls: 0,
    awsCalls: {},
    stateTransitions: 0,
    steps: [],
  };
}

function message(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function summarizeScenario(scenario: ScenarioDefinition, runs: readonly ScenarioRun[]): ScenarioResult {
  const ok = runs.filter((run) => run.ok);
  const pick = (value: (run: ScenarioRun) => number) => summarize(ok.map(value));
  const optional = <K extends string>(key: K, summary: Summary | undefined) =>
    (summary ? { [key]: summary } : {}) as Partial<Record<K, Summary>>;
  const collect = <K extends string>(keys: readonly K[], value: (run: ScenarioRun, key: K) => number) => {
    const summaries: Partial<Record<K, Summary>> = {};
    for (const key of keys) {
      const summary = pick((run) => value(run, key));
      if (summary) summaries[key] = summary;
    }
    return summaries;
  };
  const roleCounts = new Map(ok.map((run) => [run, requestsByRole(run.requests.byPath)]));
  const awsKeys = [...new Set(ok.flatMap((run) => Object.keys(run.awsCalls)))].sort();
  const stepNames = [...new Set(ok.flatMap((run) => run.steps.map((step) => step.name)))];
  const signRoles = KEY_ROLES.filter((role) => ok.some((run) => (run.kmsSign[role] ?? 0) > 0));
  const posts = (run: ScenarioRun) =>
    Object.entries(run.requests.byPath)
      .filter(([path]) => path.startsWith('POST '))
      .reduce((sum, [, count]) => sum + count, 0);
  return {
    id: scenario.id,
    group: scenario.group,
    label: scenario.label,
    input: scenario.input,
    ...(scenario.environment ? { environment: scenario.environment } : {}),
    before: scenario.before,
    floor: scenario.floor,
    floorTotal: total(scenario.floor),
    succeeded: ok.length,
    failures: runs.filter((run) => !run.ok).map((run) => (run.error ?? 'failed').slice(-500)),
    ...optional(
      'requests',
      pick((run) => run.requests.total),
    ),
    byRole: collect(ROLES, (run, role) => roleCounts.get(run)?.[role] ?? 0),
    ...optional('postRequests', pick(posts)),
    ...optional(
      'kmsSignCalls',
      pick((run) => Object.values(run.kmsSign).reduce((sum, count) => sum + (count ?? 0), 0)),
    ),
    kmsSignByKey: collect(signRoles, (run, role) => run.kmsSign[role] ?? 0),
    ...optional(
      'acmCalls',
      pick((run) => run.acmCalls),
    ),
    awsCalls: collect(awsKeys, (run, key) => run.awsCalls[key] ?? 0),
    ...optional(
      'stateTransitions',
      pick((run) => run.stateTransitions),
    ),
    ...optional(
      'wallMs',
      pick((run) => run.wallMs),
    ),
    steps: collect(stepNames, (run, name) =>
      run.steps.filter((step) => step.name === name).reduce((sum, step) => sum + step.ms, 0),
    ),
    clientSideCountsAgree: ok.every((run) => run.clientSideRequests === run.requests.total),
    raw: ok.map((run) => ({
      requests: run.requests.total,
      errorResponses: run.requests.errors,
      wallMs: run.wallMs,
      byPath: run.requests.byPath,
      kmsSign: run.kmsSign,
    })),
  };
}
