import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import * as DynamoDbSdk from '@aws-sdk/client-dynamodb';
import {
  type AttributeValue,
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  DynamoDBServiceException,
  type KeySchemaElement,
  PutItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { commandName, FakeCommandRunner, type ServiceExceptionClass } from './fake-support.js';

/**
 * Amazon DynamoDB at the SDK boundary, for unit tests, the e2e state machine and the demo, served
 * by dynalite (a DynamoDB implementation on an in-memory LevelDB) on a loopback port. Code under
 * test keeps building `new DynamoDBClient({})` with no endpoint: every `send` is taken over and
 * replayed, as a new command of the same class with the same input, on a client pointed at
 * dynalite. Responses and errors are therefore the SDK's own deserialization of what dynalite
 * answers: its expression language, its validation (with DynamoDB's messages, including the 400 KB
 * item limit) and its modeled exceptions.
 *
 * Each install starts its own dynalite with an empty store, and `restore()` stops it. What
 * dynalite does not implement fails with `DynamoDbFakeUnsupportedError` instead of passing
 * silently: transactions, PartiQL, `UpdateTimeToLive` and the other operations it lacks, and
 * `ReturnValuesOnConditionCheckFailure: ALL_OLD`, which it ignores. It never expires items by TTL.
 */

type Item = Record<string, AttributeValue>;

export interface InstallDynamoDbFakeOptions {
  /** Tables (string partition key `pk`, as the stack's registry) that exist from the start. @default none */
  readonly tables?: readonly string[];
  /**
   * Creates a table (partition key `pk`) on first use instead of failing with
   * `ResourceNotFoundException`. Leave it off to catch a misnamed table.
   * @default false
   */
  readonly autoCreateTables?: boolean;
}

export interface CreateFakeTableOptions {
  /** Name of the string partition key; the table has no sort key. @default 'pk' */
  readonly partitionKey?: string;
}

export interface DynamoDbFake {
  /** Calls per command (`GetItem`, `UpdateItem`, ...), failed ones included. */
  readonly calls: Readonly<Record<string, number>>;
  /** Every request with its input, oldest first. */
  readonly requests: readonly { readonly command: string; readonly input: unknown }[];
  /**
   * Creates an empty on-demand table, resolving once it is ACTIVE; requests to tables that were
   * never created fail like DynamoDB's. Not counted in `calls`.
   */
  createTable(name: string, options?: CreateFakeTableOptions): Promise<void>;
  /** True once `name` exists (created, listed at install, or auto-created by a request). */
  hasTable(name: string): Promise<boolean>;
  /** The table's items, unmarshalled, in key order. Rejects for an unknown table. */
  items(table: string): Promise<Record<string, unknown>[]>;
  /** The table's items as stored (AttributeValue form), in key order. */
  rawItems(table: string): Promise<Item[]>;
  /** Stores an item given in plain JavaScript (marshalled with `removeUndefinedValues`). Not counted. */
  putItem(table: string, item: Record<string, unknown>): Promise<void>;
  /** Makes the next `times` calls of `command` throw an error named `errorName`. */
  failNext(command: string, errorName: string, times?: number): void;
  /**
   * dynalite's URL (`http://127.0.0.1:<port>`), for a client that cannot be reached through the
   * mock, such as one in another thread. Its requests are neither counted nor failed on demand.
   */
  endpoint(): Promise<string>;
  /** Gives `DynamoDBClient` back its real `send` at once, then stops dynalite. */
  restore(): Promise<void>;
}

/** Thrown for requests dynalite cannot answer as DynamoDB would; never a DynamoDB error. */
export class DynamoDbFakeUnsupportedError extends Error {
  constructor(feature: string, options?: ErrorOptions) {
    super(`The DynamoDB fake (dynalite) does not support ${feature}`, options);
    this.name = 'DynamoDbFakeUnsupportedError';
  }
}

interface DynaliteOptions {
  readonly createTableMs?: number;
  readonly deleteTableMs?: number;
  readonly updateTableMs?: number;
}

// dynalite is CommonJS without type declarations: `dynalite(options)` returns an unstarted
// http.Server whose `close` also closes the store.
const dynalite = createRequire(import.meta.url)('dynalite') as (options: DynaliteOptions) => Server;

/**
 * `Client#send` of the SDK's base class. aws-sdk-client-mock stubs `send` on
 * `DynamoDBClient.prototype` only, so this one still reaches the network.
 */
const realSend = Object.getPrototypeOf(DynamoDBClient.prototype).send as DynamoDBClient['send'];

const ServiceException = DynamoDBServiceException as unknown as ServiceExceptionClass;

type ModeledExceptionClass = new (options: {
  $metadata: DynamoDBServiceException['$metadata'];
  message: string;
}) => DynamoDBServiceException;

/** The SDK's class for errors named `name` (`ThrottlingException`, ...), if the model has one. */
function modeledException(name: string): ModeledExceptionClass | undefined {
  const candidate = (DynamoDbSdk as Record<string, unknown>)[name];
  return typeof candidate === 'function' && candidate.prototype instanceof DynamoDBServiceException
    ? (candidate as ModeledExceptionClass)
    : undefined;
}

/** Re-creates an injected service error as its modeled class, as the SDK's deserializer would. */
function asModeled(error: unknown): unknown {
  if (!(error instanceof DynamoDBServiceException)) return error;
  const Modeled = modeledException(error.name);
  if (!Modeled || error.constructor === Modeled) return error;
  const modeled = new Modeled({ $metadata: error.$metadata, message: error.message });
  if (error.$retryable) modeled.$retryable = error.$retryable;
  return modeled;
}

function errorName(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { name?: unknown }).name : undefined;
}

type Command = Parameters<DynamoDBClient['send']>[0];
type CommandClass = new (input: unknown) => Command;

/** Orders two key values of one type as DynamoDB does: strings and binaries by bytes, numbers by value. */
function compareKeyValues(left: AttributeValue | undefined, right: AttributeValue | undefined): number {
  if (left?.N !== undefined && right?.N !== undefined) return Math.sign(Number(left.N) - Number(right.N));
  if (left?.B !== undefined && right?.B !== undefined) return Buffer.compare(left.B, right.B);
  return Buffer.compare(Buffer.from(left?.S ?? '', 'utf8'), Buffer.from(right?.S ?? '', 'utf8'));
}

/** Starts dynalite on an ephemeral loopback port, with tables ACTIVE as soon as they are created. */
async function startDynalite(): Promise<{ server: Server; endpoint: string }> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  // A fake someone forgot to restore must not keep the test process alive: neither the listening
  // socket nor an idle keep-alive connection does (a request in flight still does, client side).
  server.unref();
  server.on('connection', (socket) => socket.unref());
  const { port } = server.address() as AddressInfo;
  return { server, endpoint: `http://127.0.0.1:${port}` };
}

function stopDynalite(server: Server): Promise<void> {
  return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}

/**
 * Replaces `send` on every `DynamoDBClient` (including clients created before this call, such as
 * those built at module load by Lambda handlers) with a forward to a fresh dynalite, which starts
 * in the background: requests and helpers wait for it. Call `restore()` when done.
 */
export function installDynamoDbFake(options: InstallDynamoDbFakeOptions = {}): DynamoDbFake {
  const runner = new FakeCommandRunner(ServiceException);
  const mock = mockClient(DynamoDBClient);
  const started = startDynalite().then(({ server, endpoint }) => {
    const client = new DynamoDBClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDDYNALITE', secretAccessKey: 'dynalite' },
      // One attempt: the stubbed `send` of the client under test skips its retry middleware too,
      // so each request reaches dynalite once and its answer comes back as it is.
      maxAttempts: 1,
    });
    return { server, endpoint, client, send: realSend.bind(client) as DynamoDBClient['send'] };
  });
  /** Tables auto-created (or found) on first use, by name. */
  const autoCreated = new Map<string, Promise<void>>();

  const createTable = async (name: string, tableOptions: CreateFakeTableOptions = {}) => {
    const { send } = await started;
    const partitionKey = tableOptions.partitionKey ?? 'pk';
    await send(
      new CreateTableCommand({
        TableName: name,
        KeySchema: [{ AttributeName: partitionKey, KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: partitionKey, AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    // dynalite flips a new table to ACTIVE on a timer, even with createTableMs at 0.
    for (let attempt = 0; ; attempt += 1) {
      const { Table } = await send(new DescribeTableCommand({ TableName: name }));
      if (Table?.TableStatus === 'ACTIVE') break;
      if (attempt >= 100) throw new Error(`dynalite left table ${name} ${Table?.TableStatus}`);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  };

  const keySchemaOf = async (name: string): Promise<KeySchemaElement[]> => {
    const { send } = await started;
    const { Table } = await send(new DescribeTableCommand({ TableName: name }));
    return Table?.KeySchema ?? [];
  };

  const hasTable = async (name: string): Promise<boolean> => {
    try {
      await keySchemaOf(name);
      return true;
    } catch (error) {
      if (errorName(error) === 'ResourceNotFoundException') return false;
      throw error;
    }
  };

  const ready = started.then(async () => {
    for (const name of options.tables ?? []) await createTable(name);
  });
  // A failed start surfaces at the first request or helper that awaits it.
  ready.catch(() => {});

  const rawItems = async (name: string): Promise<Item[]> => {
    await ready;
    const { send } = await started;
    const keys = (await keySchemaOf(name)).flatMap(({ AttributeName }) => AttributeName ?? []);
    const items: Item[] = [];
    let startKey: Item | undefined;
    do {
      const page = await send(
        new ScanCommand({ TableName: name, ConsistentRead: true, ExclusiveStartKey: startKey }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items.sort((left, right) => {
      for (const key of keys) {
        const order = compareKeyValues(left[key], right[key]);
        if (order !== 0) return order;
      }
      return 0;
    });
  };

  /** One request of the code under test, counted, failed if a failure is due, else sent to dynalite. */
  const forward = async (command: Command): Promise<DynamoDbSdk.ServiceOutputTypes> => {
    const CommandType = command.constructor as CommandClass;
    const name = commandName(CommandType.name);
    const input = command.input as { TableName?: unknown; ReturnValuesOnConditionCheckFailure?: unknown };
    try {
      return await runner.run(name, input, async () => {
        if (input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD') {
          throw new DynamoDbFakeUnsupportedError(
            'ReturnValuesOnConditionCheckFailure (dynalite never returns the item)',
          );
        }
        await ready;
        const { send } = await started;
        const table = input.TableName;
        if (options.autoCreateTables && typeof table === 'string') {
          let creating = autoCreated.get(table);
          if (!creating) {
            creating = hasTable(table).then((exists) => (exists ? undefined : createTable(table)));
            autoCreated.set(table, creating);
          }
          await creating;
        }
        try {
          return await send(new CommandType(command.input));
        } catch (error) {
          if (errorName(error) === 'UnknownOperationException') {
            throw new DynamoDbFakeUnsupportedError(`${name} (not implemented)`, { cause: error });
          }
          throw error;
        }
      });
    } catch (error) {
      // Errors from dynalite come back modeled already; injected ones get their class here.
      throw asModeled(error);
    }
  };
  mock.send.callsFake(forward);

  let restored: Promise<void> | undefined;
  return {
    calls: runner.calls,
    requests: runner.requests,
    createTable: async (name, tableOptions) => {
      await ready;
      await createTable(name, tableOptions);
    },
    hasTable: async (name) => {
      await ready;
      return hasTable(name);
    },
    rawItems,
    items: async (name) => (await rawItems(name)).map((item) => unmarshall(item)),
    async putItem(name, item) {
      await ready;
      const { send } = await started;
      await send(
        new PutItemCommand({ TableName: name, Item: marshall(item, { removeUndefinedValues: true }) }),
      );
    },
    failNext: (command, errorName, times = 1) => runner.failNext(command, errorName, times),
    endpoint: async () => (await started).endpoint,
    restore() {
      restored ??= (async () => {
        mock.restore();
        const running = await started.catch(() => undefined);
        if (!running) return;
        running.client.destroy();
        await stopDynalite(running.server);
      })();
      return restored;
    },
  };
}
