import type { CaaRecord as NodeCaaRecord } from 'node:dns';
import { Resolver } from 'node:dns/promises';
import { canonicalDnsName } from '../core/dns/cname.js';
import { DnsQueryError, InvalidInputError } from '../core/errors.js';
import type { CaaRecord, DnsResolver, NameServer } from '../core/ports.js';

/** The part of `node:dns/promises`' `Resolver` this adapter uses, so tests can stand in for it. */
export interface ResolverLike {
  setServers(servers: readonly string[]): void;
  resolveCname(name: string): Promise<string[]>;
  resolveNs(name: string): Promise<string[]>;
  resolve4(name: string): Promise<string[]>;
  resolveTxt(name: string): Promise<string[][]>;
  /** `critical` holds the whole flags octet; the one other key is the property tag. */
  resolveCaa(name: string): Promise<NodeCaaRecord[]>;
}

/** How {@link NodeDnsResolver} reaches DNS. */
export interface NodeDnsResolverOptions {
  /**
   * Recursive resolvers (`ip` or `ip:port`) for CNAME, CAA, NS and name-server address lookups.
   * @default the system's (in Lambda, the resolver of the execution environment)
   */
  readonly recursiveServers?: readonly string[];
  /**
   * Servers asked for TXT records instead of each zone's own name servers: a test's mock DNS, or a
   * split-horizon setup where the public servers are not reachable. @default each zone's NS records
   */
  readonly authoritativeServers?: readonly string[];
  /** Per-try timeout of one query. @default 2000 */
  readonly timeoutMs?: number;
  /** Tries per query and server. @default 2 */
  readonly tries?: number;
  /** Builds a resolver; tests inject stand-ins. @default `new Resolver(options)` */
  readonly createResolver?: (options: { timeout: number; tries: number }) => ResolverLike;
}

/** Answers that mean "no such record" rather than "could not ask". */
const EMPTY_ANSWER_CODES = new Set(['ENODATA', 'ENOTFOUND']);

/**
 * {@link DnsResolver} over Node's resolver (c-ares). Every query gets a fresh resolver: c-ares keeps
 * a query cache per resolver, and a poll must see the server's answer now, not the one from the
 * previous poll. Name-server addresses are IPv4 only, because Lambda functions outside a VPC (and
 * most inside one) have no IPv6 route to the internet.
 */
export class NodeDnsResolver implements DnsResolver {
  private readonly recursiveServers: readonly string[] | undefined;
  private readonly authoritativeOverride: readonly string[] | undefined;
  private readonly timeoutMs: number;
  private readonly tries: number;
  private readonly createResolver: (options: { timeout: number; tries: number }) => ResolverLike;

  constructor(options: NodeDnsResolverOptions = {}) {
    this.recursiveServers = nonEmpty(options.recursiveServers);
    this.authoritativeOverride = nonEmpty(options.authoritativeServers);
    this.timeoutMs = options.timeoutMs ?? 2_000;
    this.tries = options.tries ?? 2;
    this.createResolver = options.createResolver ?? ((resolverOptions) => new Resolver(resolverOptions));
  }

  async resolveCname(name: string): Promise<string | undefined> {
    const [target] = await this.query('CNAME', name, this.recursiveServers, (resolver) =>
      resolver.resolveCname(name),
    );
    return target === undefined ? undefined : canonicalDnsName(target);
  }

  /** The zone's NS names, each with its IPv4 addresses; or the configured override for every zone. */
  async authoritativeServers(zone: string): Promise<NameServer[]> {
    if (this.authoritativeOverride) {
      return this.authoritativeOverride.map((address) => ({ name: address, address }));
    }
    const names = await this.query('NS', zone, this.recursiveServers, (resolver) => resolver.resolveNs(zone));
    const servers: NameServer[] = [];
    for (const name of [...new Set(names.map(canonicalDnsName))].sort()) {
      const addresses = await this.query('A', name, this.recursiveServers, (resolver) =>
        resolver.resolve4(name),
      );
      for (const address of addresses) servers.push({ name, address });
    }
    return servers;
  }

  async resolveTxt(name: string, server: string): Promise<string[]> {
    const records = await this.query('TXT', name, [server], (resolver) => resolver.resolveTxt(name));
    return records.map((strings) => strings.join(''));
  }

  async resolveCaa(name: string): Promise<CaaRecord[]> {
    const records = await this.query('CAA', name, this.recursiveServers, (resolver) =>
      resolver.resolveCaa(name),
    );
    return records.flatMap(({ critical, ...property }) => {
      // c-ares names the key after the tag as published, whatever its case or whether Node knows it.
      const [entry] = Object.entries(property as Record<string, unknown>);
      return entry ? [{ flags: critical, tag: entry[0], value: String(entry[1]) }] : [];
    });
  }

  private async query<T>(
    type: string,
    name: string,
    servers: readonly string[] | undefined,
    ask: (resolver: ResolverLike) => Promise<T[]>,
  ): Promise<T[]> {
    const resolver = this.createResolver({ timeout: this.timeoutMs, tries: this.tries });
    if (servers) resolver.setServers(servers);
    try {
      return await ask(resolver);
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      if (typeof code === 'string' && EMPTY_ANSWER_CODES.has(code)) return [];
      const rcode = typeof code === 'string' ? code : 'EUNKNOWN';
      const where = servers ? servers.join(', ') : 'the system resolver';
      throw new DnsQueryError(`DNS ${type} query for ${name} at ${where} failed with ${rcode}`, rcode, {
        cause: error,
      });
    }
  }
}

/**
 * The resolver the Lambda environment asks for: `DNS_RESOLVERS` (comma-separated `ip[:port]`)
 * replaces the system's recursive resolvers, and `DNS_AUTHORITATIVE_SERVERS` replaces every zone's
 * name servers in the propagation check. Both are unset in production; the local harness points
 * them at its mock DNS servers.
 */
export function dnsResolverFromEnvironment(env: NodeJS.ProcessEnv = process.env): NodeDnsResolver {
  const recursiveServers = serverList(env, 'DNS_RESOLVERS');
  const authoritativeServers = serverList(env, 'DNS_AUTHORITATIVE_SERVERS');
  return new NodeDnsResolver({
    ...(recursiveServers ? { recursiveServers } : {}),
    ...(authoritativeServers ? { authoritativeServers } : {}),
  });
}

const SERVER = /^(\d{1,3}(\.\d{1,3}){3}(:\d{1,5})?|\[[0-9a-fA-F:]+\](:\d{1,5})?|[0-9a-fA-F:]+)$/;

function serverList(env: NodeJS.ProcessEnv, variable: string): string[] | undefined {
  const value = env[variable]?.trim();
  if (!value) return undefined;
  const servers = value
    .split(',')
    .map((server) => server.trim())
    .filter(Boolean);
  const invalid = servers.filter((server) => !SERVER.test(server));
  if (invalid.length > 0) {
    throw new InvalidInputError(
      `${variable} must list DNS servers as ip or ip:port, separated by commas (e.g. 127.0.0.1:8053); got ${invalid.join(', ')}.`,
    );
  }
  return servers;
}

function nonEmpty(servers: readonly string[] | undefined): readonly string[] | undefined {
  return servers && servers.length > 0 ? servers : undefined;
}
