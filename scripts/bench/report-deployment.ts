import type { BenchResults, OurCaseExtras } from './report.js';
import { kib, ofQuota, table } from './report-format.js';
import { text } from './report-text.js';
import { formatCount, formatMs } from './stats.js';

/** Section 9: synthesis, deploys, and the per-issuance figures only a deployment has, against AWS's quotas. */
export function deploymentSection(results: BenchResults): string[] {
  return [
    '## 9. What ships: synthesis, deployment, IAM and AWS quotas',
    '',
    ...synthesis(results.deployment),
    ...perIssuance(results),
    ...environments(results.deployment),
  ];
}

function synthesis({ synthesis, deployMs }: BenchResults['deployment']): string[] {
  return [
    '### Synthesis with the prebuilt bundles',
    '',
    table(
      ['synthesis', 'time'],
      [
        [
          `first in the process (the prebuilt asset of every one of ${synthesis.functions} functions hashed and copied into the assembly)`,
          `${Math.round(synthesis.firstMs)} ms`,
        ],
        ['the same props again (the harness’s per-process cache)', `${synthesis.cachedMs.toFixed(2)} ms`],
        ...synthesis.otherConfigurations.map((other) => [
          `another configuration (${other.label}): synthesized anew, CDK reuses the assets it staged`,
          `${Math.round(other.ms)} ms`,
        ]),
      ],
    ),
    '',
    text('synthesis-note', {
      deploy: deployMs ? ` ${text('synthesis-deploy', { deployMs: formatMs(deployMs) })}` : '',
    }),
    '',
  ];
}

/** IAM, cold starts and the largest state payload of each issuance case. */
function perIssuance(results: BenchResults): string[] {
  const { statePayloadBytes } = results.deployment.quotas;
  return [
    '### Per issuance',
    '',
    table(
      [
        'case',
        'AWS calls authorized by IAM',
        'IAM decisions (Step Functions invoking the functions included)',
        'IAM denials',
        'Lambda cold starts',
        'warm invocations',
        `largest state payload (quota ${kib(statePayloadBytes)})`,
      ],
      results.cases
        .filter((caseResult) => caseResult.ours)
        .map((caseResult) => {
          const ours = caseResult.ours as OurCaseExtras;
          return [
            caseResult.label,
            formatCount(ours.iamAuthorizedCalls),
            formatCount(ours.iamDecisions),
            formatCount(ours.iamDenials),
            formatCount(ours.lambdaColdStarts),
            formatCount(ours.lambdaWarmInvocations),
            ours.maxStatePayloadBytes ? ofQuota(ours.maxStatePayloadBytes.max, statePayloadBytes) : '—',
          ];
        }),
    ),
    '',
    text('per-issuance-note'),
    '',
  ];
}

/** The largest and smallest function environment of each configuration, against Lambda's 4 KB. */
function environments({ configurations, quotas }: BenchResults['deployment']): string[] {
  return [
    '### Environment variables per function, as deployed',
    '',
    table(
      ['configuration', 'functions', 'largest environment (keys and values)', 'function', 'smallest'],
      configurations.map((configuration) => {
        const largest = configuration.environments[0];
        const smallest = configuration.environments.at(-1);
        return [
          configuration.label,
          String(configuration.functions),
          largest ? ofQuota(largest.bytes, quotas.environmentBytes) : '—',
          largest ? `${largest.function} (${largest.variables} variables)` : '—',
          smallest ? `${smallest.bytes} bytes (${smallest.function})` : '—',
        ];
      }),
    ),
    '',
    text('environments-note'),
    '',
  ];
}
