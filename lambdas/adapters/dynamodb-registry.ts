import { createHash } from 'node:crypto';
import type * as DynamoDb from '@aws-sdk/client-dynamodb';
import type { AttributeValue, DynamoDBClient, ScanCommandOutput } from '@aws-sdk/client-dynamodb';
import type * as DynamoDbUtil from '@aws-sdk/util-dynamodb';
import { AwsRequestError } from '../core/errors.js';
import type {
  AccountRecord,
  CertificateRecord,
  CertificateRecordChanges,
  CertificateRegistry,
  DirectoryRecord,
  RecordSetLeases,
} from '../core/ports.js';
import { wrapAwsError } from './wrap-aws-error.js';

export interface DynamoDbRegistryOptions {
  readonly client: DynamoDBClient;
  /** The registry table: a string partition key named `pk` and no sort key. */
  readonly tableName: string;
}

/** What this adapter uses of the SDK: the client's commands, and attribute values both ways. */
type Sdk = typeof DynamoDb & {
  /** A record as attribute values; undefined fields are left out. */
  readonly values: (record: Record<string, unknown>) => Record<string, AttributeValue>;
  readonly unmarshall: typeof DynamoDbUtil.unmarshall;
};
let loadedSdk: Promise<Sdk> | undefined;

/** The DynamoDB SDK, imported on first use and never with this module (runtime.ts says why). */
function sdk(): Promise<Sdk> {
  loadedSdk ??= Promise.all([import('@aws-sdk/client-dynamodb'), import('@aws-sdk/util-dynamodb')]).then(
    ([client, { marshall, unmarshall }]) => ({
      ...client,
      values: (record) => marshall(record, { removeUndefinedValues: true }),
      unmarshall,
    }),
  );
  return loadedSdk;
}

const ACCOUNT_PREFIX = 'ACCOUNT#';
const CERTIFICATE_PREFIX = 'CERT#';
const LEASE_PREFIX = 'LEASE#';
const DIRECTORY_PREFIX = 'DIRECTORY#';

/**
 * The partition key of the account one key holds at one CA. Hashed, so directory URLs of any
 * length or character set make a key of fixed size.
 */
export function accountPartitionKey(directoryUrl: string, accountKeyThumbprint: string): string {
  const digest = createHash('sha256')
    .update(`${directoryUrl}\n${accountKeyThumbprint}`, 'utf8')
    .digest('hex');
  return `${ACCOUNT_PREFIX}${digest}`;
}

/** The partition key of the directory kept for one CA, hashed as `accountPartitionKey` is. */
export function directoryPartitionKey(directoryUrl: string): string {
  return `${DIRECTORY_PREFIX}${createHash('sha256').update(directoryUrl, 'utf8').digest('hex')}`;
}

/** An account item as the port's record, with the key thumbprint items written since rollover keep. */
function accountRecordOf(
  directoryUrl: string,
  item: Record<string, unknown>,
): AccountRecord & { readonly keyThumbprint?: string } {
  const { accountUrl, status, contact, rolledOverTo, updatedAt, keyThumbprint } = item;
  return {
    directoryUrl,
    accountUrl: String(accountUrl),
    ...(status === 'valid' || status === 'deactivated' || status === 'rolled-over' ? { status } : {}),
    ...(Array.isArray(contact) ? { contact: contact.filter((uri) => typeof uri === 'string') } : {}),
    ...(typeof rolledOverTo === 'string' ? { rolledOverTo } : {}),
    ...(typeof updatedAt === 'string' ? { updatedAt } : {}),
    ...(typeof keyThumbprint === 'string' ? { keyThumbprint } : {}),
  };
}

/** The partition key of one managed certificate's record. */
export function certificatePartitionKey(certificateId: string): string {
  return `${CERTIFICATE_PREFIX}${certificateId}`;
}

/**
 * The fields `update` writes. `satisfies` makes the compiler flag this list when the port gains or
 * loses a field, and the runtime check keeps `lock` and `certificateId` out of reach of `update`.
 */
const UPDATABLE_FIELDS = {
  status: true,
  config: true,
  acmArns: true,
  importedKeyType: true,
  arnReplaced: true,
  pendingOrder: true,
  issued: true,
  publishedTxt: true,
  lastError: true,
  lastAttemptAt: true,
  nextRenewalAt: true,
  ariCheckAfter: true,
  consecutiveFailures: true,
  nextAttemptAt: true,
  persistUntil: true,
} as const satisfies Record<keyof CertificateRecordChanges, true>;

function isUpdatableField(field: string): field is keyof CertificateRecordChanges {
  return Object.hasOwn(UPDATABLE_FIELDS, field);
}

function errorName(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { name?: unknown }).name : undefined;
}

function isConditionalCheckFailed(error: unknown): boolean {
  return errorName(error) === 'ConditionalCheckFailedException';
}

/**
 * Where an item keeps a lease, and what errors call it. Holder and expiry are either attributes of
 * a map (`map`) beside the item's other attributes, and giving the lease back removes that map, or
 * the item's own attributes, and giving it back deletes the item.
 */
interface LeaseLayout {
  /** The map attribute holding holder and expiry, or none: they are top-level attributes. */
  readonly map?: string;
  /** The attribute naming the holder; the expiry is always `expiresAt`. */
  readonly holder: string;
  /** The lease's name in errors: "Lock TTL …", "(acquire lock)", "(release lock)". */
  readonly noun: 'lock' | 'lease';
  readonly takeVerb: 'acquire' | 'take';
}

/** The certificate lock: `lock: { executionId, expiresAt }` on the certificate's record. */
const CERTIFICATE_LOCK: LeaseLayout = {
  map: 'lock',
  holder: 'executionId',
  noun: 'lock',
  takeVerb: 'acquire',
};

/** A record set lease: an item of its own, `{ pk, holder, expiresAt }`. */
const RECORD_SET_LEASE: LeaseLayout = { holder: 'holder', noun: 'lease', takeVerb: 'take' };

/** The placeholders of a layout's attributes, as both writes name them. */
function leasePlaceholders({ map, holder }: LeaseLayout) {
  const inMap = (name: string) => (map ? `#${map}.${name}` : name);
  return {
    names: { ...(map ? { [`#${map}`]: map } : {}), [`#${holder}`]: holder } as Record<string, string>,
    /** The attribute whose absence means the lease is free. */
    presence: map ? `#${map}` : `#${holder}`,
    holderPath: inMap(`#${holder}`),
    expiryPath: inMap('#expiresAt'),
    holderValue: `:${holder}`,
  };
}

/**
 * A lease on one item, kept with single conditional writes. Taking it is one `UpdateItem` that
 * succeeds when the lease is free, expired, or already the holder's (so a retried take by the
 * holder succeeds and extends it); two holders never both hold an unexpired lease. Giving it back
 * is one conditional write that changes nothing unless the lease is still the holder's. Expiry
 * compares ISO 8601 UTC timestamps of equal width, which order as the times they name. A lost
 * race is `false` (take) or nothing (release), never an error; other failures are wrapped.
 */
class ItemLease {
  readonly #client: DynamoDBClient;
  readonly #tableName: string;
  readonly #layout: LeaseLayout;

  constructor(client: DynamoDBClient, tableName: string, layout: LeaseLayout) {
    this.#client = client;
    this.#tableName = tableName;
    this.#layout = layout;
  }

  /** Takes the lease on item `pk` for `holder`, setting the attributes `alsoSet` too when it does. */
  async take(
    pk: string,
    holder: string,
    now: Date,
    ttlSeconds: number,
    alsoSet: Readonly<Record<string, unknown>> = {},
  ): Promise<boolean> {
    const { map, noun, takeVerb } = this.#layout;
    if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
      const name = `${noun.charAt(0).toUpperCase()}${noun.slice(1)}`;
      throw new RangeError(`${name} TTL must be a positive number of seconds, got ${ttlSeconds}`);
    }
    const expiresAt = new Date(now.getTime() + ttlSeconds * 1000).toISOString();
    const { names, presence, holderPath, expiryPath, holderValue } = leasePlaceholders(this.#layout);
    const set = map
      ? [`#${map} = :${map}`]
      : [`${holderPath} = ${holderValue}`, `${expiryPath} = :expiresAt`];
    const assigned: Record<string, unknown> = map
      ? { [`:${map}`]: { [this.#layout.holder]: holder, expiresAt } }
      : { ':expiresAt': expiresAt };
    for (const [field, value] of Object.entries(alsoSet)) {
      names[`#${field}`] = field;
      assigned[`:${field}`] = value;
      set.push(`#${field} = :${field}`);
    }
    const { UpdateItemCommand, values } = await sdk();
    try {
      await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#tableName,
          Key: values({ pk }),
          UpdateExpression: `SET ${set.join(', ')}`,
          ConditionExpression: `attribute_not_exists(${presence}) OR ${holderPath} = ${holderValue} OR ${expiryPath} < :now`,
          ExpressionAttributeNames: { ...names, '#expiresAt': 'expiresAt' },
          ExpressionAttributeValues: values({
            ...assigned,
            [holderValue]: holder,
            ':now': now.toISOString(),
          }),
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw wrapAwsError(error, `DynamoDB UpdateItem ${pk} in ${this.#tableName} (${takeVerb} ${noun})`);
    }
  }

  /** Gives the lease on item `pk` back if `holder` still holds it; otherwise changes nothing. */
  async release(pk: string, holder: string): Promise<void> {
    const { map, noun } = this.#layout;
    const { names, holderPath, holderValue } = leasePlaceholders(this.#layout);
    const { DeleteItemCommand, UpdateItemCommand, values } = await sdk();
    const conditional = {
      TableName: this.#tableName,
      Key: values({ pk }),
      ConditionExpression: `${holderPath} = ${holderValue}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values({ [holderValue]: holder }),
    };
    try {
      await this.#client.send(
        map
          ? new UpdateItemCommand({ ...conditional, UpdateExpression: `REMOVE #${map}` })
          : new DeleteItemCommand(conditional),
      );
    } catch (error) {
      // Someone else's lease (taken over after it expired), or none at all: nothing of ours to give back.
      if (isConditionalCheckFailed(error)) return;
      const command = map ? 'UpdateItem' : 'DeleteItem';
      throw wrapAwsError(error, `DynamoDB ${command} ${pk} in ${this.#tableName} (release ${noun})`);
    }
  }
}

/**
 * The certificate registry in one DynamoDB table (partition key `pk`, string). Accounts live
 * under `ACCOUNT#<sha256(directoryUrl + "\n" + thumbprint)>`, each CA's kept directory under
 * `DIRECTORY#<sha256(directoryUrl)>`, certificates under `CERT#<certificateId>` with their
 * record's fields as attributes.
 *
 * Guarantees:
 * - the per-certificate lock is taken and released with single conditional writes, so two
 *   executions never both hold an unexpired lock, and a retried acquire by the holder succeeds;
 * - reads are strongly consistent, so a step sees what the previous step wrote;
 * - `update` is one `UpdateItem` that touches only the given fields, never the lock;
 * - failures become `AwsTransientError` (throttling, 5xx) or `AwsRequestError`, with the SDK
 *   error as `cause`; a lost lock race is a `false`, not an error.
 */
export class DynamoDbRegistry implements CertificateRegistry {
  readonly #client: DynamoDBClient;
  readonly #tableName: string;
  readonly #lock: ItemLease;

  constructor(options: DynamoDbRegistryOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#lock = new ItemLease(options.client, options.tableName, CERTIFICATE_LOCK);
  }

  async getAccount(directoryUrl: string, accountKeyThumbprint: string): Promise<AccountRecord | undefined> {
    const pk = accountPartitionKey(directoryUrl, accountKeyThumbprint);
    const item = await this.#getItem(pk);
    if (!item) return undefined;
    const { unmarshall } = await sdk();
    const record = unmarshall(item);
    if (typeof record.accountUrl !== 'string') {
      throw new AwsRequestError(`DynamoDB item ${pk} in ${this.#tableName} has no accountUrl string`);
    }
    const { keyThumbprint: _thumbprint, ...account } = accountRecordOf(directoryUrl, record);
    return account;
  }

  async putAccount(accountKeyThumbprint: string, record: AccountRecord): Promise<void> {
    const pk = accountPartitionKey(record.directoryUrl, accountKeyThumbprint);
    const { PutItemCommand, values } = await sdk();
    try {
      await this.#client.send(
        new PutItemCommand({
          TableName: this.#tableName,
          Item: values({
            pk,
            directoryUrl: record.directoryUrl,
            accountUrl: record.accountUrl,
            ...(record.status ? { status: record.status } : {}),
            ...(record.contact ? { contact: [...record.contact] } : {}),
            ...(record.rolledOverTo ? { rolledOverTo: record.rolledOverTo } : {}),
            ...(record.updatedAt ? { updatedAt: record.updatedAt } : {}),
            keyThumbprint: accountKeyThumbprint,
          }),
        }),
      );
    } catch (error) {
      throw wrapAwsError(error, `DynamoDB PutItem ${pk} in ${this.#tableName}`);
    }
  }

  async getDirectory(directoryUrl: string): Promise<DirectoryRecord | undefined> {
    const item = await this.#getItem(directoryPartitionKey(directoryUrl));
    if (!item) return undefined;
    const { unmarshall } = await sdk();
    const { directoryUrl: storedUrl, body, fetchedAt } = unmarshall(item);
    // Only a cache: an item that is not a whole record (or, past belief, another CA's under the
    // same hash) is as good as none, and the caller fetches the directory and replaces it.
    if (storedUrl !== directoryUrl || typeof body !== 'string' || typeof fetchedAt !== 'string')
      return undefined;
    return { directoryUrl, body, fetchedAt };
  }

  async putDirectory(record: DirectoryRecord): Promise<void> {
    const pk = directoryPartitionKey(record.directoryUrl);
    const { PutItemCommand, values } = await sdk();
    try {
      await this.#client.send(
        new PutItemCommand({
          TableName: this.#tableName,
          Item: values({
            pk,
            directoryUrl: record.directoryUrl,
            body: record.body,
            fetchedAt: record.fetchedAt,
          }),
        }),
      );
    } catch (error) {
      throw wrapAwsError(error, `DynamoDB PutItem ${pk} in ${this.#tableName}`);
    }
  }

  async acquireLock(
    certificateId: string,
    executionId: string,
    now: Date,
    ttlSeconds: number,
  ): Promise<boolean> {
    return this.#lock.take(certificatePartitionKey(certificateId), executionId, now, ttlSeconds, {
      certificateId,
    });
  }

  async releaseLock(certificateId: string, executionId: string): Promise<void> {
    await this.#lock.release(certificatePartitionKey(certificateId), executionId);
  }

  async get(certificateId: string): Promise<CertificateRecord | undefined> {
    const item = await this.#getItem(certificatePartitionKey(certificateId));
    if (!item) return undefined;
    const { unmarshall } = await sdk();
    const { pk: _pk, ...record } = unmarshall(item);
    return { ...record, certificateId } as CertificateRecord;
  }

  async list(options: { readonly cursor?: string; readonly limit: number }): Promise<{
    readonly records: readonly CertificateRecord[];
    readonly cursor?: string;
  }> {
    const page = await this.#scan(CERTIFICATE_PREFIX, options.limit, options.cursor);
    const records = page.items.map(({ pk, ...record }) => {
      return { ...record, certificateId: String(pk).slice(CERTIFICATE_PREFIX.length) } as CertificateRecord;
    });
    return { records, ...(page.cursor ? { cursor: page.cursor } : {}) };
  }

  /**
   * Every CA account record with the thumbprint of the key it belongs to, for operators (the CLI);
   * a deployment holds a handful, so all pages are read.
   */
  async listAccounts(): Promise<(AccountRecord & { readonly keyThumbprint?: string })[]> {
    const accounts: (AccountRecord & { readonly keyThumbprint?: string })[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.#scan(ACCOUNT_PREFIX, 100, cursor);
      for (const item of page.items) {
        if (typeof item.directoryUrl !== 'string' || typeof item.accountUrl !== 'string') continue;
        accounts.push(accountRecordOf(item.directoryUrl, item));
      }
      cursor = page.cursor;
    } while (cursor);
    return accounts;
  }

  async #scan(
    prefix: string,
    limit: number,
    cursor: string | undefined,
  ): Promise<{ items: Record<string, unknown>[]; cursor?: string }> {
    const { ScanCommand, unmarshall, values } = await sdk();
    let output: ScanCommandOutput;
    try {
      output = await this.#client.send(
        new ScanCommand({
          TableName: this.#tableName,
          Limit: limit,
          ConsistentRead: true,
          FilterExpression: 'begins_with(#pk, :prefix)',
          ExpressionAttributeNames: { '#pk': 'pk' },
          ExpressionAttributeValues: values({ ':prefix': prefix }),
          ...(cursor
            ? { ExclusiveStartKey: values({ pk: Buffer.from(cursor, 'base64url').toString('utf8') }) }
            : {}),
        }),
      );
    } catch (error) {
      throw wrapAwsError(error, `DynamoDB Scan ${this.#tableName}`);
    }
    const items = (output.Items ?? []).map((item) => unmarshall(item));
    const lastKey = output.LastEvaluatedKey ? unmarshall(output.LastEvaluatedKey).pk : undefined;
    return {
      items,
      ...(typeof lastKey === 'string' ? { cursor: Buffer.from(lastKey, 'utf8').toString('base64url') } : {}),
    };
  }

  async update(certificateId: string, changes: CertificateRecordChanges): Promise<void> {
    const names: Record<string, string> = {};
    const assigned: Record<string, unknown> = {};
    const set: string[] = [];
    const remove: string[] = [];
    for (const [field, value] of Object.entries(changes)) {
      if (value === undefined) continue;
      if (!isUpdatableField(field)) {
        throw new TypeError(`CertificateRegistry.update cannot change "${field}"`);
      }
      names[`#${field}`] = field;
      if (value === null) {
        remove.push(`#${field}`);
      } else {
        assigned[`:${field}`] = value;
        set.push(`#${field} = :${field}`);
      }
    }
    if (set.length === 0 && remove.length === 0) return;

    // Written on every update so a record created by `update` alone reads back complete.
    names['#certificateId'] = 'certificateId';
    assigned[':certificateId'] = certificateId;
    set.push('#certificateId = :certificateId');

    const pk = certificatePartitionKey(certificateId);
    const clauses = [`SET ${set.join(', ')}`, ...(remove.length > 0 ? [`REMOVE ${remove.join(', ')}`] : [])];
    const { UpdateItemCommand, values } = await sdk();
    try {
      await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#tableName,
          Key: values({ pk }),
          UpdateExpression: clauses.join(' '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values(assigned),
        }),
      );
    } catch (error) {
      throw wrapAwsError(error, `DynamoDB UpdateItem ${pk} in ${this.#tableName}`);
    }
  }

  async #getItem(pk: string): Promise<Record<string, AttributeValue> | undefined> {
    const { GetItemCommand, values } = await sdk();
    try {
      const output = await this.#client.send(
        new GetItemCommand({ TableName: this.#tableName, Key: values({ pk }), ConsistentRead: true }),
      );
      return output.Item;
    } catch (error) {
      throw wrapAwsError(error, `DynamoDB GetItem ${pk} in ${this.#tableName}`);
    }
  }
}

export interface DynamoDbRecordSetLeasesOptions extends DynamoDbRegistryOptions {
  /** The time the current invocation has left, in milliseconds (Lambda's `getRemainingTimeInMillis`). */
  readonly remainingMs: () => number;
  /** Waits between attempts. @default a `setTimeout` promise */
  readonly pause?: (ms: number) => Promise<void>;
}

/**
 * Record set leases in the registry table, one item per leased record set under
 * `LEASE#<zoneId>#<record name>` (the planner and the CLI read only `CERT#` and `ACCOUNT#` items).
 * A lease is taken with one conditional `UpdateItem` (free, expired, or already ours) and given
 * back with one conditional `DeleteItem` (only if still ours), so no item outlives a released
 * lease, and a crashed holder's item is taken over once it expires. Expiry compares ISO 8601 UTC
 * timestamps of equal width, which order as the times they name.
 */
export class DynamoDbRecordSetLeases implements RecordSetLeases {
  readonly #lease: ItemLease;
  readonly remainingMs: () => number;
  readonly pause: (ms: number) => Promise<void>;

  constructor(options: DynamoDbRecordSetLeasesOptions) {
    this.#lease = new ItemLease(options.client, options.tableName, RECORD_SET_LEASE);
    this.remainingMs = options.remainingMs;
    this.pause = options.pause ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async acquire(key: string, holder: string, now: Date, ttlSeconds: number): Promise<boolean> {
    return this.#lease.take(`${LEASE_PREFIX}${key}`, holder, now, ttlSeconds);
  }

  async release(key: string, holder: string): Promise<void> {
    await this.#lease.release(`${LEASE_PREFIX}${key}`, holder);
  }
}
