import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createLoopbackTlsMaterial } from '../support/tls-certificates.js';
import { freeTcpAndUdpPort, freeTcpPort } from './loopback-ports.js';

/** A running Pebble ACME server with its challenge test server, bound to loopback only. */
export interface PebbleEnvironment {
  /** ACME directory, e.g. `https://127.0.0.1:<port>/dir`. */
  readonly directoryUrl: string;
  /** PEM file holding the CA that signed Pebble's HTTPS certificate (generated per start). */
  readonly caBundlePath: string;
  readonly caBundlePem: string;
  /** Pebble's management interface (`/roots/0`, `/intermediates/0`, ...), same TLS as the API. */
  readonly managementUrl: string;
  /** `pebble-challtestsrv` management API (`/set-txt`, `/clear-txt`, ...), plain HTTP. */
  readonly challtestsrvUrl: string;
  /** `host:port` of the mock DNS server Pebble resolves dns-01 records with. */
  readonly dnsResolver: string;
  /**
   * A root Pebble issues under; Pebble regenerates them on every start. `index` 0 (the default)
   * is the root of the default chain; 1, 2, ... are the alternate roots that
   * `PEBBLE_ALTERNATE_ROOTS` adds, whose chains the certificate download links as `rel="alternate"`.
   */
  rootCertificatePem(index?: number): Promise<string>;
  /** Stops both processes and removes the temporary directory. Safe to call twice. */
  stop(): Promise<void>;
}

/** How to start Pebble. */
export interface StartPebbleOptions {
  /** Extra environment for `pebble`, e.g. `{ PEBBLE_WFE_NONCEREJECT: '0' }`. */
  readonly env?: Record<string, string>;
  /** Parent of the per-run temporary directory. @default os.tmpdir() */
  readonly workDir?: string;
  /**
   * Requires external account binding (RFC 8555 §7.3.4) for new accounts, accepting these MAC
   * keys (base64url, as Pebble's `externalAccountMACKeys` takes them) by key identifier. The
   * directory then says `externalAccountRequired: true`.
   * @default no binding required
   */
  readonly externalAccountMacKeys?: Readonly<Record<string, string>>;
  /**
   * Validate through another environment's challtestsrv instead of starting one: a second CA
   * that sees the same DNS, as two public CAs do. @default its own challtestsrv
   */
  readonly sharedDns?: Pick<PebbleEnvironment, 'challtestsrvUrl' | 'dnsResolver'>;
}

const PEBBLE = 'pebble';
const CHALLTESTSRV = 'pebble-challtestsrv';
const LOOPBACK = '127.0.0.1';
const STARTUP_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;
const OUTPUT_TAIL_BYTES = 16 * 1024;

/**
 * Runs a command in its own process group under a shell that kills it when our stdin pipe
 * closes. The pipe closes whenever this Node process dies, even by SIGKILL, where no exit
 * handler can run: that is what guarantees Pebble never outlives the test run.
 */
const WATCHDOG_SCRIPT = [
  'exec 3<&0',
  '"$@" </dev/null &',
  'child=$!',
  '( while read -r _ <&3; do :; done; kill -TERM "$child" 2>/dev/null ) &',
  'watcher=$!',
  'wait "$child"',
  'status=$?',
  'kill "$watcher" 2>/dev/null',
  'exit "$status"',
].join('\n');

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** True when both Pebble binaries are on the PATH (Debian's `pebble` package installs them). */
export function isPebbleInstalled(): boolean {
  return findExecutable(PEBBLE) !== undefined && findExecutable(CHALLTESTSRV) !== undefined;
}

/**
 * Starts `pebble-challtestsrv` (dns-01 only) and `pebble` resolving through it, each on free
 * loopback ports, with a freshly generated TLS CA. Resolves once the ACME directory answers over
 * TLS trusting that CA. `PEBBLE_VA_NOSLEEP=1` is always set; Pebble's default 5% nonce rejection
 * stays on unless `options.env` overrides it. `options.env` also takes `PEBBLE_ALTERNATE_ROOTS`,
 * `PEBBLE_AUTHZREUSE` and the other `PEBBLE_*` knobs; `options.externalAccountMacKeys` makes
 * Pebble require external account binding.
 */
export async function startPebble(options: StartPebbleOptions = {}): Promise<PebbleEnvironment> {
  const pebbleBin = findExecutable(PEBBLE);
  const challtestsrvBin = findExecutable(CHALLTESTSRV);
  if (!pebbleBin || !challtestsrvBin) {
    throw new Error(`${PEBBLE} and ${CHALLTESTSRV} must be on the PATH (Debian package "pebble")`);
  }
  installExitHook();

  const dir = await mkdtemp(join(options.workDir ?? tmpdir(), 'pebble-'));
  const started: ManagedProcess[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.all(started.map((process) => process.stop()));
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const tls = await createLoopbackTlsMaterial();
    const caBundlePath = join(dir, 'ca.pem');
    const certificatePath = join(dir, 'cert.pem');
    const keyPath = join(dir, 'key.pem');
    await writeFile(caBundlePath, tls.caPem);
    await writeFile(certificatePath, tls.certificatePem);
    await writeFile(keyPath, tls.privateKeyPem, { mode: 0o600 });

    const shared = options.sharedDns;
    const dnsPort = shared ? Number(shared.dnsResolver.split(':')[1]) : await freeTcpAndUdpPort();
    const challtestsrvPort = shared ? Number(new URL(shared.challtestsrvUrl).port) : await freeTcpPort();
    const acmePort = await freeTcpPort();
    const managementPort = await freeTcpPort();
    // Only dns-01 is used; these ports merely have to be valid and unused.
    const httpPort = await freeTcpPort();
    const tlsPort = await freeTcpPort();

    const configPath = join(dir, 'pebble-config.json');
    await writeFile(
      configPath,
      JSON.stringify({
        pebble: {
          listenAddress: `${LOOPBACK}:${acmePort}`,
          managementListenAddress: `${LOOPBACK}:${managementPort}`,
          certificate: certificatePath,
          privateKey: keyPath,
          httpPort,
          tlsPort,
          ocspResponderURL: '',
          externalAccountBindingRequired: options.externalAccountMacKeys !== undefined,
          ...(options.externalAccountMacKeys
            ? { externalAccountMACKeys: options.externalAccountMacKeys }
            : {}),
        },
      }),
    );

    if (!shared) {
      const challtestsrv = startManaged(
        challtestsrvBin,
        [
          '-dns01',
          `${LOOPBACK}:${dnsPort}`,
          '-management',
          `${LOOPBACK}:${challtestsrvPort}`,
          '-http01',
          '',
          '-https01',
          '',
          '-tlsalpn01',
          '',
          '-defaultIPv6',
          '',
        ],
        { PATH: process.env.PATH ?? '' },
        dir,
      );
      started.push(challtestsrv);
      await challtestsrv.waitUntil(() => tcpAccepts(challtestsrvPort));
    }

    const pebble = startManaged(
      pebbleBin,
      ['-config', configPath, '-dnsserver', `${LOOPBACK}:${dnsPort}`],
      { PATH: process.env.PATH ?? '', PEBBLE_VA_NOSLEEP: '1', ...options.env },
      dir,
    );
    started.push(pebble);
    const directoryUrl = `https://${LOOPBACK}:${acmePort}/dir`;
    await pebble.waitUntil(async () => (await httpsGet(directoryUrl, tls.caPem)).status === 200);

    const managementUrl = `https://${LOOPBACK}:${managementPort}`;
    return {
      directoryUrl,
      caBundlePath,
      caBundlePem: tls.caPem,
      managementUrl,
      challtestsrvUrl: `http://${LOOPBACK}:${challtestsrvPort}`,
      dnsResolver: `${LOOPBACK}:${dnsPort}`,
      async rootCertificatePem(index = 0) {
        const response = await httpsGet(`${managementUrl}/roots/${index}`, tls.caPem);
        if (response.status !== 200) throw new Error(`GET /roots/${index} answered HTTP ${response.status}`);
        return response.body;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

interface ManagedProcess {
  /** Polls `probe` until it returns true; fails fast, with the output, if the process exits. */
  waitUntil(probe: () => Promise<boolean>): Promise<void>;
  stop(): Promise<void>;
}

function startManaged(
  executable: string,
  args: readonly string[],
  env: Record<string, string>,
  cwd: string,
): ManagedProcess {
  const child = spawn('/bin/sh', ['-c', WATCHDOG_SCRIPT, 'watchdog', executable, ...args], {
    cwd,
    env,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  running.add(child);
  let output = '';
  const keepTail = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_BYTES);
  };
  child.stdout?.on('data', keepTail);
  child.stderr?.on('data', keepTail);
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitCode = code ?? (signal ? -1 : null);
      running.delete(child);
      resolve();
    });
  });
  // The exit hook and the watchdog clean up; these handles must not keep the test run alive.
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) {
    (stream as unknown as { unref?: () => void } | null)?.unref?.();
  }
  const name = executable.split('/').pop() ?? executable;

  return {
    async waitUntil(probe) {
      const deadline = Date.now() + STARTUP_TIMEOUT_MS;
      for (;;) {
        if (exitCode !== undefined)
          throw new Error(`${name} exited (${exitCode}) during startup:\n${output}`);
        if (await probe().catch(() => false)) return;
        if (Date.now() > deadline) throw new Error(`${name} did not become ready in time:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async stop() {
      if (exitCode !== undefined) return;
      signalGroup(child, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    // Negative pid: the whole group, i.e. the watchdog shell and the binary it started.
    process.kill(-child.pid, signal);
  } catch {
    // The group is already gone.
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of running) signalGroup(child, 'SIGKILL');
  });
}

function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this directory.
    }
  }
  return undefined;
}

function tcpAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, LOOPBACK);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function httpsGet(url: string, caPem: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(
      url,
      { method: 'GET', ca: caPem, agent: false, timeout: 5_000 },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`GET ${url} timed out`)));
    request.on('error', reject);
    request.end();
  });
}
