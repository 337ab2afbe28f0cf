import type { StackPropsForTest } from '../../test/harness/cloud/assembly.js';
import {
  accountKeyIdOf,
  type LocalAws,
  type LocalCa,
  type LocalDeployment,
  type LocalIssuanceResult,
  runLocalIssuance,
  synthesizeFor,
} from '../../test/harness/local-issuance.js';
import type { CountingProxy, RequestTally } from './counting-proxy.js';
import {
  awsCallCounts,
  awsCallsSince,
  type CloudUsage,
  cloudCounters,
  cloudUsageSince,
  deployFresh,
  largestStatePayload,
} from './deployments.js';
import { ROLES, type Role, requestFloor, requestsByRole, total } from './requests.js';
import { type Summary, summarize } from './stats.js';

/**
 * The account lifecycle (key rollover on demand and on the first renewal after a new key, contact
 * update) and KMS-held certificate keys, measured the way ours.ts measures an issuance: the stack
 * deployed with its bundles into a local cloud, through the counting proxy. Each measured
 * execution starts from a deployment of its own (a new local cloud: new KMS keys, no account);
 * what it needs first, such as the issuance that registers the account or a deploy with a new
 * account key generation, runs before the tally.
 */

/** The one name every execution here issues for. */
export const LIFECYCLE_DOMAIN = 'lifecycle.example.org';
const CERTIFICATE_ID = 'web';

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
  /** The stack props deployed when the measured execution runs; the defaults when absent. */
  readonly props?: StackPropsForTest;
  /** What ran before the measured execution, uncounted. */
  readonly before: string;
  readonly floor: Readonly<Record<Role, number>>;
}

/** The stack as an operator raising `accountKeyGeneration` deploys it: a second account key beside the first. */
const GENERATION_2: StackPropsForTest = { acme: { accountKeyGeneration: 2 } };
const FIRST_ISSUANCE = `a new deployment; its first issuance of ${LIFECYCLE_DOMAIN} registers the account`;
const REDEPLOY = 'then the stack deployed again with accountKeyGeneration 2 (a second account key)';
const RENEW = { action: 'renew', certificateId: CERTIFICATE_ID, force: true };

/** The stack with the certificate `signer` declared with a KMS-held key of `keyType`. */
function kmsKeyProps(keyType: 'EC_P256' | 'RSA_2048'): StackPropsForTest {
  return {
    acme: { certificates: [{ id: 'signer', domains: [LIFECYCLE_DOMAIN], keyType, kmsKey: true }] },
  };
}

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
    props: GENERATION_2,
    before: `${FIRST_ISSUANCE}; ${REDEPLOY}`,
    floor: floorOf({ directory: 1, newNonce: 1, keyChange: 1 }),
  },
  {
    id: 'rollover-again',
    group: 'account',
    label: 'rollover-account-key again (already done)',
    input: { action: 'rollover-account-key' },
    props: GENERATION_2,
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
    props: GENERATION_2,
    before: `${FIRST_ISSUANCE}; ${REDEPLOY}`,
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
      props: kmsKeyProps(keyType),
      before: `a new deployment (no account yet) of the stack declaring the certificate with kmsKey: true, which creates its ${keySpec} SIGN_VERIFY key`,
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
  readonly iamAuthorizedCalls?: Summary;
  readonly iamDenials?: Summary;
  readonly lambdaColdStarts?: Summary;
  readonly lambdaWarmInvocations?: Summary;
  /** Bytes of the largest state input or output. */
  readonly maxStatePayloadBytes?: Summary;
  readonly stateTransitions?: Summary;
  /** Around the whole local execution, in this process, Lambda cold starts included. */
  readonly wallMs?: Summary;
  /** Task time per Task state. */
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
  /** The CA as our functions see it: the proxy's directory and CA bundle, challtestsrv for DNS. */
  readonly ca: LocalCa;
  readonly proxy: CountingProxy;
  readonly runs: number;
  readonly say: (line: string) => void;
}

/** One measured execution and what it cost. */
interface ScenarioRun extends CloudUsage {
  readonly ok: boolean;
  readonly error?: string;
  readonly wallMs: number;
  readonly requests: RequestTally;
  readonly clientSideRequests: number;
  readonly kmsSign: Readonly<Partial<Record<KeyRole, number>>>;
  readonly acmCalls: number;
  readonly awsCalls: Readonly<Record<string, number>>;
  readonly stateTransitions: number;
  readonly maxStatePayloadBytes: number;
  readonly steps: readonly { readonly name: string; readonly ms: number }[];
}

/**
 * Runs every scenario `runs` times, after one warm-up round (not counted), interleaving the
 * scenarios within each round.
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

/** The account key of the deployed stack, and the previous generation's when it has one. */
function accountKeys(deployment: LocalDeployment): Map<string, KeyRole> {
  const keys = new Map<string, KeyRole>([[accountKeyIdOf(deployment.stack), 'account key']]);
  const previous = deployment.stack.environmentOf('manage-account').PREVIOUS_ACCOUNT_KEY_ID;
  if (previous) keys.set(previous, 'previous account key');
  return keys;
}

/** Deploys the stack again with `props`, as `cdk deploy` of the changed app would, on the same cloud. */
async function redeploy(deployment: LocalDeployment, props: StackPropsForTest): Promise<LocalDeployment> {
  const stack = await deployment.cloud.deploy(synthesizeFor(deployment.ca, props));
  return { ...deployment, stack };
}

async function oneRound(options: AccountAndKmsOptions): Promise<Map<ScenarioId, ScenarioRun>> {
  const runs = new Map<ScenarioId, ScenarioRun>();
  const session = async (
    ids: readonly ScenarioId[],
    setup: { readonly props?: StackPropsForTest; readonly firstIssuance: boolean },
    body: (deployment: LocalDeployment) => Promise<readonly ScenarioRun[]>,
  ) => {
    let fresh: Awaited<ReturnType<typeof deployFresh>> | undefined;
    try {
      fresh = await deployFresh(options.ca, [LIFECYCLE_DOMAIN], setup.props);
      if (setup.firstIssuance) await issueFirst(fresh.deployment);
      const measured = await body(fresh.deployment);
      ids.forEach((id, index) => {
        runs.set(id, measured[index] ?? notRun('the session measured fewer executions than it names'));
      });
    } catch (error) {
      for (const id of ids) runs.set(id, notRun(message(error)));
    } finally {
      await fresh?.close();
    }
  };

  await session(['rollover', 'rollover-again'], { firstIssuance: true }, async (first) => {
    const deployment = await redeploy(first, GENERATION_2);
    const input = { action: 'rollover-account-key' };
    const rollover = await measure(options, deployment, input, accountKeys(deployment), expectChanged(true));
    const again = await measure(options, deployment, input, accountKeys(deployment), expectChanged(false));
    return [rollover, again];
  });
  await session(['update-account'], { firstIssuance: true }, async (deployment) => [
    await measure(
      options,
      deployment,
      { action: 'update-account', contact: ['ops@example.org'] },
      accountKeys(deployment),
      expectChanged(true),
    ),
  ]);
  await session(['renew'], { firstIssuance: true }, async (deployment) => [
    await measure(options, deployment, RENEW, accountKeys(deployment)),
  ]);
  await session(['renew-rollover'], { firstIssuance: true }, async (first) => {
    const deployment = await redeploy(first, GENERATION_2);
    return [
      await measure(options, deployment, RENEW, accountKeys(deployment), (result) => {
        const changed = result.acmeResponsesByStatus['POST /rollover-account-key 200'] ?? 0;
        return changed === 1 ? undefined : `expected one keyChange answered 200, saw ${changed}`;
      }),
    ];
  });
  for (const [suffix, keyType] of [
    ['ec-p256', 'EC_P256'],
    ['rsa-2048', 'RSA_2048'],
  ] as const) {
    const input = { certificateId: 'signer', domains: [LIFECYCLE_DOMAIN], keyType };
    await session([`generated-${suffix}`], { firstIssuance: false }, async (deployment) => [
      await measure(options, deployment, input, accountKeys(deployment)),
    ]);
    await session(
      [`kms-${suffix}`],
      { props: kmsKeyProps(keyType), firstIssuance: false },
      async (deployment) => {
        const { stack, aws } = deployment;
        const [logicalId, ...others] = stack
          .logicalIdsOf('AWS::KMS::Key')
          .filter((id) => id.includes('CertificateKeysigner'));
        if (!logicalId || others.length > 0)
          throw new Error('the deployment did not create one KMS key for the certificate "signer"');
        const key = aws.kms.keys.get(stack.ref(logicalId));
        if (!key) throw new Error('the deployment created no KMS key for the certificate "signer"');
        const keys = accountKeys(deployment);
        keys.set(key.keyId, 'certificate key');
        return [await measure(options, deployment, { ...input, kmsKeyArn: key.arn }, keys)];
      },
    );
  }
  return runs;
}

/** The first issuance of a deployment, which registers its account; not measured. */
async function issueFirst(deployment: LocalDeployment): Promise<void> {
  const first = await runLocalIssuance({
    deployment,
    input: { certificateId: CERTIFICATE_ID, domains: [LIFECYCLE_DOMAIN] },
    pauseMs: 0,
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
  deployment: LocalDeployment,
  input: Record<string, unknown>,
  keys: KeyRoles,
  check?: Check,
): Promise<ScenarioRun> {
  const { aws, cloud } = deployment;
  const before = awsCallCounts(aws);
  const counters = cloudCounters(cloud);
  const kmsRequestsBefore = aws.kms.requests.length;
  await options.proxy.reset();
  const started = performance.now();
  const result = await runLocalIssuance({
    deployment,
    input,
    // Wait states and retry pauses last 0 ms locally; their transitions still count.
    pauseMs: 0,
  });
  const wallMs = performance.now() - started;
  const requests = await options.proxy.tally();
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
    kmsSign: signsByKey(aws, kmsRequestsBefore, keys),
    acmCalls: result.acmCalls,
    awsCalls: awsCallsSince(aws, before),
    stateTransitions: execution.stateTransitions,
    maxStatePayloadBytes: largestStatePayload([execution]).bytes,
    steps: execution.steps.map(({ name, ms }) => ({ name, ms })),
    ...cloudUsageSince(cloud, counters),
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
    maxStatePayloadBytes: 0,
    steps: [],
    iamAuthorizedCalls: 0,
    iamDecisions: 0,
    iamDenials: 0,
    lambdaColdStarts: 0,
    lambdaWarmInvocations: 0,
  };
}

function message(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function summarizeScenario(scenario: ScenarioDefinition, runs: readonly ScenarioRun[]): ScenarioResult {
  const ok = runs.filter((run) => run.ok);
  const pick = (value: (run: ScenarioRun) => number) => summarize(ok.map(value));
  const collect = <K extends string>(keys: readonly K[], value: (run: ScenarioRun, key: K) => number) => {
    const summaries: Partial<Record<K, Summary>> = {};
    for (const key of keys) {
      const summary = pick((run) => value(run, key));
      if (summary) summaries[key] = summary;
    }
    return summaries;
  };
  /** The figures that some run recorded, each summarized over the runs; the others left out. */
  const optional = <K extends string>(figures: Readonly<Record<K, (run: ScenarioRun) => number>>) =>
    collect(Object.keys(figures) as K[], (run, key) => figures[key](run));
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
    ...(scenario.props ? { props: scenario.props } : {}),
    before: scenario.before,
    floor: scenario.floor,
    floorTotal: total(scenario.floor),
    succeeded: ok.length,
    failures: runs.filter((run) => !run.ok).map((run) => (run.error ?? 'failed').slice(-500)),
    ...optional({ requests: (run) => run.requests.total }),
    byRole: collect(ROLES, (run, role) => roleCounts.get(run)?.[role] ?? 0),
    ...optional({
      postRequests: posts,
      kmsSignCalls: (run) => Object.values(run.kmsSign).reduce((sum, count) => sum + (count ?? 0), 0),
    }),
    kmsSignByKey: collect(signRoles, (run, role) => run.kmsSign[role] ?? 0),
    ...optional({ acmCalls: (run) => run.acmCalls }),
    awsCalls: collect(awsKeys, (run, key) => run.awsCalls[key] ?? 0),
    ...optional({
      iamAuthorizedCalls: (run) => run.iamAuthorizedCalls,
      iamDenials: (run) => run.iamDenials,
      lambdaColdStarts: (run) => run.lambdaColdStarts,
      lambdaWarmInvocations: (run) => run.lambdaWarmInvocations,
      maxStatePayloadBytes: (run) => run.maxStatePayloadBytes,
      stateTransitions: (run) => run.stateTransitions,
      wallMs: (run) => run.wallMs,
    }),
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
