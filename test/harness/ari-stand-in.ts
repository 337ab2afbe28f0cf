import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { isAriCertificateId } from '../../lambdas/core/acme/renewal-info.js';
import { createLoopbackTlsMaterial } from '../support/tls-certificates.js';

/** A suggested renewal window as the stand-in serves it (RFC 9773 §4.2). */
export interface AriStandInWindow {
  readonly start: Date;
  readonly end: Date;
  /** Served as `explanationURL`. */
  readonly explanationUrl?: string;
}

/** What the stand-in answers. */
export interface AriStandInOptions {
  /** The window for a CertID, or `undefined` for a certificate the "CA" does not know (404). @default none known */
  readonly windows?: (certId: string) => AriStandInWindow | undefined;
  /** Sent as `Retry-After` on every renewalInfo answer. @default no header */
  readonly retryAfterSeconds?: number;
  /**
   * A real directory (e.g. Pebble's) whose fields are served unchanged next to `renewalInfo`, so
   * a client reading this directory orders from the real CA and asks the stand-in only for ARI.
   * @default placeholder endpoints on the stand-in that answer 404
   */
  readonly upstreamDirectory?: object;
}

/** A running stand-in, on 127.0.0.1 only. */
export interface AriStandIn {
  /** `https://127.0.0.1:<port>`. */
  readonly url: string;
  readonly directoryUrl: string;
  readonly renewalInfoUrl: string;
  /** The CA that signed the stand-in's TLS certificate: the client must trust it. */
  readonly caPem: string;
  /** `"<METHOD> <path>"` of every request received, in order. */
  readonly requests: string[];
  /** Overrides `windows` for one CertID; `undefined` makes the stand-in answer 404 for it. */
  setWindow(certId: string, window: AriStandInWindow | undefined): void;
  /** Closes the server and its connections; safe to call twice. */
  stop(): Promise<void>;
}

const LOOPBACK = '127.0.0.1';
const DIRECTORY_PATH = '/dir';
const RENEWAL_INFO_PATH = '/renewal-info';

/**
 * Starts an HTTPS server that plays the ARI half of a CA (RFC 9773), for testing renewal
 * scheduling against a CA that does not implement it (Debian's Pebble 2.4.0 has no
 * `renewalInfo`). It serves a directory and `GET <renewalInfo>/<CertID>`; it forwards nothing, so
 * any ACME POST goes wherever the upstream directory points. Malformed CertIDs get a 400
 * `malformed` problem, unknown ones a 404 problem, as Boulder does.
 */
export async function startAriStandIn(options: AriStandInOptions = {}): Promise<AriStandIn> {
  const tls = await createLoopbackTlsMaterial();
  const overrides = new Map<string, AriStandInWindow | undefined>();
  const requests: string[] = [];
  let base = '';

  const windowFor = (certId: string): AriStandInWindow | undefined =>
    overrides.has(certId) ? overrides.get(certId) : options.windows?.(certId);

  /** The answer to one request; everything that is not the directory or renewalInfo is a 404. */
  const route = (method: string, path: string): Reply => {
    if (path !== DIRECTORY_PATH && !path.startsWith(`${RENEWAL_INFO_PATH}/`)) {
      return problem(404, `the ARI stand-in does not serve ${path}`);
    }
    if (method !== 'GET') return { ...problem(405, 'only GET is served here'), headers: { allow: 'GET' } };
    if (path === DIRECTORY_PATH) {
      const placeholders = {
        newNonce: `${base}/not-served/new-nonce`,
        newAccount: `${base}/not-served/new-account`,
        newOrder: `${base}/not-served/new-order`,
      };
      return json(200, {
        ...(options.upstreamDirectory ?? placeholders),
        renewalInfo: `${base}${RENEWAL_INFO_PATH}`,
      });
    }
    // Left encoded: a CertID is base64url, so any %-escape already makes it malformed.
    const certId = path.slice(RENEWAL_INFO_PATH.length + 1);
    if (!isAriCertificateId(certId)) return problem(400, `"${certId}" is not an ARI CertID`);
    const window = windowFor(certId);
    if (!window) return problem(404, `no renewal information for ${certId}`);
    const body = {
      suggestedWindow: { start: window.start.toISOString(), end: window.end.toISOString() },
      ...(window.explanationUrl ? { explanationURL: window.explanationUrl } : {}),
    };
    return options.retryAfterSeconds === undefined
      ? json(200, body)
      : { ...json(200, body), headers: { 'retry-after': String(options.retryAfterSeconds) } };
  };

  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    const method = request.method ?? 'GET';
    const target = request.url ?? '/';
    const path = URL.canParse(target, base) ? new URL(target, base).pathname : target;
    requests.push(`${method} ${path}`);
    request.resume();
    const reply = route(method, path);
    response.writeHead(reply.status, {
      'content-type': reply.contentType,
      'content-length': Buffer.byteLength(reply.body),
      ...reply.headers,
    });
    response.end(reply.body);
  };

  const server = createServer({ cert: tls.certificatePem, key: tls.privateKeyPem }, handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      server.off('error', reject);
      resolve();
    });
  });
  base = `https://${LOOPBACK}:${(server.address() as AddressInfo).port}`;

  let stopped: Promise<void> | undefined;
  return {
    url: base,
    directoryUrl: `${base}${DIRECTORY_PATH}`,
    renewalInfoUrl: `${base}${RENEWAL_INFO_PATH}`,
    caPem: tls.caPem,
    requests,
    setWindow(certId, window) {
      overrides.set(certId, window);
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}

interface Reply {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  readonly headers?: Readonly<Record<string, string>>;
}

function json(status: number, body: object): Reply {
  return { status, contentType: 'application/json', body: JSON.stringify(body) };
}

/** A `malformed` problem document, the type Boulder uses for unknown and bad CertIDs alike. */
function problem(status: number, detail: string): Reply {
  return {
    status,
    contentType: 'application/problem+json',
    body: JSON.stringify({ type: 'urn:ietf:params:acme:error:malformed', detail, status }),
  };
}
