import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AssetHashType, DockerImage } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { type BuildOptions, buildSync } from 'esbuild';

/**
 * How every step's Lambda bundle is built: the one definition that `cdk synth` (and so
 * `cdk deploy`), the e2e suite (which runs the assets of the synthesized cloud assembly) and the
 * benchmarks share.
 *
 * esbuild runs in-process through its JavaScript API, with no Docker and no `npx`. The options
 * are those `NodejsFunction` would pass, plus `keepNames`: Lambda reports a thrown error's `name`
 * as its `errorType`, Step Functions matches `Retry` and `Catch` on it, and a minifier that
 * renames classes would turn `BadNonceError` into `Q`.
 */

/** The Lambda runtime the bundles target. */
export const LAMBDA_RUNTIME = lambda.Runtime.NODEJS_22_X;

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
 * Options for every bundle, without the entry point. `@aws-sdk/*` stays external because the
 * Node.js 18+ Lambda runtimes provide the SDK v3 (CDK's default for those runtimes), and so does
 * the tracing module, which ships beside the bundle ({@link TRACING_FILE}); everything else is
 * inlined, so a bundle imports nothing its asset and the runtime lack.
 */
export const BUNDLE_OPTIONS = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  minify: true,
  keepNames: true,
  sourcemap: false,
  mainFields: ['module', 'main'],
  external: ['@aws-sdk/*', `./${TRACING_FILE}`],
  // The licence texts of the inlined packages ship beside the bundle, in the same asset
  // (`index.mjs.LEGAL.txt`), instead of inside the code that Lambda loads at every cold start.
  legalComments: 'linked',
  // Some dependencies still call require(); an ESM bundle needs it defined.
  banner: {
    js: "import{createRequire as __acmeCreateRequire}from'node:module';const require=__acmeCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
} as const satisfies BuildOptions;

/** The handler source of a step folder, `lambdas/<folder>/handler.ts`. */
export function handlerEntry(folder: string): string {
  return fileURLToPath(new URL(`../lambdas/${folder}/handler.ts`, import.meta.url));
}

/** The tracing module's source, bundled into {@link TRACING_FILE}. */
export const TRACING_ENTRY = fileURLToPath(new URL('../lambdas/adapters/tracing.mts', import.meta.url));

/**
 * The code of one step's function: `lambdas/<folder>/handler.ts` bundled into `index.mjs`, and
 * the tracing module into {@link TRACING_FILE} beside it, when the stack is synthesized. The
 * asset hash is the output's own, so an unchanged bundle is not uploaded again.
 */
export function stepCode(folder: string): lambda.Code {
  const entry = handlerEntry(folder);
  return lambda.Code.fromAsset(fileURLToPath(new URL(`../lambdas/${folder}`, import.meta.url)), {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Never pulled: local bundling always succeeds or throws.
      image: DockerImage.fromRegistry('public.ecr.aws/docker/library/node:22-alpine'),
      local: {
        tryBundle(outputDir) {
          buildSync({ ...BUNDLE_OPTIONS, entryPoints: [entry], outfile: join(outputDir, BUNDLE_FILE) });
          buildSync({
            ...BUNDLE_OPTIONS,
            entryPoints: [TRACING_ENTRY],
            outfile: join(outputDir, TRACING_FILE),
          });
          return true;
        },
      },
    },
  });
}
