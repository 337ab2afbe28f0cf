import diagnosticsChannel from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { types } from 'node:util';
import { parentPort, workerData } from 'node:worker_threads';
import {
  BODY_BYTES,
  type EnvironmentData,
  type FromEnvironment,
  type FunctionError,
  type InvocationContext,
  type SdkCall,
  type ToEnvironment,
} from './protocol.js';

/**
 * One Lambda execution environment, run in a worker thread: what the Node.js runtime interface
 * client does in `/var/runtime`, reduced to what our functions can observe.
 *
 * - The handler module is imported by file URL from the task root, as the runtime imports
 *   `/var/task/index.mjs`; bare imports resolve only to what the runtime provides (`@aws-sdk/*`).
 * - Every AWS SDK call, of any client, leaves through `send` to the test process, which authorizes
 *   it against the function's role and serves it from the fakes. Nothing reaches the network.
 * - Results are JSON-serialized, as Lambda returns them; errors are reported with the runtime's
 *   `errorType` / `errorMessage` / `trace` (errorType is the error's `name`; for a non-Error
 *   value, its `typeof`).
 */

const data = workerData as EnvironmentData;
const port = parentPort;
if (!port) throw new Error('bootstrap runs only as a worker thread');

function post(message: FromEnvironment): void {
  port?.postMessage(message);
}

// The function's output goes where Lambda sends it (the log group), through the same port as its
// response, so no line is lost or reordered; Console objects look `write` up on each call.
for (const stream of ['stdout', 'stderr'] as const) {
  process[stream].write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    post({
      type: 'log',
      stream,
      text: typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'),
    });
    const done = rest.find((argument) => typeof argument === 'function') as (() => void) | undefined;
    done?.();
    return true;
  }) as typeof process.stdout.write;
}

// The SDK warns that Node.js 20 will be unsupported; Lambda runs the bundles on nodejs22.x, where
// it stays silent, so the local Node.js version must not add that line to the function's logs.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const text = typeof warning === 'string' ? warning : `${warning.name}: ${warning.message}`;
  if (text.startsWith('NodeVersionSupportWarning')) return;
  (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

// HTTP outside AWS (the CA) is counted by the test process, as a proxy in front of the CA would.
diagnosticsChannel.subscribe('http.client.request.start', (message) => {
  const request = (message as { request: ClientRequest }).request;
  post({
    type: 'http',
    exchange: {
      phase: 'request',
      method: request.method,
      host: String(request.getHeader('host')),
      path: request.path,
    },
  });
});
diagnosticsChannel.subscribe('http.client.response.finish', (message) => {
  const { request, response } = message as { request: ClientRequest; response: { statusCode?: number } };
  post({
    type: 'http',
    exchange: { phase: 'response', path: request.path, status: response.statusCode ?? 0 },
  });
});

function isErrorLike(value: unknown): value is Error {
  if (types.isNativeError(value)) return true;
  const candidate = value as { name?: unknown; message?: unknown; stack?: unknown } | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.name === 'string' &&
    typeof candidate.message === 'string' &&
    typeof candidate.stack === 'string'
  );
}

/** The error payload the runtime reports for a thrown value. */
function toFunctionError(value: unknown): FunctionError {
  if (isErrorLike(value)) {
    return {
      errorType: value.name || 'Error',
      errorMessage: value.message || '',
      trace: (value.stack ?? '').split('\n'),
    };
  }
  return { errorType: typeof value, errorMessage: String(value), trace: [] };
}

// ---- AWS SDK calls leave through the test process ----

const pending = new Map<number, { resolve(value: unknown): void; reject(error: unknown): void }>();
let nextCallId = 1;

const runtimeRequire = createRequire(join(data.runtimeModules, 'package.json'));
const { Client } = runtimeRequire('@smithy/core/client') as {
  Client: { prototype: { send: (...args: unknown[]) => unknown } };
};
const { sdkStreamMixin } = runtimeRequire('@smithy/core/serde') as {
  sdkStreamMixin: (stream: unknown) => unknown;
};
const { Readable } = runtimeRequire('node:stream') as typeof import('node:stream');

interface ClientShape {
  readonly constructor: { readonly name: string };
  readonly config: {
    readonly region?: unknown;
    readonly credentials?: unknown;
  };
}

async function resolveValue(value: unknown): Promise<unknown> {
  return typeof value === 'function' ? await (value as () => unknown)() : value;
}

async function forward(client: ClientShape, command: { constructor: { name: string }; input: unknown }) {
  const credentials = (await resolveValue(client.config.credentials)) as SdkCall['credentials'] | undefined;
  if (!credentials?.accessKeyId) throw new Error('The SDK client resolved no credentials');
  const id = nextCallId++;
  const call: SdkCall = {
    id,
    client: client.constructor.name,
    command: command.constructor.name,
    input: command.input,
    region: String(await resolveValue(client.config.region)),
    credentials: {
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.secretAccessKey,
      ...(credentials.sessionToken ? { sessionToken: credentials.sessionToken } : {}),
    },
  };
  const answer = new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
  post({ type: 'sdk-call', call });
  return answer;
}

Client.prototype.send = function send(
  this: ClientShape,
  command: unknown,
  optionsOrCallback?: unknown,
  cb?: unknown,
) {
  const callback = (typeof optionsOrCallback === 'function' ? optionsOrCallback : cb) as
    | ((error: unknown, output?: unknown) => void)
    | undefined;
  const promise = forward(this, command as { constructor: { name: string }; input: unknown });
  if (!callback) return promise;
  promise.then(
    (output) => callback(null, output),
    (error) => callback(error),
  );
  return undefined;
};

function reviveOutput(output: unknown): unknown {
  if (typeof output !== 'object' || output === null || !(BODY_BYTES in output)) return output;
  const { [BODY_BYTES]: bytes, ...rest } = output as Record<string, unknown>;
  return { ...rest, Body: sdkStreamMixin(Readable.from([Buffer.from(bytes as Uint8Array)])) };
}

// ---- Init and invocations ----

type Handler = (event: unknown, context: unknown, callback?: unknown) => unknown;

/**
 * Trusts `pem` for HTTPS requests to `host` only (the local stand-in for S3's pre-signed URLs),
 * next to Node's own roots, leaving every other request's trust as the function set it.
 */
function trustExtraCa(pem: string, host: string): void {
  const https = runtimeRequire('node:https') as typeof import('node:https');
  const tls = runtimeRequire('node:tls') as typeof import('node:tls');
  const { syncBuiltinESMExports } = runtimeRequire('node:module') as typeof import('node:module');
  const original = https.request;
  https.request = ((...args: unknown[]) => {
    const [first, second] = args;
    const target = first instanceof URL || typeof first === 'string' ? new URL(String(first)) : undefined;
    if (target?.host === host) {
      const options =
        typeof second === 'object' && second !== null ? (second as Record<string, unknown>) : {};
      const rest = typeof second === 'object' && second !== null ? args.slice(2) : args.slice(1);
      return (original as (...a: unknown[]) => unknown)(
        first,
        { ...options, ca: [...tls.rootCertificates, pem] },
        ...rest,
      );
    }
    return (original as (...a: unknown[]) => unknown)(...args);
  }) as typeof https.request;
  syncBuiltinESMExports();
}

async function init(): Promise<Handler> {
  if (data.extraCa) trustExtraCa(data.extraCa.pem, data.extraCa.host);
  const separator = data.handler.lastIndexOf('.');
  const moduleName = data.handler.slice(0, separator);
  const exportName = data.handler.slice(separator + 1);
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(join(data.taskRoot, `${moduleName}.mjs`)).href)) as Record<
      string,
      unknown
    >;
  } catch (error) {
    throw Object.assign(new Error(`${isErrorLike(error) ? `${error.name}: ${error.message}` : error}`), {
      name: 'Runtime.ImportModuleError',
    });
  }
  const handler = module[exportName];
  if (typeof handler !== 'function') {
    throw Object.assign(new Error(`${data.handler} is undefined or not exported`), {
      name: 'Runtime.HandlerNotFound',
    });
  }
  return handler as Handler;
}

function lambdaContext(context: InvocationContext) {
  return {
    ...context,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, context.deadlineMs - Date.now()),
  };
}

async function invoke(handler: Handler, event: unknown, context: InvocationContext): Promise<void> {
  try {
    const result = await new Promise((resolve, reject) => {
      const returned = handler(event, lambdaContext(context), (error: unknown, value: unknown) =>
        error ? reject(error) : resolve(value),
      );
      if (returned && typeof (returned as Promise<unknown>).then === 'function')
        (returned as Promise<unknown>).then(resolve, reject);
    });
    post({ type: 'response', payload: JSON.stringify(result ?? null) });
  } catch (error) {
    post({ type: 'error', error: toFunctionError(error) });
  }
}

process.on('unhandledRejection', (reason) => {
  const error = toFunctionError(reason);
  post({
    type: 'fatal',
    error: {
      errorType: 'Runtime.UnhandledPromiseRejection',
      errorMessage: `${error.errorType}: ${error.errorMessage}`,
      trace: error.trace,
    },
  });
});

const ready = init();
ready.then(
  () => post({ type: 'ready' }),
  (error: unknown) => post({ type: 'init-error', error: toFunctionError(error) }),
);

// The cloud's clock, which a test may have moved ahead of the real one.
let clockOffsetMs = 0;
const RealDate = Date;
class CloudDate extends RealDate {
  constructor(...args: unknown[]) {
    if (args.length === 0) super(RealDate.now() + clockOffsetMs);
    else super(...(args as [string | number | Date]));
  }
  static override now(): number {
    return RealDate.now() + clockOffsetMs;
  }
}
globalThis.Date = CloudDate as DateConstructor;

port.on('message', (message: ToEnvironment) => {
  if (message.type === 'invoke') {
    clockOffsetMs = Math.abs(message.clockOffsetMs) < 1000 ? 0 : message.clockOffsetMs;
    void ready.then((handler) => invoke(handler, message.event, message.context));
    return;
  }
  const waiting = pending.get(message.id);
  if (!waiting) return;
  pending.delete(message.id);
  if (message.type === 'sdk-result') waiting.resolve(reviveOutput(message.output));
  else
    waiting.reject(
      Object.assign(new Error(message.error.message), message.error.fields, { name: message.error.name }),
    );
});
