import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup/polyfills.ts'],
    globalSetup: ['test/setup/build-package.ts'],
    // An e2e test deploys the stack and cold-starts its functions (worker threads) before it runs.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', './test/setup/summary-reporter.ts'],
  },
});
