import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { NodeHttpsTransport } from '../../../lambdas/adapters/https-transport.js';

/**
 * The tracing module as Lambda runs it under active tracing: the X-Ray SDK in Lambda mode, a trace
 * header on the invocation, and a daemon, here a UDP socket that collects what the SDK sends.
 */

interface Subsegment {
  readonly id: string;
  readonly parent_id?: string;
  readonly trace_id?: string;
  readonly name: string;
  readonly annotations?: Record<string, unknown>;
  readonly error?: boolean;
  readonly fault?: boolean;
  readonly cause?: { readonly exceptions?: readonly { readonly type?: string }[] };
  readonly http?: {
    readonly request?: { readonly method?: string };
    readonly response?: { readonly status?: number };
  };
}

const TRACE_ID = '1-67891233-abcdef012345678912345678';
let daemon: Socket;
const received: Subsegment[] = [];
let server: Server;
let serverUrl: string;
let tracing: typeof import('../../../lambdas/adapters/tracing.mjs');

beforeAll(async () => {
  daemon = createSocket('udp4');
  daemon.on('message', (message) => {
    // Each datagram is a JSON header line, then the (sub)segment document.
    const document = message.toString('utf8').split('\n')[1];
    if (document) received.push(JSON.parse(document) as Subsegment);
  });
  await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve));
  // The CA's directory, and DynamoDB's JSON API for anything else.
  server = createServer((request, response) => {
    if (request.url === '/directory') response.end('ok');
    else response.setHeader('content-type', 'application/x-amz-json-1.0').end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  vi.stubEnv('AWS_EXECUTION_ENV', 'AWS_Lambda_nodejs22.x');
  vi.stubEnv('AWS_LAMBDA_INITIALIZATION_TYPE', 'on-demand');
  vi.stubEnv('LAMBDA_TASK_ROOT', '/var/task');
  vi.stubEnv('_X_AMZN_TRACE_ID', `Root=${TRACE_ID};Parent=53995c3f42cd8ad8;Sampled=1`);
  vi.stubEnv('AWS_XRAY_DAEMON_ADDRESS', `127.0.0.1:${daemon.address().port}`);
  vi.stubEnv('AWS_XRAY_CONTEXT_MISSING', 'LOG_ERROR');
  tracing = await import('../../../lambdas/adapters/tracing.mjs');
});

afterAll(async () => {
  vi.unstubAllEnvs();
  daemon.close();
  await new Promise((resolve) => server.close(resolve));
});

/**
 * The subsegment called `name` and the `children` subsegments under it, once the daemon has received
 * them all (in Lambda the SDK sends each subsegment on its own as it closes).
 */
async function sent(name: string, children = 0): Promise<{ handler?: Subsegment; children: Subsegment[] }> {
  const find = () => {
    const handler = received.find((entry) => entry.name === name);
    return { handler, children: received.filter((entry) => handler && entry.parent_id === handler.id) };
  };
  await vi.waitFor(() => {
    expect(find().handler).toBeDefined();
    expect(find().children).toHaveLength(children);
  });
  return find();
}

describe('traceInvocation', () => {
  it('runs an invocation in an annotated subsegment holding its CA requests and AWS calls', async () => {
    const dynamoDb = tracing.captureClient(
      new DynamoDBClient({
        region: 'us-east-1',
        endpoint: serverUrl,
        credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      }),
    );
    const transport = new NodeHttpsTransport({ allowInsecureHttp: true });

    const status = await tracing.traceInvocation('Finalize', { certificateId: 'www' }, async () => {
      await dynamoDb.send(new GetItemCommand({ TableName: 'registry', Key: {} }));
      return (await transport.request({ method: 'GET', url: `${serverUrl}/directory`, headers: {} })).status;
    });

    expect(status).toBe(200);
    const { handler, children } = await sent('## Finalize', 2);
    expect(handler?.trace_id).toBe(TRACE_ID);
    expect(handler?.annotations).toMatchObject({
      ColdStart: true,
      Service: 'acme-aws',
      certificateId: 'www',
    });
    expect(children.map((entry) => entry.name).sort()).toEqual(['127.0.0.1', 'DynamoDB']);
    const ca = children.find((entry) => entry.name === '127.0.0.1');
    expect(ca?.http).toMatchObject({ request: { method: 'GET' }, response: { status: 200 } });
  });

  it('records the error of a failed invocation and rethrows it unchanged', async () => {
    const failure = Object.assign(new Error('nonce rejected'), { name: 'BadNonceError' });

    await expect(tracing.traceInvocation('AnswerChallenges', {}, () => Promise.reject(failure))).rejects.toBe(
      failure,
    );

    const { handler } = await sent('## AnswerChallenges');
    expect(handler?.annotations).toMatchObject({ ColdStart: false });
    expect(handler?.fault ?? handler?.error).toBe(true);
    expect(handler?.cause?.exceptions?.[0]?.type).toBe('BadNonceError');
  });
});
