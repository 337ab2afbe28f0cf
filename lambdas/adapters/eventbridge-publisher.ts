import type {
  EventBridgeClient,
  PutEventsCommandOutput,
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
 * Largest entry we send: Source, DetailType and Detail together, in UTF-8 bytes, as EventBridge
 * sizes an entry. 256 KiB was the PutEvents limit everywhere and is still what SQS and SNS
 * targets accept, so an event this size reaches every kind of target.
 */
export const MAX_EVENT_ENTRY_BYTES = 256 * 1024;

/** Per-entry error codes that EventBridge documents as retryable. */
const RETRYABLE_ENTRY_ERRORS = new Set(['ThrottlingException', 'InternalFailure']);

const encoder = new TextEncoder();

function byteLength(text: string): number {
  return encoder.encode(text).byteLength;
}

/**
 * Publishes certificate events to EventBridge with one `PutEvents` entry per event.
 *
 * EventBridge reports a refused entry with HTTP 200, `FailedEntryCount` and an `ErrorCode` on
 * the entry, so a publish only succeeds when the entry got an event id: a throttled or failed
 * entry becomes `AwsTransientError`, any other refusal `AwsRequestError`, and SDK errors are
 * wrapped the same way. Details that are not a JSON object, or that would make the entry larger
 * than `MAX_EVENT_ENTRY_BYTES`, are refused before anything is sent.
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
    const detail = this.#serialize(event.detail, operation);
    const size = byteLength(this.#source) + byteLength(event.detailType) + byteLength(detail);
    if (size > MAX_EVENT_ENTRY_BYTES) {
      throw new AwsRequestError(
        `${operation} refused before sending: the event is ${size} bytes (source, detail type and ` +
          `detail), more than the ${MAX_EVENT_ENTRY_BYTES} allowed; put large data in S3 and send its key`,
      );
    }

    const { PutEventsCommand } = await sdk();
    let output: PutEventsCommandOutput;
    try {
      output = await this.#client.send(
        new PutEventsCommand({
          Entries: [
            {
              Source: this.#source,
              DetailType: event.detailType,
              Detail: detail,
              ...(this.#eventBusName ? { EventBusName: this.#eventBusName } : {}),
            },
          ],
        }),
      );
    } catch (error) {
      throw wrapAwsError(error, operation);
    }

    const entry: PutEventsResultEntry | undefined = output.Entries?.[0];
    if ((output.FailedEntryCount ?? 0) === 0 && !entry?.ErrorCode) return;
    const code = entry?.ErrorCode ?? 'UnknownError';
    const message = `${operation} failed with ${code}${entry?.ErrorMessage ? `: ${entry.ErrorMessage}` : ''}`;
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
