import { DnsQueryError } from '../../lambdas/core/errors.js';
import type { CaaRecord, DnsResolver, NameServer } from '../../lambdas/core/ports.js';

/**
 * A {@link DnsResolver} for core tests: CNAMEs and CAA records as a recursive resolver would
 * answer them (a CAA query follows the CNAMEs set here), each zone's name servers, and what each
 * server answers for TXT. Failures are `DnsQueryError`s with
 * the codes Node's resolver uses (`ESERVFAIL`, `ETIMEOUT`), as the real adapter throws them.
 */
export class FakeDnsResolver implements DnsResolver {
  /** Every query, in order, e.g. `CNAME _acme-challenge.example.org`, `TXT name @ 192.0.2.1`. */
  readonly queries: string[] = [];
  private readonly cnames = new Map<string, string>();
  private readonly servers = new Map<string, NameServer[]>();
  private readonly txt = new Map<string, string[]>();
  private readonly caa = new Map<string, CaaRecord[]>();
  private readonly failures = new Map<string, string>();

  /** `name` is a CNAME to `target`. */
  setCname(name: string, target: string): this {
    this.cnames.set(name, target);
    return this;
  }

  /** The zone's name servers: `ns1.<zone>` at 192.0.2.1, `ns2.<zone>` at 192.0.2.2, … */
  setNameServers(zone: string, count = 2): NameServer[] {
    const servers = Array.from({ length: count }, (_, index) => ({
      name: `ns${index + 1}.${zone}`,
      address: `192.0.2.${index + 1}`,
    }));
    this.servers.set(zone, servers);
    return servers;
  }

  /** What `server` (an address) answers for TXT at `name`. */
  setTxt(server: string, name: string, values: readonly string[]): this {
    this.txt.set(`${server} ${name}`, [...values]);
    return this;
  }

  /** Every server of `zone` answers `values` at `name`. */
  setTxtEverywhere(zone: string, name: string, values: readonly string[]): this {
    for (const server of this.servers.get(zone) ?? []) this.setTxt(server.address, name, values);
    return this;
  }

  /** Adds CAA records at `name`: `issue` values as strings, or whole records for other tags and flags. */
  addCaa(name: string, ...records: readonly (string | CaaRecord)[]): this {
    const added = records.map((record) =>
      typeof record === 'string' ? { flags: 0, tag: 'issue', value: record } : record,
    );
    this.caa.set(name, [...(this.caa.get(name) ?? []), ...added]);
    return this;
  }

  /** Queries matching `query` (as recorded in {@link queries}) fail with `rcode`. */
  fail(query: string, rcode = 'ESERVFAIL'): this {
    this.failures.set(query, rcode);
    return this;
  }

  async resolveCname(name: string): Promise<string | undefined> {
    this.record(`CNAME ${name}`);
    return this.cnames.get(name);
  }

  async resolveCaa(name: string): Promise<CaaRecord[]> {
    this.record(`CAA ${name}`);
    let target = name;
    const seen = new Set([target]);
    for (
      let next = this.cnames.get(target);
      next !== undefined && !seen.has(next);
      next = this.cnames.get(target)
    ) {
      target = next;
      seen.add(target);
    }
    return [...(this.caa.get(target) ?? [])];
  }

  async authoritativeServers(zone: string): Promise<NameServer[]> {
    this.record(`NS ${zone}`);
    return this.servers.get(zone) ?? [];
  }

  async resolveTxt(name: string, server: string): Promise<string[]> {
    this.record(`TXT ${name} @ ${server}`);
    return this.txt.get(`${server} ${name}`) ?? [];
  }

  private record(query: string): void {
    this.queries.push(query);
    const rcode = this.failures.get(query);
    if (rcode) throw new DnsQueryError(`DNS query ${query} failed with ${rcode}`, rcode);
  }
}
