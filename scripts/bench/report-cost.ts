import { type CostLine, PRICES_AS_OF, type RenewalCost } from './cost.js';
import type { CostResult } from './report.js';
import { table, usd } from './report-format.js';
import { text } from './report-text.js';

/** Section 7: the measured units of a renewal at AWS list prices, one table per case. */
export function costSection(costs: readonly CostResult[]): string[] {
  const sources = new Map<string, string>();
  for (const { cost } of costs)
    for (const line of cost.lines) sources.set(line.price.item, line.price.source);
  return [
    '## 7. Cost per renewal on AWS',
    '',
    text('cost-method', { pricesAsOf: PRICES_AS_OF }),
    '',
    ...costs.flatMap(({ label, cost }) => [
      `### ${label}`,
      '',
      table(['item', 'units', 'unit price', 'cost', 'note'], cost.lines.map(costRow)),
      '',
      costTotal(cost),
      '',
    ]),
    text('cost-sources', { pricesAsOf: PRICES_AS_OF }),
    '',
    ...[...sources].map(([item, source]) => `- ${item}: ${source}`),
    '',
    text('cost-not-included'),
    '',
  ];
}

function costRow(line: CostLine): string[] {
  const quantity = Number.isInteger(line.quantity) ? line.quantity : line.quantity.toPrecision(3);
  return [
    line.item,
    `${quantity} ${line.unit}${line.quantity === 1 ? '' : 's'}`,
    line.price.usd === 0 ? 'free' : `$${line.price.usd} per ${line.price.per.toLocaleString('en-US')}`,
    usd(line.usd),
    line.note ?? '',
  ];
}

/** The total warm and cold, per 1,000 renewals, and the line that makes up most of it. */
function costTotal(cost: RenewalCost): string {
  return text('cost-total', {
    warm: usd(cost.warmUsd),
    cold: usd(cost.coldUsd),
    thousand: usd(cost.coldUsd * 1000),
    largestShare: largestShare(cost),
    unpriced:
      cost.unpriced.length > 0 ? ` ${text('cost-unpriced', { items: cost.unpriced.join(', ') })}` : '',
  });
}

/** `Step Functions … transitions make up 82% of the warm total.` for the costliest line. */
function largestShare(cost: RenewalCost): string {
  const largest = [...cost.lines].sort((a, b) => b.usd - a.usd)[0];
  if (!largest || cost.warmUsd === 0) return '';
  return text('cost-largest-share', {
    item: largest.item,
    percent: Math.round((largest.usd / cost.warmUsd) * 100),
  });
}
