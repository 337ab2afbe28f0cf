import { connect } from 'node:net';
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  DynamoDBServiceException,
  GetItemCommand,
  PutItemCommand,
  ResourceNotFoundException,
  ScanCommand,
  ThrottlingException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type DynamoDbFake,
  DynamoDbFakeUnsupportedError,
  installDynamoDbFake,
} from '../../fakes/dynamodb-fake.js';

const tableName = 'acme-registry';
const key = { pk: { S: 'item' } };

let dynamodb: DynamoDbFake;
let client: DynamoDBClient;

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

/** Whether something accepts TCP connections at `endpoint`. */
function accepts(endpoint: string): Promise<boolean> {
  const { hostname, port } = new URL(endpoint);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Listening servers and sockets that keep this process alive, by kind. */
function openNetworkHandles(): string[] {
  return process
    .getActiveResourcesInfo()
    .filter((kind) => kind === 'TCPServerWrap' || kind === 'TCPSocketWrap');
}

beforeEach(() => {
  dynamodb = installDynamoDbFake({ tables: [tableName] });
  // As the code under test builds it: no endpoint, no credentials.
  client = new DynamoDBClient({ region: 'us-east-1' });
});

afterEach(async () => {
  await dynamodb.restore();
});

describe('DynamoDB fake: expressions and validation are dynalite, as DynamoDB', () => {
  it('evaluates if_not_exists in an update, and a ConditionExpression on the stored item', async () => {
    const increment = new UpdateItemCommand({
      TableName: tableName,
      Key: key,
      UpdateExpression: 'SET #n = if_not_exists(#n, :zero) + :one',
      ExpressionAttributeNames: { '#n': 'n' },
      ExpressionAttributeValues: marshall({ ':zero': 0, ':one': 1 }),
      ReturnValues: 'UPDATED_NEW',
    });

    const first = await client.send(increment);
    const second = await client.send(increment);
    const error = await rejection(
      client.send(
        new PutItemCommand({
          TableName: tableName,
          Item: { pk: { S: 'item' } },
          ConditionExpression: 'attribute_not_exists(pk) OR #n < :two',
          ExpressionAttributeNames: { '#n': 'n' },
          ExpressionAttributeValues: marshall({ ':two': 2 }),
        }),
      ),
    );

    expect(first.Attributes).toEqual({ n: { N: '1' } });
    expect(second.Attributes).toEqual({ n: { N: '2' } });
    expect(error).toBeInstanceOf(ConditionalCheckFailedException);
    expect(error).toMatchObject({
      message: 'The conditional request failed',
      $fault: 'client',
      $metadata: { httpStatusCode: 400 },
    });
    expect(await dynamodb.items(tableName)).toEqual([{ pk: 'item', n: 2 }]);
  });

  it.each([
    ['#a = :one AND NOT (#b = :one OR #c < :one)', true],
    ['#a = :one AND #b = :one OR #c < :one', false],
    ['#a >= :one AND #a <= :one AND #b > :one', true],
    ['attribute_exists(#m.#x) AND attribute_not_exists(#m.#y)', true],
    ['#m.#x = :one AND begins_with(#s, :prefix)', true],
    ['#missing <> :one AND NOT #missing = :one AND NOT #missing < :one', true],
    ['contains(#l, :prefix) AND size(#l) = :one', true],
    ['#s < :one', false],
  ])('evaluates %s as %s', async (condition, expected) => {
    await dynamodb.putItem(tableName, {
      pk: 'item',
      a: 1,
      b: 2,
      c: 3,
      m: { x: 1 },
      s: 'lock-1',
      l: ['lock-'],
    });
    const names = { '#a': 'a', '#b': 'b', '#c': 'c', '#m': 'm', '#x': 'x', '#y': 'y', '#s': 's', '#l': 'l' };
    const used = Object.fromEntries(
      Object.entries({ ...names, '#missing': 'z' }).filter(([name]) =>
        new RegExp(`${name}\\b`).test(condition),
      ),
    );
    const values = Object.fromEntries(
      Object.entries({ ':one': 1, ':prefix': 'lock-' }).filter(([name]) => condition.includes(name)),
    );

    const sending = client.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: key,
        UpdateExpression: 'SET #done = :done',
        ConditionExpression: condition,
        ExpressionAttributeNames: { ...used, '#done': 'done' },
        ExpressionAttributeValues: marshall({ ...values, ':done': true }),
      }),
    );

    if (expected) await expect(sending).resolves.toBeDefined();
    else await expect(sending).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    expect((await dynamodb.items(tableName))[0]?.done).toBe(expected ? true : undefined);
  });

  it('sets and removes nested paths and returns the updated attributes', async () => {
    await dynamodb.putItem(tableName, { pk: 'item', m: { x: 1, y: 2 }, gone: 'soon', n: 5 });

    const output = await client.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: key,
        UpdateExpression:
          'SET #m.#x = :two, #n = #n + :two, #l = if_not_exists(#l, :empty) REMOVE #m.#y, #gone',
        ExpressionAttributeNames: { '#m': 'm', '#x': 'x', '#y': 'y', '#n': 'n', '#l': 'l', '#gone': 'gone' },
        ExpressionAttributeValues: marshall({ ':two': 2, ':empty': [] }),
        ReturnValues: 'UPDATED_NEW',
      }),
    );

    expect(await dynamodb.items(tableName)).toEqual([{ pk: 'item', m: { x: 2 }, n: 7, l: [] }]);
    expect(output.Attributes).toEqual({ m: { M: { x: { N: '2' } } }, n: { N: '7' }, l: { L: [] } });
  });

  it.each([
    [
      'an unused value',
      {
        UpdateExpression: 'SET #a = :a',
        ExpressionAttributeNames: { '#a': 'a' },
        values: { ':a': 1, ':b': 2 },
      },
      'Value provided in ExpressionAttributeValues unused in expressions: keys: {:b}',
    ],
    [
      'an unused name',
      {
        UpdateExpression: 'SET #a = :a',
        ExpressionAttributeNames: { '#a': 'a', '#b': 'b' },
        values: { ':a': 1 },
      },
      'Value provided in ExpressionAttributeNames unused in expressions: keys: {#b}',
    ],
    [
      'an undefined value',
      { UpdateExpression: 'SET #a = :c', ExpressionAttributeNames: { '#a': 'a' }, values: { ':a': 1 } },
      'An expression attribute value used in expression is not defined; attribute value: :c',
    ],
    [
      'an undefined name',
      { UpdateExpression: 'SET #z = :a', ExpressionAttributeNames: { '#a': 'a' }, values: { ':a': 1 } },
      'An expression attribute name used in the document path is not defined; attribute name: #z',
    ],
    [
      'a reserved word without a placeholder',
      { UpdateExpression: 'SET status = :a', values: { ':a': 1 } },
      'Attribute name is a reserved keyword; reserved keyword: status',
    ],
    [
      'overlapping paths',
      {
        UpdateExpression: 'SET #a = :a REMOVE #a.#b',
        ExpressionAttributeNames: { '#a': 'a', '#b': 'b' },
        values: { ':a': 1 },
      },
      'Two document paths overlap with each other',
    ],
    [
      'an update of the key',
      { UpdateExpression: 'SET pk = :a', values: { ':a': 'other' } },
      'Cannot update attribute pk. This attribute is part of the key',
    ],
    [
      'a nested path under a missing map',
      {
        UpdateExpression: 'SET #a.#b = :a',
        ExpressionAttributeNames: { '#a': 'a', '#b': 'b' },
        values: { ':a': 1 },
      },
      'The document path provided in the update expression is invalid for update',
    ],
    [
      'a syntax error',
      { UpdateExpression: 'SET #a = = :a', ExpressionAttributeNames: { '#a': 'a' }, values: { ':a': 1 } },
      // DynamoDB goes on `token: "=", near: "= = :a"`; dynalite names what its parser expected.
      'Invalid UpdateExpression: Syntax error;',
    ],
  ])('refuses %s with ValidationException', async (_case, request, message) => {
    const { values, ...rest } = request;

    const error = await rejection(
      client.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: key,
          ...rest,
          ExpressionAttributeValues: marshall(values),
        }),
      ),
    );

    expect(error).toBeInstanceOf(DynamoDBServiceException);
    expect(error).toMatchObject({ name: 'ValidationException', $metadata: { httpStatusCode: 400 } });
    expect((error as Error).message).toContain(message);
    expect(await dynamodb.items(tableName)).toEqual([]);
  });

  it('refuses an item over 400 KB with DynamoDB ValidationException, on put and on update', async () => {
    const tooLarge = await rejection(
      client.send(
        new PutItemCommand({ TableName: tableName, Item: { ...key, blob: { S: 'x'.repeat(400 * 1024) } } }),
      ),
    );
    await dynamodb.putItem(tableName, { pk: 'item', half: 'x'.repeat(200 * 1024) });
    const growsTooLarge = await rejection(
      client.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: key,
          UpdateExpression: 'SET #other = :other',
          ExpressionAttributeNames: { '#other': 'other' },
          ExpressionAttributeValues: { ':other': { S: 'y'.repeat(200 * 1024) } },
        }),
      ),
    );

    expect(tooLarge).toBeInstanceOf(DynamoDBServiceException);
    expect(tooLarge).toMatchObject({
      name: 'ValidationException',
      message: 'Item size has exceeded the maximum allowed size',
      $metadata: { httpStatusCode: 400 },
    });
    expect(growsTooLarge).toMatchObject({
      name: 'ValidationException',
      message: 'Item size to update has exceeded the maximum allowed size',
    });
    expect((await dynamodb.items(tableName)).map((item) => Object.keys(item).sort())).toEqual([
      ['half', 'pk'],
    ]);
  });

  it('refuses a key that does not match the schema', async () => {
    const getting = client.send(new GetItemCommand({ TableName: tableName, Key: { id: { S: 'x' } } }));

    await expect(getting).rejects.toMatchObject({
      name: 'ValidationException',
      message: 'The provided key element does not match the schema',
    });
  });

  it('scans a page at a time with a filter, counting what it read before filtering', async () => {
    for (const id of ['a', 'b', 'c']) await dynamodb.putItem(tableName, { pk: id, even: id !== 'b' });
    const filter = {
      TableName: tableName,
      FilterExpression: '#even = :yes',
      ExpressionAttributeNames: { '#even': 'even' },
      ExpressionAttributeValues: { ':yes': { BOOL: true } },
    };

    const first = await client.send(new ScanCommand({ ...filter, Limit: 2 }));
    const second = await client.send(
      new ScanCommand({ ...filter, ExclusiveStartKey: first.LastEvaluatedKey }),
    );

    expect(first.ScannedCount).toBe(2);
    expect(first.LastEvaluatedKey).toEqual({ pk: expect.any(Object) });
    expect(second.ScannedCount).toBe(1);
    expect(second.LastEvaluatedKey).toBeUndefined();
    expect([...(first.Items ?? []), ...(second.Items ?? [])].map((item) => item.pk?.S).sort()).toEqual([
      'a',
      'c',
    ]);
  });
});

describe('DynamoDB fake: the SDK boundary', () => {
  it('forwards a command object used twice, as a client may reuse one', async () => {
    const put = new PutItemCommand({ TableName: tableName, Item: { ...key, n: { N: '1' } } });

    await client.send(put);
    await client.send(put);

    expect(dynamodb.calls.PutItem).toBe(2);
    expect(dynamodb.requests).toEqual([
      { command: 'PutItem', input: put.input },
      { command: 'PutItem', input: put.input },
    ]);
  });

  it('injects a throttling error as the modeled ThrottlingException, before reaching dynalite', async () => {
    dynamodb.failNext('UpdateItem', 'ThrottlingException');
    const update = new UpdateItemCommand({
      TableName: tableName,
      Key: key,
      UpdateExpression: 'SET #n = :one',
      ExpressionAttributeNames: { '#n': 'n' },
      ExpressionAttributeValues: { ':one': { N: '1' } },
    });

    const error = await rejection(client.send(update));
    const retried = await client.send(update);

    expect(error).toBeInstanceOf(ThrottlingException);
    expect(error).toBeInstanceOf(DynamoDBServiceException);
    expect(error).toMatchObject({
      name: 'ThrottlingException',
      $fault: 'client',
      $retryable: { throttling: true },
      $metadata: { httpStatusCode: 400, requestId: expect.any(String), attempts: 1 },
    });
    expect(retried.$metadata.httpStatusCode).toBe(200);
    expect(dynamodb.calls.UpdateItem).toBe(2);
    expect(await dynamodb.items(tableName)).toEqual([{ pk: 'item', n: 1 }]);
  });

  it('injects each failure once per request, then reaches dynalite again', async () => {
    dynamodb.failNext('GetItem', 'ProvisionedThroughputExceededException', 2);
    const get = () => client.send(new GetItemCommand({ TableName: tableName, Key: key }));

    await expect(get()).rejects.toMatchObject({ name: 'ProvisionedThroughputExceededException' });
    await expect(get()).rejects.toThrow();
    await expect(get()).resolves.toMatchObject({ $metadata: { httpStatusCode: 200 } });
    expect(dynamodb.calls.GetItem).toBe(3);
  });

  it('reports a table that was never created as ResourceNotFoundException, unless auto-creating', async () => {
    const missing = client.send(new GetItemCommand({ TableName: 'other', Key: key }));
    await expect(missing).rejects.toBeInstanceOf(ResourceNotFoundException);
    await dynamodb.restore();

    dynamodb = installDynamoDbFake({ autoCreateTables: true });
    await client.send(new PutItemCommand({ TableName: 'other', Item: key }));

    expect(await dynamodb.hasTable('other')).toBe(true);
    expect(await dynamodb.hasTable(tableName)).toBe(false);
    expect(await dynamodb.items('other')).toEqual([{ pk: 'item' }]);
  });

  it('fails loudly for what dynalite does not implement', async () => {
    const transaction = await rejection(
      client.send(
        new TransactWriteItemsCommand({ TransactItems: [{ Put: { TableName: tableName, Item: key } }] }),
      ),
    );
    const returnOld = await rejection(
      client.send(
        new PutItemCommand({
          TableName: tableName,
          Item: key,
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );

    expect(transaction).toBeInstanceOf(DynamoDbFakeUnsupportedError);
    expect(transaction).toMatchObject({ cause: { name: 'UnknownOperationException' } });
    expect(returnOld).toBeInstanceOf(DynamoDbFakeUnsupportedError);
    expect(await dynamodb.items(tableName)).toEqual([]);
  });

  it('lists items in key order, whatever order dynalite scans them in', async () => {
    const ids = ['web', 'api', 'ACCOUNT#1', 'b', 'a', 'zeta', 'CERT#x', 'é'];
    for (const pk of ids) await dynamodb.putItem(tableName, { pk });

    const items = await dynamodb.items(tableName);
    const raw = await dynamodb.rawItems(tableName);

    expect(items.map((item) => item.pk)).toEqual([
      'ACCOUNT#1',
      'CERT#x',
      'a',
      'api',
      'b',
      'web',
      'zeta',
      'é',
    ]);
    expect(raw.map((item) => item.pk)).toEqual(items.map((item) => ({ S: item.pk })));
  });
});

describe('DynamoDB fake: lifecycle', () => {
  it('starts every install with an empty dynalite', async () => {
    for (let round = 0; round < 5; round += 1) {
      await dynamodb.restore();
      dynamodb = installDynamoDbFake({ tables: [tableName] });

      expect(await dynamodb.items(tableName)).toEqual([]);
      await client.send(new PutItemCommand({ TableName: tableName, Item: key }));
    }
  });

  it('holds nothing that keeps the process alive, and restore stops dynalite', async () => {
    const endpoint = await dynamodb.endpoint();
    await client.send(new PutItemCommand({ TableName: tableName, Item: key }));
    await new Promise((resolve) => setImmediate(resolve));
    const whileInstalled = openNetworkHandles();
    const acceptedWhileInstalled = await accepts(endpoint);

    await dynamodb.restore();

    expect(acceptedWhileInstalled).toBe(true);
    expect(whileInstalled).toEqual([]);
    expect(await accepts(endpoint)).toBe(false);
    expect(Object.hasOwn(DynamoDBClient.prototype, 'send')).toBe(false);
  });
});
