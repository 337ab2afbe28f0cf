import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * A counting HTTPS reverse proxy in front of the ACME CA. Every ACME client in the bench (ours,
 * certbot, lego) talks to the CA through it, so all of them are counted the same way: at the
 * wire, one count per HTTP request received.
 *
 * It runs in its own process (counting-proxy-server.ts), keeps the client's `Host` header so
 * Pebble builds its URLs (directory, `Location`, `Link`) for the proxy and the JWS `url` Pebble
 * checks matches what the client signed, and rewrites any absolute URL of the CA still left in
 * a response to the proxy.
 */
export interface CountingProxy {
  /** The directory URL clients use: the CA's, with the proxy's origin. */
  readonly directoryUrl: string;
  /** PEM of the CA that signed the proxy's certificate, for the clients to trust. */
  readonly caPem: string;
  /** Starts a new tally. */
  reset(): Promise<void>;
  /** The tally since the last `reset`. */
  tally(): Promise<RequestTally>;
  close(): Promise<void>;
}

/** Requests received since the last reset, in total and per `METHOD /path` with ids elided. */
export interface RequestTally {
  readonly total: number;
  readonly byPath: Readonly<Record<string, number>>;
  /** Responses with a status of 400 or more (badNonce retries, for example). */
  readonly errors: number;
}

export interface CountingProxyOptions {
  /** The CA's directory URL, e.g. `https://127.0.0.1:14000/dir`. */
  readonly upstreamDirectoryUrl: string;
  /** PEM of the CA that signed the upstream's HTTPS certificate. */
  readonly upstreamCaPem: string;
}

/** Bench → proxy process. */
export interface ProxyRequest {
  readonly id: number;
  readonly reset: boolean;
}

/** Proxy process → bench. */
export type ProxyReply =
  | { readonly type: 'ready'; readonly directoryUrl: string; readonly caPem: string }
  | { readonly type: 'tally'; readonly id: number; readonly tally: RequestTally };

const SERVER = fileURLToPath(new URL('./counting-proxy-server.ts', import.meta.url));
const STARTUP_TIMEOUT_MS = 20_000;

/**
 * Path segments that are ids (Pebble's account numbers, random order and authorization tokens,
 * and certificate ids, which are hex of varying length) are elided, so `POST /authZ/…` counts
 * every authorization read. The first segment names the endpoint and is kept whatever it looks
 * like: Pebble's `/rollover-account-key` is as long as a token.
 */
export function normalizePath(path: string): string {
  const bare = path.replace(/\?.*$/, '');
  const ids = bare.indexOf('/', 1);
  if (ids === -1) return bare;
  return `${bare.slice(0, ids)}${bare.slice(ids).replace(/\/(?:\d+|[0-9a-f]{8,}|[A-Za-z0-9_-]{16,})(?=\/|$)/g, '/…')}`;
}

/** Starts the proxy process on a free loopback port with a fresh certificate for `127.0.0.1`. */
export async function startCountingProxy(options: CountingProxyOptions): Promise<CountingProxy> {
  // The bench runs under tsx; its loader flags let the child run TypeScript too.
  const child: ChildProcess = fork(SERVER, [], {
    execArgv: process.execArgv,
    env: {
      PATH: process.env.PATH ?? '',
      PROXY_UPSTREAM_DIRECTORY_URL: options.upstreamDirectoryUrl,
      PROXY_UPSTREAM_CA_PEM: options.upstreamCaPem,
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, (tally: RequestTally) => void>();
  let nextId = 1;
  const ready = new Promise<{ directoryUrl: string; caPem: string }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('the counting proxy did not start in time')),
      STARTUP_TIMEOUT_MS,
    );
    child.once('exit', (code) => reject(new Error(`the counting proxy exited (${code}) during startup`)));
    child.on('message', (reply: ProxyReply) => {
      if (reply.type === 'ready') {
        clearTimeout(timer);
        resolve(reply);
      } else {
        pending.get(reply.id)?.(reply.tally);
        pending.delete(reply.id);
      }
    });
  });
  let started: { directoryUrl: string; caPem: string };
  try {
    started = await ready;
  } catch (error) {
    child.kill();
    throw error;
  }
  const ask = (reset: boolean) =>
    new Promise<RequestTally>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, resolve);
      const request: ProxyRequest = { id, reset };
      child.send(request, (error) => {
        if (error) reject(error);
      });
    });

  return {
    directoryUrl: started.directoryUrl,
    caPem: started.caPem,
    async reset() {
      await ask(true);
    },
    tally: () => ask(false),
    close() {
      if (child.exitCode !== null) return Promise.resolve();
      return new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.disconnect();
      });
    },
  };
}
