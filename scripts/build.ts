import { buildPackage } from './build/build-package.js';
import { buildLambdaBundles } from './build/lambda-bundles.js';

/**
 * `npm run build`: the Lambda bundles and the compiled library and CLI, into dist/. With
 * `--bundles`, only the bundles: what `cdk synth`, the demo and the bench need from a checkout.
 */
const started = performance.now();
if (process.argv.includes('--bundles')) {
  const bundles = await buildLambdaBundles();
  console.error(
    `Built ${bundles.length} Lambda bundles into dist/assets in ${((performance.now() - started) / 1000).toFixed(1)} s.`,
  );
} else {
  const { bundles, bundleSeconds, compileSeconds } = await buildPackage();
  const largest = Math.max(...bundles.map((bundle) => bundle.bytes));
  console.error(
    `Built ${bundles.length} Lambda bundles into dist/assets (largest ${(largest / 1000).toFixed(1)} KB) in ` +
      `${bundleSeconds.toFixed(1)} s, and compiled lib/ and cli/ into dist/ in ${compileSeconds.toFixed(1)} s.`,
  );
}
