import { buildPackage } from '../../scripts/build/build-package.js';

/**
 * Builds what ships (`npm run build`) once before any test: the e2e suite deploys the bundles in
 * dist/assets, the bundle tests read them, and the package tests pack dist/. Building here rather
 * than trusting an earlier build means a test never runs a bundle older than its sources.
 */
export default async function setup(): Promise<void> {
  await buildPackage();
}
