import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { createLoopbackTlsMaterial } from '../support/tls-certificates.js';
import type { LocalCa } from './local-issuance.js';
import type { PebbleEnvironment } from './pebble.js';

/**
 * An HTTPS proxy in front of Pebble that plays the CA behaviours Pebble never shows: a
 * `Retry-After` on polls and on finalization, an order held back as `pending` or `processing` a
 * little longer, a maintenance-window 503, a `rateLimited` problem, an answer rewritten (a CA that
 * lies) or lost before or after the CA acted (a network that fails at the worst moment). Everything it does not
 * intercept reaches Pebble unchanged, with the proxy's own host as `Host`, so Pebble writes the
 * proxy's URLs into every directory, `Location` and `Link`, and JWS `url` headers match.
 *
 * The proxy talks to Pebble over raw TLS with HTTP/1.0 rather than with `node:https`: its upstream
 * requests must not show up on Node's `http.client` diagnostics channel, where the local issuance
 * counts the requests the workflow sends to the CA.
 */

/** What an intercepting rule answers instead of the CA. */
export interface ProxyAnswer {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Sent as `application/problem+json`, with `status` filled in (RFC 7807). */
  readonly problem?: { readonly type: string; readonly detail: string };
  /** A plain body when there is no problem document, e.g. a load balancer's 503 page. */
  readonly body?: string;
}

/** One behaviour, applied to the requests it matches until it is spent. */
export interface ProxyRule {
  readonly method?: 'GET' | 'HEAD' | 'POST';
  /** Matched against the request path, e.g. `/^\/my-order\//`. */
  readonly path: RegExp;
  /** How many requests the rule applies to. @default every matching request */
  readonly times?: number;
  /** Answer this instead of forwarding; the CA never sees the request. A fresh nonce is attached. */
  readonly answer?: ProxyAnswer;
  /** Forward, and add `Retry-After: <seconds>` to the CA's successful answer. */
  readonly retryAfter?: number;
  /**
   * Forward, and show a successful order answer one step behind: `pending` for a `ready` order,
   * `processing` (without `certificate`) for a `valid` one. Only ever holds an order back, as a
   * slower CA would; it never shows a state the order has not reached.
   */
  readonly holdOrderAs?: 'pending' | 'processing';
  /**
   * Forward, then change the CA's successful answer as a lying CA would: the body (the parsed JSON
   * when it is JSON, the text otherwise) and the headers the function returns replace the CA's.
   */
  readonly rewrite?: (answer: RewritableAnswer) => RewritableAnswer;
  /**
   * Lose the exchange on the way: `before` drops the connection before the CA sees the request;
   * `after` forwards it, lets the CA act on it, then drops the connection without an answer (a
   * response lost after the server acted).
   */
  readonly drop?: 'before' | 'after';
}

/** A forwarded answer a `rewrite` rule may change. */
export interface RewritableAnswer {
  readonly status: number;
  /** Header name (as the CA sent it) to value; a repeated header (Link) joins with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  /** The JSON body, parsed, or the raw text when it is not JSON. */
  readonly body: unknown;
}

/**
 * A CA behaviour added on top of Pebble as code rather than as a rule: it may answer a request
 * itself (after asking the CA whatever it needs), and it sees every successful answer the CA gives.
 * Used by `dns-persist-ca.ts` to offer a challenge type Pebble does not have.
 */
export interface CaProxyExtension {
  /** Answers `request` instead of passing it on, or returns `undefined` to let it through. */
  answer(request: ExtensionRequest, ca: ExtensionUpstream): Promise<ExtensionAnswer | undefined>;
  /** Changes (or only observes) a successful answer of the CA to `request`, after the rules. */
  rewrite(request: ExtensionRequest, answer: RewritableAnswer): RewritableAnswer;
}

/** A request as an extension sees it. */
export interface ExtensionRequest {
  readonly method: string;
  readonly path: string;
  readonly body: Buffer;
}

/** What an extension may ask of the CA behind the proxy. */
export interface ExtensionUpstream {
  /** The proxy's own `host:port`, which Pebble writes into its URLs. */
  readonly host: string;
  /**
   * Sends a request to the CA as the proxy would, with `host` as the `Host` header when given;
   * the answer is noted in the ledger. Headers are the CA's, a repeated one joined with ", ".
   */
  send(request: ExtensionRequest & { readonly host?: string }): Promise<RewritableAnswer>;
  /** A fresh nonce from the CA, for an answer the CA did not give. */
  freshNonce(): Promise<string | undefined>;
}

/** An extension's answer, sent as is. */
export interface ExtensionAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** What the CA did, as the proxy saw its answers (those it then lost included). */
export interface CaLedger {
  /** newOrder answers with 201 Created: the orders the CA created. */
  ordersCreated: number;
  /** newOrder answers lost after the CA created the order (RFC 8555's newOrder is not idempotent). */
  lostNewOrderResponses: number;
  /** Exchanges lost before the CA got the request, and after it acted. */
  droppedBefore: number;
  droppedAfter: number;
  /** Certificate URL of every order the CA showed as `valid`, with the leaf's PEM once downloaded. */
  readonly certificates: Map<string, string | undefined>;
}

/** One request as the proxy saw it. */
export interface ProxyExchange {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** True when a rule answered (or changed the answer) instead of passing the CA's through. */
  readonly intercepted: boolean;
  readonly retryAfter?: string;
}

export interface CaProxy extends LocalCa {
  /** The proxy's directory URL: use it as the workflow's `ACME_DIRECTORY_URL`. */
  readonly directoryUrl: string;
  /** The CA that signed the proxy's HTTPS certificate: use it as `ACME_CA_BUNDLE`. */
  readonly caBundlePath: string;
  readonly challtestsrvUrl: string;
  /** `host:port` of the DNS server the CA validates with (Pebble's challtestsrv). */
  readonly dnsResolver: string;
  /** Every request received, oldest first. */
  readonly exchanges: readonly ProxyExchange[];
  /** Adds a rule; rules are tried in the order they were added. */
  intercept(rule: ProxyRule): void;
  /** Adds an extension; it answers after the rules that answer, and rewrites after those that rewrite. */
  extend(extension: CaProxyExtension): void;
  /** Requests received for `method` and a path matching `path`. */
  count(method: string, path: RegExp): number;
  /**
   * From now on, loses each exchange with probability `rate`, half of them before the CA gets the
   * request and half after it acted on it (a chaos run's network).
   */
  chaos(options: { readonly rate: number; readonly random: () => number }): void;
  /** What the CA really did and what was lost on the way, whatever the functions saw. */
  readonly ledger: CaLedger;
  stop(): Promise<void>;
}

interface UpstreamResponse {
  readonly status: number;
  /** Raw header pairs in order, so repeated `Link` headers stay separate. */
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Buffer;
}

const LOOPBACK = '127.0.0.1';
const UPSTREAM_TIMEOUT_MS = 10_000;
/** Hop-by-hop and framing headers the proxy sets itself. */
const NOT_FORWARDED = new Set(['connection', 'content-length', 'transfer-encoding', 'keep-alive']);

/** Starts the proxy on a free loopback port, in front of `pebble`. */
export async function startCaProxy(pebble: PebbleEnvironment): Promise<CaProxy> {
  const dir = await mkdtemp(join(tmpdir(), 'ca-proxy-'));
  const tls = await createLoopbackTlsMaterial();
  const caBundlePath = join(dir, 'ca.pem');
  await writeFile(caBundlePath, tls.caPem);
  const upstream = new URL(pebble.directoryUrl);
  const rules: { rule: ProxyRule; remaining: number }[] = [];
  const extensions: CaProxyExtension[] = [];
  const exchanges: ProxyExchange[] = [];
  let host = '';
  let newNoncePath: string | undefined;
  let newOrderPath: string | undefined;
  let chaos: { rate: number; random: () => number } | undefined;
  const ledger: CaLedger = {
    ordersCreated: 0,
    lostNewOrderResponses: 0,
    droppedBefore: 0,
    droppedAfter: 0,
    certificates: new Map(),
  };
  /** Notes what an answer of the CA says it did. */
  const record = (method: string, path: string, response: UpstreamResponse, lost: boolean): void => {
    const text = response.body.toString('utf8');
    if (method === 'GET' && path === upstream.pathname && response.status === 200) {
      newOrderPath = new URL((JSON.parse(text) as { newOrder: string }).newOrder).pathname;
    }
    if (method === 'POST' && path === newOrderPath && response.status === 201) {
      ledger.ordersCreated += 1;
      if (lost) ledger.lostNewOrderResponses += 1;
    }
    if (text.startsWith('{')) {
      let order: { status?: unknown; certificate?: unknown } = {};
      try {
        order = JSON.parse(text) as typeof order;
      } catch {
        // Not the JSON it looked like; nothing to note.
      }
      if (
        order.status === 'valid' &&
        typeof order.certificate === 'string' &&
        !ledger.certificates.has(order.certificate)
      )
        ledger.certificates.set(order.certificate, undefined);
    }
    const certificateUrl = `https://${host}${path}`;
    if (
      response.status === 200 &&
      ledger.certificates.has(certificateUrl) &&
      text.includes('BEGIN CERTIFICATE')
    ) {
      ledger.certificates.set(
        certificateUrl,
        /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text)?.[0],
      );
    }
  };

  const send = (request: {
    method: string;
    path: string;
    headers: Record<string, string>;
    body?: Buffer;
    host?: string;
  }): Promise<UpstreamResponse> =>
    new Promise((resolve, reject) => {
      const socket = connect({
        host: upstream.hostname,
        port: Number(upstream.port),
        ca: pebble.caBundlePem,
      });
      const chunks: Buffer[] = [];
      socket.setTimeout(UPSTREAM_TIMEOUT_MS, () => socket.destroy(new Error('upstream timed out')));
      socket.once('secureConnect', () => {
        const headers = {
          ...request.headers,
          host: request.host ?? host,
          ...(request.body ? { 'content-length': String(request.body.length) } : {}),
        };
        const head = [
          `${request.method} ${request.path} HTTP/1.0`,
          ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
        ];
        socket.write(`${head.join('\r\n')}\r\n\r\n`);
        if (request.body) socket.write(request.body);
      });
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.once('error', reject);
      socket.once('end', () => {
        try {
          resolve(parseResponse(Buffer.concat(chunks), request.method));
        } catch (error) {
          reject(error);
        }
      });
    });

  const freshNonce = async (): Promise<string | undefined> => {
    if (newNoncePath === undefined) {
      const directory = await send({ method: 'GET', path: upstream.pathname, headers: {} });
      newNoncePath = new URL((JSON.parse(directory.body.toString('utf8')) as { newNonce: string }).newNonce)
        .pathname;
    }
    const response = await send({ method: 'HEAD', path: newNoncePath, headers: {} });
    return response.headers.find(([name]) => name.toLowerCase() === 'replay-nonce')?.[1];
  };

  const takeRule = (
    method: string,
    path: string,
    applies: (rule: ProxyRule) => boolean,
  ): ProxyRule | undefined => {
    const entry = rules.find(
      ({ rule, remaining }) =>
        remaining > 0 &&
        (rule.method === undefined || rule.method === method) &&
        rule.path.test(path) &&
        applies(rule),
    );
    if (entry) entry.remaining -= 1;
    return entry?.rule;
  };

  const handle = async (incoming: IncomingMessage, outgoing: ServerResponse): Promise<void> => {
    const method = incoming.method ?? 'GET';
    const path = incoming.url ?? '/';
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);

    const chaotic =
      chaos && chaos.random() < chaos.rate ? (chaos.random() < 0.5 ? 'before' : 'after') : undefined;
    const drop = takeRule(method, path, (rule) => rule.drop !== undefined)?.drop ?? chaotic;
    if (drop === 'after') {
      const lost = await send({
        method,
        path,
        headers: forwardedHeaders(incoming),
        ...(body.length > 0 ? { body } : {}),
      });
      record(method, path, lost, true);
    }
    if (drop) {
      if (drop === 'before') ledger.droppedBefore += 1;
      else ledger.droppedAfter += 1;
      exchanges.push({ method, path, status: 0, intercepted: true });
      incoming.socket.destroy();
      return;
    }

    const answering = takeRule(method, path, (rule) => rule.answer !== undefined);
    if (answering?.answer) {
      const { status, problem } = answering.answer;
      const nonce = await freshNonce();
      const text = problem ? JSON.stringify({ ...problem, status }) : (answering.answer.body ?? '');
      const headers: Record<string, string> = {
        'content-type': problem ? 'application/problem+json' : 'text/plain; charset=utf-8',
        'cache-control': 'no-store',
        ...(nonce ? { 'replay-nonce': nonce } : {}),
        ...answering.answer.headers,
      };
      exchanges.push({ method, path, status, intercepted: true, ...retryAfterOf(headers) });
      outgoing.writeHead(status, headers);
      outgoing.end(text);
      return;
    }

    for (const extension of extensions) {
      const answer = await extension.answer({ method, path, body }, upstreamFor(incoming));
      if (answer) {
        exchanges.push({ method, path, status: answer.status, intercepted: true });
        outgoing.writeHead(answer.status, {
          ...answer.headers,
          'content-length': String(Buffer.byteLength(answer.body)),
        });
        outgoing.end(method === 'HEAD' ? undefined : answer.body);
        return;
      }
    }

    const response = await send({
      method,
      path,
      headers: forwardedHeaders(incoming),
      ...(body.length > 0 ? { body } : {}),
    });
    record(method, path, response, false);
    let headers = response.headers.filter(([name]) => !NOT_FORWARDED.has(name.toLowerCase()));
    let responseBody = response.body;
    let intercepted = false;
    if (response.status >= 200 && response.status < 300) {
      const changing = takeRule(
        method,
        path,
        (rule) =>
          rule.retryAfter !== undefined || rule.holdOrderAs !== undefined || rule.rewrite !== undefined,
      );
      if (changing?.rewrite) {
        const text = responseBody.toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // Not JSON (a PEM chain, say): the rule gets the text.
        }
        const joined: Record<string, string> = {};
        for (const [name, value] of headers)
          joined[name] = joined[name] ? `${joined[name]}, ${value}` : value;
        const changed = changing.rewrite({ status: response.status, headers: joined, body: parsed });
        headers = Object.entries(changed.headers);
        responseBody = Buffer.from(
          typeof changed.body === 'string' ? changed.body : JSON.stringify(changed.body),
        );
        intercepted = true;
      }
      if (changing?.holdOrderAs) {
        const held = holdOrder(responseBody, changing.holdOrderAs);
        if (held) {
          responseBody = held;
          intercepted = true;
        }
      }
      for (const extension of extensions) {
        const before = {
          status: response.status,
          headers: joinHeaders(headers),
          body: parseBody(responseBody),
        };
        const after = extension.rewrite({ method, path, body }, before);
        if (after !== before) {
          headers = Object.entries(after.headers);
          responseBody = Buffer.from(
            typeof after.body === 'string' ? after.body : JSON.stringify(after.body),
          );
          intercepted = true;
        }
      }
      if (changing?.retryAfter !== undefined) {
        headers = [
          ...headers.filter(([name]) => name.toLowerCase() !== 'retry-after'),
          ['Retry-After', String(changing.retryAfter)],
        ];
        intercepted = true;
      }
    }
    const retryAfter = headers.find(([name]) => name.toLowerCase() === 'retry-after')?.[1];
    exchanges.push({
      method,
      path,
      status: response.status,
      intercepted,
      ...(retryAfter ? { retryAfter } : {}),
    });
    const grouped = new Map<string, string[]>();
    for (const [name, value] of headers) grouped.set(name, [...(grouped.get(name) ?? []), value]);
    for (const [name, values] of grouped)
      outgoing.setHeader(name, values.length === 1 ? (values[0] ?? '') : values);
    outgoing.setHeader('content-length', String(responseBody.length));
    outgoing.writeHead(response.status);
    outgoing.end(method === 'HEAD' ? undefined : responseBody);
  };

  /** What an extension may ask of the CA, for a request that arrived on `incoming`. */
  const upstreamFor = (incoming: IncomingMessage): ExtensionUpstream => ({
    host,
    freshNonce,
    async send(request) {
      const response = await send({
        method: request.method,
        path: request.path,
        headers: forwardedHeaders(incoming),
        ...(request.body.length > 0 ? { body: request.body } : {}),
        ...(request.host ? { host: request.host } : {}),
      });
      record(request.method, request.path, response, false);
      const headers = joinHeaders(
        response.headers.filter(([name]) => !NOT_FORWARDED.has(name.toLowerCase())),
      );
      return { status: response.status, headers, body: parseBody(response.body) };
    },
  });

  const server: Server = createServer(
    { cert: tls.certificatePem, key: tls.privateKeyPem },
    (incoming, outgoing) => {
      handle(incoming, outgoing).catch((error: unknown) => {
        exchanges.push({
          method: incoming.method ?? 'GET',
          path: incoming.url ?? '/',
          status: 502,
          intercepted: true,
        });
        if (!outgoing.headersSent) outgoing.writeHead(502, { 'content-type': 'text/plain' });
        outgoing.end(`ca-proxy: ${error instanceof Error ? error.message : String(error)}`);
      });
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => resolve());
  });
  host = `${LOOPBACK}:${(server.address() as AddressInfo).port}`;
  let stopped = false;

  return {
    directoryUrl: `https://${host}${upstream.pathname}`,
    caBundlePath,
    challtestsrvUrl: pebble.challtestsrvUrl,
    dnsResolver: pebble.dnsResolver,
    exchanges,
    intercept(rule) {
      rules.push({ rule, remaining: rule.times ?? Number.POSITIVE_INFINITY });
    },
    extend(extension) {
      extensions.push(extension);
    },
    ledger,
    chaos(options) {
      chaos = options;
    },
    count(method, path) {
      return exchanges.filter((exchange) => exchange.method === method && path.test(exchange.path)).length;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Header pairs as one record, a repeated header (Link) joined with ", ". */
function joinHeaders(headers: readonly (readonly [string, string])[]): Record<string, string> {
  const joined: Record<string, string> = {};
  for (const [name, value] of headers) joined[name] = joined[name] ? `${joined[name]}, ${value}` : value;
  return joined;
}

/** The parsed JSON of a body, or its text when it is not JSON. */
function parseBody(body: Buffer): unknown {
  const text = body.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The request headers the proxy passes on to the CA. */
function forwardedHeaders(incoming: IncomingMessage): Record<string, string> {
  const forwarded: Record<string, string> = {};
  for (const name of ['content-type', 'accept', 'user-agent']) {
    const value = incoming.headers[name];
    if (typeof value === 'string') forwarded[name] = value;
  }
  return forwarded;
}

function retryAfterOf(headers: Readonly<Record<string, string>>): { retryAfter?: string } {
  const entry = Object.entries(headers).find(([name]) => name.toLowerCase() === 'retry-after');
  return entry ? { retryAfter: entry[1] } : {};
}

/** An HTTP/1.0 response read to the end of the connection: status line, headers, body. */
function parseResponse(raw: Buffer, method: string): UpstreamResponse {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) throw new Error('upstream sent no complete response head');
  const [statusLine = '', ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
  if (!Number.isInteger(status)) throw new Error(`upstream sent a bad status line: ${statusLine}`);
  const headers = lines.map((line): [string, string] => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
  });
  return { status, headers, body: method === 'HEAD' ? Buffer.alloc(0) : raw.subarray(end + 4) };
}

/** The order JSON shown one step behind (see `ProxyRule.holdOrderAs`), or `undefined` to leave it. */
function holdOrder(body: Buffer, as: 'pending' | 'processing'): Buffer | undefined {
  let order: Record<string, unknown>;
  try {
    order = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof order.finalize !== 'string') return undefined;
  if (as === 'pending' && order.status === 'ready')
    return Buffer.from(JSON.stringify({ ...order, status: 'pending' }));
  if (as === 'processing' && order.status === 'valid') {
    const { certificate: _certificate, ...rest } = order;
    return Buffer.from(JSON.stringify({ ...rest, status: 'processing' }));
  }
  return undefined;
}

/**
 * Makes the proxy's directory list `identities` as its `meta.caaIdentities` (RFC 8555 §7.1.1),
 * which Debian's Pebble 2.4 does not: what the CAA pre-flight and the CAA pin compare with.
 */
export function advertiseCaaIdentities(proxy: CaProxy, identities: readonly string[]): void {
  proxy.intercept({
    method: 'GET',
    path: /^\/dir$/,
    rewrite: (answer) => {
      const directory = answer.body as { meta?: Record<string, unknown> };
      return {
        ...answer,
        body: { ...directory, meta: { ...directory.meta, caaIdentities: [...identities] } },
      };
    },
  });
}
