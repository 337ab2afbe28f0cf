import { randomUUID } from 'node:crypto';
import {
  EventBridgeClient,
  EventBridgeServiceException,
  PutEventsCommand,
  type PutEventsCommandInput,
  type PutEventsCommandOutput,
  type PutEventsRequestEntry,
  type PutEventsResultEntry,
} from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { FakeCommandRunner, type ServiceExceptionClass } from './fake-support.js';

/**
 * An in-memory Amazon EventBridge at the SDK boundary, for unit tests, the e2e state machine and
 * the demo. `PutEvents` validates like EventBridge does: a bad request (no entries, more than 10,
 * an entry or the entries together too large) throws `ValidationException`, while a bad entry
 * fails on its own with HTTP 200, an `ErrorCode` on the result entry and `FailedEntryCount`, which
 * callers must check.
 *
 * Sizes follow "Calculating Amazon EventBridge PutEvents event entry size" (EventBridge User
 * Guide, https://docs.aws.amazon.com/eventbridge/latest/userguide/calculate-putevents-entry-size.html):
 * `Time`, if specified, counts 14 bytes; `Source` and `DetailType` their UTF-8 bytes; `Detail`,
 * if specified, its UTF-8 bytes; and each `Resources` entry its UTF-8 bytes. The formula leaves
 * out `EventBusName` and `TraceHeader`, and so does the fake.
 * An oversized entry fails the whole call: the per-entry error codes EventBridge documents
 * (PutEventsResultEntry, EventBridge API Reference,
 * https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsResultEntry.html)
 * include none for size, and the size page limits "the total entry size" of a request.
 */

const MAX_ENTRIES = 10;
/** Bytes EventBridge counts for an entry's `Time`, whatever its value. */
const TIME_BYTES = 14;
/**
 * "The maximum size for a PutEvents event entry is 256 KB." (PutEvents, EventBridge API Reference,
 * https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html)
 */
const MAX_ENTRY_BYTES = 256 * 1024;

/** One event EventBridge accepted. */
export interface FakeEvent {
  readonly eventId: string;
  readonly source: string;
  readonly detailType: string;
  /** `Detail`, parsed. */
  readonly detail: Record<string, unknown>;
  /** `EventBusName` as sent (a name or an ARN), or `default`. */
  readonly bus: string;
  readonly resources: readonly string[];
  readonly time?: Date;
}

export interface EventBridgeFakeOptions {
  /**
   * Largest PutEvents request: the sizes of its entries added up. EventBridge raised its limits
   * to 1 MiB in most regions in 2026; the fake keeps the older, stricter limit.
   * @default 262144
   */
  readonly maxRequestBytes?: number;
  /**
   * Largest single entry, sized as EventBridge sizes entries; a larger one fails the whole call.
   * @default 262144
   */
  readonly maxEntryBytes?: number;
}

export interface EventBridgeFake {
  /** Every accepted event, oldest first. */
  readonly events: readonly FakeEvent[];
  /** Calls per command (`PutEvents`), failed ones included. */
  readonly calls: Readonly<Record<string, number>>;
  /** Every request with its input, oldest first. */
  readonly requests: readonly { readonly command: string; readonly input: unknown }[];
  /** Entries that EventBridge refused with an `ErrorCode` (HTTP 200), injected ones included. */
  readonly failedEntryCount: number;
  /** Makes the next `times` calls of `command` throw an error named `errorName`. */
  failNext(command: string, errorName: string, times?: number): void;
  /**
   * Makes the next `times` entries fail on their own with `errorCode` (e.g. `ThrottlingException`,
   * `InternalFailure`), as EventBridge does: HTTP 200 and a `FailedEntryCount`.
   */
  failEntriesNext(errorCode: string, times?: number): void;
  /** Gives `EventBridgeClient` back its real `send`. */
  restore(): void;
}

function utf8Bytes(text: string | undefined): number {
  return text === undefined ? 0 : Buffer.byteLength(text, 'utf8');
}

/** Entry size as EventBridge computes it for its limits (see the module comment). */
function entrySize(entry: PutEventsRequestEntry): number {
  return (
    (entry.Time ? TIME_BYTES : 0) +
    utf8Bytes(entry.Source) +
    utf8Bytes(entry.DetailType) +
    utf8Bytes(entry.Detail) +
    (entry.Resources ?? []).reduce((sum, resource) => sum + utf8Bytes(resource), 0)
  );
}

function parseDetail(detail: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(detail);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Replaces `send` on every `EventBridgeClient` (including clients created before this call) with
 * an in-memory EventBridge supporting PutEvents. Call `restore()` when done.
 */
export function installEventBridgeFake(options: EventBridgeFakeOptions = {}): EventBridgeFake {
  const maxRequestBytes = options.maxRequestBytes ?? MAX_ENTRY_BYTES;
  const maxEntryBytes = options.maxEntryBytes ?? MAX_ENTRY_BYTES;
  const runner = new FakeCommandRunner(EventBridgeServiceException as unknown as ServiceExceptionClass);
  const events: FakeEvent[] = [];
  const entryFailures: { errorCode: string; remaining: number }[] = [];
  let failedEntryCount = 0;
  const mock = mockClient(EventBridgeClient);
  const ok = () => ({ httpStatusCode: 200, requestId: randomUUID(), attempts: 1, totalRetryDelay: 0 });
  const invalid = (message: string): never => runner.fail({ name: 'ValidationException', message });

  const takeEntryFailure = (): string | undefined => {
    const due = entryFailures[0];
    if (!due) return undefined;
    due.remaining -= 1;
    if (due.remaining <= 0) entryFailures.shift();
    return due.errorCode;
  };

  const accept = (entry: PutEventsRequestEntry): PutEventsResultEntry => {
    const injected = takeEntryFailure();
    if (injected) return { ErrorCode: injected, ErrorMessage: `Injected ${injected}` };
    for (const field of ['Source', 'DetailType', 'Detail'] as const) {
      if (!entry[field]) {
        return {
          ErrorCode: 'InvalidArgument',
          ErrorMessage: `Parameter ${field} is not valid. Reason: ${field} is a required argument.`,
        };
      }
    }
    const detail = parseDetail(entry.Detail ?? '');
    if (!detail) return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
    const event: FakeEvent = {
      eventId: randomUUID(),
      source: entry.Source ?? '',
      detailType: entry.DetailType ?? '',
      detail,
      bus: entry.EventBusName || 'default',
      resources: entry.Resources ?? [],
      ...(entry.Time ? { time: entry.Time } : {}),
    };
    events.push(event);
    return { EventId: event.eventId };
  };

  mock.onAnyCommand().callsFake(() =>
    runner.fail({
      name: 'ValidationException',
      message: 'The EventBridge fake does not support this command',
    }),
  );

  mock.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) =>
    runner.run('PutEvents', input, (): PutEventsCommandOutput => {
      const entries = input.Entries ?? [];
      if (entries.length === 0) {
        invalid(
          "1 validation error detected: Value '[]' at 'entries' failed to satisfy constraint: " +
            'Member must have length greater than or equal to 1',
        );
      }
      if (entries.length > MAX_ENTRIES) {
        invalid(
          "1 validation error detected: Value at 'entries' failed to satisfy constraint: " +
            `Member must have length less than or equal to ${MAX_ENTRIES}`,
        );
      }
      const sizes = entries.map(entrySize);
      const oversized = sizes.findIndex((size) => size > maxEntryBytes);
      if (oversized >= 0) {
        invalid(
          `Entry ${oversized} is ${sizes[oversized]} bytes, over the limit of ${maxEntryBytes} bytes for an entry.`,
        );
      }
      if (sizes.reduce((sum, size) => sum + size, 0) > maxRequestBytes) {
        invalid('Total size of the entries in the request is over the limit.');
      }
      const results = entries.map(accept);
      const failed = results.filter((result) => result.ErrorCode).length;
      failedEntryCount += failed;
      return { $metadata: ok(), FailedEntryCount: failed, Entries: results };
    }),
  );

  return {
    events,
    calls: runner.calls,
    requests: runner.requests,
    get failedEntryCount() {
      return failedEntryCount;
    },
    failNext: (command, errorName, times = 1) => runner.failNext(command, errorName, times),
    failEntriesNext: (errorCode, times = 1) => {
      entryFailures.push({ errorCode, remaining: times });
    },
    restore: () => mock.restore(),
  };
}
