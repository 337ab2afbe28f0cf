import { randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { buildSync } from 'esbuild';
import type {
  EnvironmentData,
  FromEnvironment,
  FunctionError,
  HttpEvent,
  InvocationContext,
  SdkCall,
  SdkErrorShape,
  ToEnvironment,
} from './protocol.js';
import { BODY_BYTES } from './protocol.js';

/**
 * A local AWS Lambda for the functions of a synthesized stack: each function runs its bundled
 * asset from the cloud assembly in execution environments (worker threads) that get the
 * function's environment variables, role credentials and timeout, and report results and errors
 * the way Lambda does.
 *
 * - **Environments.** An invocation takes an idle environment of its function or starts one (a
 *   cold start: a fresh module graph, as a new Lambda sandbox). Concurrent invocations get
 *   separate environments, as on Lambda. A timeout, an unhandled rejection or an init failure
 *   discards the environment.
 * - **Errors.** A thrown error becomes the runtime's error payload `{ errorType, errorMessage,
 *   trace }`, with `errorType` the error's `name`.
 * - **Timeouts.** A function still running at its timeout is stopped, and the invocation fails
 *   with the payload Lambda reports for it: `{"errorType":"Sandbox.Timedout","errorMessage":
 *   "RequestId: <id> Error: Task timed out after <n>.00 seconds"}` (AWS Lambda Developer Guide,
 *   "Troubleshoot invocation issues in Lambda", section "Sandbox.Timedout":
 *   https://docs.aws.amazon.com/lambda/latest/dg/troubleshooting-invocation.html#troubleshooting-timeouts).
 * - **Responses** are JSON, as Lambda serializes them, and at most 6 MB for a synchronous
 *   invocation ("Lambda quotas": https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
 */

const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** Lambda's synchronous response payload quota: 6 MB. */
const MAX_RESPONSE_BYTES = 6 * 1024 * 1024;

/** One deployed function, with everything from the template resolved. */
export interface LocalFunction {
  readonly logicalId: string;
  readonly functionName: string;
  readonly functionArn: string;
  readonly roleArn: string;
  /** `index.handler` */
  readonly handler: string;
  /** e.g. `nodejs22.x` */
  readonly runtime: string;
  readonly timeoutSeconds: number;
  readonly memorySize: number;
  /** The function's asset folder in the cloud assembly. */
  readonly codeDirectory: string;
  /** The function's environment variables, as the template sets them. */
  readonly environment: Readonly<Record<string, string>>;
  readonly logGroupName: string;
}

/** What an invocation returned: a JSON payload, or the function's error payload. */
export type InvokeOutcome =
  | { readonly ok: true; readonly payload: unknown; readonly coldStart: boolean; readonly durationMs: number }
  | {
      readonly ok: false;
      readonly error: FunctionError;
      readonly coldStart: boolean;
      readonly durationMs: number;
    };

/** The credentials a function's environment signs with, and who they belong to. */
export interface RoleCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
}

/** Serves one SDK call: returns the output, or throws the error the service answered with. */
export type SdkCallHandler = (call: SdkCall, caller: LocalFunction) => Promise<unknown>;

export interface LambdaServiceOptions {
  readonly region: string;
  readonly handleSdkCall: SdkCallHandler;
  /** Session credentials for a function's role, as Lambda puts them in the environment. */
  readonly credentialsFor: (fn: LocalFunction) => RoleCredentials;
  /**
   * Variables the local network needs on top of the template's (the local CA's bundle, the DNS
   * resolvers that stand in for the VPC resolver). They are not the function's configuration,
   * so they do not count toward its 4 KB quota.
   */
  readonly networkEnvironment?: Readonly<Record<string, string>>;
  /** A CA every environment trusts for one host, as it trusts S3's certificate on AWS. */
  readonly extraCa?: { readonly pem: string; readonly host: string };
  /** Each HTTP request a function sends outside AWS, and its response status. */
  readonly onHttp?: (fn: LocalFunction, exchange: HttpEvent) => void;
  /** Each line a function writes, as CloudWatch Logs would receive it. */
  readonly onLog?: (fn: LocalFunction, stream: 'stdout' | 'stderr', text: string) => void;
}

interface Environment {
  readonly worker: Worker;
  readonly fn: LocalFunction;
  readonly ready: Promise<FunctionError | undefined>;
  busy: boolean;
  /** Set when the environment must not take another invocation. */
  discarded: boolean;
  onMessage?: (message: FromEnvironment) => void;
  onExit?: (code: number) => void;
  logStreamName: string;
}

let runtimeRoot: string | undefined;

/**
 * The folder environments run in, outside the project so that a bundle resolves only what the
 * Lambda runtime provides: `node_modules/@aws-sdk` (linked to the project's SDK, which the fakes
 * intercept) and nothing else.
 */
function prepareRuntimeRoot(): string {
  if (runtimeRoot) return runtimeRoot;
  const root = join(tmpdir(), `acme-aws-lambda-${process.pid}`);
  rmSync(root, { recursive: true, force: true });
  process.once('exit', () => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'node_modules'), { recursive: true });
  symlinkSync(join(PROJECT_ROOT, 'node_modules', '@aws-sdk'), join(root, 'node_modules', '@aws-sdk'), 'dir');
  buildSync({
    entryPoints: [fileURLToPath(new URL('./bootstrap.ts', import.meta.url))],
    outfile: join(root, 'bootstrap.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
  });
  runtimeRoot = root;
  return root;
}

export class LocalLambdaService {
  readonly #options: LambdaServiceOptions;
  readonly #functions = new Map<string, LocalFunction>();
  readonly #environments = new Map<string, Environment[]>();
  /** Invocations per function name, cold starts included. */
  readonly invocations: Record<string, number> = {};
  readonly coldStarts: Record<string, number> = {};

  constructor(options: LambdaServiceOptions) {
    this.#options = options;
  }

  /** Creates or updates a function. An update discards its warm environments, as Lambda does. */
  deploy(fn: LocalFunction): void {
    const previous = this.#functions.get(fn.functionName);
    if (previous && JSON.stringify(previous) === JSON.stringify(fn)) return;
    this.#discardEnvironments(fn.functionName);
    this.#functions.set(fn.functionName, fn);
  }

  /** Deletes a function and its environments. */
  remove(functionName: string): void {
    this.#discardEnvironments(functionName);
    this.#functions.delete(functionName);
  }

  function(nameOrArn: string): LocalFunction | undefined {
    const name = nameOrArn.startsWith('arn:') ? nameOrArn.split(':')[6] : nameOrArn;
    return name ? this.#functions.get(name) : undefined;
  }

  get functions(): readonly LocalFunction[] {
    return [...this.#functions.values()];
  }

  /** Invokes a function synchronously (RequestResponse), as Step Functions and CloudFormation do. */
  async invoke(functionNameOrArn: string, event: unknown): Promise<InvokeOutcome> {
    const fn = this.function(functionNameOrArn);
    if (!fn) {
      throw Object.assign(new Error(`Function not found: ${functionNameOrArn}`), {
        name: 'ResourceNotFoundException',
      });
    }
    this.invocations[fn.functionName] = (this.invocations[fn.functionName] ?? 0) + 1;
    const started = Date.now();
    const requestId = randomUUID();
    let environment = this.#environments.get(fn.functionName)?.find((candidate) => !candidate.busy);
    const coldStart = environment === undefined;
    environment ??= this.#startEnvironment(fn);
    environment.busy = true;
    // An idle environment must not keep the process alive; a busy one must.
    environment.worker.ref();
    const finish = (outcome: { ok: true; payload: unknown } | { ok: false; error: FunctionError }) =>
      ({ ...outcome, coldStart, durationMs: Date.now() - started }) as InvokeOutcome;
    try {
      const deadlineMs = Date.now() + fn.timeoutSeconds * 1000;
      const initError = await Promise.race([environment.ready, timeoutAfter(deadlineMs)]);
      if (initError === 'timeout') {
        this.#discard(environment);
        return finish({ ok: false, error: timedOut(requestId, fn.timeoutSeconds) });
      }
      if (initError) {
        this.#discard(environment);
        return finish({ ok: false, error: initError });
      }
      const outcome = await this.#run(environment, event, {
        awsRequestId: requestId,
        functionName: fn.functionName,
        functionVersion: '$LATEST',
        invokedFunctionArn: fn.functionArn,
        memoryLimitInMB: String(fn.memorySize),
        logGroupName: fn.logGroupName,
        logStreamName: environment.logStreamName,
        deadlineMs,
      });
      return finish(outcome);
    } finally {
      environment.busy = false;
      environment.worker.unref();
    }
  }

  /** Stops every environment. */
  async shutdown(): Promise<void> {
    const workers = [...this.#environments.values()]
      .flat()
      .map((environment) => environment.worker.terminate());
    this.#environments.clear();
    await Promise.allSettled(workers);
  }

  #run(
    environment: Environment,
    event: unknown,
    context: InvocationContext,
  ): Promise<{ ok: true; payload: unknown } | { ok: false; error: FunctionError }> {
    const { fn } = environment;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#discard(environment);
        resolve({ ok: false, error: timedOut(context.awsRequestId, fn.timeoutSeconds) });
      }, context.deadlineMs - Date.now());
      const settle = (outcome: { ok: true; payload: unknown } | { ok: false; error: FunctionError }) => {
        clearTimeout(timer);
        environment.onMessage = undefined;
        environment.onExit = undefined;
        this.#log(fn, 'stdout', `END RequestId: ${context.awsRequestId}\n`);
        resolve(outcome);
      };
      environment.onMessage = (message) => {
        if (message.type === 'response') {
          if (Buffer.byteLength(message.payload) > MAX_RESPONSE_BYTES) {
            settle({
              ok: false,
              error: {
                errorType: 'Function.ResponseSizeTooLarge',
                errorMessage: `Response payload size exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`,
              },
            });
            return;
          }
          settle({ ok: true, payload: JSON.parse(message.payload) });
        } else if (message.type === 'error') {
          settle({ ok: false, error: message.error });
        } else if (message.type === 'fatal') {
          this.#discard(environment);
          settle({ ok: false, error: message.error });
        }
      };
      environment.onExit = (code) => {
        this.#discard(environment);
        settle({
          ok: false,
          error: {
            errorType: 'Runtime.ExitError',
            errorMessage: `RequestId: ${context.awsRequestId} Error: Runtime exited with error: exit status ${code}`,
          },
        });
      };
      this.#log(fn, 'stdout', `START RequestId: ${context.awsRequestId} Version: $LATEST\n`);
      post(environment, { type: 'invoke', event, context, clockOffsetMs: clockOffsetMs() });
    });
  }

  #startEnvironment(fn: LocalFunction): Environment {
    this.coldStarts[fn.functionName] = (this.coldStarts[fn.functionName] ?? 0) + 1;
    const root = prepareRuntimeRoot();
    const credentials = this.#options.credentialsFor(fn);
    const data: EnvironmentData = {
      taskRoot: this.#taskRoot(root, fn),
      handler: fn.handler,
      runtimeModules: PROJECT_ROOT,
      ...(this.#options.extraCa ? { extraCa: this.#options.extraCa } : {}),
    };
    const logStreamName = `${new Date().toISOString().slice(0, 10).replaceAll('-', '/')}/[$LATEST]${randomUUID().replaceAll('-', '')}`;
    const worker = new Worker(join(root, 'bootstrap.mjs'), {
      workerData: data,
      execArgv: [],
      stdout: true,
      stderr: true,
      env: {
        // What Lambda sets in every Node.js environment ("Defined runtime environment variables").
        AWS_REGION: this.#options.region,
        AWS_DEFAULT_REGION: this.#options.region,
        AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
        AWS_LAMBDA_FUNCTION_NAME: fn.functionName,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySize),
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        // On-demand, not provisioned concurrency or SnapStart: what Powertools reads for `cold_start`.
        AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
        AWS_LAMBDA_LOG_GROUP_NAME: fn.logGroupName,
        AWS_LAMBDA_LOG_STREAM_NAME: logStreamName,
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
        AWS_SESSION_TOKEN: credentials.sessionToken,
        LAMBDA_TASK_ROOT: data.taskRoot,
        LAMBDA_RUNTIME_DIR: root,
        _HANDLER: fn.handler,
        TZ: ':UTC',
        // Any SDK call that escaped the fakes would fail here at once instead of reaching AWS.
        AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
        ...this.#options.networkEnvironment,
        ...fn.environment,
      },
    });
    const environment: Environment = {
      worker,
      fn,
      busy: false,
      discarded: false,
      logStreamName,
      ready: new Promise((resolve) => {
        worker.once('error', (error) =>
          resolve({ errorType: 'Runtime.ExitError', errorMessage: String(error) }),
        );
        const onReady = (message: FromEnvironment) => {
          if (message.type === 'ready') resolve(undefined);
          else if (message.type === 'init-error') resolve(message.error);
          else return;
          worker.off('message', onReady);
        };
        worker.on('message', onReady);
      }),
    };
    worker.on('message', (message: FromEnvironment) => {
      if (message.type === 'log') this.#log(fn, message.stream, message.text);
      else if (message.type === 'http') this.#options.onHttp?.(fn, message.exchange);
      else if (message.type === 'sdk-call') void this.#serve(environment, message.call);
      else environment.onMessage?.(message);
    });
    worker.on('exit', (code) => environment.onExit?.(code));
    // Nothing else writes to the worker's own stdio; drain it so it can never block.
    worker.stdout.resume();
    worker.stderr.resume();
    worker.unref();
    const list = this.#environments.get(fn.functionName) ?? [];
    list.push(environment);
    this.#environments.set(fn.functionName, list);
    return environment;
  }

  /**
   * The function's code unpacked under the runtime root, as into `/var/task`: once per asset (the
   * folder is named by the asset's hash), read-only, and shared by the functions that ship it.
   */
  #taskRoot(root: string, fn: LocalFunction): string {
    const taskRoot = join(root, 'tasks', basename(fn.codeDirectory));
    if (!existsSync(taskRoot)) cpSync(fn.codeDirectory, taskRoot, { recursive: true });
    return taskRoot;
  }

  async #serve(environment: Environment, call: SdkCall): Promise<void> {
    try {
      const output = await this.#options.handleSdkCall(call, environment.fn);
      post(environment, { type: 'sdk-result', id: call.id, output: await transferable(output) });
    } catch (error) {
      post(environment, { type: 'sdk-error', id: call.id, error: errorShape(error) });
    }
  }

  #log(fn: LocalFunction, stream: 'stdout' | 'stderr', text: string): void {
    this.#options.onLog?.(fn, stream, text);
  }

  #discard(environment: Environment): void {
    environment.discarded = true;
    const list = this.#environments.get(environment.fn.functionName) ?? [];
    this.#environments.set(
      environment.fn.functionName,
      list.filter((candidate) => candidate !== environment),
    );
    void environment.worker.terminate();
  }

  #discardEnvironments(functionName: string): void {
    for (const environment of this.#environments.get(functionName) ?? []) void environment.worker.terminate();
    this.#environments.delete(functionName);
  }
}

/**
 * How far this process's `Date` is ahead of the real clock: a test that fakes `Date` to move a
 * day forward moves the functions' clock with it, as if the day had passed on AWS.
 */
function clockOffsetMs(): number {
  return Date.now() - (performance.timeOrigin + performance.now());
}

function post(environment: Environment, message: ToEnvironment): void {
  if (environment.discarded) return;
  environment.worker.postMessage(message);
}

function timeoutAfter(deadlineMs: number): Promise<'timeout'> {
  return new Promise((resolve) => {
    setTimeout(() => resolve('timeout'), Math.max(0, deadlineMs - Date.now())).unref();
  });
}

/** The payload Lambda reports for an invocation that outlived the function's timeout. */
function timedOut(requestId: string, timeoutSeconds: number): FunctionError {
  return {
    errorType: 'Sandbox.Timedout',
    errorMessage: `RequestId: ${requestId} Error: Task timed out after ${timeoutSeconds.toFixed(2)} seconds`,
  };
}

/** An SDK output made safe to post: a response body becomes bytes. */
async function transferable(output: unknown): Promise<unknown> {
  if (typeof output !== 'object' || output === null || !('Body' in output)) return output;
  const { Body: body, ...rest } = output as { Body?: { transformToByteArray?: () => Promise<Uint8Array> } };
  if (!body?.transformToByteArray) return output;
  return { ...rest, [BODY_BYTES]: await body.transformToByteArray() };
}

/** An SDK error reduced to its name, message and data fields (no functions, no raw response). */
function errorShape(error: unknown): SdkErrorShape {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error), fields: {} };
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(error)) {
    if (key === '$response' || typeof value === 'function') continue;
    try {
      fields[key] = structuredClone(value);
    } catch {
      // Not transferable; the SDK never needs such a field to classify an error.
    }
  }
  return { name: error.name, message: error.message, fields };
}
