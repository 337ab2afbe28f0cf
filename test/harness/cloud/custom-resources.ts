import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createLoopbackTlsMaterial } from '../../support/tls-certificates.js';

/**
 * The pre-signed S3 URLs CloudFormation gives a custom resource to PUT its answer to, served on
 * loopback over HTTPS. One server per cloud; each request waits on its own path.
 */
export interface CustomResourceAnswer {
  readonly Status: 'SUCCESS' | 'FAILED';
  readonly Reason?: string;
  readonly PhysicalResourceId?: string;
  readonly Data?: Record<string, unknown>;
}

export class ResponseUrls {
  readonly #server: Server;
  readonly #waiting: Map<string, (answer: CustomResourceAnswer) => void>;
  readonly caPem: string;

  private constructor(
    server: Server,
    caPem: string,
    waiting: Map<string, (answer: CustomResourceAnswer) => void>,
  ) {
    this.#server = server;
    this.caPem = caPem;
    this.#waiting = waiting;
  }

  static async start(): Promise<ResponseUrls> {
    const tls = await createLoopbackTlsMaterial();
    const waiting = new Map<string, (answer: CustomResourceAnswer) => void>();
    const server = createServer({ cert: tls.certificatePem, key: tls.privateKeyPem }, (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const deliver = waiting.get(request.url ?? '');
        if (request.method !== 'PUT' || !deliver) {
          response.writeHead(403).end('<Error><Code>AccessDenied</Code></Error>');
          return;
        }
        waiting.delete(request.url ?? '');
        response.writeHead(200).end();
        try {
          deliver(JSON.parse(Buffer.concat(chunks).toString('utf8')) as CustomResourceAnswer);
        } catch {
          deliver({ Status: 'FAILED', Reason: 'The custom resource answered with a body that is not JSON' });
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    server.unref();
    return new ResponseUrls(server, tls.caPem, waiting);
  }

  /** The `host:port` the URLs point to. */
  get host(): string {
    return `localhost:${(this.#server.address() as AddressInfo).port}`;
  }

  /** A fresh URL and the answer PUT to it, or a failure once `timeoutSeconds` pass. */
  open(timeoutSeconds: number): { readonly url: string; readonly answer: Promise<CustomResourceAnswer> } {
    const path = `/cloudformation-custom-resource-response/${randomUUID()}`;
    const answer = new Promise<CustomResourceAnswer>((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(path);
        resolve({
          Status: 'FAILED',
          Reason: `CloudFormation did not receive a response from your Custom Resource within ${timeoutSeconds} seconds`,
        });
      }, timeoutSeconds * 1000);
      timer.unref();
      this.#waiting.set(path, (value) => {
        clearTimeout(timer);
        resolve(value);
      });
    });
    return { url: `https://${this.host}${path}`, answer };
  }

  close(): void {
    this.#server.close();
  }
}
