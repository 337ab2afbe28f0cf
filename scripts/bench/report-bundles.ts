import type { BenchResults, BundleResult } from './report.js';
import { kb, table } from './report-format.js';
import { text } from './report-text.js';
import { formatMs } from './stats.js';

/** Section 4: the Lambda bundles as shipped, how they are built, and what loading them costs. */
export function bundlesSection(results: BenchResults): string[] {
  const { functions } = results.bundles;
  return [
    '## 4. Lambda bundles',
    '',
    buildOptions(results.bundles),
    '',
    rebuildNote(results),
    '',
    text('bundles-init', { initSamples: results.initSamples }),
    '',
    table(
      [
        'function',
        'minified, as shipped',
        'without keepNames',
        'gzip',
        'init (import the bundle)',
        'importing its SDK modules alone',
        'largest inputs',
        'SHA-256 of the asset’s index.mjs',
      ],
      functions.map((fn) => [
        fn.step,
        kb(fn.bytes),
        kb(fn.bytesWithoutKeepNames),
        kb(fn.gzipBytes),
        formatMs(fn.importMs),
        formatMs(fn.externalImportMs),
        fn.largestInputs.map((input) => `${input.name} ${kb(input.bytes)}`).join(', '),
        `\`${fn.sha256.slice(0, 16)}…\``,
      ]),
    ),
    '',
    runtimeNote(results.bundles),
    '',
  ];
}

/** The esbuild options the bundles are built with, and what `keepNames` costs. */
function buildOptions({ settings, functions }: BenchResults['bundles']): string {
  return text('bundles-build', {
    platform: settings.platform,
    format: settings.format,
    target: settings.target,
    flags: `${settings.minify ? ' --minify' : ''}${settings.keepNames ? ' --keep-names' : ''}`,
    mainFields: settings.mainFields.join(','),
    external: settings.external.map((name) => `\`${name}\``).join(', '),
    externalReason: settings.externalReason,
    keepNamesCost: keepNamesCost(functions),
  });
}

/** `4.1–7.0% per bundle` for what `keepNames` adds to the bundles. */
function keepNamesCost(functions: readonly BundleResult[]): string {
  const shares = functions
    .filter((fn) => fn.bytesWithoutKeepNames > 0)
    .map((fn) => ((fn.bytes - fn.bytesWithoutKeepNames) / fn.bytesWithoutKeepNames) * 100);
  if (shares.length === 0) return 'not measured';
  return `${Math.min(...shares).toFixed(1)}–${Math.max(...shares).toFixed(1)}% per bundle`;
}

/** Where the bundles were taken from, and whether a second build gave the same bytes. */
function rebuildNote(results: BenchResults): string {
  const { functions } = results.bundles;
  const differing = functions.filter((fn) => !fn.matchesRebuild).map((fn) => fn.step);
  return text('bundles-rebuild', {
    functions: functions.length,
    configurations: results.deployment.configurations.map((configuration) => configuration.label).join('; '),
    check:
      differing.length === 0
        ? text('bundles-rebuild-identical', { functions: functions.length })
        : text('bundles-rebuild-differs', { functions: differing.join(', ') }),
  });
}

/** The SDK modules each bundle imports, and the runtime, architecture and memory of the functions. */
function runtimeNote({ functions, outsideStacks }: BenchResults['bundles']): string {
  const sdkSets = [...new Set(functions.map((fn) => fn.externalImports.join(', ')))];
  const configurations = [
    ...new Set(functions.map((fn) => `${fn.runtime}, ${fn.architecture}, ${fn.memoryMb} MB`)),
  ];
  return text('bundles-sdk-modules', {
    sdkModules: sdkSets.map((set) => `\`${set || 'none'}\``).join('; '),
    configurations: configurations.join(' or '),
    outsideStacks:
      outsideStacks.length > 0
        ? ` ${text('bundles-outside-stacks', { folders: outsideStacks.join(', ') })}`
        : '',
  });
}
