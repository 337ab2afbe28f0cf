import { X509Certificate } from 'node:crypto';
import { startCaProxy } from './ca-proxy.js';
import type { AwsFaultKind } from './cloud/cloud.js';
import type { TaskPerformer } from './cloud/step-functions.js';
import { deployLocally, installLocalAws, runLocalIssuance } from './local-issuance.js';
import type { PebbleEnvironment } from './pebble.js';

/**
 * The chaos soak: issuances of the same names one after another on one deployment, with faults
 * injected at `faultRate` everywhere a real run can break:
 * - every AWS call of every function: throttling, a server error, or a timeout after the service
 *   did the work (the local cloud's `awsFaults`);
 * - every exchange with the CA: the connection dropped before the CA got the request, or after it
 *   acted on it (the CA proxy's `chaos`);
 * - every step: a crash of the function, before its work or after it (its result lost).
 *
 * Then it counts what users would lose. A run must either issue, or fail cleanly: its failure
 * recorded, its lock released and its TXT values gone. No TXT value may be left in DNS, and the
 * CA may hold at most one order per run plus one per newOrder answer the network lost (RFC 8555's
 * newOrder is not idempotent).
 *
 * A run that failed after the CA issued its certificate, but before the certificate was stored,
 * has not lost it: the registry keeps the order, and the certificate's next run resumes it and
 * downloads the certificate without ordering again. So the soak ends as the renewal schedule
 * would go on: each certificate whose run failed gets its next run, without faults, and then no
 * certificate the CA issued may be missing from both the certificate store and ACM.
 */

export interface SoakOptions {
  readonly pebble: PebbleEnvironment;
  readonly runs: number;
  readonly faultRate: number;
  readonly domains: readonly string[];
  /** Seed of the fault injector, so a failing soak can be replayed. @default 1 */
  readonly seed?: number;
  /** Called after each run. */
  readonly onRun?: (index: number, status: string) => void;
}

export interface SoakResult {
  readonly faultRate: number;
  readonly runs: number;
  readonly issued: number;
  /**
   * Runs that failed loudly, with cleanup done, the lock released and the outcome recorded (the
   * failure, or the certificate the execution delivered before a later step crashed).
   */
  readonly failedClean: number;
  /** Runs that neither issued nor failed cleanly. */
  readonly failedUnclean: number;
  readonly faultsInjected: number;
  readonly faultsByKind: Readonly<Record<string, number>>;
  readonly orphanedTxtValues: number;
  readonly lostCertificates: number;
  /** Issued by the CA but not stored when the faulty runs ended; each next run picked it up. */
  readonly certificatesLeftAtCa: number;
  /** The next runs of the certificates whose run failed, and how many of them issued. */
  readonly nextRuns: number;
  readonly nextRunsIssued: number;
  /** Orders the next runs created (a failed run's order that could not be resumed). */
  readonly ordersByNextRuns: number;
  readonly lostNewOrderResponses: number;
  /** Orders the faulty runs created. */
  readonly ordersAtCa: number;
  readonly seed: number;
  readonly durationMs: number;
  /** How each run that did not issue ended, for a reader of the results. */
  readonly failures: readonly { readonly run: number; readonly status: string; readonly error?: string }[];
}

/** A small seeded generator (mulberry32): the same seed injects the same faults. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function serialOf(pem: string): string {
  return new X509Certificate(pem).serialNumber.toLowerCase();
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const started = Date.now();
  const seed = options.seed ?? 1;
  const random = seededRandom(seed);
  const proxy = await startCaProxy(options.pebble);
  const aws = installLocalAws(proxy, options.domains);
  const deployment = await deployLocally(proxy, aws);
  const { cloud, stack } = deployment;
  const stepCrashes: Record<string, number> = {};
  const failures: { run: number; status: string; error?: string }[] = [];
  let issued = 0;
  let failedClean = 0;
  try {
    // Faults start after the deployment, as they would strike a stack that deployed fine.
    cloud.awsFaults = { rate: options.faultRate, random };
    proxy.chaos({ rate: options.faultRate, random });
    const crash = (stateName: string, perform: TaskPerformer): TaskPerformer => {
      return async (input) => {
        if (random() >= options.faultRate) return perform(input);
        const after = random() < 0.5;
        const kind = after ? 'crashAfterWork' : 'crashBeforeWork';
        stepCrashes[kind] = (stepCrashes[kind] ?? 0) + 1;
        if (after) await perform(input).catch(() => undefined);
        // What Lambda reports when the function's process dies mid-invocation.
        throw Object.assign(
          new Error(
            JSON.stringify({
              errorType: 'Runtime.ExitError',
              errorMessage: `${stateName}: Runtime exited with error: signal: killed`,
            }),
          ),
          {
            name: 'Runtime.ExitError',
          },
        );
      };
    };
    for (let run = 0; run < options.runs; run += 1) {
      const certificateId = `soak-${run}`;
      const result = await runLocalIssuance({
        deployment,
        input: { certificateId, domains: options.domains },
        wrapTask: crash,
      });
      const { execution } = result;
      if (execution.status === 'SUCCEEDED') {
        issued += 1;
      } else {
        // Faults stop while the outcome is checked, as an operator would look at it afterwards.
        cloud.awsFaults = undefined;
        const record = (await aws.dynamodb.items(stack.registryTable)).find(
          (item) => item.certificateId === certificateId,
        );
        cloud.awsFaults = { rate: options.faultRate, random };
        const lockHeld = Boolean((record?.lock as { executionId?: string } | undefined)?.executionId);
        // The outcome is recorded truthfully: the failure, or (a step that crashed after the
        // import) the delivery of the certificate this execution made.
        const deliveredBy = (record?.issued as { deliveredBy?: { executionId?: string } } | undefined)
          ?.deliveredBy?.executionId;
        const recorded =
          (record?.status === 'failed' && record?.lastError !== undefined) ||
          (deliveredBy !== undefined && deliveredBy === execution.executionArn);
        if (!lockHeld && recorded) failedClean += 1;
        failures.push({
          run,
          status: `${execution.status}${lockHeld ? ', lock held' : ''}${recorded ? '' : ', failure not recorded'}`,
          ...(execution.error
            ? { error: `${execution.error.name}: ${execution.error.cause.slice(0, 300)}` }
            : {}),
        });
      }
      options.onRun?.(run, execution.status);
    }
  } finally {
    cloud.awsFaults = undefined;
    proxy.chaos({ rate: 0, random });
  }

  // What is left in DNS: every TXT value under any _acme-challenge name of any zone.
  let orphanedTxtValues = 0;
  for (const zone of aws.route53.servedZones()) {
    for (const set of zone.sets.values()) {
      if (set.type === 'TXT' && set.name.startsWith('_acme-challenge.'))
        orphanedTxtValues += set.values.length;
    }
  }
  const ordersAtCa = proxy.ledger.ordersCreated;
  const lostNewOrderResponses = proxy.ledger.lostNewOrderResponses;
  const certificatesLeftAtCa = missingCertificates(proxy, aws, stack.certificateBucket);
  let nextRunsIssued = 0;
  for (const { run } of failures) {
    const next = await runLocalIssuance({
      deployment,
      input: { action: 'renew', certificateId: `soak-${run}`, force: true },
    });
    if (next.execution.status === 'SUCCEEDED') nextRunsIssued += 1;
  }
  const lostCertificates = missingCertificates(proxy, aws, stack.certificateBucket);
  const faultsByKind: Record<string, number> = {
    ...(cloud.faultsInjected as Record<AwsFaultKind, number>),
    caDroppedBeforeRequest: proxy.ledger.droppedBefore,
    caDroppedAfterProcessing: proxy.ledger.droppedAfter,
    ...stepCrashes,
  };
  const result: SoakResult = {
    faultRate: options.faultRate,
    runs: options.runs,
    issued,
    failedClean,
    failedUnclean: options.runs - issued - failedClean,
    faultsInjected: Object.values(faultsByKind).reduce((sum, count) => sum + count, 0),
    faultsByKind,
    orphanedTxtValues,
    lostCertificates,
    certificatesLeftAtCa,
    nextRuns: failures.length,
    nextRunsIssued,
    ordersByNextRuns: proxy.ledger.ordersCreated - ordersAtCa,
    lostNewOrderResponses,
    ordersAtCa,
    seed,
    durationMs: Date.now() - started,
    failures,
  };
  await cloud.shutdown();
  await aws.restore();
  await proxy.stop();
  return result;
}

/** Certificates the CA issued that are in neither the certificate store nor ACM, by serial. */
function missingCertificates(
  proxy: Awaited<ReturnType<typeof startCaProxy>>,
  aws: ReturnType<typeof installLocalAws>,
  bucket: string,
): number {
  const kept = new Set<string>();
  for (const certificate of aws.acm.certificates.values()) kept.add(serialOf(certificate.certificatePem));
  for (const objects of aws.s3.objects.values()) {
    for (const [key] of objects) {
      if (!key.endsWith('fullchain.pem')) continue;
      const text = aws.s3.text(bucket, key);
      const leaf = text?.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)?.[0];
      if (leaf) kept.add(serialOf(leaf));
    }
  }
  let missing = 0;
  for (const pem of proxy.ledger.certificates.values()) {
    if (!pem || !kept.has(serialOf(pem))) missing += 1;
  }
  return missing;
}
