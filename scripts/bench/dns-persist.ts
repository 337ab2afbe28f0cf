import { validationDomainName } from '../../lambdas/core/acme/dns-persist.js';
import { ChalltestsrvClient } from '../../test/harness/challtestsrv.js';
import type { StackPropsForTest } from '../../test/harness/cloud/assembly.js';
import { DNS_PERSIST_CA_DRAFT, startDnsPersistCa } from '../../test/harness/dns-persist-ca.js';
import { type LocalDeployment, runLocalIssuance } from '../../test/harness/local-issuance.js';
import {
  awsCallCounts,
  awsCallsSince,
  cloudCounters,
  cloudUsageSince,
  deployFresh,
  waitStates,
} from './deployments.js';
import { type Summary, summarize } from './stats.js';

/**
 * dns-01 against dns-persist-01 (draft-ietf-acme-dns-persist-02) for the same names on an existing
 * account. Debian's Pebble does not offer dns-persist-01, so this section runs its own Pebble with
 * `PEBBLE_VA_ALWAYS_VALID=1` behind the validating proxy of test/harness/dns-persist-ca.ts, which
 * offers the challenge and judges every answer from challtestsrv's DNS (a dns-01 TXT included),
 * and both variants run against it. Each round deploys the certificate twice, each into a local
 * cloud of its own: declared with the default challenge, and with `challenge: 'dns-persist-01'`.
 * Each deployment issues once (`renew` of its id: a new account, cold functions; for
 * dns-persist-01 the setup that writes the persistent record; not counted), then the measured run
 * is a forced renewal on the same deployment (the account recorded, warm functions). A measurement,
 * not a test: nothing here asserts.
 */

export const DNS_PERSIST_DOMAINS = ['example.org', '*.example.org'] as const;
const CERTIFICATE_ID = 'persist';
/** The states a run enters only to wait for DNS: the GetChange poll and its pause. */
const DNS_WAIT_STATES = new Set(['WaitForDnsSync', 'PauseForDnsSync']);
/** No authorization reuse, so each measured order is validated anew; no nonce rejection, for repeatable counts. */
const PEBBLE_ENV = { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' };

export type ChallengeVariantId = 'dns-01' | 'dns-persist-01';

const VARIANTS: readonly { readonly id: ChallengeVariantId; readonly label: string }[] = [
  { id: 'dns-01', label: 'dns-01' },
  { id: 'dns-persist-01', label: 'dns-persist-01, record in place' },
];

/** One measured issuance, and the setup issuance before it on the same deployment. */
interface ChallengeRun {
  readonly ok: boolean;
  readonly error?: string;
  readonly acmeRequests: number;
  /** The CA's answers by endpoint and status, e.g. `POST /chalZ 200`. */
  readonly acmeResponsesByStatus: Readonly<Record<string, number>>;
  /** `service:Command` → calls. */
  readonly awsCalls: Readonly<Record<string, number>>;
  readonly stateTransitions: number;
  readonly lambdaInvocations: number;
  /** Entries into WaitForDnsSync and PauseForDnsSync. */
  readonly dnsWaitStateEntries: number;
  /** Seconds the Wait states entered would last on AWS (their `retryAfterSeconds`); 0 ms here. */
  readonly waitSeconds: number;
  /** The measured order's names the CA found valid, by the challenge that passed. */
  readonly validatedBy: Readonly<Record<string, number>>;
  readonly wallMs: number;
  readonly setup: { readonly route53ChangeCalls: number; readonly wallMs: number };
}

export interface ChallengeVariantResult {
  readonly id: ChallengeVariantId;
  readonly label: string;
  readonly succeeded: number;
  readonly failures: readonly string[];
  readonly acmeRequests?: Summary;
  readonly awsCalls: Readonly<Record<string, Summary>>;
  readonly awsCallsTotal?: Summary;
  readonly stateTransitions?: Summary;
  readonly lambdaInvocations?: Summary;
  readonly dnsWaitStateEntries?: Summary;
  readonly waitSeconds?: Summary;
  readonly wallMs?: Summary;
  /** The names the CA found valid in a measured run, by the challenge that passed. */
  readonly validatedBy: Readonly<Record<string, Summary>>;
  readonly setupRoute53ChangeCalls?: Summary;
  readonly setupWallMs?: Summary;
  /** Each successful run's exchanges with the CA, to tell apart runs whose counts differ. */
  readonly raw: readonly {
    readonly acmeResponsesByStatus: Readonly<Record<string, number>>;
    readonly validatedBy: Readonly<Record<string, number>>;
  }[];
}

export interface DnsPersistResult {
  readonly domains: readonly string[];
  readonly runs: number;
  readonly draft: string;
  readonly pebbleEnvironment: Readonly<Record<string, string>>;
  /** The persistent records the last dns-persist-01 setup wrote, name and values. */
  readonly records: readonly { readonly name: string; readonly values: readonly string[] }[];
  readonly variants: readonly ChallengeVariantResult[];
  readonly error?: string;
}

export interface DnsPersistOptions {
  readonly runs: number;
  readonly say: (line: string) => void;
}

export async function runDnsPersist(options: DnsPersistOptions): Promise<DnsPersistResult> {
  const environment = await startDnsPersistCa({ pebble: { env: PEBBLE_ENV } });
  const dns = new ChalltestsrvClient(environment.pebble.challtestsrvUrl);
  const persistNames = [...new Set(DNS_PERSIST_DOMAINS.map(validationDomainName))];
  const byVariant = new Map<ChallengeVariantId, ChallengeRun[]>();
  let records: DnsPersistResult['records'] = [];
  try {
    for (let round = 1; round <= options.runs; round += 1) {
      // Interleaved, so that the machine's load falls on both variants alike.
      for (const variant of VARIANTS) {
        options.say(`dns-persist ${round}/${options.runs}: ${variant.label}`);
        const fresh = await deployFresh(environment.proxy, DNS_PERSIST_DOMAINS, propsOf(variant.id));
        try {
          const run = await measure(fresh.deployment, environment.ca.validations);
          if (!run.ok) options.say(`dns-persist failed (${variant.label}): ${run.error}`);
          byVariant.set(variant.id, [...(byVariant.get(variant.id) ?? []), run]);
          if (variant.id === 'dns-persist-01')
            records = persistNames.map((name) => ({
              name,
              values: fresh.deployment.aws.route53.txtValues(name),
            }));
        } finally {
          await fresh.close();
          // The next deployment has a new account: its record must not find this one's at the CA.
          for (const name of persistNames) await dns.clearTxt(name);
        }
      }
    }
  } finally {
    await environment.stop();
  }
  return {
    domains: DNS_PERSIST_DOMAINS,
    runs: options.runs,
    draft: DNS_PERSIST_CA_DRAFT,
    pebbleEnvironment: { ...PEBBLE_ENV, PEBBLE_VA_ALWAYS_VALID: '1' },
    records,
    variants: VARIANTS.map((variant) => summarizeVariant(variant, byVariant.get(variant.id) ?? [])),
  };
}

function propsOf(variant: ChallengeVariantId): StackPropsForTest {
  return {
    acme: {
      certificates: [
        {
          id: CERTIFICATE_ID,
          domains: [...DNS_PERSIST_DOMAINS],
          ...(variant === 'dns-persist-01' ? { challenge: variant } : {}),
        },
      ],
    },
  } as StackPropsForTest;
}

/** The setup issuance, then the forced renewal with every figure taken as a difference around it. */
async function measure(
  deployment: LocalDeployment,
  validations: readonly { type: string; outcome: string }[],
): Promise<ChallengeRun> {
  const { aws, cloud } = deployment;
  const setupStarted = performance.now();
  const setup = await runLocalIssuance({
    deployment,
    input: { action: 'renew', certificateId: CERTIFICATE_ID },
    pauseMs: 0,
  });
  const setupWallMs = performance.now() - setupStarted;
  if (setup.execution.status !== 'SUCCEEDED')
    return failedRun(`setup issuance: ${setup.execution.error?.name}: ${setup.execution.error?.cause}`);

  const before = awsCallCounts(aws);
  const counters = cloudCounters(cloud);
  const validationsBefore = validations.length;
  const started = performance.now();
  const run = await runLocalIssuance({
    deployment,
    input: { action: 'renew', certificateId: CERTIFICATE_ID, force: true },
    // Wait states and retry pauses last 0 ms locally; their transitions still count.
    pauseMs: 0,
  });
  const wallMs = performance.now() - started;
  const usage = cloudUsageSince(cloud, counters);
  // The validator tries the persistent record before the dns-01 TXT: only the one that passed counts.
  const validatedBy: Record<string, number> = {};
  for (const entry of validations.slice(validationsBefore))
    if (entry.outcome === 'valid') validatedBy[entry.type] = (validatedBy[entry.type] ?? 0) + 1;
  const waits = waitStates(deployment.stack, 'Issuance');
  let dnsWaitStateEntries = 0;
  let waitSeconds = 0;
  for (const event of run.execution.events) {
    if (event.type !== 'StateEntered' || !('state' in event)) continue;
    if (DNS_WAIT_STATES.has(event.state.name)) dnsWaitStateEntries += 1;
    if (waits.has(event.state.name)) {
      const seconds = (event.state.input as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
      if (typeof seconds === 'number') waitSeconds += seconds;
    }
  }
  return {
    ok: run.execution.status === 'SUCCEEDED',
    ...(run.execution.error ? { error: `${run.execution.error.name}: ${run.execution.error.cause}` } : {}),
    acmeRequests: run.acmeRequests,
    acmeResponsesByStatus: run.acmeResponsesByStatus,
    awsCalls: awsCallsSince(aws, before),
    stateTransitions: run.execution.stateTransitions,
    lambdaInvocations: usage.lambdaColdStarts + usage.lambdaWarmInvocations,
    dnsWaitStateEntries,
    waitSeconds,
    validatedBy,
    wallMs,
    setup: { route53ChangeCalls: setup.route53ChangeCalls, wallMs: setupWallMs },
  };
}

function failedRun(error: string): ChallengeRun {
  return {
    ok: false,
    error,
    acmeRequests: 0,
    acmeResponsesByStatus: {},
    awsCalls: {},
    stateTransitions: 0,
    lambdaInvocations: 0,
    dnsWaitStateEntries: 0,
    waitSeconds: 0,
    validatedBy: {},
    wallMs: 0,
    setup: { route53ChangeCalls: 0, wallMs: 0 },
  };
}

function summarizeVariant(
  variant: (typeof VARIANTS)[number],
  runs: readonly ChallengeRun[],
): ChallengeVariantResult {
  const ok = runs.filter((run) => run.ok);
  const pick = (value: (run: ChallengeRun) => number) => summarize(ok.map(value));
  const optional = <K extends string>(key: K, summary: Summary | undefined) =>
    (summary ? { [key]: summary } : {}) as Partial<Record<K, Summary>>;
  const byKey = (records: (run: ChallengeRun) => Readonly<Record<string, number>>) => {
    const out: Record<string, Summary> = {};
    for (const key of [...new Set(ok.flatMap((run) => Object.keys(records(run))))].sort()) {
      const summary = pick((run) => records(run)[key] ?? 0);
      if (summary) out[key] = summary;
    }
    return out;
  };
  return {
    id: variant.id,
    label: variant.label,
    succeeded: ok.length,
    failures: runs.filter((run) => !run.ok).map((run) => (run.error ?? 'failed').slice(-500)),
    ...optional(
      'acmeRequests',
      pick((run) => run.acmeRequests),
    ),
    awsCalls: byKey((run) => run.awsCalls),
    ...optional(
      'awsCallsTotal',
      pick((run) => Object.values(run.awsCalls).reduce((sum, count) => sum + count, 0)),
    ),
    ...optional(
      'stateTransitions',
      pick((run) => run.stateTransitions),
    ),
    ...optional(
      'lambdaInvocations',
      pick((run) => run.lambdaInvocations),
    ),
    ...optional(
      'dnsWaitStateEntries',
      pick((run) => run.dnsWaitStateEntries),
    ),
    ...optional(
      'waitSeconds',
      pick((run) => run.waitSeconds),
    ),
    ...optional(
      'wallMs',
      pick((run) => run.wallMs),
    ),
    validatedBy: byKey((run) => run.validatedBy),
    ...optional(
      'setupRoute53ChangeCalls',
      pick((run) => run.setup.route53ChangeCalls),
    ),
    ...optional(
      'setupWallMs',
      pick((run) => run.setup.wallMs),
    ),
    raw: ok.map(({ acmeResponsesByStatus, validatedBy }) => ({ acmeResponsesByStatus, validatedBy })),
  };
}
