import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PebbleEnvironment, startPebble } from '../harness/pebble.js';
import { runSoak, type SoakResult } from '../harness/soak.js';

/**
 * The chaos soak, bounded (`npm run bench` runs a larger one): issuances one after another with
 * faults in every AWS call, every CA exchange and every step. What users must never lose holds
 * at any fault rate; at 5%, nine runs in ten still issue.
 */
describe('the chaos soak', () => {
  let pebble: PebbleEnvironment;

  beforeAll(async () => {
    pebble = await startPebble({ env: { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' } });
  });

  afterAll(async () => {
    await pebble?.stop();
  });

  const expectNothingLost = (soak: SoakResult) => {
    const report = JSON.stringify({ ...soak, failures: soak.failures.slice(0, 5) });
    expect(soak.issued + soak.failedClean, report).toBe(soak.runs);
    expect(soak.orphanedTxtValues, report).toBe(0);
    expect(soak.lostCertificates, report).toBe(0);
    expect(soak.ordersAtCa, report).toBeLessThanOrEqual(soak.runs + soak.lostNewOrderResponses);
  };

  it('at a fault rate of 5%, loses nothing and issues at least 90% of the runs', async () => {
    const soak = await runSoak({
      pebble,
      runs: 20,
      faultRate: 0.05,
      seed: 11,
      domains: ['soak.example.org', '*.soak.example.org'],
    });

    expectNothingLost(soak);
    expect(soak.faultsInjected).toBeGreaterThan(0);
    expect(soak.issued / soak.runs, JSON.stringify(soak.failures)).toBeGreaterThanOrEqual(0.9);
  }, 300_000);

  it('at a fault rate of 20%, where most runs fail, still loses nothing and fails only cleanly', async () => {
    const soak = await runSoak({
      pebble,
      runs: 8,
      faultRate: 0.2,
      seed: 12,
      domains: ['storm.example.org', '*.storm.example.org'],
    });

    expectNothingLost(soak);
    expect(soak.faultsInjected).toBeGreaterThan(soak.runs);
  }, 300_000);
});
