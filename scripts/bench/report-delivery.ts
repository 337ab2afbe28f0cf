import { PRICES_AS_OF } from './cost.js';
import { DELIVERY_STEP, type DeliveryResult, type DeliveryVariantResult } from './delivery.js';
import { failedRuns, signed, table, usd } from './report-format.js';
import { text } from './report-text.js';
import { formatCount, formatMs } from './stats.js';

/** Section 12: what delivering to Secrets Manager and Parameter Store adds to a renewal, and its cost. */
export function deliverySection(delivery: DeliveryResult): string[] {
  const heading = ['## 12. Certificate delivery per renewal', ''];
  if (delivery.error) return [...heading, text('delivery-not-measured', { error: delivery.error }), ''];
  const variants = delivery.variants;
  const delivering = variants.filter((variant) => variant.added);
  const callKeys = [...new Set(variants.flatMap((variant) => Object.keys(variant.awsCalls)))].sort();
  const authorizationKeys = [
    ...new Set(variants.flatMap((variant) => Object.keys(variant.deliverAuthorizations))),
  ].sort();
  return [
    ...heading,
    text('delivery-method', {
      domain: delivery.domain,
      runs: delivery.runs,
      memory: delivery.function
        ? `${delivery.function.memoryMb} MB ${delivery.function.architecture}`
        : 'unknown',
    }),
    '',
    table(
      ['per forced renewal', ...variants.map((variant) => variant.label)],
      [
        [
          'succeeded',
          ...variants.map(
            (variant) => `${variant.succeeded} of ${variant.succeeded + variant.failures.length}`,
          ),
        ],
        ['state transitions', ...variants.map((variant) => formatCount(variant.stateTransitions))],
        ['Lambda invocations', ...variants.map((variant) => formatCount(variant.lambdaInvocations))],
        [`${DELIVERY_STEP} runs`, ...variants.map((variant) => formatCount(variant.deliverRuns))],
        [`${DELIVERY_STEP} Task time (warm)`, ...variants.map((variant) => formatMs(variant.deliverMs))],
        ['targets delivered (registry)', ...variants.map((variant) => formatCount(variant.targets))],
        ['secret versions after it', ...variants.map((variant) => formatCount(variant.secretVersions))],
        ['ACME requests', ...variants.map((variant) => formatCount(variant.acmeRequests))],
        ['IAM denials', ...variants.map((variant) => formatCount(variant.iamDenials))],
        ['wall time', ...variants.map((variant) => formatMs(variant.wallMs))],
        ...callKeys.map((key) => [
          `\`${key}\``,
          ...variants.map((variant) => formatCount(variant.awsCalls[key])),
        ]),
      ],
    ),
    '',
    text('delivery-step-authorizations', { step: DELIVERY_STEP }),
    '',
    table(
      ['IAM action', ...variants.map((variant) => variant.label)],
      authorizationKeys.map((key) => [
        `\`${key}\``,
        ...variants.map((variant) => formatCount(variant.deliverAuthorizations[key])),
      ]),
    ),
    '',
    ...delivering.flatMap((variant) => addedBlock(variant)),
    text('delivery-cost-sources', { pricesAsOf: PRICES_AS_OF }),
    '',
    ...sources(delivering),
    '',
    ...failedRuns(variants),
  ];
}

function addedBlock(variant: DeliveryVariantResult): string[] {
  const added = variant.added;
  const cost = variant.cost;
  if (!added || !cost) return [];
  const calls = Object.entries(added.awsCalls).map(
    ([key, count]) => `\`${key}\` ${count > 0 ? '+' : ''}${count}`,
  );
  return [
    `### What delivery adds: ${variant.label}`,
    '',
    text('delivery-added', {
      calls: calls.join(', ') || 'none',
      stateTransitions: signed(added.stateTransitions),
      lambdaInvocations: signed(added.lambdaInvocations),
      deliverMs: Math.round(added.deliverMs),
    }),
    '',
    table(
      ['per renewal', 'units', 'unit price', 'cost', 'note'],
      cost.lines.map((line) => [
        line.item,
        `${Number.isInteger(line.quantity) ? line.quantity : line.quantity.toPrecision(3)} ${line.unit}${line.quantity === 1 ? '' : 's'}`,
        line.price.usd === 0 ? 'free' : `$${line.price.usd} per ${line.price.per.toLocaleString('en-US')}`,
        usd(line.usd),
        line.note ?? '',
      ]),
    ),
    '',
    table(
      ['per month, whatever the renewals', 'units', 'unit price', 'cost'],
      cost.monthly.map((line) => [
        line.item,
        `${line.quantity} ${line.unit}${line.quantity === 1 ? '' : 's'}`,
        line.price.usd === 0 ? 'free' : `$${line.price.usd} per ${line.price.unit}`,
        usd(line.usd),
      ]),
    ),
    '',
    text('delivery-cost-total', {
      perRenewal: usd(cost.perRenewalUsd),
      thousand: usd(cost.perRenewalUsd * 1000),
      monthly: usd(cost.monthlyUsd),
      intervalDays: cost.renewalIntervalDays,
      withStorage: usd(cost.perRenewalWithStorageUsd),
      unpriced: cost.unpriced.length > 0 ? ` Not priced: ${cost.unpriced.join(', ')}.` : '',
    }),
    '',
  ];
}

function sources(variants: readonly DeliveryVariantResult[]): string[] {
  const seen = new Map<string, string>();
  for (const variant of variants)
    for (const line of [...(variant.cost?.lines ?? []), ...(variant.cost?.monthly ?? [])])
      seen.set(line.price.item, line.price.source);
  return [...seen].map(([item, source]) => `- ${item}: ${source}`);
}
