import type { SoakResult } from '../../test/harness/soak.js';
import { text } from './report-text.js';

const COLUMNS = [
  'Fault rate',
  'Runs',
  'Issued',
  'Failed cleanly',
  'Failed otherwise',
  'Faults injected',
  'Orphaned TXT values',
  'Orders at the CA (bound: runs + lost newOrder answers)',
  'Certificates left at the CA, then lost after the next runs',
  'Next runs issued (new orders)',
  'Seconds',
];

/** Section 10: the chaos soaks, one row per fault rate, and the faults each injected by kind. */
export function soakSection(soaks: readonly SoakResult[]): string[] {
  const heading = ['## 10. Chaos soak', ''];
  if (soaks.length === 0) return [...heading, text('soak-not-measured'), ''];
  return [
    ...heading,
    text('soak-method'),
    '',
    `| ${COLUMNS.join(' | ')} |`,
    `|${COLUMNS.map(() => '---').join('|')}|`,
    ...soaks.map(soakRow),
    '',
    ...soaks.map((soak) => {
      const kinds = Object.entries(soak.faultsByKind).map(([kind, count]) => `${kind} ${count}`);
      return `- Rate ${soak.faultRate}, seed ${soak.seed}: ${kinds.join(', ')}.`;
    }),
    '',
  ];
}

function soakRow(soak: SoakResult): string {
  const issuedPercent = (soak.issued / Math.max(1, soak.runs)) * 100;
  const cells = [
    soak.faultRate,
    soak.runs,
    `${soak.issued} (${issuedPercent.toFixed(0)}%)`,
    soak.failedClean,
    soak.failedUnclean,
    soak.faultsInjected,
    soak.orphanedTxtValues,
    `${soak.ordersAtCa} (${soak.runs + soak.lostNewOrderResponses})`,
    `${soak.certificatesLeftAtCa}, then ${soak.lostCertificates}`,
    `${soak.nextRunsIssued} of ${soak.nextRuns} (${soak.ordersByNextRuns})`,
    (soak.durationMs / 1000).toFixed(0),
  ];
  return `| ${cells.map(String).join(' | ')} |`;
}
