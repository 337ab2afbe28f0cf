import type { StackPropsForTest } from '../../test/harness/cloud/assembly.js';
import { type LocalCa, type LocalDeployment, runLocalIssuance } from '../../test/harness/local-issuance.js';
import { type DeliveryCost, deliveryCost } from './cost.js';
import { awsCallCounts, awsCallsSince, cloudCounters, cloudUsageSince, deployFresh } from './deployments.js';
import { type Summary, summarize } from './stats.js';

/**
 * What delivering a certificate to workloads adds to a renewal (issue 16): the same declared
 * certificate deployed without delivery targets, with a secret and Standard parameters, and with a
 * secret and Advanced parameters, each in a local cloud of its own in the same bench run. Each
 * deployment issues the certificate once (a `renew` of its id, as the schedule starts it: cold
 * functions, a new account; not counted), then the measured execution is a forced renewal of it on
 * the same deployment (warm functions, the account recorded). What delivery adds is the difference
 * of the medians against the variant without delivery; DeliverCertificate's own AWS calls are also
 * read from the IAM authorizations of its role. A measurement, not a test: nothing here asserts.
 */

export const DELIVERY_DOMAIN = 'deliver.example.org';
const CERTIFICATE_ID = 'deliver';
const PARAMETER_PATH = '/bench/deliver';
/** The Task state that writes the targets, and whose function's calls are attributed to it. */
export const DELIVERY_STEP = 'DeliverCertificate';

export type DeliveryVariantId = 'none' | 'standard' | 'advanced';

export interface DeliveryVariant {
  readonly id: DeliveryVariantId;
  readonly label: string;
  /** What the certificate declares besides its id and names. */
  readonly declares: Readonly<Record<string, unknown>>;
}

export const DELIVERY_VARIANTS: readonly DeliveryVariant[] = [
  { id: 'none', label: 'declared, no delivery targets', declares: {} },
  {
    id: 'standard',
    label: 'secret + Standard parameters',
    declares: { secret: true, parameters: { path: PARAMETER_PATH } },
  },
  {
    id: 'advanced',
    label: 'secret + Advanced parameters',
    declares: { secret: true, parameters: { path: PARAMETER_PATH, tier: 'Advanced' } },
  },
];

function propsOf(variant: DeliveryVariant): StackPropsForTest {
  return {
    acme: { certificates: [{ id: CERTIFICATE_ID, domains: [DELIVERY_DOMAIN], ...variant.declares }] },
  } as StackPropsForTest;
}

/** One measured renewal. */
interface DeliveryRun {
  readonly ok: boolean;
  readonly error?: string;
  /** `service:Command` → calls, Secrets Manager and Parameter Store included. */
  readonly awsCalls: Readonly<Record<string, number>>;
  readonly stateTransitions: number;
  readonly lambdaInvocations: number;
  readonly acmeRequests: number;
  readonly iamDenials: number;
  /** DeliverCertificate's Task time and invocations (0 when the step did not run). */
  readonly deliverMs: number;
  readonly deliverRuns: number;
  /** The IAM authorizations of DeliverCertificate's role, by action. */
  readonly deliverAuthorizations: Readonly<Record<string, number>>;
  /** What the registry recorded as delivered. */
  readonly targets: number;
  readonly secretVersions: number;
  readonly parameters: number;
  readonly wallMs: number;
}

export interface DeliveryVariantResult {
  readonly id: DeliveryVariantId;
  readonly label: string;
  readonly declares: Readonly<Record<string, unknown>>;
  readonly succeeded: number;
  readonly failures: readonly string[];
  readonly awsCalls: Readonly<Record<string, Summary>>;
  readonly stateTransitions?: Summary;
  readonly lambdaInvocations?: Summary;
  readonly acmeRequests?: Summary;
  readonly iamDenials?: Summary;
  readonly deliverMs?: Summary;
  readonly deliverRuns?: Summary;
  readonly deliverAuthorizations: Readonly<Record<string, Summary>>;
  readonly targets?: Summary;
  /** Secret versions after the renewal: the pending value, the first issuance's, the renewal's. */
  readonly secretVersions?: Summary;
  readonly parameters?: Summary;
  readonly wallMs?: Summary;
  /** With minus without delivery, medians: what this variant's delivery adds per renewal. */
  readonly added?: {
    readonly awsCalls: Readonly<Record<string, number>>;
    readonly stateTransitions: number;
    readonly lambdaInvocations: number;
    readonly deliverMs: number;
  };
  readonly cost?: DeliveryCost;
}

export interface DeliveryResult {
  readonly domain: string;
  readonly runs: number;
  /** DeliverCertificate's function as deployed. */
  readonly function?: { readonly memoryMb: number; readonly architecture: 'arm64' | 'x86_64' };
  readonly variants: readonly DeliveryVariantResult[];
  readonly error?: string;
}

export interface DeliveryOptions {
  readonly ca: LocalCa;
  readonly runs: number;
  readonly say: (line: string) => void;
}

export async function runDelivery(options: DeliveryOptions): Promise<DeliveryResult> {
  const byVariant = new Map<DeliveryVariantId, DeliveryRun[]>();
  let fn: DeliveryResult['function'];
  for (let round = 1; round <= options.runs; round += 1) {
    // Interleaved, so that the machine's load falls on every variant alike.
    for (const variant of DELIVERY_VARIANTS) {
      options.say(`delivery ${round}/${options.runs}: ${variant.label}`);
      const fresh = await deployFresh(options.ca, [DELIVERY_DOMAIN], propsOf(variant));
      try {
        fn ??= deliverFunction(fresh.deployment);
        const first = await runLocalIssuance({
          deployment: fresh.deployment,
          input: { action: 'renew', certificateId: CERTIFICATE_ID },
          pauseMs: 0,
        });
        const run =
          first.execution.status === 'SUCCEEDED'
            ? await measureRenewal(fresh.deployment)
            : failedRun(`first issuance: ${first.execution.error?.name}: ${first.execution.error?.cause}`);
        if (!run.ok) options.say(`delivery failed (${variant.label}): ${run.error}`);
        byVariant.set(variant.id, [...(byVariant.get(variant.id) ?? []), run]);
      } finally {
        await fresh.close();
      }
    }
  }
  const summaries = DELIVERY_VARIANTS.map((variant) =>
    summarizeVariant(variant, byVariant.get(variant.id) ?? []),
  );
  const baseline = summaries.find((summary) => summary.id === 'none');
  const variants = summaries.map((summary) => {
    if (summary.id === 'none' || !baseline || summary.succeeded === 0 || baseline.succeeded === 0)
      return summary;
    const added = difference(summary, baseline);
    const parameters = summary.parameters?.median ?? 0;
    return {
      ...summary,
      added,
      cost: deliveryCost({
        stateTransitions: added.stateTransitions,
        lambdaInvocations: added.lambdaInvocations,
        lambdaMs: added.deliverMs,
        memoryMb: fn?.memoryMb ?? 128,
        architecture: fn?.architecture ?? 'arm64',
        awsCalls: added.awsCalls,
        kmsRequests: Object.entries(summary.deliverAuthorizations)
          .filter(([action]) => action.startsWith('kms:') && action.endsWith('(delivery key)'))
          .reduce((sum, [, count]) => sum + count.median, 0),
        secrets: summary.secretVersions ? 1 : 0,
        parameters,
        parameterTier: summary.id === 'advanced' ? 'Advanced' : 'Standard',
      }),
    };
  });
  return { domain: DELIVERY_DOMAIN, runs: options.runs, ...(fn ? { function: fn } : {}), variants };
}

/** A forced renewal on the deployment, with every figure taken as a difference around it. */
async function measureRenewal(deployment: LocalDeployment): Promise<DeliveryRun> {
  const { aws, cloud } = deployment;
  // Secrets Manager and Parameter Store live on the cloud, not on LocalAws.
  const services = () => ({ ...aws, secretsManager: cloud.secretsManager, ssm: cloud.ssm });
  const before = awsCallCounts(services());
  const counters = cloudCounters(cloud);
  const decisionsBefore = cloud.iam.decisions.length;
  const started = performance.now();
  const run = await runLocalIssuance({
    deployment,
    input: { action: 'renew', certificateId: CERTIFICATE_ID, force: true },
    pauseMs: 0,
  });
  const wallMs = performance.now() - started;
  const usage = cloudUsageSince(cloud, counters);
  const deliver = run.execution.steps.find((step) => step.name === DELIVERY_STEP);
  const functionName = deployment.cloud.lambda.function(taskResource(deployment))?.functionName;
  const record = (await aws.dynamodb.items(deployment.stack.registryTable)).find(
    (item) => item.certificateId === CERTIFICATE_ID,
  ) as
    | {
        config?: { delivery?: { secretArn?: string; parameterKeyArn?: string } };
        issued?: { delivered?: { targets?: { target: string }[] } };
      }
    | undefined;
  const secretArn = record?.config?.delivery?.secretArn;
  // The key the secret and the parameters are encrypted with; other keys (the store's SSE-KMS) are
  // told apart, since the S3 lines of the cost already bound their requests.
  const deliveryKeys = new Set(
    [
      record?.config?.delivery?.parameterKeyArn,
      secretArn ? cloud.secretsManager.secret(secretArn)?.kmsKeyId : undefined,
    ].filter((key): key is string => typeof key === 'string'),
  );
  const deliverAuthorizations: Record<string, number> = {};
  for (const decision of cloud.iam.decisions.slice(decisionsBefore)) {
    if (!functionName || !decision.principal.endsWith(`/${functionName}`)) continue;
    const key = decision.action.startsWith('kms:')
      ? `${decision.action} (${[...deliveryKeys].some((arn) => decision.resource === arn || arn.endsWith(decision.resource)) ? 'delivery key' : 'other key'})`
      : decision.action;
    deliverAuthorizations[key] = (deliverAuthorizations[key] ?? 0) + 1;
  }
  const targets = record?.issued?.delivered?.targets ?? [];
  return {
    ok: run.execution.status === 'SUCCEEDED',
    ...(run.execution.error ? { error: `${run.execution.error.name}: ${run.execution.error.cause}` } : {}),
    awsCalls: awsCallsSince(services(), before),
    stateTransitions: run.execution.stateTransitions,
    lambdaInvocations: usage.lambdaColdStarts + usage.lambdaWarmInvocations,
    acmeRequests: run.acmeRequests,
    iamDenials: usage.iamDenials,
    deliverMs: deliver?.ms ?? 0,
    deliverRuns: deliver?.runs ?? 0,
    deliverAuthorizations,
    targets: targets.length,
    secretVersions: secretArn ? (cloud.secretsManager.secret(secretArn)?.versions.length ?? 0) : 0,
    parameters: targets.filter((target) => target.target === 'ssm').length,
    wallMs,
  };
}

function failedRun(error: string): DeliveryRun {
  return {
    ok: false,
    error,
    awsCalls: {},
    stateTransitions: 0,
    lambdaInvocations: 0,
    acmeRequests: 0,
    iamDenials: 0,
    deliverMs: 0,
    deliverRuns: 0,
    deliverAuthorizations: {},
    targets: 0,
    secretVersions: 0,
    parameters: 0,
    wallMs: 0,
  };
}

/** The ARN DeliverCertificate's Task invokes, from the deployed definition. */
function taskResource(deployment: LocalDeployment): string {
  const state = deployment.stack.stateMachine('Issuance').definition.States[DELIVERY_STEP] as
    | { Resource?: unknown }
    | undefined;
  return String(state?.Resource ?? '');
}

/** DeliverCertificate's memory and architecture as the template configures its function. */
function deliverFunction(deployment: LocalDeployment): DeliveryResult['function'] {
  const fn = deployment.cloud.lambda.function(taskResource(deployment));
  if (!fn) return undefined;
  const architectures = deployment.stack.template.Resources[fn.logicalId]?.Properties?.Architectures as
    | string[]
    | undefined;
  return { memoryMb: fn.memorySize, architecture: architectures?.[0] === 'arm64' ? 'arm64' : 'x86_64' };
}

function summarizeVariant(variant: DeliveryVariant, runs: readonly DeliveryRun[]): DeliveryVariantResult {
  const ok = runs.filter((run) => run.ok);
  const pick = (value: (run: DeliveryRun) => number) => summarize(ok.map(value));
  const byKey = (records: (run: DeliveryRun) => Readonly<Record<string, number>>) => {
    const keys = [...new Set(ok.flatMap((run) => Object.keys(records(run))))].sort();
    const out: Record<string, Summary> = {};
    for (const key of keys) {
      const summary = pick((run) => records(run)[key] ?? 0);
      if (summary) out[key] = summary;
    }
    return out;
  };
  const optional = <K extends string>(key: K, summary: Summary | undefined) =>
    (summary ? { [key]: summary } : {}) as Partial<Record<K, Summary>>;
  return {
    id: variant.id,
    label: variant.label,
    declares: variant.declares,
    succeeded: ok.length,
    failures: runs.filter((run) => !run.ok).map((run) => (run.error ?? 'failed').slice(-500)),
    awsCalls: byKey((run) => run.awsCalls),
    ...optional(
      'stateTransitions',
      pick((run) => run.stateTransitions),
    ),
    ...optional(
      'lambdaInvocations',
      pick((run) => run.lambdaInvocations),
    ),
    ...optional(
      'acmeRequests',
      pick((run) => run.acmeRequests),
    ),
    ...optional(
      'iamDenials',
      pick((run) => run.iamDenials),
    ),
    ...optional(
      'deliverMs',
      pick((run) => run.deliverMs),
    ),
    ...optional(
      'deliverRuns',
      pick((run) => run.deliverRuns),
    ),
    deliverAuthorizations: byKey((run) => run.deliverAuthorizations),
    ...optional(
      'targets',
      pick((run) => run.targets),
    ),
    ...(variant.id === 'none'
      ? {}
      : optional(
          'secretVersions',
          pick((run) => run.secretVersions),
        )),
    ...optional(
      'parameters',
      pick((run) => run.parameters),
    ),
    ...optional(
      'wallMs',
      pick((run) => run.wallMs),
    ),
  };
}

/** Medians of `variant` minus those of `baseline`, calls that differ only. */
function difference(
  variant: DeliveryVariantResult,
  baseline: DeliveryVariantResult,
): NonNullable<DeliveryVariantResult['added']> {
  const awsCalls: Record<string, number> = {};
  for (const key of new Set([...Object.keys(variant.awsCalls), ...Object.keys(baseline.awsCalls)])) {
    const delta = (variant.awsCalls[key]?.median ?? 0) - (baseline.awsCalls[key]?.median ?? 0);
    if (delta !== 0) awsCalls[key] = delta;
  }
  const median = (summary: Summary | undefined) => summary?.median ?? 0;
  return {
    awsCalls,
    stateTransitions: median(variant.stateTransitions) - median(baseline.stateTransitions),
    lambdaInvocations: median(variant.lambdaInvocations) - median(baseline.lambdaInvocations),
    deliverMs: Math.max(0, median(variant.deliverMs) - median(baseline.deliverMs)),
  };
}
