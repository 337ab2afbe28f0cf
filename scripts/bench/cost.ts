/**
 * What one renewal costs on AWS: the units the bench measured, times published list prices.
 * The prices are the only figures typed in here, each with the page it comes from.
 */

/** When and where the prices below were read. */
export const PRICES_AS_OF = 'as of 2026-11 list prices, us-east-1';

export interface UnitPrice {
  readonly item: string;
  readonly usd: number;
  /** The price is per this many units. */
  readonly per: number;
  readonly unit: string;
  readonly source: string;
}

const LAMBDA = 'https://aws.amazon.com/lambda/pricing/';
const KMS = 'https://aws.amazon.com/kms/pricing/';
const S3 = 'https://aws.amazon.com/s3/pricing/';
const DYNAMODB = 'https://aws.amazon.com/dynamodb/pricing/on-demand/';
const SECRETS_MANAGER = 'https://aws.amazon.com/secrets-manager/pricing/';
const PARAMETER_STORE = 'https://aws.amazon.com/systems-manager/pricing/';

export const PRICES = {
  stateTransition: {
    item: 'Step Functions Standard state transitions',
    usd: 0.025,
    per: 1_000,
    unit: 'transition',
    source: 'https://aws.amazon.com/step-functions/pricing/',
  },
  lambdaRequest: { item: 'Lambda requests', usd: 0.2, per: 1_000_000, unit: 'request', source: LAMBDA },
  lambdaGbSecondArm64: {
    item: 'Lambda duration, arm64',
    usd: 0.0000133334,
    per: 1,
    unit: 'GB-second',
    source: LAMBDA,
  },
  lambdaGbSecondX86: {
    item: 'Lambda duration, x86_64',
    usd: 0.0000166667,
    per: 1,
    unit: 'GB-second',
    source: LAMBDA,
  },
  kmsAsymmetric: {
    item: 'KMS asymmetric requests except RSA 2048 (ECC Sign, GetPublicKey)',
    usd: 0.15,
    per: 10_000,
    unit: 'request',
    source: KMS,
  },
  kmsSymmetric: { item: 'KMS symmetric requests', usd: 0.03, per: 10_000, unit: 'request', source: KMS },
  s3Put: { item: 'S3 Standard PUT requests', usd: 0.005, per: 1_000, unit: 'request', source: S3 },
  s3Get: { item: 'S3 Standard GET/HEAD requests', usd: 0.0004, per: 1_000, unit: 'request', source: S3 },
  dynamoWrite: {
    item: 'DynamoDB on-demand write request units',
    usd: 0.625,
    per: 1_000_000,
    unit: 'WRU',
    source: DYNAMODB,
  },
  dynamoRead: {
    item: 'DynamoDB on-demand read request units',
    usd: 0.125,
    per: 1_000_000,
    unit: 'RRU',
    source: DYNAMODB,
  },
  eventBridgeEvent: {
    item: 'EventBridge custom events',
    usd: 1,
    per: 1_000_000,
    unit: 'event',
    source: 'https://aws.amazon.com/eventbridge/pricing/',
  },
  route53Api: {
    item: 'Route 53 API calls',
    usd: 0,
    per: 1,
    unit: 'call',
    source: 'https://aws.amazon.com/route53/pricing/',
  },
  // Secrets Manager: $0.40 per secret per month (prorated by the hour), $0.05 per 10,000 API calls
  // (https://aws.amazon.com/secrets-manager/pricing/).
  secretsManagerApi: {
    item: 'Secrets Manager API calls',
    usd: 0.05,
    per: 10_000,
    unit: 'call',
    source: SECRETS_MANAGER,
  },
  secretStorage: {
    item: 'Secrets Manager secret storage',
    usd: 0.4,
    per: 1,
    unit: 'secret-month',
    source: SECRETS_MANAGER,
  },
  // Parameter Store (AWS Systems Manager pricing, "Parameter Store"): Standard parameters and their
  // API interactions at standard throughput are free; an Advanced parameter is $0.05 per month
  // (prorated hourly) and its API interactions at standard throughput are free too; higher
  // throughput, which this construct does not enable, is $0.05 per 10,000 interactions.
  parameterStoreApi: {
    item: 'Parameter Store API calls, standard throughput',
    usd: 0,
    per: 1,
    unit: 'call',
    source: PARAMETER_STORE,
  },
  standardParameterStorage: {
    item: 'Parameter Store Standard parameters',
    usd: 0,
    per: 1,
    unit: 'parameter-month',
    source: PARAMETER_STORE,
  },
  advancedParameterStorage: {
    item: 'Parameter Store Advanced parameters',
    usd: 0.05,
    per: 1,
    unit: 'parameter-month',
    source: PARAMETER_STORE,
  },
  acmImport: {
    item: 'ACM imported certificates and their API calls',
    usd: 0,
    per: 1,
    unit: 'call',
    source: 'https://aws.amazon.com/certificate-manager/pricing/',
  },
} as const satisfies Record<string, UnitPrice>;

/** One Lambda function's share of a renewal. */
export interface LambdaUsage {
  readonly step: string;
  readonly invocations: number;
  /** Task time measured locally with the function warm, all invocations together. */
  readonly durationMs: number;
  /** Import time of its bundle in a fresh process, billed once per cold start. */
  readonly initMs: number | undefined;
  readonly memoryMb: number;
  readonly architecture: 'arm64' | 'x86_64';
}

export interface RenewalUnits {
  readonly stateTransitions: number;
  readonly lambdas: readonly LambdaUsage[];
  /** `service:Command` → calls, from the AWS fakes. */
  readonly awsCalls: Readonly<Record<string, number>>;
  /** The account key's KMS key spec, from the synthesized template. */
  readonly accountKeySpec: string;
}

export interface CostLine {
  readonly item: string;
  readonly quantity: number;
  readonly unit: string;
  readonly price: UnitPrice;
  readonly usd: number;
  readonly note?: string;
}

export interface RenewalCost {
  readonly lines: readonly CostLine[];
  /** Every function warm: handler time only. */
  readonly warmUsd: number;
  /** Every function invoked starts cold once: adds each bundle's init time (billed since 2025-08). */
  readonly coldUsd: number;
  /** `service:Command` keys the price table does not cover; listed, not priced. */
  readonly unpriced: readonly string[];
}

const line = (price: UnitPrice, quantity: number, note?: string): CostLine => ({
  item: price.item,
  quantity,
  unit: price.unit,
  price,
  usd: (quantity * price.usd) / price.per,
  ...(note ? { note } : {}),
});

/** Prices the measured units of one renewal. */
export function renewalCost(units: RenewalUnits): RenewalCost {
  const calls = callCounter(units.awsCalls);
  const lines = [
    line(PRICES.stateTransition, units.stateTransitions),
    line(
      PRICES.lambdaRequest,
      units.lambdas.reduce((sum, usage) => sum + usage.invocations, 0),
    ),
    ...lambdaDurationLines(units.lambdas),
    line(
      /^(ECC_|RSA_(3072|4096))/.test(units.accountKeySpec) ? PRICES.kmsAsymmetric : PRICES.kmsSymmetric,
      calls.count(
        (service, command) => service === 'kms' && (command === 'Sign' || command === 'GetPublicKey'),
      ),
      `account key ${units.accountKeySpec}`,
    ),
    ...s3Lines(calls),
    ...dynamoDbLines(calls),
    ...eventBridgeLines(calls),
    line(
      PRICES.route53Api,
      calls.count((service) => service === 'route53'),
    ),
    line(
      PRICES.acmImport,
      calls.count((service) => service === 'acm'),
    ),
  ];
  const warmUsd = lines.reduce((sum, item) => sum + item.usd, 0);
  return { lines, warmUsd, coldUsd: warmUsd + initUsd(units.lambdas), unpriced: calls.unpriced() };
}

/** Sums AWS calls by service and command, and remembers which calls a price has covered. */
interface CallCounter {
  count(predicate: (service: string, command: string) => boolean): number;
  /** The `service:Command` keys no `count` has matched so far. */
  unpriced(): string[];
}

function callCounter(awsCalls: Readonly<Record<string, number>>): CallCounter {
  const priced = new Set<string>();
  return {
    count(predicate) {
      let total = 0;
      for (const [key, count] of Object.entries(awsCalls)) {
        const [service = '', command = ''] = key.split(':');
        if (predicate(service, command)) {
          total += count;
          priced.add(key);
        }
      }
      return total;
    },
    unpriced: () => Object.keys(awsCalls).filter((key) => !priced.has(key)),
  };
}

/** GB-seconds of the warm Task time, one line per architecture. */
function lambdaDurationLines(lambdas: readonly LambdaUsage[]): CostLine[] {
  return (['arm64', 'x86_64'] as const).flatMap((architecture) => {
    const usages = lambdas.filter((usage) => usage.architecture === architecture);
    if (usages.length === 0) return [];
    const gbSeconds = usages.reduce(
      (sum, usage) => sum + (usage.memoryMb / 1024) * (usage.durationMs / 1000),
      0,
    );
    const price = architecture === 'arm64' ? PRICES.lambdaGbSecondArm64 : PRICES.lambdaGbSecondX86;
    const memories = [...new Set(usages.map((usage) => usage.memoryMb))].join('/');
    return [line(price, gbSeconds, `warm Task time measured locally × ${memories} MB; real runs are slower`)];
  });
}

/** S3 requests, and the SSE-KMS data-key requests they may cost; deletes are free. */
function s3Lines(calls: CallCounter): CostLine[] {
  const puts = calls.count((service, command) => service === 's3' && command === 'PutObject');
  const gets = calls.count(
    (service, command) => service === 's3' && (command === 'GetObject' || command === 'HeadObject'),
  );
  calls.count((service, command) => service === 's3' && command === 'DeleteObject');
  return [
    ...(puts > 0 ? [line(PRICES.s3Put, puts)] : []),
    ...(gets > 0 ? [line(PRICES.s3Get, gets)] : []),
    ...(puts + gets > 0
      ? [
          line(
            PRICES.kmsSymmetric,
            puts + gets,
            'upper bound: one SSE-KMS data-key request per S3 PUT/GET; the bucket key avoids most of them',
          ),
        ]
      : []),
  ];
}

function dynamoDbLines(calls: CallCounter): CostLine[] {
  const writes = calls.count(
    (service, command) => service === 'dynamodb' && /^(PutItem|UpdateItem|DeleteItem)$/.test(command),
  );
  const reads = calls.count(
    (service, command) => service === 'dynamodb' && /^(GetItem|Query)$/.test(command),
  );
  return [
    ...(writes > 0 ? [line(PRICES.dynamoWrite, writes, 'one unit per call (items under 1 KB)')] : []),
    ...(reads > 0
      ? [line(PRICES.dynamoRead, reads, 'one unit per call (strongly consistent, under 4 KB)')]
      : []),
  ];
}

function eventBridgeLines(calls: CallCounter): CostLine[] {
  const events = calls.count(
    (service, command) => service.toLowerCase() === 'eventbridge' && command === 'PutEvents',
  );
  return events > 0 ? [line(PRICES.eventBridgeEvent, events, 'one event per PutEvents call')] : [];
}

/** What every function's init costs when it starts cold: its bundle's import time, billed since 2025-08. */
function initUsd(lambdas: readonly LambdaUsage[]): number {
  const initGbSeconds = lambdas.reduce(
    (sum, usage) => sum + (usage.memoryMb / 1024) * ((usage.initMs ?? 0) / 1000),
    0,
  );
  const initPrice = lambdas.every((usage) => usage.architecture === 'arm64')
    ? PRICES.lambdaGbSecondArm64
    : PRICES.lambdaGbSecondX86;
  return initGbSeconds * initPrice.usd;
}

/**
 * One renewal every 60 days: a 90-day certificate renewed with 30 days left, as Let's Encrypt
 * recommends. Only used to spread the monthly storage over renewals; not measured.
 */
export const RENEWAL_INTERVAL_DAYS = 60;
const DAYS_PER_MONTH = 365 / 12;

/** What delivery adds to one renewal, measured as with minus without delivery. */
export interface DeliveryUnits {
  readonly stateTransitions: number;
  readonly lambdaInvocations: number;
  /** Task time DeliverCertificate adds, measured locally with the function warm. */
  readonly lambdaMs: number;
  readonly memoryMb: number;
  readonly architecture: 'arm64' | 'x86_64';
  /** `service:Command` → calls the delivery adds, from the fakes. */
  readonly awsCalls: Readonly<Record<string, number>>;
  /**
   * KMS requests Secrets Manager and Parameter Store make with the delivery key on the step's
   * behalf, estimated by the `kms:*` authorizations of its role on that key (the fakes encrypt in
   * process and count no KMS call for them).
   */
  readonly kmsRequests: number;
  readonly secrets: number;
  readonly parameters: number;
  readonly parameterTier: 'Standard' | 'Advanced';
}

export interface DeliveryCost {
  /** Per renewal: API calls, transitions, Lambda. */
  readonly lines: readonly CostLine[];
  readonly perRenewalUsd: number;
  /** Per month whatever the renewals: the secret and the parameters kept. */
  readonly monthly: readonly CostLine[];
  readonly monthlyUsd: number;
  /** Per renewal with the storage of one renewal interval spread over it. */
  readonly perRenewalWithStorageUsd: number;
  readonly renewalIntervalDays: number;
  readonly unpriced: readonly string[];
}

/** Prices what delivery adds to a renewal, and what its targets cost to keep. */
export function deliveryCost(units: DeliveryUnits): DeliveryCost {
  const calls = callCounter(units.awsCalls);
  const gbSeconds = (units.memoryMb / 1024) * (units.lambdaMs / 1000);
  const lines = [
    line(PRICES.stateTransition, units.stateTransitions),
    line(PRICES.lambdaRequest, units.lambdaInvocations),
    line(
      units.architecture === 'arm64' ? PRICES.lambdaGbSecondArm64 : PRICES.lambdaGbSecondX86,
      gbSeconds,
      `DeliverCertificate's added warm Task time measured locally × ${units.memoryMb} MB; real runs are slower`,
    ),
    line(
      PRICES.secretsManagerApi,
      calls.count((service) => service === 'secretsManager'),
    ),
    line(
      PRICES.parameterStoreApi,
      calls.count((service) => service === 'ssm'),
      units.parameterTier === 'Advanced' ? 'Advanced parameters: API calls free at standard throughput' : '',
    ),
    line(
      PRICES.kmsSymmetric,
      units.kmsRequests,
      "the delivery key, used by Secrets Manager and Parameter Store for the step: estimated by the step's kms:* authorizations on it",
    ),
    ...s3Lines(calls),
    ...dynamoDbLines(calls),
    ...eventBridgeLines(calls),
  ];
  const monthly = [
    ...(units.secrets > 0 ? [line(PRICES.secretStorage, units.secrets)] : []),
    ...(units.parameters > 0
      ? [
          line(
            units.parameterTier === 'Advanced'
              ? PRICES.advancedParameterStorage
              : PRICES.standardParameterStorage,
            units.parameters,
          ),
        ]
      : []),
  ];
  const perRenewalUsd = lines.reduce((sum, item) => sum + item.usd, 0);
  const monthlyUsd = monthly.reduce((sum, item) => sum + item.usd, 0);
  return {
    lines: lines.filter((item) => item.quantity !== 0),
    perRenewalUsd,
    monthly,
    monthlyUsd,
    perRenewalWithStorageUsd: perRenewalUsd + monthlyUsd * (RENEWAL_INTERVAL_DAYS / DAYS_PER_MONTH),
    renewalIntervalDays: RENEWAL_INTERVAL_DAYS,
    unpriced: calls.unpriced(),
  };
}
