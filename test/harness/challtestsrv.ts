import { type ChildProcess, spawn } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { existsSync } from 'node:fs';
import { freeTcpAndUdpPort, freeTcpPort } from './loopback-ports.js';

/**
 * A client for `pebble-challtestsrv`'s management API, the mock DNS server Pebble's validator
 * resolves dns-01 records with. Every call is a JSON `POST` that answers 200 with an empty body.
 *
 * Behaviour confirmed against pebble-challtestsrv 2.4.0 (Debian):
 * - hosts are matched verbatim as lower-case FQDNs with the trailing dot; `example.org` or
 *   `Example.org.` would be stored but never answered, so this client canonicalizes them;
 * - `/set-txt` appends a value (duplicates included) and `/clear-txt` drops all of a host's values;
 * - values are read as DNS presentation text, so `\` and `"` must be escaped, and a value over
 *   255 bytes makes the server drop the query (the resolver times out), so this client refuses it.
 */
export class ChalltestsrvClient {
  constructor(private readonly baseUrl: string) {}

  /** Adds one TXT value at `host`, next to any already there. */
  async setTxt(host: string, value: string): Promise<void> {
    if (new TextEncoder().encode(value).length > 255) {
      throw new Error(`challtestsrv cannot serve a TXT value over 255 bytes (host ${host})`);
    }
    await this.post('/set-txt', { host: fqdn(host), value: value.replace(/[\\"]/g, '\\$&') });
  }

  /** Removes every TXT value at `host`; harmless when there are none. */
  async clearTxt(host: string): Promise<void> {
    await this.post('/clear-txt', { host: fqdn(host) });
  }

  /** Answers queries for `host` with a CNAME to `target`, as a delegated `_acme-challenge` does. */
  async setCname(host: string, target: string): Promise<void> {
    await this.post('/set-cname', { host: fqdn(host), target: fqdn(target) });
  }

  async clearCname(host: string): Promise<void> {
    await this.post('/clear-cname', { host: fqdn(host) });
  }

  /**
   * Adds CAA records at `host`, next to any already there, each with flags 0 (challtestsrv sets
   * none). Queries for a name with a CNAME here get the target's CAA records.
   */
  async addCaa(
    host: string,
    policies: readonly { readonly tag: string; readonly value: string }[],
  ): Promise<void> {
    await this.post('/add-caa', { host: fqdn(host), policies });
  }

  /** Removes every CAA record at `host`; harmless when there are none. */
  async clearCaa(host: string): Promise<void> {
    await this.post('/clear-caa', { host: fqdn(host) });
  }

  /** Answers every query for `host` with SERVFAIL, to exercise a broken authoritative server. */
  async setServfail(host: string): Promise<void> {
    await this.post('/set-servfail', { host: fqdn(host) });
  }

  async clearServfail(host: string): Promise<void> {
    await this.post('/clear-servfail', { host: fqdn(host) });
  }

  private async post(path: string, body: Record<string, unknown>): Promise<void> {
    const response = await fetch(new URL(path, this.baseUrl), { method: 'POST', body: JSON.stringify(body) });
    if (!response.ok) {
      throw new Error(
        `challtestsrv ${path} ${JSON.stringify(body)} answered ${response.status}: ${await response.text()}`,
      );
    }
  }
}

/** A running `pebble-challtestsrv`, DNS and management on loopback only. */
export interface RunningChalltestsrv {
  /** Management API base URL, for {@link ChalltestsrvClient}. */
  readonly url: string;
  /** `127.0.0.1:<port>` of its DNS server (UDP and TCP), for `Resolver.setServers`. */
  readonly dnsResolver: string;
  /** Stops the server; safe to call twice. */
  stop(): Promise<void>;
}

const LOOPBACK = '127.0.0.1';
const STARTUP_TIMEOUT_MS = 10_000;
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Starts `pebble-challtestsrv` with only its DNS and management servers, on free loopback ports,
 * and resolves once both answer. The process is killed by `stop()`, when this process exits, and
 * (through `setpriv --pdeathsig`, where available) even when this process is killed outright.
 */
export async function startChalltestsrv(): Promise<RunningChalltestsrv> {
  const dnsPort = await freeTcpAndUdpPort();
  const managementPort = await freeTcpPort();
  const args = [
    '-dns01',
    `${LOOPBACK}:${dnsPort}`,
    '-management',
    `${LOOPBACK}:${managementPort}`,
    '-http01',
    '',
    '-https01',
    '',
    '-tlsalpn01',
    '',
  ];
  const [command, commandArgs] = existsSync('/usr/bin/setpriv')
    ? ['/usr/bin/setpriv', ['--pdeathsig', 'SIGKILL', '--', 'pebble-challtestsrv', ...args]]
    : ['pebble-challtestsrv', args];

  const child = spawn(command, commandArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8_192);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  running.add(child);
  installExitHook();

  const stop = async () => {
    running.delete(child);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };

  const url = `http://${LOOPBACK}:${managementPort}`;
  const dnsResolver = `${LOOPBACK}:${dnsPort}`;
  try {
    await waitUntilReady(url, dnsResolver, () => child.exitCode !== null || child.signalCode !== null);
  } catch (error) {
    await stop();
    throw new Error(`pebble-challtestsrv did not start: ${(error as Error).message}\n${output}`, {
      cause: error,
    });
  }
  return { url, dnsResolver, stop };
}

async function waitUntilReady(url: string, dnsResolver: string, hasExited: () => boolean): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  const client = new ChalltestsrvClient(url);
  const resolver = new Resolver({ timeout: 200, tries: 1 });
  resolver.setServers([dnsResolver]);
  for (;;) {
    if (hasExited()) throw new Error('the process exited');
    try {
      await client.clearTxt('readiness-probe.invalid');
      await resolver.resolveTxt('readiness-probe.invalid').catch((error: NodeJS.ErrnoException) => {
        // An empty answer proves the DNS server is up; only a missing server is worth waiting for.
        if (error.code !== 'ENODATA' && error.code !== 'ENOTFOUND') throw error;
      });
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

function fqdn(host: string): string {
  const lower = host.toLowerCase();
  return lower.endsWith('.') ? lower : `${lower}.`;
}
