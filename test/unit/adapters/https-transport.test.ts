import diagnosticsChannel from 'node:diagnostics_channel';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NodeHttpsTransport, transportFromEnvironment } from '../../../lambdas/adapters/https-transport.js';
import { AcmeConnectionError, InvalidInputError } from '../../../lambdas/core/errors.js';
import { createLoopbackTlsMaterial, type LoopbackTlsMaterial } from '../../support/tls-certificates.js';

type Handler = (request: IncomingMessage, response: ServerResponse, body: string) => void;

interface LocalServer {
  readonly url: string;
  /** Paths requested so far, in order. */
  readonly seen: string[];
  handle(path: string, handler: Handler): void;
  close(): Promise<void>;
}

async function listen(
  server: Server,
  scheme: 'http' | 'https',
  routes: Map<string, Handler>,
): Promise<LocalServer> {
  const seen: string[] = [];
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = request.url ?? '/';
      seen.push(path);
      const handler = routes.get(path);
      if (handler) handler(request, response, Buffer.concat(chunks).toString('utf8'));
      else response.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    seen,
    handle: (path, handler) => routes.set(path, handler),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let tls: LoopbackTlsMaterial;
let https: LocalServer;
let http: LocalServer;
const routes = new Map<string, Handler>();

beforeAll(async () => {
  tls = await createLoopbackTlsMaterial();
  https = await listen(
    createHttpsServer({ cert: tls.certificatePem, key: tls.privateKeyPem }),
    'https',
    routes,
  );
  http = await listen(createHttpServer(), 'http', routes);
});

afterEach(() => {
  routes.clear();
  https.seen.length = 0;
});

afterAll(async () => {
  await Promise.all([https.close(), http.close()]);
});

describe('NodeHttpsTransport', () => {
  it('returns status, lower-case headers with repeated ones joined, and the body', async () => {
    https.handle('/dir', (_request, response) => {
      response.setHeader('Content-Type', 'application/json');
      response.setHeader('Link', [
        '<https://ca.example/a>;rel="alternate"',
        '<https://ca.example/b>;rel="alternate"',
      ]);
      response.setHeader('Replay-Nonce', 'abc');
      response.end('{"ok":true}');
    });
    const transport = new NodeHttpsTransport({ caPem: tls.caPem });

    const response = await transport.request({ method: 'GET', url: `${https.url}/dir` });

    expect(response.status).toBe(200);
    expect(response.body).toBe('{"ok":true}');
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.headers['replay-nonce']).toBe('abc');
    expect(response.headers.link).toBe(
      '<https://ca.example/a>;rel="alternate", <https://ca.example/b>;rel="alternate"',
    );
  });

  it('sends the body with its length, the caller headers and a User-Agent', async () => {
    let received: { headers: IncomingMessage['headers']; body: string } | undefined;
    https.handle('/post', (request, response, body) => {
      received = { headers: request.headers, body };
      response.writeHead(201).end();
    });
    const transport = new NodeHttpsTransport({ caPem: tls.caPem, userAgent: 'acme-aws-test/1' });

    const response = await transport.request({
      method: 'POST',
      url: `${https.url}/post`,
      headers: { 'content-type': 'application/jose+json' },
      body: '{"payload":"é"}',
    });

    expect(response.status).toBe(201);
    expect(received?.body).toBe('{"payload":"é"}');
    expect(received?.headers['content-length']).toBe(String(Buffer.byteLength('{"payload":"é"}')));
    expect(received?.headers['content-type']).toBe('application/jose+json');
    expect(received?.headers['user-agent']).toBe('acme-aws-test/1');
  });

  it('returns a redirect as it is instead of following it', async () => {
    https.handle('/moved', (_request, response) => response.writeHead(302, { location: '/target' }).end());
    https.handle('/target', (_request, response) => response.end('followed'));
    const transport = new NodeHttpsTransport({ caPem: tls.caPem });

    const response = await transport.request({ method: 'GET', url: `${https.url}/moved` });

    expect(response.status).toBe(302);
    expect(response.headers.location).toBe('/target');
    expect(https.seen).toEqual(['/moved']);
  });

  it('fails with AcmeConnectionError when the server does not answer in time', async () => {
    https.handle('/hang', () => {});
    const transport = new NodeHttpsTransport({ caPem: tls.caPem, timeoutMs: 200 });
    const started = Date.now();

    const error = await transport
      .request({ method: 'GET', url: `${https.url}/hang` })
      .catch((caught) => caught);

    expect(error).toBeInstanceOf(AcmeConnectionError);
    expect(error.message).toMatch(/timed out after 200 ms/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('applies the deadline to the whole response, not only to idle gaps', async () => {
    https.handle('/drip', (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/plain' });
      const timer = setInterval(() => response.write('.'), 50);
      response.on('close', () => clearInterval(timer));
    });
    const transport = new NodeHttpsTransport({ caPem: tls.caPem, timeoutMs: 300 });

    await expect(transport.request({ method: 'GET', url: `${https.url}/drip` })).rejects.toThrow(
      AcmeConnectionError,
    );
  });

  it('cuts off a streamed body larger than maxResponseBytes', async () => {
    https.handle('/big', (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/plain' });
      for (let index = 0; index < 8; index += 1) response.write('x'.repeat(512));
      response.end();
    });
    const transport = new NodeHttpsTransport({ caPem: tls.caPem, maxResponseBytes: 1024 });

    const error = await transport
      .request({ method: 'GET', url: `${https.url}/big` })
      .catch((caught) => caught);

    expect(error).toBeInstanceOf(AcmeConnectionError);
    expect(error.message).toMatch(/exceeds 1024 bytes/);
  });

  it('refuses a declared Content-Length above the cap before reading the body', async () => {
    https.handle('/declared', (_request, response) => {
      response.writeHead(200, { 'content-length': '5000' });
      response.write('x');
    });
    const transport = new NodeHttpsTransport({ caPem: tls.caPem, maxResponseBytes: 1024 });

    await expect(transport.request({ method: 'GET', url: `${https.url}/declared` })).rejects.toThrow(
      /exceeds/,
    );
  });

  it('accepts a body of exactly maxResponseBytes', async () => {
    https.handle('/exact', (_request, response) => response.end('y'.repeat(1024)));
    const transport = new NodeHttpsTransport({ caPem: tls.caPem, maxResponseBytes: 1024 });

    const response = await transport.request({ method: 'GET', url: `${https.url}/exact` });

    expect(response.body).toHaveLength(1024);
  });

  it('refuses plain HTTP unless it is explicitly allowed', async () => {
    http.handle('/plain', (_request, response) => response.end('plain'));
    const strict = new NodeHttpsTransport();
    const relaxed = new NodeHttpsTransport({ allowInsecureHttp: true });

    await expect(strict.request({ method: 'GET', url: `${http.url}/plain` })).rejects.toThrow(
      InvalidInputError,
    );
    await expect(strict.request({ method: 'GET', url: `${http.url}/plain` })).rejects.toThrow(http.url);
    expect((await relaxed.request({ method: 'GET', url: `${http.url}/plain` })).body).toBe('plain');
  });

  it('refuses other URL schemes and unparsable URLs', async () => {
    const transport = new NodeHttpsTransport({ allowInsecureHttp: true });

    await expect(transport.request({ method: 'GET', url: 'ftp://127.0.0.1/x' })).rejects.toThrow(
      InvalidInputError,
    );
    await expect(transport.request({ method: 'GET', url: 'not a url' })).rejects.toThrow(InvalidInputError);
  });

  it('wraps a TLS failure (untrusted CA) as AcmeConnectionError with the cause', async () => {
    https.handle('/dir', (_request, response) => response.end('{}'));
    const untrusting = new NodeHttpsTransport({ caPem: (await createLoopbackTlsMaterial()).caPem });

    const error = await untrusting
      .request({ method: 'GET', url: `${https.url}/dir` })
      .catch((caught) => caught);

    expect(error).toBeInstanceOf(AcmeConnectionError);
    expect(error.cause).toBeInstanceOf(Error);
  });

  it('wraps a refused connection as AcmeConnectionError with the cause', async () => {
    const closed = await listen(createHttpServer(), 'http', new Map());
    await closed.close();
    const transport = new NodeHttpsTransport({ allowInsecureHttp: true });

    const error = await transport.request({ method: 'GET', url: `${closed.url}/` }).catch((caught) => caught);

    expect(error).toBeInstanceOf(AcmeConnectionError);
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });

  it('publishes every request on the http.client.request.start diagnostics channel', async () => {
    https.handle('/count', (_request, response) => response.end());
    const transport = new NodeHttpsTransport({ caPem: tls.caPem });
    let started = 0;
    const onStart = (): void => {
      started += 1;
    };
    diagnosticsChannel.subscribe('http.client.request.start', onStart);

    try {
      await transport.request({ method: 'HEAD', url: `${https.url}/count` });
      await transport.request({ method: 'GET', url: `${https.url}/count` });
    } finally {
      diagnosticsChannel.unsubscribe('http.client.request.start', onStart);
    }

    expect(started).toBe(2);
  });

  it('rejects a non-positive timeout or size cap at construction', () => {
    expect(() => new NodeHttpsTransport({ timeoutMs: 0 })).toThrow(InvalidInputError);
    expect(() => new NodeHttpsTransport({ maxResponseBytes: -1 })).toThrow(InvalidInputError);
  });
});

describe('transportFromEnvironment', () => {
  it('trusts exactly the CA bundle named by ACME_CA_BUNDLE', async () => {
    https.handle('/dir', (_request, response) => response.end('trusted'));
    const dir = await mkdtemp(join(tmpdir(), 'ca-bundle-'));
    const bundlePath = join(dir, 'ca.pem');
    await writeFile(bundlePath, tls.caPem);

    try {
      const transport = transportFromEnvironment({ ACME_CA_BUNDLE: bundlePath });
      const response = await transport.request({ method: 'GET', url: `${https.url}/dir` });

      expect(response.body).toBe('trusted');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('trusts only the public roots without ACME_CA_BUNDLE, so the test CA is refused', async () => {
    https.handle('/dir', (_request, response) => response.end('{}'));
    const transport = transportFromEnvironment({});

    await expect(transport.request({ method: 'GET', url: `${https.url}/dir` })).rejects.toThrow(
      AcmeConnectionError,
    );
  });

  it('names the variable and the path when the bundle cannot be read', () => {
    expect(() => transportFromEnvironment({ ACME_CA_BUNDLE: '/nonexistent/ca.pem' })).toThrow(
      /ACME_CA_BUNDLE.*\/nonexistent\/ca\.pem/,
    );
  });

  it('allows plain HTTP only when ACME_ALLOW_INSECURE_HTTP is exactly "true"', async () => {
    http.handle('/plain', (_request, response) => response.end('plain'));

    const allowed = transportFromEnvironment({ ACME_ALLOW_INSECURE_HTTP: 'true' });
    const notAllowed = transportFromEnvironment({ ACME_ALLOW_INSECURE_HTTP: '1' });

    expect((await allowed.request({ method: 'GET', url: `${http.url}/plain` })).body).toBe('plain');
    await expect(notAllowed.request({ method: 'GET', url: `${http.url}/plain` })).rejects.toThrow(
      InvalidInputError,
    );
  });
});
