import type { PacingResult } from './pacing.js';

const LIMIT_LABELS: Readonly<Record<string, string>> = {
  newOrdersPerAccount: 'New orders per account',
  certificatesPerRegisteredDomain: 'Certificates per registered domain',
  certificatesPerExactSet: 'Certificates per exact set of names',
  failedAuthorizationsPerIdentifier: 'Failed authorizations per name',
};

/** Section 13: the schedule's peak rates against each of Let's Encrypt's limits. */
export function pacingSection(result: PacingResult | undefined): string[] {
  const heading = ['## 13. Pacing 1,000 first issuances within Let’s Encrypt’s rate limits', ''];
  if (!result || result.error)
    return [...heading, `Not measured${result?.error ? `: ${result.error}` : ''}.`, ''];
  const method =
    'The planner (`planRenewals`) runs once a day over simulated time, pages of 200, against a simulated Let’s Encrypt that keeps the complete log of orders and certificates and refuses an order with a 429 as its published limits would; the planner itself sees only what the registry records. Each certificate has two names; renewals name the certificate they replace (ARI) and are exempt. Peaks are the most events the CA counted inside any sliding window of the limit.';
  const header = [
    'Limit',
    'Let’s Encrypt',
    'Planner budget',
    ...result.scenarios.map((scenario) => `Peak: ${scenario.label}`),
  ];
  const rows = result.limits.map((limit) => [
    LIMIT_LABELS[limit.limit] ?? limit.limit,
    `${limit.count} per ${limit.windowHours >= 24 ? `${limit.windowHours / 24} days` : `${limit.windowHours} h`}`,
    String(limit.budget),
    ...result.scenarios.map((scenario) => String(scenario.simulation.peaks[limit.limit])),
  ]);
  const summary = result.scenarios.map((scenario) => {
    const sim = scenario.simulation;
    const refused = Object.values(sim.refused).reduce((sum, count) => sum + (count ?? 0), 0);
    const last =
      sim.lastFirstIssuanceHours === undefined
        ? 'not all issued'
        : `${(sim.lastFirstIssuanceHours / 24).toFixed(1)} days`;
    return `| ${scenario.label} | ${sim.firstIssuances} | ${last} | ${refused} | ${sim.ariRenewals} | ${sim.ariRenewalsDelayed} | ${
      Object.entries(sim.deferredByLimit)
        .map(([limit, count]) => `${LIMIT_LABELS[limit] ?? limit}: ${count}`)
        .join(', ') || 'none'
    } | ${sim.runs} | ${scenario.seconds.toFixed(1)} |`;
  });
  return [
    ...heading,
    method,
    '',
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
    '',
    '| Fleet | First issuances | Last first issuance after | 429s | ARI renewals | ARI renewals delayed | Deferrals (certificate-runs) by limit | Daily runs | Seconds |',
    '|---|---|---|---|---|---|---|---|---|',
    ...summary,
    '',
  ];
}
