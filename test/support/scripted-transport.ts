import type { HttpRequest, HttpResponse, HttpTransport } from '../../lambdas/core/ports.js';

/** What the scripted CA answers; `body` objects are sent as JSON text. */
export interface ScriptedReply {
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | object;
}

type Reply = ScriptedReply | Error | ((request: HttpRequest) => ScriptedReply | Error);

interface Expectation {
  readonly method: HttpRequest['method'];
  readonly url: string;
  readonly reply: Reply;
}

/**
 * An in-memory `HttpTransport` that plays a CA from a script: each request must match the next
 * expected method and URL, or the test fails with both in the message. Like a real ACME server it
 * puts a fresh `Replay-Nonce` (`nonce-1`, `nonce-2`, ...) on every reply unless the script sets
 * one, or sets `replay-nonce: ''` to send none.
 */
export class ScriptedTransport implements HttpTransport {
  /** Every request received, in order. */
  readonly requests: HttpRequest[] = [];
  /** Every nonce this "server" handed out, in order. */
  readonly issuedNonces: string[] = [];
  readonly #script: Expectation[] = [];
  #nonceCounter = 0;

  /** Queues the answer to the next request, which must be `method url`. */
  expect(method: HttpRequest['method'], url: string, reply: Reply): this {
    this.#script.push({ method, url, reply });
    return this;
  }

  /** How many scripted answers have not been asked for yet. */
  get pending(): number {
    return this.#script.length;
  }

  async request(request: HttpRequest): Promise<HttpResponse> {
    this.requests.push(request);
    const next = this.#script.shift();
    if (!next) throw new Error(`unscripted request: ${request.method} ${request.url}`);
    if (next.method !== request.method || next.url !== request.url) {
      throw new Error(`expected ${next.method} ${next.url}, got ${request.method} ${request.url}`);
    }
    const reply = typeof next.reply === 'function' ? next.reply(request) : next.reply;
    if (reply instanceof Error) throw reply;
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(reply.headers ?? {})) headers[name.toLowerCase()] = value;
    if (headers['replay-nonce'] === undefined) {
      this.#nonceCounter += 1;
      headers['replay-nonce'] = `nonce-${this.#nonceCounter}`;
    }
    if (headers['replay-nonce'] === '') delete headers['replay-nonce'];
    else this.issuedNonces.push(headers['replay-nonce']);
    const body =
      reply.body === undefined
        ? ''
        : typeof reply.body === 'string'
          ? reply.body
          : JSON.stringify(reply.body);
    if (typeof reply.body === 'object' && headers['content-type'] === undefined) {
      headers['content-type'] = 'application/json';
    }
    return { status: reply.status ?? 200, headers, body };
  }
}

/** A problem document reply (RFC 8555 §6.7) for an `urn:ietf:params:acme:error:` type. */
export function problemReply(
  shortType: string,
  options: {
    status?: number;
    detail?: string;
    subproblems?: readonly object[];
    headers?: Readonly<Record<string, string>>;
  } = {},
): ScriptedReply {
  const status = options.status ?? 400;
  return {
    status,
    headers: { 'content-type': 'application/problem+json', ...options.headers },
    body: JSON.stringify({
      type: `urn:ietf:params:acme:error:${shortType}`,
      detail: options.detail ?? `${shortType} for testing`,
      status,
      ...(options.subproblems ? { subproblems: options.subproblems } : {}),
    }),
  };
}
