import { DnsQueryError } from '../errors.js';
import type { DnsResolver, NameServer } from '../ports.js';
import { canonicalDnsName } from './cname.js';
import { mapConcurrently } from './pool.js';

/** DNS queries in flight at once: 100 names on four servers take a handful of round trips. */
const QUERY_CONCURRENCY = 16;
/** Records named in full in a message; the rest are counted. */
const DESCRIBED_GAPS = 5;

/** The fields of a challenge that say what must be visible where. */
export interface ExpectedTxtValue {
  readonly zoneName?: string | undefined;
  readonly recordName: string;
  readonly value: string;
}

/** A record that some authoritative server does not yet answer with every expected value. */
export interface PropagationGap {
  readonly recordName: string;
  readonly zoneName: string;
  /** Each server that lacks a value, named `ns-1.example.net (192.0.2.1)`, and what it answered. */
  readonly servers: readonly { readonly server: string; readonly problem: string }[];
}

/**
 * Asks every authoritative name server of each zone for each TXT record, and returns what is still
 * missing: empty once every server answers with every expected value. Route 53's `INSYNC` says a
 * change reached Route 53's servers; this says what the CA will see, including when the zone is
 * not delegated to the servers we wrote to (a parent zone still pointing elsewhere, a duplicate zone).
 *
 * A server that fails to answer (SERVFAIL, timeout) counts as lacking the record, with the failure
 * as the reason, so a later poll can still succeed. Challenges without `zoneName` (state from
 * before this check existed) are not checked.
 */
export async function findPropagationGaps(
  expected: readonly ExpectedTxtValue[],
  resolver: DnsResolver,
): Promise<PropagationGap[]> {
  const byZone = new Map<string, Map<string, Set<string>>>();
  for (const { zoneName, recordName, value } of expected) {
    if (zoneName === undefined) continue;
    const zone = canonicalDnsName(zoneName);
    const records = byZone.get(zone) ?? new Map<string, Set<string>>();
    byZone.set(zone, records);
    const name = canonicalDnsName(recordName);
    records.set(name, (records.get(name) ?? new Set()).add(value));
  }

  const gaps: PropagationGap[] = [];
  for (const [zone, records] of [...byZone].sort(([a], [b]) => a.localeCompare(b))) {
    const servers = await serversOf(zone, resolver);
    if (!Array.isArray(servers)) {
      for (const recordName of records.keys()) gaps.push({ recordName, zoneName: zone, servers: [servers] });
      continue;
    }
    const queries = [...records].flatMap(([recordName, values]) =>
      servers.map((server) => ({ recordName, values, server })),
    );
    const problems = await mapConcurrently(queries, QUERY_CONCURRENCY, ({ recordName, values, server }) =>
      missingAt(recordName, values, server, resolver),
    );
    const byRecord = new Map<string, { server: string; problem: string }[]>();
    queries.forEach(({ recordName, server }, index) => {
      const problem = problems[index];
      if (problem === undefined) return;
      byRecord.set(recordName, [
        ...(byRecord.get(recordName) ?? []),
        { server: serverLabel(server), problem },
      ]);
    });
    for (const [recordName, lacking] of [...byRecord].sort(([a], [b]) => a.localeCompare(b))) {
      gaps.push({ recordName, zoneName: zone, servers: lacking });
    }
  }
  return gaps;
}

/** One line per record (the first few), each naming the servers that lack it and why. */
export function describePropagationGaps(gaps: readonly PropagationGap[]): string {
  const described = gaps
    .slice(0, DESCRIBED_GAPS)
    .map(
      (gap) =>
        `${gap.recordName} (zone ${gap.zoneName}) is missing at ${gap.servers
          .map(({ server, problem }) => `${server}: ${problem}`)
          .join('; ')}`,
    );
  const more = gaps.length > DESCRIBED_GAPS ? ` … and ${gaps.length - DESCRIBED_GAPS} more records` : '';
  return `${described.join('. ')}${more}`;
}

async function serversOf(
  zone: string,
  resolver: DnsResolver,
): Promise<NameServer[] | { server: string; problem: string }> {
  const server = `the name servers of ${zone}`;
  try {
    const servers = await resolver.authoritativeServers(zone);
    if (servers.length > 0) return servers;
    return {
      server,
      problem: 'public DNS lists none (is the zone delegated to its hosted zone’s name servers?)',
    };
  } catch (error) {
    if (!(error instanceof DnsQueryError)) throw error;
    return { server, problem: `the NS lookup failed (${error.rcode})` };
  }
}

/** What `server` lacks of `values` at `recordName`, or `undefined` when it has them all. */
async function missingAt(
  recordName: string,
  values: ReadonlySet<string>,
  server: NameServer,
  resolver: DnsResolver,
): Promise<string | undefined> {
  let answered: string[];
  try {
    answered = await resolver.resolveTxt(recordName, server.address);
  } catch (error) {
    if (!(error instanceof DnsQueryError)) throw error;
    return `no answer (${error.rcode})`;
  }
  const present = new Set(answered);
  const found = [...values].filter((value) => present.has(value)).length;
  return found === values.size ? undefined : `answers ${found} of ${values.size} values`;
}

function serverLabel(server: NameServer): string {
  return server.name === server.address ? server.address : `${server.name} (${server.address})`;
}
