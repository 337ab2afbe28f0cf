/**
 * The counting proxy's process (see counting-proxy.ts). It runs apart from the bench so that its
 * forwarding shares no event loop with the local cloud whose functions it counts, and none of its
 * own requests to the CA could be mistaken for theirs. Controlled over the IPC channel; exits when
 * the bench goes away.
 */
import { Agent, createServer, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createLoopbackTlsMaterial } from '../../test/support/tls-certificates.js';
import { normalizePath, type ProxyReply, type ProxyRequest, type RequestTally } from './counting-proxy.js';

const upstreamDirectoryUrl = process.env.PROXY_UPSTREAM_DIRECTORY_URL;
const upstreamCaPem = process.env.PROXY_UPSTREAM_CA_PEM;
if (!upstreamDirectoryUrl || !upstreamCaPem || !process.send) {
  process.stderr.write('counting-proxy-server: start it through startCountingProxy()\n');
  process.exit(2);
}
const send = (reply: ProxyReply) => process.send?.(reply);
const upstream = new URL(upstreamDirectoryUrl);
const tls = await createLoopbackTlsMaterial();
const agent = new Agent({ keepAlive: true, ca: upstreamCaPem });
let counts = { total: 0, errors: 0, byPath: {} as Record<string, number> };
let proxyOrigin = '';
const rewrite = (text: string): string => text.split(upstream.origin).join(proxyOrigin);

const server = createServer({ cert: tls.certificatePem, key: tls.privateKeyPem }, (incoming, outgoing) => {
  const key = `${incoming.method} ${normalizePath(incoming.url ?? '/')}`;
  counts.total += 1;
  counts.byPath[key] = (counts.byPath[key] ?? 0) + 1;
  const tallyAtStart = counts;
  const forwarded = httpsRequest(
    {
      protocol: upstream.protocol,
      hostname: upstream.hostname,
      port: upstream.port,
      method: incoming.method,
      path: incoming.url,
      // The client's Host stays: Pebble builds its URLs from it and checks the JWS `url` against it.
      headers: incoming.headers,
      agent,
    },
    (response) => {
      if ((response.statusCode ?? 0) >= 400) tallyAtStart.errors += 1;
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const headers: Record<string, string | string[] | undefined> = { ...response.headers };
        for (const name of ['location', 'link']) {
          const value = headers[name];
          if (typeof value === 'string') headers[name] = rewrite(value);
          else if (Array.isArray(value)) headers[name] = value.map(rewrite);
        }
        let body = Buffer.concat(chunks);
        if (/json/.test(String(headers['content-type'] ?? ''))) {
          body = Buffer.from(rewrite(body.toString('utf8')), 'utf8');
        }
        delete headers['transfer-encoding'];
        headers['content-length'] = String(body.length);
        outgoing.writeHead(response.statusCode ?? 502, response.statusMessage, headers);
        outgoing.end(body);
      });
      response.on('error', (error) => outgoing.destroy(error));
    },
  );
  forwarded.on('error', (error) => {
    outgoing.writeHead(502, { 'content-type': 'text/plain' });
    outgoing.end(`counting proxy: ${error.message}`);
  });
  incoming.pipe(forwarded);
});

await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
proxyOrigin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

process.on('message', (message: ProxyRequest) => {
  const tally: RequestTally = { total: counts.total, errors: counts.errors, byPath: { ...counts.byPath } };
  if (message.reset) counts = { total: 0, errors: 0, byPath: {} };
  send({ type: 'tally', id: message.id, tally });
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready', directoryUrl: `${proxyOrigin}${upstream.pathname}`, caPem: tls.caPem });
