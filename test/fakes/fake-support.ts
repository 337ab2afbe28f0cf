import { randomUUID } from 'node:crypto';

/**
 * Shared plumbing for the SDK-boundary fakes: errors shaped like the ones the SDK deserializes
 * (real `ServiceException` subclasses with `$fault`, `$metadata` and, for throttling,
 * `$retryable`), per-command call counters, and a queue of injected failures.
 */

/** Constructor of a client's service exception base class, e.g. `KMSServiceException`. */
export type ServiceExceptionClass = new (options: {
  name: string;
  $fault: 'client' | 'server';
  $metadata: { httpStatusCode?: number; requestId?: string; attempts?: number; totalRetryDelay?: number };
  message?: string;
}) => Error & { $retryable?: { throttling?: boolean } };

/** Error names treated as throttling: they carry `$retryable: { throttling: true }`. */
const THROTTLING_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'SlowDown',
]);

/** Error names that AWS reports as server faults (HTTP 5xx). */
const SERVER_FAULT_STATUS: Readonly<Record<string, number>> = {
  KMSInternalException: 500,
  InternalFailure: 500,
  InternalError: 500,
  InternalServerError: 500,
  InternalServiceError: 500,
  ServiceUnavailable: 503,
  ServiceUnavailableException: 503,
  SlowDown: 503,
};

export interface AwsErrorSpec {
  readonly name: string;
  readonly message?: string;
  /** @default 500 or 503 for server faults, 400 otherwise */
  readonly httpStatusCode?: number;
}

/**
 * Builds the error the SDK would throw for `spec`, as an instance of the service's exception
 * class, so code under test sees exactly what production sees: `name`, `$fault`, `$metadata`
 * (with a request id and the HTTP status), and `$retryable` for throttling.
 */
export function awsError(ServiceException: ServiceExceptionClass, spec: AwsErrorSpec): Error {
  const status = spec.httpStatusCode ?? SERVER_FAULT_STATUS[spec.name] ?? 400;
  const error = new ServiceException({
    name: spec.name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status, requestId: randomUUID(), attempts: 1, totalRetryDelay: 0 },
    message: spec.message ?? spec.name,
  });
  if (THROTTLING_NAMES.has(spec.name)) error.$retryable = { throttling: true };
  return error;
}

/** Accepts `Sign` and `SignCommand` alike. */
export function commandName(command: string): string {
  return command.endsWith('Command') ? command.slice(0, -'Command'.length) : command;
}

/**
 * Call counters and injected failures for one fake. `run` counts the call (failed ones too,
 * as the real service bills and throttles them), throws a queued failure if one is due, and
 * otherwise runs the handler.
 */
export class FakeCommandRunner {
  /** Calls received per command name (`Sign`, `PutObject`, ...), including failed ones. */
  readonly calls: Record<string, number> = {};
  /** Every request in order, with its input as the client sent it. */
  readonly requests: { readonly command: string; readonly input: unknown }[] = [];
  readonly #failures = new Map<string, { errorName: string; remaining: number }[]>();
  readonly #ServiceException: ServiceExceptionClass;

  constructor(ServiceException: ServiceExceptionClass) {
    this.#ServiceException = ServiceException;
  }

  /** Makes the next `times` calls of `command` throw an error named `errorName`. */
  failNext(command: string, errorName: string, times = 1): void {
    const name = commandName(command);
    const queue = this.#failures.get(name) ?? [];
    queue.push({ errorName, remaining: times });
    this.#failures.set(name, queue);
  }

  async run<T>(command: string, input: unknown, handler: () => T | Promise<T>): Promise<T> {
    this.calls[command] = (this.calls[command] ?? 0) + 1;
    this.requests.push({ command, input });
    const queue = this.#failures.get(command);
    const due = queue?.[0];
    if (queue && due) {
      due.remaining -= 1;
      if (due.remaining <= 0) queue.shift();
      throw awsError(this.#ServiceException, {
        name: due.errorName,
        message: `Injected ${due.errorName} for ${command}`,
      });
    }
    return handler();
  }

  /** Throws a service error from inside a handler. */
  fail(spec: AwsErrorSpec): never {
    throw awsError(this.#ServiceException, spec);
  }

  /** The inputs of every `command` request so far, oldest first. */
  inputsOf<T>(command: string): T[] {
    const name = commandName(command);
    return this.requests.filter((request) => request.command === name).map((request) => request.input as T);
  }
}

/** Reads an SDK blob input, which callers may pass as bytes or (at runtime) as a string. */
export function blobText(value: Uint8Array | string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : Buffer.from(value).toString('utf8');
}
