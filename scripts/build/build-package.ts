import { spawnSync } from 'node:child_process';
import { renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../lib/lambda-bundle.js';
import { type BuiltBundle, buildLambdaBundles } from './lambda-bundles.js';

/** What one build produced, and how long each half took. */
export interface PackageBuild {
  readonly bundles: readonly BuiltBundle[];
  readonly bundleSeconds: number;
  readonly compileSeconds: number;
}

/**
 * Everything the package ships that is not a source file: the Lambda bundles (`dist/assets`),
 * then the construct library and the CLI compiled to JavaScript with declarations (`dist/lib`,
 * `dist/cli` and the part of `dist/lambdas` they import), from tsconfig.build.json. `npm run build`
 * runs it, and so does the test suite before any test, so the tests always run what would ship.
 */
export async function buildPackage(): Promise<PackageBuild> {
  const started = performance.now();
  const bundles = await buildLambdaBundles();
  const bundled = performance.now();
  // Compiled beside dist/ first and moved in at the end, like the bundles: a build running at the
  // same time never packs or imports half of another's output.
  const outDir = join(PACKAGE_ROOT, `dist.compiling-${process.pid}`);
  try {
    const tsc = spawnSync(
      process.execPath,
      [
        join(PACKAGE_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
        '-p',
        'tsconfig.build.json',
        '--outDir',
        outDir,
      ],
      { cwd: PACKAGE_ROOT, encoding: 'utf8' },
    );
    if (tsc.status !== 0) {
      throw new Error(`tsc -p tsconfig.build.json failed:\n${tsc.stdout}${tsc.stderr}`);
    }
    for (const folder of ['lib', 'cli', 'lambdas']) {
      rmSync(join(PACKAGE_ROOT, 'dist', folder), { recursive: true, force: true });
      renameSync(join(outDir, folder), join(PACKAGE_ROOT, 'dist', folder));
    }
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
  return {
    bundles,
    bundleSeconds: (bundled - started) / 1000,
    compileSeconds: (performance.now() - bundled) / 1000,
  };
}
