import type { DnsZones, HostedZone, TxtRecord } from '../../../lambdas/core/ports.js';
import type { CaaPin } from '../../../lambdas/core/state.js';

/** One call that reached the port: the zone (or change) id, and the role it went through. */
export interface DnsZonesCall {
  readonly method: 'publishTxt' | 'isChangeInSync' | 'removeTxt';
  readonly id: string;
  readonly roleArn: string | undefined;
  readonly records?: readonly TxtRecord[];
}

/**
 * Route 53 as the DNS port offers it, in memory: the given hosted zones, TXT record sets as the
 * union of the values written (a removal keeps the values that are not its own), every call in
 * order, and a switch to fail the next write as a request whose answer was lost.
 */
export class MemoryDnsZones implements DnsZones {
  /** TXT values by record name. */
  readonly sets = new Map<string, string[]>();
  readonly calls: DnsZonesCall[] = [];
  /** What `isChangeInSync` answers. */
  inSync = true;
  /** Makes the next write throw a transient error, without changing anything. */
  failNextWrite = false;
  readonly #zones: readonly HostedZone[];

  constructor(zones: readonly HostedZone[] = []) {
    this.#zones = zones;
  }

  async listPublicZones(): Promise<HostedZone[]> {
    return [...this.#zones];
  }

  async publishTxt(zoneId: string, records: readonly TxtRecord[], roleArn?: string): Promise<string> {
    this.calls.push({ method: 'publishTxt', id: zoneId, roleArn, records });
    this.#maybeFail();
    for (const record of records) {
      this.sets.set(record.name, [...new Set([...(this.sets.get(record.name) ?? []), ...record.values])]);
    }
    return `C-${zoneId}`;
  }

  async isChangeInSync(changeId: string, roleArn?: string): Promise<boolean> {
    this.calls.push({ method: 'isChangeInSync', id: changeId, roleArn });
    return this.inSync;
  }

  async removeTxt(zoneId: string, records: readonly TxtRecord[], roleArn?: string): Promise<void> {
    this.calls.push({ method: 'removeTxt', id: zoneId, roleArn, records });
    this.#maybeFail();
    for (const record of records) {
      this.sets.set(
        record.name,
        (this.sets.get(record.name) ?? []).filter((value) => !record.values.includes(value)),
      );
    }
  }

  async pinCaa(zoneId: string, pins: readonly CaaPin[]): Promise<string | undefined> {
    this.caaPins.push(...pins.map((pin) => ({ ...pin, zoneId })));
    return pins.length > 0 ? `C-CAA-${zoneId}` : undefined;
  }

  /** The CAA pins asked for, in order. */
  readonly caaPins: CaaPin[] = [];

  /** The zones written to (published or removed), in order. */
  get writes(): string[] {
    return this.calls.filter((call) => call.method !== 'isChangeInSync').map((call) => call.id);
  }

  /** The values at `name`, sorted. */
  values(name: string): string[] {
    return [...(this.sets.get(name) ?? [])].sort();
  }

  #maybeFail(): void {
    if (!this.failNextWrite) return;
    this.failNextWrite = false;
    // The request reached Route 53 but its answer was lost.
    throw Object.assign(new Error('socket hang up'), { name: 'AwsTransientError' });
  }
}
