import type {
  EventBridgeClient,
  PutEventsCommandOutput,
  PutEventsRequestEntry,
  PutEventsResultEntry,
} from '@aws-sdk/client-eventbridge';
import { AwsRequestError, AwsTransientError } from '../core/errors.js';
import type { EventPublisher } from '../core/ports.js';
import { wrapAwsError } from './wrap-aws-error.js';

/** The EventBridge SDK, imported on first use and never with this module (runtime.ts says why). */
const sdk = () => import('@aws-sdk/client-eventbridge');

export interface EventBridgePublisherOptions {
  readonly client: EventBridgeClient;
  /**
   * The `source` of every event, which rules match on.
   * @default 'acme-aws'
   */
  readonly source?: string;
  /**
   * Name or ARN of the event bus.
   * @default the account's default event bus
   */
  readonly eventBusName?: string;
}

/**
 * Largest entry we send, sized as EventBridge sizes entries (`entrySize`). 256 KiB was the
 * PutEvents limit everywhere and is still what SQS and SNS targets accept, so an event this size
 * reaches every kind of target.
 */
export const MAX_EVENT_ENTRY_BYTES = 256 * 1024;

/** Bytes EventBridge counts for an entry's `Time`, whatever its value. */
const TIME_BYTES = 14;

/** Per-entry error codes that EventBridge documents as retryable. */
const RETRYABLE_ENTRY_ERRORS = new Set(['ThrottlingException', 'InternalFailure']);

const encoder = new TextEncoder();

function byteLength(text: string | undefined): number {
  return text === undefined ? 0 : encoder.encode(text).byteLength;
}

/**
 * A PutEvents entry's size as "Calculating Amazon EventBridge PutEvents event entry size"
 * (EventBridge User Guide,
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/calculate-putevents-entry-size.html)
 * gives it: 14 bytes for `Time` if set, the UTF-8 bytes of `Source`, `DetailType` and `Detail`,
 * and of each of `Resources`.
 */
function entrySize(entry: PutEventsRequestEntry): number {
  return (
    (entry.Time ? TIME_BYTES : 0) +
    byteLength(entry.Source) +
    byteLength(entry.DetailType) +
    byteLength(entry.Detail) +
    (entry.Resources ?? []).reduce((sum, resource) => sum + byteLength(resource), 0)
  );
}

/**
 * Publishes certificate events to EventBridge with one `PutEvents` entry per event.
 *
 * EventBridge reports a refused entry with HTTP 200, `FailedEntryCount` and an `ErrorCode` on
 * the entry, so a publish only succeeds when the entry got an event id: a throttled or failed
 * entry becomes `AwsTransientError`, any other refusal (or an answer without an event id)
 * `AwsRequestError`, and SDK errors, such as the `ValidationException` for an entry over the size
 * limit, are wrapped the same way. Details that are not a JSON object, or that would make the
 * entry larger than `MAX_EVENT_ENTRY_BYTES`, are refused before anything is sent.
 */
export class EventBridgePublisher implements EventPublisher {
  readonly #client: EventBridgeClient;
  readonly #source: string;
  readonly #eventBusName: string | undefined;

  constructor(options: EventBridgePublisherOptions) {
    this.#client = options.client;
    this.#source = options.source ?? 'acme-aws';
    this.#eventBusName = options.eventBusName;
  }

  async publish(event: {
    readonly detailType: string;
    readonly detail: Readonly<Record<string, unknown>>;
  }): Promise<void> {
    const operation = `EventBridge PutEvents (${event.detailType} to ${this.#eventBusName ?? 'the default bus'})`;
    const request: PutEventsRequestEntry = {
      Source: this.#source,
      DetailType: event.detailType,
      Detail: this.#serialize(event.detail, operation),
      ...(this.#eventBusName ? { EventBusName: this.#eventBusName } : {}),
    };
    const size = entrySize(request);
    if (size > MAX_EVENT_ENTRY_BYTES) {
      throw new AwsRequestError(
        `${operation} refused before sending: the event is ${size} bytes (source, detail type and ` +
          `detail), more than the ${MAX_EVENT_ENTRY_BYTES} allowed; put large data in S3 and send its key`,
      );
    }

    const { PutEventsCommand } = await sdk();
    let output: PutEventsCommandOutput;
    try {
      output = await this.#client.send(new PutEventsCommand({ Entries: [request] }));
    } catch (error) {
      throw wrapAwsError(error, operation);
    }

    const entry: PutEventsResultEntry | undefined = output.Entries?.[0];
    if ((output.FailedEntryCount ?? 0) === 0 && !entry?.ErrorCode && entry?.EventId) return;
    const code = entry?.ErrorCode;
    if (!code) {
      // Without an event id the entry was not put, whatever the count says: never report it as sent.
      throw new AwsRequestError(
        `${operation} returned no event id for the entry (FailedEntryCount ${output.FailedEntryCount ?? 'absent'})`,
        { cause: output },
      );
    }
    const message = `${operation} failed with ${code}${entry.ErrorMessage ? `: ${entry.ErrorMessage}` : ''}`;
    throw RETRYABLE_ENTRY_ERRORS.has(code)
      ? new AwsTransientError(message, { cause: output })
      : new AwsRequestError(message, { cause: output });
  }

  #serialize(detail: Readonly<Record<string, unknown>>, operation: string): string {
    let json: string | undefined;
    try {
      json = JSON.stringify(detail);
    } catch (error) {
      // BigInt values and cycles cannot be serialized.
      throw new AwsRequestError(
        `${operation} refused before sending: the detail is not serializable as JSON`,
        {
          cause: error,
        },
      );
    }
    // EventBridge wants a JSON object; an array or a scalar is refused as MalformedDetail.
    if (typeof json !== 'string' || !json.startsWith('{')) {
      throw new AwsRequestError(`${operation} refused before sending: the detail must be a JSON object`);
    }
    return json;
  }
}
