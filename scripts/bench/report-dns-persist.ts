import type { ChallengeVariantResult, DnsPersistResult } from './dns-persist.js';
import { failedRuns, signed, table } from './report-format.js';
import { text } from './report-text.js';
import { formatCount, formatMs, type Summary } from './stats.js';

const ROUTE53_CHANGE = 'route53:ChangeResourceRecordSets';
const ROUTE53_GET_CHANGE = 'route53:GetChange';

/** Section 14: one dns-01 issuance against one dns-persist-01 issuance with its record in place. */
export function dnsPersistSection(result: DnsPersistResult | undefined): string[] {
  const heading = ['## 14. dns-01 against dns-persist-01 (record in place), existing account', ''];
  if (!result || result.error)
    return [
      ...heading,
      text('dns-persist-not-measured', { error: result?.error ?? 'not in these results' }),
      '',
    ];
  const { variants } = result;
  const otherCalls = [...new Set(variants.flatMap((variant) => Object.keys(variant.awsCalls)))]
    .filter((key) => key !== ROUTE53_CHANGE && key !== ROUTE53_GET_CHANGE)
    .sort();
  const challengeTypes = [...new Set(variants.flatMap((variant) => Object.keys(variant.validatedBy)))].sort();
  const row = (label: string, cell: (variant: ChallengeVariantResult) => string) => [
    label,
    ...variants.map(cell),
  ];
  return [
    ...heading,
    text('dns-persist-method', {
      domains: result.domains.join(' + '),
      draft: result.draft,
      environment: Object.entries(result.pebbleEnvironment)
        .map(([key, value]) => `\`${key}=${value}\``)
        .join(', '),
      runs: result.runs,
    }),
    '',
    table(
      ['per forced renewal', ...variants.map((variant) => variant.label)],
      [
        row(
          'succeeded',
          (variant) => `${variant.succeeded} of ${variant.succeeded + variant.failures.length}`,
        ),
        row('ACME requests', (variant) => formatCount(variant.acmeRequests)),
        row(`\`${ROUTE53_CHANGE}\``, (variant) =>
          formatCount(variant.awsCalls[ROUTE53_CHANGE] ?? none(variant)),
        ),
        row(`\`${ROUTE53_GET_CHANGE}\``, (variant) =>
          formatCount(variant.awsCalls[ROUTE53_GET_CHANGE] ?? none(variant)),
        ),
        ...otherCalls.map((key) =>
          row(`\`${key}\``, (variant) => formatCount(variant.awsCalls[key] ?? none(variant))),
        ),
        row('**AWS calls, total**', (variant) => `**${formatCount(variant.awsCallsTotal)}**`),
        row('state transitions', (variant) => formatCount(variant.stateTransitions)),
        row('Lambda invocations', (variant) => formatCount(variant.lambdaInvocations)),
        row('DNS states entered (WaitForDnsSync, PauseForDnsSync)', (variant) =>
          formatCount(variant.dnsWaitStateEntries),
        ),
        row('seconds of the Wait states entered (`retryAfterSeconds`; 0 ms here)', (variant) =>
          formatCount(variant.waitSeconds),
        ),
        ...challengeTypes.map((type) =>
          row(`names the CA validated by ${type}`, (variant) =>
            formatCount(variant.validatedBy[type] ?? none(variant)),
          ),
        ),
        row('wall time (local)', (variant) => formatMs(variant.wallMs)),
        row('setup issuance: Route 53 change batches (not counted above)', (variant) =>
          formatCount(variant.setupRoute53ChangeCalls),
        ),
        row('setup issuance: wall time (new account, cold)', (variant) => formatMs(variant.setupWallMs)),
      ],
    ),
    '',
    ...difference(variants),
    text('dns-persist-on-aws'),
    '',
    ...(result.records.length > 0
      ? [
          text('dns-persist-records'),
          '',
          ...result.records.flatMap((record) =>
            record.values.map((value) => `- \`${record.name}\` TXT \`${value}\``),
          ),
          '',
        ]
      : []),
    ...failedRuns(variants),
  ];
}

/** A count of zero over the variant's successful runs, for a call it never made. */
function none(variant: ChallengeVariantResult): Summary | undefined {
  return variant.succeeded > 0 ? { median: 0, min: 0, max: 0, n: variant.succeeded } : undefined;
}

function difference(variants: readonly ChallengeVariantResult[]): string[] {
  const dns01 = variants.find((variant) => variant.id === 'dns-01');
  const persist = variants.find((variant) => variant.id === 'dns-persist-01');
  if (!dns01 || !persist || dns01.succeeded === 0 || persist.succeeded === 0) return [];
  const median = (summary: Summary | undefined) => summary?.median ?? 0;
  const calls = [...new Set([...Object.keys(dns01.awsCalls), ...Object.keys(persist.awsCalls)])]
    .sort()
    .map((key) => [key, median(persist.awsCalls[key]) - median(dns01.awsCalls[key])] as const)
    .filter(([, delta]) => delta !== 0)
    .map(([key, delta]) => `\`${key}\` ${signed(delta)}`);
  return [
    text('dns-persist-difference', {
      acmeRequests: signed(median(persist.acmeRequests) - median(dns01.acmeRequests)),
      awsCalls: signed(median(persist.awsCallsTotal) - median(dns01.awsCallsTotal)),
      calls: calls.join(', ') || 'no call differs',
      stateTransitions: signed(median(persist.stateTransitions) - median(dns01.stateTransitions)),
      wallMs: signed(Math.round(median(persist.wallMs) - median(dns01.wallMs))),
    }),
    '',
  ];
}
