import { spawn, spawnSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChalltestsrvClient } from '../../test/harness/challtestsrv.js';

/**
 * The peer ACME clients the bench compares against, run as the user would run them: certbot
 * (manual dns-01 hooks) and lego (its `httpreq` DNS provider), both answering dns-01 through
 * pebble-challtestsrv and reaching the CA only through the counting proxy.
 */

/** What every peer needs to reach the CA and its DNS. */
export interface PeerEnvironment {
  /** The counting proxy's directory URL. */
  readonly directoryUrl: string;
  /** PEM file the clients must trust for the proxy's HTTPS. */
  readonly caBundlePath: string;
  readonly challtestsrvUrl: string;
  /** `host:port` of challtestsrv's DNS server. */
  readonly dnsResolver: string;
}

/** One installed peer client. */
export interface PeerClient {
  readonly name: 'certbot' | 'lego';
  readonly version: string;
  /** How the bench runs it, for the results. */
  readonly invocation: string;
  /**
   * Issues one certificate for `domains`, keeping the account in `stateDir`: a fresh directory is
   * a new account, the directory of an earlier run is that run's (existing) account.
   */
  issue(stateDir: string, domains: readonly string[]): Promise<PeerRun>;
  close(): Promise<void>;
}

export interface PeerRun {
  readonly ok: boolean;
  /** From spawning the process to its exit. */
  readonly wallMs: number;
  /** The end of its output, when it failed. */
  readonly outputTail?: string;
}

const HOOK = fileURLToPath(new URL('./certbot-dns-hook.mjs', import.meta.url));
const PEER_TIMEOUT_MS = 120_000;

/** The version of `command` on the PATH, or undefined when it is not installed. */
function installedVersion(command: string, debianPackage: string): string | undefined {
  const probe = spawnSync(command, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  if (probe.error || probe.status !== 0) return undefined;
  const printed = `${probe.stdout}${probe.stderr}`.match(/\d+\.\d+(?:\.\d+)?/)?.[0];
  if (printed) return printed;
  // Debian's lego is built without its version stamped in ("lego version dev").
  const packaged = debianVersion(debianPackage);
  return packaged ? `${packaged} (Debian)` : 'unknown version';
}

/** The installed version of a Debian package, or undefined. */
export function debianVersion(debianPackage: string): string | undefined {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's format syntax, not a template.
  const dpkg = spawnSync('dpkg-query', ['-W', '-f=${Version}', debianPackage], { encoding: 'utf8' });
  return dpkg.status === 0 && dpkg.stdout ? dpkg.stdout.trim() : undefined;
}

/** The peers installed on this machine; a missing one is reported, never installed here. */
export async function findPeers(
  env: PeerEnvironment,
): Promise<{ found: PeerClient[]; missing: ('certbot' | 'lego')[] }> {
  const found: PeerClient[] = [];
  const missing: ('certbot' | 'lego')[] = [];
  const certbotVersion = installedVersion('certbot', 'certbot');
  if (certbotVersion) found.push(certbot(env, certbotVersion));
  else missing.push('certbot');
  const legoVersion = installedVersion('lego', 'lego');
  if (legoVersion) found.push(await lego(env, legoVersion));
  else missing.push('lego');
  return { found, missing };
}

function certbot(env: PeerEnvironment, version: string): PeerClient {
  // certbot checks that the first word of a hook is an executable, so the paths are not quoted.
  const hook = (action: string) => `${process.execPath} ${HOOK} ${action}`;
  return {
    name: 'certbot',
    version,
    invocation:
      'certbot certonly --manual --preferred-challenges dns --manual-auth-hook/--manual-cleanup-hook (challtestsrv /set-txt, /clear-txt) --server <proxy> --register-unsafely-without-email --agree-tos --non-interactive; --force-renewal on the existing account',
    async issue(stateDir, domains) {
      const existing = await prepareStateDir(stateDir);
      return runPeer(
        'certbot',
        [
          'certonly',
          '--manual',
          '--preferred-challenges',
          'dns',
          '--manual-auth-hook',
          hook('set'),
          '--manual-cleanup-hook',
          hook('clear'),
          '--server',
          env.directoryUrl,
          '--config-dir',
          join(stateDir, 'config'),
          '--work-dir',
          join(stateDir, 'work'),
          '--logs-dir',
          join(stateDir, 'logs'),
          '--register-unsafely-without-email',
          '--agree-tos',
          '--non-interactive',
          '--cert-name',
          'bench',
          // The same names again on the same account: issue anew rather than keep the lineage.
          ...(existing ? ['--force-renewal'] : []),
          ...domains.flatMap((domain) => ['-d', domain]),
        ],
        { REQUESTS_CA_BUNDLE: env.caBundlePath, CHALLTESTSRV_URL: env.challtestsrvUrl },
      );
    },
    async close() {},
  };
}

async function lego(env: PeerEnvironment, version: string): Promise<PeerClient> {
  const bridge = await startHttpreqBridge(new ChalltestsrvClient(env.challtestsrvUrl));
  return {
    name: 'lego',
    version,
    invocation:
      'lego --dns httpreq (a loopback bridge to challtestsrv /set-txt, /clear-txt) --dns.resolvers <challtestsrv DNS> --dns.disable-cp --server <proxy> --accept-tos --email bench@example.org run; DNS polling interval 1 s',
    async issue(stateDir, domains) {
      await prepareStateDir(stateDir);
      return runPeer(
        'lego',
        [
          '--server',
          env.directoryUrl,
          '--path',
          stateDir,
          '--accept-tos',
          '--email',
          'bench@example.org',
          '--dns',
          'httpreq',
          '--dns.resolvers',
          env.dnsResolver,
          '--dns.disable-cp',
          ...domains.flatMap((domain) => ['-d', domain]),
          'run',
        ],
        {
          LEGO_CA_CERTIFICATES: env.caBundlePath,
          HTTPREQ_ENDPOINT: bridge.url,
          // Seconds; lego's default is 2. The record is in challtestsrv before lego first checks.
          HTTPREQ_POLLING_INTERVAL: '1',
          HTTPREQ_PROPAGATION_TIMEOUT: '30',
        },
      );
    },
    close: () => new Promise((resolve) => bridge.server.close(() => resolve())),
  };
}

/** Creates `stateDir`; true when it already held an earlier run. */
async function prepareStateDir(stateDir: string): Promise<boolean> {
  return (await mkdir(stateDir, { recursive: true })) === undefined;
}

function runPeer(
  command: string,
  args: readonly string[],
  extraEnv: Record<string, string>,
): Promise<PeerRun> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: PEER_TIMEOUT_MS,
    });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (error) =>
      resolve({ ok: false, wallMs: performance.now() - started, outputTail: error.message }),
    );
    child.on('close', (code) => {
      const wallMs = performance.now() - started;
      resolve(code === 0 ? { ok: true, wallMs } : { ok: false, wallMs, outputTail: output });
    });
  });
}

/**
 * lego's `httpreq` provider POSTs `{ fqdn, value }` to `/present` and `/cleanup`; this loopback
 * server turns those into challtestsrv calls, so lego needs no helper process per record.
 */
async function startHttpreqBridge(
  challtestsrv: ChalltestsrvClient,
): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const done = (status: number, text = '') => {
        response.writeHead(status, { 'content-type': 'text/plain' });
        response.end(text);
      };
      let body: { fqdn?: string; value?: string };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
      } catch {
        done(400, 'expected JSON');
        return;
      }
      if (!body.fqdn) {
        done(400, 'missing fqdn');
        return;
      }
      const action =
        request.url === '/present'
          ? challtestsrv.setTxt(body.fqdn, body.value ?? '')
          : request.url === '/cleanup'
            ? challtestsrv.clearTxt(body.fqdn)
            : undefined;
      if (!action) {
        done(404);
        return;
      }
      action.then(
        () => done(200),
        (error: unknown) => done(502, String(error)),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}` };
}
