import { readFileSync } from 'node:fs';
import http, { type IncomingMessage, type RequestOptions } from 'node:http';
import https from 'node:https';
import { AcmeConnectionError, InvalidInputError } from '../core/errors.js';
import type { HttpRequest, HttpResponse, HttpTransport } from '../core/ports.js';

/** Limits and trust for talking to an ACME server. */
export interface NodeHttpsTransportOptions {
  /** PEM certificates to trust *instead of* Node's built-in roots (a private or test CA). */
  readonly caPem?: string;
  /** Deadline for a whole request, connect to last byte. @default 10000 */
  readonly timeoutMs?: number;
  /** Largest response body accepted; a certificate chain is a few KiB. @default 1048576 (1 MiB) */
  readonly maxResponseBytes?: number;
  /** Permits `http:` URLs; only for local test servers. @default false */
  readonly allowInsecureHttp?: boolean;
  /** RFC 8555 §6.1 asks clients to identify themselves. @default 'acme-aws/0.1 (node <version>)' */
  readonly userAgent?: string;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * `HttpTransport` over `node:https` (and `node:http` when explicitly allowed). Built on
 * `request()` rather than `fetch` so every request shows up on Node's
 * `http.client.request.start` diagnostics channel, which is how requests are counted, and looked
 * up on the module at each request, so the X-Ray SDK's patch of `https.request` (the Powertools
 * Tracer's `captureHTTPsRequests`, applied when tracing loads) records each one as a subsegment.
 *
 * Guarantees: each request ends within `timeoutMs` or fails; a body larger than
 * `maxResponseBytes` is cut off and fails; redirects are returned, never followed (an ACME
 * client must not be steered to another origin); header names are lower-case with repeated
 * headers joined by `, `; every network or TLS failure is an `AcmeConnectionError` with the
 * original error as `cause`. A bad URL or scheme is an `InvalidInputError`, raised before any I/O.
 */
export class NodeHttpsTransport implements HttpTransport {
  readonly #caPem: string | undefined;
  readonly #timeoutMs: number;
  readonly #maxResponseBytes: number;
  readonly #allowInsecureHttp: boolean;
  readonly #userAgent: string;

  constructor(options: NodeHttpsTransportOptions = {}) {
    this.#caPem = options.caPem;
    this.#timeoutMs = positiveInteger(options.timeoutMs ?? DEFAULT_TIMEOUT_MS, 'timeoutMs');
    this.#maxResponseBytes = positiveInteger(
      options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
      'maxResponseBytes',
    );
    this.#allowInsecureHttp = options.allowInsecureHttp ?? false;
    this.#userAgent = options.userAgent ?? `acme-aws/0.1 (node ${process.version})`;
  }

  /** Sends one request; resolves with any HTTP status, rejects only when there is no complete response. */
  async request(request: HttpRequest): Promise<HttpResponse> {
    return this.#send(this.#checkUrl(request.url), request);
  }

  #send(url: URL, request: HttpRequest): Promise<HttpResponse> {
    const body = request.body === undefined ? undefined : Buffer.from(request.body, 'utf8');
    const options: RequestOptions & { ca?: string } = {
      method: request.method,
      headers: {
        'user-agent': this.#userAgent,
        ...request.headers,
        ...(body ? { 'content-length': String(body.length) } : {}),
      },
      ...(url.protocol === 'https:' && this.#caPem ? { ca: this.#caPem } : {}),
    };
    const send = url.protocol === 'https:' ? https.request : http.request;
    const describe = `${request.method} ${request.url}`;

    return new Promise<HttpResponse>((resolve, reject) => {
      let settled = false;
      const finish = (): boolean => {
        if (settled) return false;
        settled = true;
        clearTimeout(timer);
        return true;
      };
      const fail = (error: AcmeConnectionError): void => {
        if (!finish()) return;
        reject(error);
        outgoing.destroy();
      };
      // A whole-request deadline, not a socket idle timeout: a server dripping one byte at a
      // time must not hold a Lambda for its full duration.
      const timer = setTimeout(
        () => fail(new AcmeConnectionError(`${describe} timed out after ${this.#timeoutMs} ms.`)),
        this.#timeoutMs,
      );
      const outgoing = send(url, options, (response) => {
        this.#readResponse(response, describe).then((result) => {
          if (finish()) resolve(result);
        }, fail);
      });
      outgoing.on('error', (error) =>
        fail(
          error instanceof AcmeConnectionError
            ? error
            : new AcmeConnectionError(`${describe} failed: ${error.message}`, { cause: error }),
        ),
      );
      outgoing.end(body);
    });
  }

  #readResponse(response: IncomingMessage, describe: string): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
      const tooLarge = (): void => {
        response.destroy();
        reject(new AcmeConnectionError(`${describe}: response exceeds ${this.#maxResponseBytes} bytes.`));
      };
      const declared = Number(response.headers['content-length']);
      if (Number.isFinite(declared) && declared > this.#maxResponseBytes) {
        tooLarge();
        return;
      }
      const chunks: Buffer[] = [];
      let received = 0;
      response.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > this.#maxResponseBytes) {
          tooLarge();
          return;
        }
        chunks.push(chunk);
      });
      response.on('error', (error) =>
        reject(new AcmeConnectionError(`${describe}: response failed: ${error.message}`, { cause: error })),
      );
      response.on('end', () => {
        resolve({
          status: response.statusCode ?? 0,
          headers: joinHeaders(response.rawHeaders),
          body: Buffer.concat(chunks).toString('utf8'),
        });
      });
    });
  }

  #checkUrl(raw: string): URL {
    if (!URL.canParse(raw)) throw new InvalidInputError(`Not a valid URL: ${raw}`);
    const url = new URL(raw);
    if (url.protocol === 'https:') return url;
    if (url.protocol === 'http:') {
      if (this.#allowInsecureHttp) return url;
      throw new InvalidInputError(
        `Refusing plain-HTTP URL ${raw}: ACME needs HTTPS. Set ACME_ALLOW_INSECURE_HTTP=true only for a local test CA.`,
      );
    }
    throw new InvalidInputError(`Unsupported URL scheme in ${raw}: only https is allowed.`);
  }
}

/**
 * A transport configured from the Lambda environment: `ACME_CA_BUNDLE` is the path of a PEM
 * file that becomes the only trusted CA (for a private or test CA), and
 * `ACME_ALLOW_INSECURE_HTTP=true` permits plain HTTP. Without them it trusts Node's public roots
 * and refuses `http:`. Reads the bundle synchronously, once, at construction.
 */
export function transportFromEnvironment(env: NodeJS.ProcessEnv = process.env): NodeHttpsTransport {
  const bundlePath = env.ACME_CA_BUNDLE?.trim();
  let caPem: string | undefined;
  if (bundlePath) {
    try {
      caPem = readFileSync(bundlePath, 'utf8');
    } catch (error) {
      throw new InvalidInputError(`ACME_CA_BUNDLE points to ${bundlePath}, which cannot be read.`, {
        cause: error,
      });
    }
    if (!caPem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new InvalidInputError(`ACME_CA_BUNDLE points to ${bundlePath}, which holds no PEM certificate.`);
    }
  }
  return new NodeHttpsTransport({
    ...(caPem ? { caPem } : {}),
    allowInsecureHttp: env.ACME_ALLOW_INSECURE_HTTP === 'true',
  });
}

/** Lower-case names; repeated headers joined with `, ` (RFC 9110 §5.3), in the order received. */
function joinHeaders(rawHeaders: readonly string[]): Record<string, string> {
  // No prototype, so a header called `__proto__` or `constructor` is just a header.
  const headers: Record<string, string> = Object.create(null);
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    const name = (rawHeaders[index] ?? '').toLowerCase();
    const value = rawHeaders[index + 1] ?? '';
    headers[name] = Object.hasOwn(headers, name) ? `${headers[name]}, ${value}` : value;
  }
  return headers;
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value <= 0)
    throw new InvalidInputError(`${name} must be a positive integer, got ${value}.`);
  return value;
}
