/**
 * Messages between the local Lambda service (the test process) and one execution environment
 * (a worker thread running `bootstrap.ts` with a function's bundle). Everything goes through one
 * port, so a function's log lines arrive before the response they precede.
 */

/** What the worker is started with. */
export interface EnvironmentData {
  /** The folder the function's code was unpacked into (Lambda's `/var/task`). */
  readonly taskRoot: string;
  /** The function's handler setting, `<module>.<export>` (e.g. `index.handler`). */
  readonly handler: string;
  /** A folder whose `require` finds `@smithy/core`, the SDK the runtime provides. */
  readonly runtimeModules: string;
  /** A CA the environment trusts for one host, beyond Node's own roots (the local S3 that custom resources answer). */
  readonly extraCa?: { readonly pem: string; readonly host: string };
}

/** Lambda's context object fields that travel; `getRemainingTimeInMillis` is rebuilt from the deadline. */
export interface InvocationContext {
  readonly awsRequestId: string;
  readonly functionName: string;
  readonly functionVersion: string;
  readonly invokedFunctionArn: string;
  readonly memoryLimitInMB: string;
  readonly logGroupName: string;
  readonly logStreamName: string;
  /** Epoch milliseconds at which the invocation times out. */
  readonly deadlineMs: number;
}

/** An error as the Lambda runtime reports it: the invocation's error payload. */
export interface FunctionError {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly trace?: readonly string[];
}

/** One AWS SDK call the function made, sent to the test process to be authorized and served. */
export interface SdkCall {
  readonly id: number;
  /** The client class, e.g. `KMSClient`. */
  readonly client: string;
  /** The command class, e.g. `SignCommand`. */
  readonly command: string;
  readonly input: unknown;
  readonly region: string;
  readonly credentials: {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly sessionToken?: string;
  };
}

/** An SDK error reduced to what crosses the thread boundary. */
export interface SdkErrorShape {
  readonly name: string;
  readonly message: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

/** A response body (S3 `Body`) travels as bytes and becomes an SDK stream again in the worker. */
export const BODY_BYTES = '__bodyBytes';

export type ToEnvironment =
  | {
      readonly type: 'invoke';
      readonly event: unknown;
      readonly context: InvocationContext;
      /** How far the cloud's clock is ahead of the real one (a test that moves time forward). */
      readonly clockOffsetMs: number;
    }
  | { readonly type: 'sdk-result'; readonly id: number; readonly output: unknown }
  | { readonly type: 'sdk-error'; readonly id: number; readonly error: SdkErrorShape };

export type FromEnvironment =
  | { readonly type: 'ready' }
  | { readonly type: 'init-error'; readonly error: FunctionError }
  | { readonly type: 'log'; readonly stream: 'stdout' | 'stderr'; readonly text: string }
  /** An HTTP request the function sent (to the CA), and later its response status. */
  | { readonly type: 'http'; readonly exchange: HttpEvent }
  | { readonly type: 'response'; readonly payload: string }
  | { readonly type: 'error'; readonly error: FunctionError }
  /** An error that ends the process (an unhandled rejection): the environment is discarded. */
  | { readonly type: 'fatal'; readonly error: FunctionError }
  | { readonly type: 'sdk-call'; readonly call: SdkCall };

export type HttpEvent =
  | { readonly phase: 'request'; readonly method: string; readonly host: string; readonly path: string }
  | { readonly phase: 'response'; readonly path: string; readonly status: number };
