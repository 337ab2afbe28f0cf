import { EventBridgeClient, PutEventsCommand, type PutEventsCommandInput } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  EventBridgePublisher,
  MAX_EVENT_ENTRY_BYTES,
} from '../../../lambdas/adapters/eventbridge-publisher.js';
import { AwsRequestError, AwsTransientError } from '../../../lambdas/core/errors.js';
import { type EventBridgeFake, installEventBridgeFake } from '../../fakes/eventbridge-fake.js';

const detail = { certificateId: 'web', arns: ['arn:aws:acm:us-east-1:123456789012:certificate/1'] };

let eventBridge: EventBridgeFake;
let client: EventBridgeClient;
let publisher: EventBridgePublisher;

beforeEach(() => {
  eventBridge = installEventBridgeFake();
  client = new EventBridgeClient({ region: 'eu-west-1' });
  publisher = new EventBridgePublisher({ client });
});

afterEach(() => {
  eventBridge.restore();
});

describe('EventBridgePublisher', () => {
  it('puts one entry with the default source on the default bus', async () => {
    await publisher.publish({ detailType: 'Certificate Renewed', detail });

    const [input] = eventBridge.requests.map((request) => request.input as PutEventsCommandInput);
    expect(input?.Entries).toEqual([
      { Source: 'acme-aws', DetailType: 'Certificate Renewed', Detail: JSON.stringify(detail) },
    ]);
    expect(eventBridge.events).toEqual([
      expect.objectContaining({
        source: 'acme-aws',
        detailType: 'Certificate Renewed',
        detail,
        bus: 'default',
      }),
    ]);
  });

  it('uses the configured source and event bus', async () => {
    const custom = new EventBridgePublisher({ client, source: 'example.certs', eventBusName: 'ops' });

    await custom.publish({ detailType: 'Certificate Renewal Failed', detail });

    expect(eventBridge.events[0]).toMatchObject({ source: 'example.certs', bus: 'ops' });
  });

  it('surfaces a refused entry that came back with HTTP 200 as AwsRequestError', async () => {
    eventBridge.failEntriesNext('AccessDeniedException');

    const error = await publisher
      .publish({ detailType: 'Certificate Renewed', detail })
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(AwsRequestError);
    expect((error as Error).message).toContain('AccessDeniedException');
    expect((error as Error).cause).toMatchObject({ FailedEntryCount: 1 });
    expect(eventBridge.events).toHaveLength(0);
  });

  it.each(['ThrottlingException', 'InternalFailure'])(
    'surfaces a %s entry failure as AwsTransientError',
    async (errorCode) => {
      eventBridge.failEntriesNext(errorCode);

      await expect(publisher.publish({ detailType: 'Certificate Renewed', detail })).rejects.toThrow(
        AwsTransientError,
      );
    },
  );

  it('wraps a throttled PutEvents call as AwsTransientError', async () => {
    eventBridge.failNext('PutEvents', 'ThrottlingException');

    const error = await publisher
      .publish({ detailType: 'Certificate Renewed', detail })
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(AwsTransientError);
    expect((error as Error).cause).toMatchObject({ name: 'ThrottlingException' });
  });

  it('wraps a refused PutEvents call as AwsRequestError', async () => {
    eventBridge.failNext('PutEvents', 'ResourceNotFoundException');

    await expect(publisher.publish({ detailType: 'Certificate Renewed', detail })).rejects.toThrow(
      AwsRequestError,
    );
  });

  it('refuses a detail that would make the entry larger than 256 KiB without calling EventBridge', async () => {
    const large = { padding: 'x'.repeat(MAX_EVENT_ENTRY_BYTES) };

    const error = await publisher
      .publish({ detailType: 'Certificate Renewed', detail: large })
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(AwsRequestError);
    expect((error as Error).message).toMatch(/bytes.*more than the 262144 allowed/);
    expect(eventBridge.calls.PutEvents).toBeUndefined();
  });

  it('publishes an entry of exactly the maximum size', async () => {
    const overhead = 'acme-aws'.length + 'Renewed'.length + JSON.stringify({ padding: '' }).length;
    const padding = 'x'.repeat(MAX_EVENT_ENTRY_BYTES - overhead);

    await publisher.publish({ detailType: 'Renewed', detail: { padding } });

    expect(eventBridge.events).toHaveLength(1);
  });

  it('counts multi-byte characters in bytes, not characters', async () => {
    const detailOfEuros = { padding: '€'.repeat(MAX_EVENT_ENTRY_BYTES / 3) };

    await expect(publisher.publish({ detailType: 'Renewed', detail: detailOfEuros })).rejects.toThrow(
      AwsRequestError,
    );
  });

  it('surfaces EventBridge refusing an oversized entry as AwsRequestError, with nothing put', async () => {
    eventBridge.restore();
    eventBridge = installEventBridgeFake({ maxEntryBytes: 1024 });

    const error = await publisher
      .publish({ detailType: 'Certificate Renewed', detail: { padding: 'x'.repeat(2048) } })
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(AwsRequestError);
    expect((error as Error).cause).toMatchObject({ name: 'ValidationException' });
    expect(eventBridge.calls.PutEvents).toBe(1);
    expect(eventBridge.events).toHaveLength(0);
  });

  it('does not count an answer without an event id as published', async () => {
    eventBridge.restore();
    const stub = mockClient(EventBridgeClient);
    stub.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{}] });

    const publishing = publisher.publish({ detailType: 'Certificate Renewed', detail });

    await expect(publishing).rejects.toThrow(AwsRequestError);
    await expect(publishing).rejects.toThrow(/no event id/);
    stub.restore();
    eventBridge = installEventBridgeFake();
  });

  it('refuses a detail that cannot be serialized as JSON', async () => {
    await expect(publisher.publish({ detailType: 'Renewed', detail: { serial: 1n } })).rejects.toThrow(
      /not serializable as JSON/,
    );
  });

  it('refuses a detail that is not a JSON object', async () => {
    const list = ['a'] as unknown as Record<string, unknown>;

    await expect(publisher.publish({ detailType: 'Renewed', detail: list })).rejects.toThrow(
      /must be a JSON object/,
    );
  });
});

describe('EventBridge fake validation', () => {
  function put(Entries: PutEventsCommandInput['Entries']) {
    return client.send(new PutEventsCommand({ Entries }));
  }

  it.each(['Source', 'DetailType', 'Detail'] as const)(
    'fails an entry without %s with InvalidArgument and HTTP 200',
    async (field) => {
      const entry = { Source: 's', DetailType: 't', Detail: '{}' };
      delete (entry as Partial<typeof entry>)[field];

      const output = await put([entry]);

      expect(output.$metadata.httpStatusCode).toBe(200);
      expect(output.FailedEntryCount).toBe(1);
      expect(output.Entries?.[0]).toMatchObject({
        ErrorCode: 'InvalidArgument',
        ErrorMessage: expect.stringContaining(field),
      });
    },
  );

  it.each(['not json', '[1, 2]', '"text"'])(
    'fails the entry with Detail %s as MalformedDetail',
    async (text) => {
      const output = await put([{ Source: 's', DetailType: 't', Detail: text }]);

      expect(output.Entries?.[0]?.ErrorCode).toBe('MalformedDetail');
    },
  );

  it('accepts the valid entries of a batch and fails the others', async () => {
    const output = await put([
      { Source: 's', DetailType: 't', Detail: '{"a":1}' },
      { Source: 's', DetailType: 't', Detail: '[]' },
    ]);

    expect(output.FailedEntryCount).toBe(1);
    expect(output.Entries?.[0]?.EventId).toBeTruthy();
    expect(eventBridge.events.map((event) => event.detail)).toEqual([{ a: 1 }]);
    expect(eventBridge.failedEntryCount).toBe(1);
  });

  it('refuses more than 10 entries with ValidationException', async () => {
    const entries = Array.from({ length: 11 }, () => ({ Source: 's', DetailType: 't', Detail: '{}' }));

    await expect(put(entries)).rejects.toMatchObject({ name: 'ValidationException' });
    expect(eventBridge.events).toHaveLength(0);
  });

  it('fails the whole call with ValidationException when one entry is over the entry limit', async () => {
    eventBridge.restore();
    eventBridge = installEventBridgeFake({ maxRequestBytes: 1024 * 1024 });
    const Detail = JSON.stringify({ padding: 'x'.repeat(MAX_EVENT_ENTRY_BYTES) });

    const putting = put([
      { Source: 's', DetailType: 't', Detail: '{}' },
      { Source: 's', DetailType: 't', Detail },
    ]);

    await expect(putting).rejects.toMatchObject({
      name: 'ValidationException',
      message: /Entry 1 .*over the limit/,
    });
    expect(eventBridge.events).toHaveLength(0);
  });

  it('sizes an entry as EventBridge documents: Time as 14 bytes, Source, DetailType, Detail and each Resource', async () => {
    const entry = {
      Time: new Date(),
      Source: 'acme-aws',
      DetailType: 'Certificate Renewed',
      Detail: '{"a":"€"}',
      Resources: ['arn:aws:acm:eu-west-1:123456789012:certificate/1', 'r'],
      // Not part of the documented size.
      EventBusName: 'b'.repeat(200),
      TraceHeader: 't'.repeat(200),
    };
    // Time, Source, DetailType, Detail ('€' is 3 bytes in UTF-8), and the two resources.
    const size = 14 + 8 + 19 + 11 + 48 + 1;
    eventBridge.restore();
    eventBridge = installEventBridgeFake({ maxEntryBytes: size });

    const fits = await put([entry]);
    const overBy1 = put([{ ...entry, Resources: [...entry.Resources, 'x'] }]);

    expect(fits.FailedEntryCount).toBe(0);
    await expect(overBy1).rejects.toMatchObject({ name: 'ValidationException' });
  });

  it('refuses entries that fit one by one but not together', async () => {
    const Detail = JSON.stringify({ padding: 'x'.repeat(MAX_EVENT_ENTRY_BYTES / 2) });

    await expect(
      put([
        { Source: 's', DetailType: 't', Detail },
        { Source: 's', DetailType: 't', Detail },
      ]),
    ).rejects.toMatchObject({
      name: 'ValidationException',
      message: 'Total size of the entries in the request is over the limit.',
    });
  });

  it('refuses a request over the size limit with ValidationException', async () => {
    const Detail = JSON.stringify({ padding: 'x'.repeat(MAX_EVENT_ENTRY_BYTES) });

    await expect(put([{ Source: 's', DetailType: 't', Detail }])).rejects.toMatchObject({
      name: 'ValidationException',
      message: /over the limit/,
    });
  });

  it('fails the next entries only as many times as asked', async () => {
    eventBridge.failEntriesNext('ThrottlingException', 2);
    const entry = { Source: 's', DetailType: 't', Detail: '{}' };

    const output = await put([entry, entry, entry]);

    expect(output.Entries?.map((result) => result.ErrorCode)).toEqual([
      'ThrottlingException',
      'ThrottlingException',
      undefined,
    ]);
    expect(eventBridge.calls.PutEvents).toBe(1);
  });
});
