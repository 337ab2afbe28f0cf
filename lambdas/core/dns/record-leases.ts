import { AwsTransientError } from '../errors.js';
import type { Clock, RecordSetLeases } from '../ports.js';

/**
 * Time a writer keeps for its own change once it holds the leases: one read per record set and
 * one `ChangeResourceRecordSets`, with the Route 53 adapter's retries (at most about 4 s of
 * backoff per call). A writer stops waiting for a busy lease when less than this is left.
 */
export const LEASE_CHANGE_RESERVE_MS = 15_000;
/** First pause before asking for a busy lease again; it doubles up to {@link LEASE_MAX_PAUSE_MS}. */
export const LEASE_FIRST_PAUSE_MS = 100;
export const LEASE_MAX_PAUSE_MS = 2_000;

/** What waiting for a lease may log. */
interface LeaseLogger {
  debug(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
}

/** The lease key of one record set: record names are only unique within their zone. */
export function recordSetLeaseKey(zoneId: string, recordName: string): string {
  const name = recordName.toLowerCase().replace(/\.$/, '');
  return `${zoneId}#${name}`;
}

/**
 * Runs `change` while `holder` holds the lease of every record set in `recordNames` of `zoneId`,
 * so concurrent executions that share a record set read and write it one after the other.
 *
 * Guarantees:
 * - leases are taken in one global order (sorted keys), so two writers never wait for each other;
 * - a lease lasts as long as its holder's invocation can (`remainingMs`), so a crashed holder's
 *   lease expires when its Lambda would have been stopped, and a live holder never loses it;
 * - a busy lease is asked for again with doubling, jittered pauses, for as long as the invocation
 *   keeps {@link LEASE_CHANGE_RESERVE_MS} for the change; then it fails with `AwsTransientError`,
 *   which the state machine retries with backoff, having changed nothing;
 * - every lease taken is released after the change, whether it succeeded or not (a release that
 *   fails is left to expire).
 */
export async function withRecordSetLeases<T>(
  zoneId: string,
  recordNames: readonly string[],
  holder: string,
  change: () => Promise<T>,
  deps: { readonly leases: RecordSetLeases; readonly clock: Clock; readonly log: LeaseLogger },
): Promise<T> {
  const keys = [...new Set(recordNames.map((name) => recordSetLeaseKey(zoneId, name)))].sort();
  const held: string[] = [];
  let result: T;
  try {
    for (const key of keys) {
      await acquire(key, holder, deps);
      held.push(key);
    }
    result = await change();
  } catch (error) {
    await releaseAll(held, holder, deps);
    throw error;
  }
  await releaseAll(held, holder, deps);
  return result;
}

async function acquire(
  key: string,
  holder: string,
  deps: { readonly leases: RecordSetLeases; readonly clock: Clock; readonly log: LeaseLogger },
): Promise<void> {
  const { leases, clock, log } = deps;
  const started = clock.now().getTime();
  for (let attempt = 1; ; attempt += 1) {
    const remaining = leases.remainingMs();
    const ttlSeconds = Math.max(1, Math.ceil(remaining / 1000));
    if (await leases.acquire(key, holder, clock.now(), ttlSeconds)) return;
    const ceiling = Math.min(LEASE_MAX_PAUSE_MS, LEASE_FIRST_PAUSE_MS * 2 ** (attempt - 1));
    const pause = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    if (leases.remainingMs() - pause < LEASE_CHANGE_RESERVE_MS) {
      const waited = Math.round((clock.now().getTime() - started) / 1000);
      throw new AwsTransientError(
        `The TXT record set ${key.replace('#', ', record ')} is being changed by another execution (its lease is held); waited ${waited} s, and this invocation has too little time left to wait longer. Nothing was changed; the step is retried.`,
      );
    }
    log.debug('Record set busy; waiting for its lease', { lease: key, attempt, pauseMs: pause });
    await leases.pause(pause);
  }
}

/**
 * Releases every lease taken. A lease that cannot be given back is logged, not thrown: it expires
 * when this invocation could have ended at the latest (its TTL), and failing the step after its
 * change was made would only make the state machine repeat the change.
 */
async function releaseAll(
  held: readonly string[],
  holder: string,
  deps: { readonly leases: RecordSetLeases; readonly log: LeaseLogger },
): Promise<void> {
  for (const key of [...held].reverse()) {
    try {
      await deps.leases.release(key, holder);
    } catch (error) {
      deps.log.warn('Could not release a record set lease; it expires on its own', {
        lease: key,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
}
