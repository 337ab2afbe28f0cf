import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as lambda from 'aws-cdk-lib/aws-lambda';

/**
 * Where every step's Lambda code comes from: the prebuilt bundles under `dist/assets/<folder>/`,
 * which `npm run build` writes (scripts/build.ts) and the npm package ships. The construct only
 * points `lambda.Code.fromAsset` at them, so an app that installs the package synthesizes with
 * plain `node`: no TypeScript sources, esbuild or Docker on its side. The e2e suite runs the same
 * files, copied into the cloud assembly as `cdk deploy` would upload them.
 */

/**
 * The Lambda runtime of every function unless the `lambdaRuntime` prop says otherwise:
 * `nodejs24.x`. Lambda deprecates a runtime when its Node.js release leaves long-term support:
 * April 2028 for Node.js 24, while `nodejs22.x` leaves standard support on 2027-04-30.
 */
export const DEFAULT_LAMBDA_RUNTIME = lambda.Runtime.NODEJS_24_X;

/**
 * The oldest Node.js major the bundles run on. The bundles are built for it and for the default
 * runtime (esbuild lowers any syntax the older one lacks), so either may be chosen.
 */
export const OLDEST_NODE_MAJOR = 22;

/** The file name of each bundle. */
export const BUNDLE_FILE = 'index.mjs';

/** The handler setting of every function: the `handler` export of `index.mjs`. */
export const BUNDLE_HANDLER = 'index.handler';

/**
 * The X-Ray tracing module (`lambdas/adapters/tracing.mts` with the Powertools Tracer and the X-Ray
 * SDK, about 130 KB), built once more into every asset beside `index.mjs` and imported from it
 * (`import('./tracing.mjs')`) only by an invocation that X-Ray traces.
 */
export const TRACING_FILE = 'tracing.mjs';

/**
 * The package's root: the nearest folder above this module with a `package.json`. The module is
 * `lib/lambda-bundle.ts` in the repository and `dist/lib/lambda-bundle.js` in the package; both
 * find the bundles at `<root>/dist/assets`.
 */
export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

/** The folder of the prebuilt bundles, one subfolder per step (`lambdas/<folder>`). */
export const BUNDLED_ASSETS_DIR = join(PACKAGE_ROOT, 'dist', 'assets');

/**
 * The code of one step's function: the prebuilt asset folder of `lambdas/<folder>`, holding
 * `index.mjs`, the tracing module and their licence texts. Its asset hash is that of the files, so
 * an unchanged bundle is not uploaded again.
 */
export function stepCode(folder: string): lambda.Code {
  const assetDir = join(BUNDLED_ASSETS_DIR, folder);
  if (!existsSync(join(assetDir, BUNDLE_FILE))) {
    throw new Error(
      `AcmeCertificates: the Lambda bundle of step "${folder}" is missing (${join(assetDir, BUNDLE_FILE)}). ` +
        'In a checkout of the repository, run `npm run build` first; an installed package ships its bundles, ' +
        'so a missing one means a damaged install: reinstall the package.',
    );
  }
  return lambda.Code.fromAsset(assetDir);
}

/**
 * Checks the `lambdaRuntime` prop before anything is built: the bundles are ES modules built for
 * Node.js {@link OLDEST_NODE_MAJOR} and later, so any other runtime would fail at its first
 * invocation, long after the deploy succeeded.
 */
export function checkLambdaRuntime(runtime: lambda.Runtime): lambda.Runtime {
  const major = /^nodejs(\d+)\.x$/.exec(runtime.name)?.[1];
  if (
    runtime.family !== lambda.RuntimeFamily.NODEJS ||
    major === undefined ||
    Number(major) < OLDEST_NODE_MAJOR
  ) {
    throw new Error(
      `AcmeCertificates: lambdaRuntime ${runtime.name} cannot run the bundled functions, which are ES modules ` +
        `built for Node.js ${OLDEST_NODE_MAJOR} and later. Use lambda.Runtime.NODEJS_24_X (the default), ` +
        `NODEJS_${OLDEST_NODE_MAJOR}_X, or a later nodejs<major>.x runtime.`,
    );
  }
  return runtime;
}

function findPackageRoot(start: string): string {
  for (let folder = start; ; folder = dirname(folder)) {
    if (existsSync(join(folder, 'package.json'))) return folder;
    if (dirname(folder) === folder) {
      throw new Error(`AcmeCertificates: no package.json above ${start}; the package is incomplete.`);
    }
  }
}
