import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLoopbackTlsMaterial } from '../support/tls-certificates.js';
import type { LocalCa } from './local-issuance.js';

/**
 * An HTTPS ACME server on loopback that answers from a script: the directory and fresh nonces
 * always, and every POST with what the test decides (a problem document, a stall, a lie). For
 * the behaviour of our functions when the CA misbehaves in ways Pebble never does.
 */

export interface ScriptedAnswer {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** JSON body; a problem document gets `application/problem+json`. */
  readonly body?: unknown;
}

/** An RFC 8555 §6.7 problem document answer. */
export function problem(
  type: string,
  status: number,
  detail: string,
  headers: Record<string, string> = {},
): ScriptedAnswer {
  return { status, headers, body: { type: `urn:ietf:params:acme:error:${type}`, detail, status } };
}

/** A CA that accepted the connection and never answers. */
export const STALL = 'stall';

export interface ScriptedCa extends LocalCa {
  /** Answers every POST from now on (`STALL`: never). */
  answerPosts(answer: (path: string, request: IncomingMessage) => ScriptedAnswer | typeof STALL): void;
  /** POSTs received, by path. */
  readonly posts: string[];
  stop(): Promise<void>;
}

export async function startScriptedCa(challtestsrvUrl = 'http://127.0.0.1:9'): Promise<ScriptedCa> {
  const tls = await createLoopbackTlsMaterial();
  const folder = mkdtempSync(join(tmpdir(), 'acme-scripted-ca-'));
  const caBundlePath = join(folder, 'ca.pem');
  writeFileSync(caBundlePath, tls.caPem);
  let answerPost: (path: string, request: IncomingMessage) => ScriptedAnswer | typeof STALL = () =>
    problem('serverInternal', 500, 'no answer scripted');
  const posts: string[] = [];
  let base = '';
  const server: Server = createServer(
    { cert: tls.certificatePem, key: tls.privateKeyPem },
    (request, response) => {
      const path = new URL(request.url ?? '/', base).pathname;
      const nonce = randomBytes(16).toString('base64url');
      request.resume();
      request.on('end', () => {
        const send = (answer: ScriptedAnswer) => {
          const type =
            typeof answer.body === 'object' && answer.body !== null && 'type' in answer.body
              ? 'application/problem+json'
              : 'application/json';
          response.writeHead(answer.status, {
            'replay-nonce': nonce,
            'cache-control': 'no-store',
            ...(answer.body === undefined ? {} : { 'content-type': type }),
            ...answer.headers,
          });
          response.end(answer.body === undefined ? undefined : JSON.stringify(answer.body));
        };
        if (path === '/directory') {
          send({
            status: 200,
            body: {
              newNonce: `${base}/new-nonce`,
              newAccount: `${base}/new-account`,
              newOrder: `${base}/new-order`,
              revokeCert: `${base}/revoke-cert`,
              keyChange: `${base}/key-change`,
            },
          });
        } else if (path === '/new-nonce') {
          send({ status: request.method === 'HEAD' ? 200 : 204 });
        } else if (request.method === 'POST') {
          posts.push(path);
          const answer = answerPost(path, request);
          if (answer !== STALL) send(answer);
        } else {
          send(problem('malformed', 404, `no resource at ${path}`));
        }
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    directoryUrl: `${base}/directory`,
    caBundlePath,
    challtestsrvUrl,
    posts,
    answerPosts(answer) {
      answerPost = answer;
    },
    stop: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
