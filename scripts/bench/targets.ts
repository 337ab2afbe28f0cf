import type { AccountAndKmsResult } from './account-and-kms.js';
import { MAX_ENVIRONMENT_BYTES, MAX_PAYLOAD_BYTES } from './deployments.js';
import type { FleetResult } from './fleet.js';
import type { PackageResult } from './package.js';
import type { BundleResult, CaseResult, ConfigurationResult, TargetResult } from './report.js';
import { ROLES } from './requests.js';

/** The targets the issue sets. */
const TARGET_REQUESTS_APEX_WILDCARD_NEW = 11;
const TARGET_REQUESTS_APEX_WILDCARD_EXISTING = 10;
const TARGET_BUNDLE_BYTES = 300_000;
const TARGET_INIT_MS = 150;
/** Ours, not the issue's: what `npm install` downloads, in npm's decimal megabytes. */
const TARGET_PACKAGE_TARBALL_BYTES = 2_000_000;

/**
 * Holds the measured results to the issue's targets and to AWS's quotas, in the order the report
 * lists them; a target whose figure was not measured in this run is left out.
 */
export function targets(
  cases: readonly CaseResult[],
  bundleResults: readonly BundleResult[],
  accountAndKms: AccountAndKmsResult,
  fleet: FleetResult,
  configurations: readonly ConfigurationResult[],
  pkg: PackageResult,
): TargetResult[] {
  return [
    requestsTarget(cases, 'new'),
    requestsTarget(cases, 'existing'),
    bundleSizeTarget(bundleResults),
    coldInitTarget(bundleResults),
    packageSizeTarget(pkg),
    iamDenialsTarget(cases, accountAndKms, fleet),
    statePayloadTarget(cases, accountAndKms, fleet),
    environmentTarget(configurations),
  ].filter((target): target is TargetResult => target !== undefined);
}

/**
 * The issue's request targets for apex + wildcard. The existing-account run follows the new-account
 * run on the same deployment, which kept the CA's directory in the registry, so its floor has no
 * directory GET; the new-account run is a deployment's first issuance, with no directory kept yet.
 */
function requestsTarget(cases: readonly CaseResult[], account: 'new' | 'existing'): TargetResult | undefined {
  const apex = cases.find((caseResult) => caseResult.id === `apex-wildcard/${account}`);
  const ours = apex?.clients.ours;
  if (!apex || !ours?.requests) return undefined;
  const floor = account === 'existing' ? { ...apex.floor, directory: 0 } : apex.floor;
  const floorTotal = ROLES.reduce((sum, role) => sum + floor[role], 0);
  const target =
    account === 'new' ? TARGET_REQUESTS_APEX_WILDCARD_NEW : TARGET_REQUESTS_APEX_WILDCARD_EXISTING;
  const met = ours.requests.max <= target;
  const aboveFloor = ROLES.filter((role) => (ours.byRole[role]?.median ?? 0) > floor[role]).map(
    (role) => `${role} ${ours.byRole[role]?.median} vs floor ${floor[role]}`,
  );
  return {
    name: `ACME requests, apex + wildcard, ${account} account`,
    target: `≤ ${target}`,
    measured: `${ours.requests.median} (max ${ours.requests.max}); floor ${floorTotal}`,
    met,
    ...(met
      ? {}
      : {
          why:
            aboveFloor.length > 0
              ? `above the floor in: ${aboveFloor.join('; ')}`
              : `at the protocol floor (${floorTotal}) of a deployment's first issuance, which has no directory kept yet; from the second issuance on the registry's copy saves the directory GET (the existing-account target)`,
        }),
  };
}

function bundleSizeTarget(bundleResults: readonly BundleResult[]): TargetResult | undefined {
  const largest = [...bundleResults].sort((a, b) => b.bytes - a.bytes)[0];
  if (!largest) return undefined;
  const over = bundleResults.filter((bundle) => bundle.bytes > TARGET_BUNDLE_BYTES);
  return {
    name: 'Bundle size, each function',
    target: `≤ ${TARGET_BUNDLE_BYTES / 1000} KB minified`,
    measured: `largest ${(largest.bytes / 1000).toFixed(1)} KB (${largest.step}); ${over.length} of ${bundleResults.length} over`,
    met: over.length === 0,
    ...(over.length === 0
      ? {}
      : {
          why:
            `over: ${over.map((bundle) => bundle.step).join(', ')}; ${largest.step} would be ` +
            `${(largest.bytesWithoutKeepNames / 1000).toFixed(1)} KB without keepNames, which scripts/build/lambda-bundles.ts ` +
            `sets so that error class names survive minification; its largest inputs: ${largest.largestInputs
              .map((input) => `${input.name} ${(input.bytes / 1000).toFixed(1)} KB`)
              .join(', ')}`,
        }),
  };
}

function coldInitTarget(bundleResults: readonly BundleResult[]): TargetResult | undefined {
  const slowest = [...bundleResults].sort((a, b) => (b.importMs?.median ?? 0) - (a.importMs?.median ?? 0))[0];
  if (!slowest?.importMs) return undefined;
  const over = bundleResults.filter((bundle) => (bundle.importMs?.median ?? 0) > TARGET_INIT_MS);
  const sdkMs = slowest.externalImportMs?.median ?? 0;
  return {
    name: 'Cold init (import the bundle), each function',
    target: `≤ ${TARGET_INIT_MS} ms`,
    measured: `slowest ${Math.round(slowest.importMs.median)} ms (${slowest.step}); ${over.length} of ${bundleResults.length} over`,
    met: over.length === 0,
    ...(over.length === 0
      ? {}
      : {
          why:
            `importing the same SDK modules alone takes ${Math.round(sdkMs)} ms (median), so the bundle's own ` +
            `code adds about ${Math.max(0, Math.round(slowest.importMs.median - sdkMs))} ms: ${slowest.step} imports ` +
            `${slowest.externalImports.length} SDK modules (${slowest.externalImports.join(', ')}), whatever it uses`,
        }),
  };
}

function packageSizeTarget(pkg: PackageResult): TargetResult | undefined {
  if ('error' in pkg) return undefined;
  const met = pkg.tarballBytes <= TARGET_PACKAGE_TARBALL_BYTES;
  const { tracing } = pkg;
  return {
    name: 'npm package, tarball',
    target: `≤ ${TARGET_PACKAGE_TARBALL_BYTES / 1_000_000} MB`,
    measured: `${(pkg.tarballBytes / 1_000_000).toFixed(2)} MB (${pkg.tarballBytes} bytes); ${(pkg.unpackedBytes / 1_000_000).toFixed(2)} MB unpacked, ${pkg.files} files`,
    met,
    ...(met
      ? {}
      : {
          why:
            `by top folder, unpacked: ${pkg.byFolder.map((part) => `${part.name} ${(part.bytes / 1000).toFixed(1)} KB`).join(', ')}; ` +
            `the ${tracing.copies} copies of ${tracing.file} take about ${((tracing.gzipBytesEach * tracing.copies) / 1000).toFixed(1)} KB of the tarball`,
        }),
  };
}

function iamDenialsTarget(
  cases: readonly CaseResult[],
  accountAndKms: AccountAndKmsResult,
  fleet: FleetResult,
): TargetResult | undefined {
  const denials = [
    ...cases.flatMap((caseResult) =>
      caseResult.ours?.iamDenials ? [[caseResult.label, caseResult.ours.iamDenials.max] as const] : [],
    ),
    ...accountAndKms.scenarios.flatMap((scenario) =>
      scenario.iamDenials ? [[scenario.label, scenario.iamDenials.max] as const] : [],
    ),
    ...fleet.runs.map((run) => [`fleet: ${run.label}`, run.iamDenials] as const),
  ];
  if (denials.length === 0) return undefined;
  const denied = denials.filter(([, count]) => count > 0);
  return {
    name: 'IAM denials, the unedited stack',
    target: '0',
    measured:
      denied.length === 0
        ? `0 in every run of ${denials.length} cases, scenarios and fleet runs`
        : `${denied.reduce((sum, [, count]) => sum + count, 0)}, adding up the worst run of each`,
    met: denied.length === 0,
    ...(denied.length === 0
      ? {}
      : { why: `denied in: ${denied.map(([label, count]) => `${label} (${count})`).join('; ')}` }),
  };
}

function statePayloadTarget(
  cases: readonly CaseResult[],
  accountAndKms: AccountAndKmsResult,
  fleet: FleetResult,
): TargetResult | undefined {
  const payloads = [
    ...cases.flatMap((caseResult) =>
      caseResult.ours?.maxStatePayloadBytes
        ? [[caseResult.label, caseResult.ours.maxStatePayloadBytes.max] as const]
        : [],
    ),
    ...accountAndKms.scenarios.flatMap((scenario) =>
      scenario.maxStatePayloadBytes ? [[scenario.label, scenario.maxStatePayloadBytes.max] as const] : [],
    ),
    ...fleet.runs.flatMap((run) => [
      [`fleet renewals page: ${run.label}`, run.maxStatePayload.renewals.bytes] as const,
      [`fleet issuance: ${run.label}`, run.maxStatePayload.issuance.bytes] as const,
    ]),
  ].sort((a, b) => b[1] - a[1]);
  const largest = payloads[0];
  if (!largest) return undefined;
  return {
    name: 'Largest Step Functions state input or output',
    target: `≤ ${MAX_PAYLOAD_BYTES / 1024} KiB (${MAX_PAYLOAD_BYTES} bytes), the service quota`,
    measured: `${largest[1]} bytes (${((largest[1] / MAX_PAYLOAD_BYTES) * 100).toFixed(1)}%), in ${largest[0]}`,
    met: largest[1] <= MAX_PAYLOAD_BYTES,
  };
}

function environmentTarget(configurations: readonly ConfigurationResult[]): TargetResult | undefined {
  const environments = configurations
    .flatMap((configuration) =>
      configuration.environments.map((size) => ({ ...size, configuration: configuration.label })),
    )
    .sort((a, b) => b.bytes - a.bytes);
  const largest = environments[0];
  if (!largest) return undefined;
  return {
    name: "Largest function's environment variables",
    target: `≤ ${MAX_ENVIRONMENT_BYTES / 1024} KB (${MAX_ENVIRONMENT_BYTES} bytes), Lambda's quota`,
    measured: `${largest.bytes} bytes (${((largest.bytes / MAX_ENVIRONMENT_BYTES) * 100).toFixed(1)}%), ${largest.function} with ${largest.configuration}`,
    met: largest.bytes <= MAX_ENVIRONMENT_BYTES,
  };
}
