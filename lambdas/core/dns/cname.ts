import { DnsQueryError, InvalidInputError } from '../errors.js';
import type { DnsResolver } from '../ports.js';

/**
 * More CNAMEs than any sane delegation uses; recursive resolvers give up around here too
 * (BIND follows 16, Unbound 11), so a longer chain would not validate anyway.
 */
export const MAX_CNAME_HOPS = 10;

/** Where a name's CNAME chain ends, and how it got there. */
export interface CnameChain {
  /** The last name of the chain: where a TXT record must be written. Equals the name without a CNAME. */
  readonly target: string;
  /** Every name from the one asked about to `target`, in order; one entry when there is no CNAME. */
  readonly names: readonly string[];
  /**
   * Set when a lookup failed and the chain was cut short at `target`: the failure, for a warning.
   * The CA resolves the same names, so it would meet the same failure; stopping here lets the
   * issuance go on and fail (if it must) with the CA's own account of it.
   */
  readonly lookupFailure?: string;
}

/**
 * Follows the CNAME records from `name` to the name that holds its TXT records, as the CA's
 * resolver will when it validates a dns-01 challenge: a delegated `_acme-challenge.app.example.com`
 * pointing at `app.validation.example.net` is answered by writing the TXT at the latter.
 *
 * Throws {@link InvalidInputError} for a loop or a chain longer than {@link MAX_CNAME_HOPS},
 * since the CA cannot validate through either, naming the whole chain so it can be fixed.
 * A failed lookup ({@link DnsQueryError}) ends the chain where it is, reported in `lookupFailure`.
 */
export async function followCnames(name: string, resolver: DnsResolver): Promise<CnameChain> {
  const names = [canonicalDnsName(name)];
  for (;;) {
    const current = names[names.length - 1] ?? '';
    let next: string | undefined;
    try {
      next = await resolver.resolveCname(current);
    } catch (error) {
      if (!(error instanceof DnsQueryError)) throw error;
      return { target: current, names, lookupFailure: error.message };
    }
    if (next === undefined) return { target: current, names };
    const target = canonicalDnsName(next);
    if (names.includes(target)) {
      throw new InvalidInputError(
        `The CNAME records of ${names[0]} loop (${[...names, target].join(' → ')}), so no CA can validate it: ` +
          'point the last CNAME at a name that holds TXT records.',
      );
    }
    names.push(target);
    if (names.length - 1 > MAX_CNAME_HOPS) {
      throw new InvalidInputError(
        `The CNAME chain of ${names[0]} is longer than ${MAX_CNAME_HOPS} (${names.join(' → ')}), more than resolvers ` +
          'follow: point its CNAME straight at the name that should hold the TXT record.',
      );
    }
  }
}

/** Lower-case, without the trailing dot: the spelling every dns-01 name is compared in. */
export function canonicalDnsName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}
