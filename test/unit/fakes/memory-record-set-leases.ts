import type { Clock, RecordSetLeases } from '../../../lambdas/core/ports.js';

/**
 * Record set leases in memory, with the DynamoDB adapter's rules (free, expired or already ours),
 * on a clock the test controls: `pause` advances it instead of sleeping. Records every call.
 * `remaining` is the invocation's time left, which `pause` uses up.
 */
export class MemoryRecordSetLeases implements RecordSetLeases {
  readonly leases = new Map<string, { holder: string; expiresAt: number }>();
  readonly calls: { method: 'acquire' | 'release' | 'pause'; key?: string; holder?: string; ms?: number }[] =
    [];
  /** What `remainingMs` answers: the invocation's time left. */
  remaining = 60_000;
  #now: number;

  constructor(start = new Date('2030-01-01T00:00:00.000Z')) {
    this.#now = start.getTime();
  }

  /** The clock the leases and the step share. */
  readonly clock: Clock = { now: () => new Date(this.#now) };

  async acquire(key: string, holder: string, now: Date, ttlSeconds: number): Promise<boolean> {
    this.calls.push({ method: 'acquire', key, holder });
    const lease = this.leases.get(key);
    if (lease && lease.holder !== holder && lease.expiresAt >= now.getTime()) return false;
    this.leases.set(key, { holder, expiresAt: now.getTime() + ttlSeconds * 1000 });
    return true;
  }

  async release(key: string, holder: string): Promise<void> {
    this.calls.push({ method: 'release', key, holder });
    if (this.leases.get(key)?.holder === holder) this.leases.delete(key);
  }

  remainingMs(): number {
    return this.remaining;
  }

  /** Advances the clock by `ms` and lets other work (a holder's change) run, without sleeping. */
  async pause(ms: number): Promise<void> {
    this.calls.push({ method: 'pause', ms });
    this.#now += ms;
    this.remaining -= ms;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
