import { randomUUID } from 'node:crypto';
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DeleteItemCommandInput,
  type DeleteItemCommandOutput,
  DynamoDBClient,
  DynamoDBServiceException,
  GetItemCommand,
  type GetItemCommandInput,
  type GetItemCommandOutput,
  InternalServerError,
  ProvisionedThroughputExceededException,
  PutItemCommand,
  type PutItemCommandInput,
  type PutItemCommandOutput,
  QueryCommand,
  type QueryCommandInput,
  type QueryCommandOutput,
  RequestLimitExceeded,
  ResourceNotFoundException,
  ScanCommand,
  type ScanCommandInput,
  type ScanCommandOutput,
  ThrottlingException,
  TransactionConflictException,
  UpdateItemCommand,
  type UpdateItemCommandInput,
  type UpdateItemCommandOutput,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { awsError, FakeCommandRunner, type ServiceExceptionClass } from './fake-support.js';

/**
 * An in-memory Amazon DynamoDB at the SDK boundary, for unit tests, the e2e state machine and the
 * demo. Items are kept in AttributeValue form per table, and requests go through the checks
 * DynamoDB makes before it touches an item: the key must match the table's schema, every
 * `#name` and `:value` must be defined *and* used, paths of one update must not overlap, the key
 * cannot be updated, and reserved words need a placeholder. Conditions and updates run through
 * a small evaluator of the expression language; syntax it does not cover throws
 * `DynamoDbFakeUnsupportedError` instead of passing silently.
 *
 * Supported: GetItem, PutItem, UpdateItem, DeleteItem, Query (on the partition key) and Scan
 * (with `Limit`/`ExclusiveStartKey`), on tables with a string partition key and no sort key.
 * Expressions: `SET` (with `+`, `-`, `if_not_exists`, `list_append`), `REMOVE`, conditions with
 * `attribute_exists`, `attribute_not_exists`, `begins_with`, `= <> < <= > >=`, `AND`, `OR`,
 * `NOT` and parentheses, document paths with `.` and `[n]`, and projections of map paths.
 */

type Item = Record<string, AttributeValue>;
type PathElement = string | number;
type Path = readonly PathElement[];

export interface InstallDynamoDbFakeOptions {
  /** Tables (partition key `pk`) that exist from the start. @default none */
  readonly tables?: readonly string[];
  /**
   * Creates a table (partition key `pk`) on first use instead of failing with
   * `ResourceNotFoundException`. Leave it off to catch a misnamed table.
   * @default false
   */
  readonly autoCreateTables?: boolean;
}

export interface CreateFakeTableOptions {
  /** Name of the string partition key. @default 'pk' */
  readonly partitionKey?: string;
}

export interface DynamoDbFake {
  /** Calls per command (`GetItem`, `UpdateItem`, ...), failed ones included. */
  readonly calls: Readonly<Record<string, number>>;
  /** Every request with its input, oldest first. */
  readonly requests: readonly { readonly command: string; readonly input: unknown }[];
  /** Creates an empty table; requests to tables that were never created fail like DynamoDB's. */
  createTable(name: string, options?: CreateFakeTableOptions): void;
  /** True once `name` exists (created, listed at install, or auto-created by a request). */
  hasTable(name: string): boolean;
  /** The table's items, unmarshalled, in partition key order. Throws for an unknown table. */
  items(table: string): Record<string, unknown>[];
  /** The table's items as stored (AttributeValue form), in partition key order. */
  rawItems(table: string): Item[];
  /** Stores an item given in plain JavaScript (marshalled with `removeUndefinedValues`). */
  putItem(table: string, item: Record<string, unknown>): void;
  /** Makes the next `times` calls of `command` throw an error named `errorName`. */
  failNext(command: string, errorName: string, times?: number): void;
  /** Gives `DynamoDBClient` back its real `send`. */
  restore(): void;
}

/** Thrown for requests the fake cannot evaluate faithfully; never a DynamoDB error. */
export class DynamoDbFakeUnsupportedError extends Error {
  constructor(feature: string) {
    super(`The DynamoDB fake does not support ${feature}; extend test/fakes/dynamodb-fake.ts first`);
    this.name = 'DynamoDbFakeUnsupportedError';
  }
}

// ---------------------------------------------------------------------------------------------
// Errors

const ServiceException = DynamoDBServiceException as unknown as ServiceExceptionClass;

type ModeledExceptionClass = new (options: {
  $metadata: DynamoDBServiceException['$metadata'];
  message: string;
  Item?: Item;
}) => DynamoDBServiceException;

/** Errors the SDK deserializes into their own classes; everything else is a plain service exception. */
const MODELED_EXCEPTIONS: Readonly<Record<string, ModeledExceptionClass>> = {
  ConditionalCheckFailedException: ConditionalCheckFailedException as unknown as ModeledExceptionClass,
  InternalServerError: InternalServerError as unknown as ModeledExceptionClass,
  ProvisionedThroughputExceededException:
    ProvisionedThroughputExceededException as unknown as ModeledExceptionClass,
  RequestLimitExceeded: RequestLimitExceeded as unknown as ModeledExceptionClass,
  ResourceNotFoundException: ResourceNotFoundException as unknown as ModeledExceptionClass,
  ThrottlingException: ThrottlingException as unknown as ModeledExceptionClass,
  TransactionConflictException: TransactionConflictException as unknown as ModeledExceptionClass,
};

/** Re-creates a generic service error as its modeled class, as the SDK's deserializer would. */
function asModeled(error: unknown, extra: { Item?: Item } = {}): unknown {
  if (!(error instanceof DynamoDBServiceException)) return error;
  const Modeled = MODELED_EXCEPTIONS[error.name];
  if (!Modeled || error.constructor === Modeled) return error;
  const modeled = new Modeled({ $metadata: error.$metadata, message: error.message, ...extra });
  if (error.$retryable) modeled.$retryable = error.$retryable;
  return modeled;
}

function serviceError(name: string, message: string, extra: { Item?: Item } = {}): unknown {
  return asModeled(awsError(ServiceException, { name, message }), extra);
}

function validation(message: string): never {
  throw serviceError('ValidationException', message);
}

// ---------------------------------------------------------------------------------------------
// Attribute values

const TYPE_KEYS = ['S', 'N', 'B', 'SS', 'NS', 'BS', 'M', 'L', 'NULL', 'BOOL'] as const;
type TypeKey = (typeof TYPE_KEYS)[number];
const NUMBER_PATTERN = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function typeOf(value: AttributeValue): TypeKey {
  const present = TYPE_KEYS.filter((key) => (value as unknown as Record<string, unknown>)[key] !== undefined);
  if (present.length === 0) {
    validation('Supplied AttributeValue is empty, must contain exactly one of the supported datatypes');
  }
  if (present.length > 1) {
    validation(
      'Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes',
    );
  }
  return present[0] as TypeKey;
}

function scalarKey(value: string | Uint8Array): string {
  return typeof value === 'string' ? value : Buffer.from(value).toString('base64');
}

/** Checks one value the way DynamoDB's request validation does, recursively. */
function validateValue(value: AttributeValue): void {
  const type = typeOf(value);
  switch (type) {
    case 'N':
      if (!NUMBER_PATTERN.test(value.N ?? ''))
        validation('A value provided cannot be converted into a number');
      return;
    case 'NULL':
      if (value.NULL !== true) {
        validation(
          'One or more parameter values were invalid: Null attribute value types must have the value of true',
        );
      }
      return;
    case 'SS':
    case 'NS':
    case 'BS': {
      const members = (value.SS ?? value.NS ?? value.BS ?? []) as readonly (string | Uint8Array)[];
      const label = { SS: 'string', NS: 'number', BS: 'binary' }[type];
      if (members.length === 0)
        validation(`One or more parameter values were invalid: An ${label} set  may not be empty`);
      if (type === 'NS') {
        for (const member of members as readonly string[]) {
          if (!NUMBER_PATTERN.test(member)) validation('A value provided cannot be converted into a number');
        }
      }
      const keys = members.map((member) => (type === 'NS' ? String(Number(member)) : scalarKey(member)));
      if (new Set(keys).size !== keys.length) {
        validation(
          `One or more parameter values were invalid: Input collection ${JSON.stringify(keys)} contains duplicates.`,
        );
      }
      return;
    }
    case 'M':
      for (const member of Object.values(value.M ?? {})) validateValue(member);
      return;
    case 'L':
      for (const member of value.L ?? []) validateValue(member);
      return;
    default:
      return;
  }
}

function compareBytes(left: Uint8Array, right: Uint8Array): number {
  return Buffer.compare(Buffer.from(left), Buffer.from(right));
}

/** DynamoDB orders strings by their UTF-8 bytes, not by UTF-16 code units. */
function compareStrings(left: string, right: string): number {
  return Buffer.compare(Buffer.from(left, 'utf8'), Buffer.from(right, 'utf8'));
}

/** Orders two S, N or B values of the same type; `undefined` when they are not comparable. */
function compareScalars(left: AttributeValue, right: AttributeValue): number | undefined {
  const type = typeOf(left);
  if (type !== typeOf(right)) return undefined;
  if (type === 'S') return compareStrings(left.S ?? '', right.S ?? '');
  if (type === 'N') return Math.sign(Number(left.N) - Number(right.N));
  if (type === 'B') return compareBytes(left.B ?? new Uint8Array(), right.B ?? new Uint8Array());
  return undefined;
}

function sameSet(
  left: readonly (string | Uint8Array)[],
  right: readonly (string | Uint8Array)[],
  numeric: boolean,
) {
  const key = (member: string | Uint8Array) => (numeric ? String(Number(member)) : scalarKey(member));
  const rightKeys = new Set(right.map(key));
  return left.length === right.length && left.every((member) => rightKeys.has(key(member)));
}

/** Value equality as DynamoDB's `=`: same type, numbers by value, sets regardless of order. */
function sameValue(left: AttributeValue, right: AttributeValue): boolean {
  const type = typeOf(left);
  if (type !== typeOf(right)) return false;
  switch (type) {
    case 'S':
    case 'N':
    case 'B':
      return compareScalars(left, right) === 0;
    case 'BOOL':
      return left.BOOL === right.BOOL;
    case 'NULL':
      return true;
    case 'SS':
      return sameSet(left.SS ?? [], right.SS ?? [], false);
    case 'NS':
      return sameSet(left.NS ?? [], right.NS ?? [], true);
    case 'BS':
      return sameSet(left.BS ?? [], right.BS ?? [], false);
    case 'L': {
      const a = left.L ?? [];
      const b = right.L ?? [];
      return (
        a.length === b.length &&
        a.every((member, index) => {
          const other = b[index];
          return other !== undefined && sameValue(member, other);
        })
      );
    }
    case 'M': {
      const a = left.M ?? {};
      const b = right.M ?? {};
      const keys = Object.keys(a);
      return (
        keys.length === Object.keys(b).length &&
        keys.every((key) => {
          const mine = a[key];
          const other = b[key];
          return mine !== undefined && other !== undefined && sameValue(mine, other);
        })
      );
    }
  }
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

// ---------------------------------------------------------------------------------------------
// Expressions: tokens

/**
 * Words DynamoDB refuses as bare attribute names in expressions. A subset of the documented list
 * (which has several hundred): the words this project's records use or are likely to, plus the
 * expression keywords. A miss here lets a request through that DynamoDB would refuse.
 */
const RESERVED_WORDS = new Set([
  'ADD',
  'AND',
  'BETWEEN',
  'COMMENT',
  'COUNT',
  'DATA',
  'DATE',
  'DELETE',
  'DOMAIN',
  'ERROR',
  'HASH',
  'IN',
  'KEY',
  'KEYS',
  'LOCK',
  'NAME',
  'NOT',
  'OR',
  'ORDER',
  'RANGE',
  'REMOVE',
  'SET',
  'SIZE',
  'SOURCE',
  'STATE',
  'STATUS',
  'TIME',
  'TIMESTAMP',
  'TTL',
  'TYPE',
  'USER',
  'VALUE',
  'VALUES',
]);

type TokenKind = 'name' | 'value' | 'identifier' | 'number' | 'operator' | 'end';

interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  readonly position: number;
}

const TOKEN_PATTERNS: readonly [TokenKind, RegExp][] = [
  ['name', /#[A-Za-z0-9_]+/y],
  ['value', /:[A-Za-z0-9_]+/y],
  ['identifier', /[A-Za-z_][A-Za-z0-9_]*/y],
  ['number', /[0-9]+/y],
  ['operator', /<>|<=|>=|[<>=(),.[\]+-]/y],
];

/** Which request parameter an expression came from, as DynamoDB names it in its messages. */
type ExpressionKind =
  | 'UpdateExpression'
  | 'ConditionExpression'
  | 'ProjectionExpression'
  | 'KeyConditionExpression'
  | 'FilterExpression';

function tokenize(text: string, kind: ExpressionKind): Token[] {
  const tokens: Token[] = [];
  let position = 0;
  while (position < text.length) {
    const whitespace = /\s+/y;
    whitespace.lastIndex = position;
    if (whitespace.exec(text)) {
      position = whitespace.lastIndex;
      continue;
    }
    let matched = false;
    for (const [tokenKind, pattern] of TOKEN_PATTERNS) {
      pattern.lastIndex = position;
      const match = pattern.exec(text);
      if (match) {
        tokens.push({ kind: tokenKind, text: match[0], position });
        position = pattern.lastIndex;
        matched = true;
        break;
      }
    }
    if (!matched) {
      validation(
        `Invalid ${kind}: Syntax error; token: "${text[position]}", near: "${text.slice(Math.max(0, position - 5), position + 5)}"`,
      );
    }
  }
  tokens.push({ kind: 'end', text: '<EOF>', position: text.length });
  return tokens;
}

// ---------------------------------------------------------------------------------------------
// Expressions: placeholders shared by every expression of one request

class Placeholders {
  readonly #names: Readonly<Record<string, string>> | undefined;
  readonly #values: Readonly<Record<string, AttributeValue>> | undefined;
  readonly #usedNames = new Set<string>();
  readonly #usedValues = new Set<string>();

  constructor(
    names: Record<string, string> | undefined,
    values: Record<string, AttributeValue> | undefined,
    hasExpression: boolean,
  ) {
    if (names !== undefined) {
      if (!hasExpression) validation('ExpressionAttributeNames can only be specified when using expressions');
      if (Object.keys(names).length === 0) validation('ExpressionAttributeNames must not be empty');
      for (const key of Object.keys(names)) {
        if (!/^#[A-Za-z0-9_]+$/.test(key)) {
          validation(`ExpressionAttributeNames contains invalid key: Syntax error; key: "${key}"`);
        }
      }
    }
    if (values !== undefined) {
      if (!hasExpression)
        validation('ExpressionAttributeValues can only be specified when using expressions');
      if (Object.keys(values).length === 0) validation('ExpressionAttributeValues must not be empty');
      for (const [key, value] of Object.entries(values)) {
        if (!/^:[A-Za-z0-9_]+$/.test(key)) {
          validation(`ExpressionAttributeValues contains invalid key: Syntax error; key: "${key}"`);
        }
        validateValue(value);
      }
    }
    this.#names = names;
    this.#values = values;
  }

  name(placeholder: string, kind: ExpressionKind): string {
    const name = this.#names?.[placeholder];
    if (name === undefined) {
      validation(
        `Invalid ${kind}: An expression attribute name used in the document path is not defined; attribute name: ${placeholder}`,
      );
    }
    this.#usedNames.add(placeholder);
    return name;
  }

  value(placeholder: string, kind: ExpressionKind): AttributeValue {
    const value = this.#values?.[placeholder];
    if (value === undefined) {
      validation(
        `Invalid ${kind}: An expression attribute value used in expression is not defined; attribute value: ${placeholder}`,
      );
    }
    this.#usedValues.add(placeholder);
    return value;
  }

  /** DynamoDB refuses names and values that no expression of the request uses. */
  checkUnused(): void {
    const unusedValues = Object.keys(this.#values ?? {}).filter((key) => !this.#usedValues.has(key));
    if (unusedValues.length > 0) {
      validation(
        `Value provided in ExpressionAttributeValues unused in expressions: keys: {${unusedValues.join(', ')}}`,
      );
    }
    const unusedNames = Object.keys(this.#names ?? {}).filter((key) => !this.#usedNames.has(key));
    if (unusedNames.length > 0) {
      validation(
        `Value provided in ExpressionAttributeNames unused in expressions: keys: {${unusedNames.join(', ')}}`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Expressions: syntax trees

type Operand =
  | { readonly kind: 'path'; readonly path: Path }
  | { readonly kind: 'value'; readonly value: AttributeValue };

type Comparator = '=' | '<>' | '<' | '<=' | '>' | '>=';

type Condition =
  | { readonly kind: 'and' | 'or'; readonly left: Condition; readonly right: Condition }
  | { readonly kind: 'not'; readonly operand: Condition }
  | {
      readonly kind: 'compare';
      readonly comparator: Comparator;
      readonly left: Operand;
      readonly right: Operand;
    }
  | { readonly kind: 'exists'; readonly path: Path; readonly expected: boolean }
  | { readonly kind: 'begins_with'; readonly subject: Operand; readonly prefix: Operand };

type SetValue =
  | Operand
  | {
      readonly kind: 'arithmetic';
      readonly operator: '+' | '-';
      readonly left: SetValue;
      readonly right: SetValue;
    }
  | { readonly kind: 'if_not_exists'; readonly path: Path; readonly fallback: SetValue }
  | { readonly kind: 'list_append'; readonly left: SetValue; readonly right: SetValue };

interface UpdatePlan {
  readonly set: readonly { readonly path: Path; readonly value: SetValue }[];
  readonly remove: readonly Path[];
}

const COMPARATORS = new Set<string>(['=', '<>', '<', '<=', '>', '>=']);
const CONDITION_FUNCTIONS = new Set(['attribute_exists', 'attribute_not_exists', 'begins_with']);
const UNSUPPORTED_CONDITION_FUNCTIONS = new Set(['attribute_type', 'contains', 'size']);

class Parser {
  readonly #tokens: Token[];
  readonly #text: string;
  readonly #kind: ExpressionKind;
  readonly #placeholders: Placeholders;
  #index = 0;

  constructor(text: string, kind: ExpressionKind, placeholders: Placeholders) {
    if (text.trim() === '') validation(`Invalid ${kind}: The expression can not be empty;`);
    this.#text = text;
    this.#kind = kind;
    this.#placeholders = placeholders;
    this.#tokens = tokenize(text, kind);
  }

  // -- entry points

  condition(): Condition {
    const condition = this.#or();
    this.#expectEnd();
    return condition;
  }

  update(): UpdatePlan {
    const set: { path: Path; value: SetValue }[] = [];
    const remove: Path[] = [];
    const seen = new Set<string>();
    do {
      const token = this.#next();
      const clause = token.kind === 'identifier' ? token.text.toUpperCase() : '';
      if (clause === 'ADD' || clause === 'DELETE')
        throw new DynamoDbFakeUnsupportedError(`${clause} in an UpdateExpression`);
      if (clause !== 'SET' && clause !== 'REMOVE') this.#syntaxError(token);
      if (seen.has(clause)) {
        validation(
          `Invalid UpdateExpression: The "${clause}" section can only be used once in an update expression;`,
        );
      }
      seen.add(clause);
      do {
        if (clause === 'SET') {
          const path = this.#path();
          this.#expectOperator('=');
          set.push({ path, value: this.#setValue() });
        } else {
          remove.push(this.#path());
        }
      } while (this.#acceptOperator(','));
    } while (this.#peek().kind !== 'end');
    return { set, remove };
  }

  projection(): Path[] {
    const paths: Path[] = [];
    do {
      paths.push(this.#path());
    } while (this.#acceptOperator(','));
    this.#expectEnd();
    return paths;
  }

  // -- conditions, lowest precedence first: OR, AND, NOT, then comparisons and functions

  #or(): Condition {
    let left = this.#and();
    while (this.#acceptKeyword('OR')) left = { kind: 'or', left, right: this.#and() };
    return left;
  }

  #and(): Condition {
    let left = this.#not();
    while (this.#acceptKeyword('AND')) left = { kind: 'and', left, right: this.#not() };
    return left;
  }

  #not(): Condition {
    if (this.#acceptKeyword('NOT')) return { kind: 'not', operand: this.#not() };
    return this.#primary();
  }

  #primary(): Condition {
    if (this.#acceptOperator('(')) {
      const inner = this.#or();
      this.#expectOperator(')');
      return inner;
    }
    const token = this.#peek();
    const following = this.#tokens[this.#index + 1];
    if (token.kind === 'identifier' && following?.kind === 'operator' && following.text === '(') {
      if (UNSUPPORTED_CONDITION_FUNCTIONS.has(token.text)) {
        throw new DynamoDbFakeUnsupportedError(`the ${token.text} function in a ${this.#kind}`);
      }
      if (!CONDITION_FUNCTIONS.has(token.text))
        validation(`Invalid ${this.#kind}: Invalid function name; function: ${token.text}`);
      this.#next();
      this.#expectOperator('(');
      let condition: Condition;
      if (token.text === 'begins_with') {
        const subject = this.#operand();
        this.#expectOperator(',');
        const prefix = this.#operand();
        if (prefix.kind === 'value' && !['S', 'B'].includes(typeOf(prefix.value))) {
          validation(
            `Invalid ${this.#kind}: Incorrect operand type for operator or function; operator or function: begins_with, operand type: ${typeOf(prefix.value)}`,
          );
        }
        condition = { kind: 'begins_with', subject, prefix };
      } else {
        condition = { kind: 'exists', path: this.#path(), expected: token.text === 'attribute_exists' };
      }
      this.#expectOperator(')');
      return condition;
    }
    const left = this.#operand();
    const operator = this.#next();
    if (operator.kind === 'identifier' && ['BETWEEN', 'IN'].includes(operator.text.toUpperCase())) {
      throw new DynamoDbFakeUnsupportedError(`${operator.text.toUpperCase()} in a ${this.#kind}`);
    }
    if (operator.kind !== 'operator' || !COMPARATORS.has(operator.text)) this.#syntaxError(operator);
    return { kind: 'compare', comparator: operator.text as Comparator, left, right: this.#operand() };
  }

  #operand(): Operand {
    const token = this.#peek();
    if (token.kind === 'value') {
      this.#next();
      return { kind: 'value', value: this.#placeholders.value(token.text, this.#kind) };
    }
    const following = this.#tokens[this.#index + 1];
    if (token.kind === 'identifier' && following?.kind === 'operator' && following.text === '(') {
      if (token.text === 'size')
        throw new DynamoDbFakeUnsupportedError(`the size function in a ${this.#kind}`);
      validation(`Invalid ${this.#kind}: Invalid function name; function: ${token.text}`);
    }
    return { kind: 'path', path: this.#path() };
  }

  // -- update values

  #setValue(): SetValue {
    const left = this.#setOperand();
    if (this.#acceptOperator('+'))
      return { kind: 'arithmetic', operator: '+', left, right: this.#setOperand() };
    if (this.#acceptOperator('-'))
      return { kind: 'arithmetic', operator: '-', left, right: this.#setOperand() };
    return left;
  }

  #setOperand(): SetValue {
    const token = this.#peek();
    const following = this.#tokens[this.#index + 1];
    if (token.kind === 'identifier' && following?.kind === 'operator' && following.text === '(') {
      this.#next();
      this.#next();
      let value: SetValue;
      if (token.text === 'if_not_exists') {
        const path = this.#path();
        this.#expectOperator(',');
        value = { kind: 'if_not_exists', path, fallback: this.#setOperand() };
      } else if (token.text === 'list_append') {
        const left = this.#setOperand();
        this.#expectOperator(',');
        value = { kind: 'list_append', left, right: this.#setOperand() };
      } else {
        return validation(`Invalid UpdateExpression: Invalid function name; function: ${token.text}`);
      }
      this.#expectOperator(')');
      return value;
    }
    return this.#operand();
  }

  // -- document paths

  #path(): Path {
    const elements: PathElement[] = [this.#pathName()];
    for (;;) {
      if (this.#acceptOperator('.')) {
        elements.push(this.#pathName());
      } else if (this.#acceptOperator('[')) {
        const index = this.#next();
        if (index.kind !== 'number') this.#syntaxError(index);
        elements.push(Number(index.text));
        this.#expectOperator(']');
      } else {
        return elements;
      }
    }
  }

  #pathName(): string {
    const token = this.#next();
    if (token.kind === 'name') return this.#placeholders.name(token.text, this.#kind);
    if (token.kind !== 'identifier') this.#syntaxError(token);
    if (RESERVED_WORDS.has(token.text.toUpperCase())) {
      validation(
        `Invalid ${this.#kind}: Attribute name is a reserved keyword; reserved keyword: ${token.text}`,
      );
    }
    return token.text;
  }

  // -- token helpers

  #peek(): Token {
    return this.#tokens[this.#index] as Token;
  }

  #next(): Token {
    const token = this.#peek();
    if (token.kind !== 'end') this.#index += 1;
    return token;
  }

  #acceptOperator(text: string): boolean {
    const token = this.#peek();
    if (token.kind !== 'operator' || token.text !== text) return false;
    this.#index += 1;
    return true;
  }

  #acceptKeyword(word: string): boolean {
    const token = this.#peek();
    if (token.kind !== 'identifier' || token.text.toUpperCase() !== word) return false;
    this.#index += 1;
    return true;
  }

  #expectOperator(text: string): void {
    if (!this.#acceptOperator(text)) this.#syntaxError(this.#peek());
  }

  #expectEnd(): void {
    const token = this.#peek();
    if (token.kind !== 'end') this.#syntaxError(token);
  }

  #syntaxError(token: Token): never {
    const near = this.#text.slice(Math.max(0, token.position - 10), token.position + token.text.length + 10);
    return validation(`Invalid ${this.#kind}: Syntax error; token: "${token.text}", near: "${near}"`);
  }
}

// ---------------------------------------------------------------------------------------------
// Expressions: evaluation

function child(value: AttributeValue | undefined, element: PathElement): AttributeValue | undefined {
  if (value === undefined) return undefined;
  return typeof element === 'string' ? value.M?.[element] : value.L?.[element];
}

function resolve(item: Item | undefined, path: Path): AttributeValue | undefined {
  let current: AttributeValue | undefined = item ? { M: item } : undefined;
  for (const element of path) current = child(current, element);
  return current;
}

function operandValue(operand: Operand, item: Item | undefined): AttributeValue | undefined {
  return operand.kind === 'value' ? operand.value : resolve(item, operand.path);
}

function compare(
  comparator: Comparator,
  left: AttributeValue | undefined,
  right: AttributeValue | undefined,
) {
  if (comparator === '<>') return left === undefined || right === undefined || !sameValue(left, right);
  if (left === undefined || right === undefined) return false;
  if (comparator === '=') return sameValue(left, right);
  const order = compareScalars(left, right);
  if (order === undefined) return false;
  switch (comparator) {
    case '<':
      return order < 0;
    case '<=':
      return order <= 0;
    case '>':
      return order > 0;
    case '>=':
      return order >= 0;
  }
}

function evaluate(condition: Condition, item: Item | undefined): boolean {
  switch (condition.kind) {
    case 'or':
      return evaluate(condition.left, item) || evaluate(condition.right, item);
    case 'and':
      return evaluate(condition.left, item) && evaluate(condition.right, item);
    case 'not':
      return !evaluate(condition.operand, item);
    case 'exists':
      return (resolve(item, condition.path) !== undefined) === condition.expected;
    case 'compare':
      return compare(
        condition.comparator,
        operandValue(condition.left, item),
        operandValue(condition.right, item),
      );
    case 'begins_with': {
      const subject = operandValue(condition.subject, item);
      const prefix = operandValue(condition.prefix, item);
      if (subject?.S !== undefined && prefix?.S !== undefined) return subject.S.startsWith(prefix.S);
      if (subject?.B !== undefined && prefix?.B !== undefined) {
        const bytes = subject.B;
        const start = prefix.B;
        return bytes.length >= start.length && compareBytes(bytes.subarray(0, start.length), start) === 0;
      }
      return false;
    }
  }
}

function conditionPaths(condition: Condition): Path[] {
  const operandPaths = (operand: Operand) => (operand.kind === 'path' ? [operand.path] : []);
  switch (condition.kind) {
    case 'or':
    case 'and':
      return [...conditionPaths(condition.left), ...conditionPaths(condition.right)];
    case 'not':
      return conditionPaths(condition.operand);
    case 'exists':
      return [condition.path];
    case 'compare':
      return [...operandPaths(condition.left), ...operandPaths(condition.right)];
    case 'begins_with':
      return [...operandPaths(condition.subject), ...operandPaths(condition.prefix)];
  }
}

function missingAttribute(): never {
  return validation('The provided expression refers to an attribute that does not exist in the item');
}

function wrongType(): never {
  return validation('An operand in the update expression has an incorrect data type');
}

/** Evaluates a SET right-hand side against the item as it was before the update. */
function setValueOf(value: SetValue, item: Item | undefined): AttributeValue {
  switch (value.kind) {
    case 'value':
      return clone(value.value);
    case 'path':
      return clone(resolve(item, value.path) ?? missingAttribute());
    case 'if_not_exists':
      return clone(resolve(item, value.path) ?? setValueOf(value.fallback, item));
    case 'list_append': {
      const left = setValueOf(value.left, item);
      const right = setValueOf(value.right, item);
      if (left.L === undefined || right.L === undefined) wrongType();
      return { L: [...left.L, ...right.L] };
    }
    case 'arithmetic': {
      const left = setValueOf(value.left, item);
      const right = setValueOf(value.right, item);
      if (left.N === undefined || right.N === undefined) wrongType();
      const result =
        value.operator === '+' ? Number(left.N) + Number(right.N) : Number(left.N) - Number(right.N);
      return { N: String(result) };
    }
  }
}

function invalidDocumentPath(): never {
  return validation('The document path provided in the update expression is invalid for update');
}

function parentOf(item: Item, path: Path): AttributeValue {
  let current: AttributeValue = { M: item };
  for (const element of path.slice(0, -1)) current = child(current, element) ?? invalidDocumentPath();
  return current;
}

function assign(item: Item, path: Path, value: AttributeValue): void {
  const parent = parentOf(item, path);
  const last = path.at(-1) as PathElement;
  if (typeof last === 'string') {
    if (parent.M === undefined) invalidDocumentPath();
    parent.M[last] = value;
  } else {
    if (parent.L === undefined) invalidDocumentPath();
    // An index past the end appends, as in DynamoDB.
    if (last >= parent.L.length) parent.L.push(value);
    else parent.L[last] = value;
  }
}

function removeAll(item: Item, paths: readonly Path[]): void {
  const listRemovals: { list: AttributeValue[]; index: number }[] = [];
  for (const path of paths) {
    const parent = parentOf(item, path);
    const last = path.at(-1) as PathElement;
    if (typeof last === 'string') {
      if (parent.M === undefined) invalidDocumentPath();
      delete parent.M[last];
    } else {
      if (parent.L === undefined) invalidDocumentPath();
      listRemovals.push({ list: parent.L, index: last });
    }
  }
  // Indexes refer to the list before the update, so remove from the back.
  listRemovals.sort((a, b) => b.index - a.index);
  for (const { list, index } of listRemovals) if (index < list.length) list.splice(index, 1);
}

function formatPath(path: Path): string {
  return `[${path.map((element) => (typeof element === 'number' ? `[${element}]` : element)).join(', ')}]`;
}

/** DynamoDB refuses an expression in which one path is another, or lies inside another. */
function checkNoOverlap(paths: readonly Path[], kind: ExpressionKind): void {
  for (const [i, first] of paths.entries()) {
    for (const second of paths.slice(i + 1)) {
      const shorter = first.length <= second.length ? first : second;
      const longer = shorter === first ? second : first;
      if (!shorter.every((element, index) => element === longer[index])) continue;
      const verb = first.length === second.length ? 'conflict' : 'overlap';
      validation(
        `Invalid ${kind}: Two document paths ${verb} with each other; must remove or rewrite one of these paths; path one: ${formatPath(first)}, path two: ${formatPath(second)}`,
      );
    }
  }
}

function applyUpdate(old: Item | undefined, base: Item, plan: UpdatePlan): Item {
  const values = plan.set.map(({ path, value }) => ({ path, value: setValueOf(value, old) }));
  const updated = clone(base);
  for (const { path, value } of values) assign(updated, path, value);
  removeAll(updated, plan.remove);
  return updated;
}

/** The parts of `item` named by `paths`, nested maps included. */
function project(item: Item, paths: readonly Path[]): Item {
  const result: Item = {};
  for (const path of paths) {
    if (path.some((element) => typeof element === 'number')) {
      throw new DynamoDbFakeUnsupportedError('list indexes in a ProjectionExpression');
    }
    const value = resolve(item, path);
    if (value === undefined) continue;
    let target = result;
    for (const element of path.slice(0, -1) as string[]) {
      const existing = target[element];
      const next: Item = existing?.M ?? {};
      target[element] = { M: next };
      target = next;
    }
    target[path.at(-1) as string] = clone(value);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Tables

interface FakeTable {
  readonly name: string;
  readonly partitionKey: string;
  readonly items: Map<string, Item>;
}

function sortedItems(table: FakeTable): [string, Item][] {
  return [...table.items.entries()].sort(([a], [b]) => compareStrings(a, b));
}

function keyOf(table: FakeTable, key: Item | undefined): string {
  const names = Object.keys(key ?? {});
  const value = key?.[table.partitionKey];
  if (names.length !== 1 || value === undefined)
    validation('The provided key element does not match the schema');
  validateValue(value);
  if (value.S === undefined) validation('The provided key element does not match the schema');
  if (value.S === '') {
    validation(
      `One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: ${table.partitionKey}`,
    );
  }
  return value.S;
}

function keyOfItem(table: FakeTable, item: Item): string {
  const value = item[table.partitionKey];
  if (value === undefined)
    validation(
      `One or more parameter values were invalid: Missing the key ${table.partitionKey} in the item`,
    );
  const type = typeOf(value);
  if (type !== 'S') {
    validation(
      `One or more parameter values were invalid: Type mismatch for key ${table.partitionKey} expected: S actual: ${type}`,
    );
  }
  return keyOf(table, { [table.partitionKey]: value });
}

function rejectLegacy(input: object, parameters: readonly string[]): void {
  for (const parameter of parameters) {
    if ((input as Record<string, unknown>)[parameter] !== undefined) {
      throw new DynamoDbFakeUnsupportedError(`the legacy parameter ${parameter}`);
    }
  }
}

function checkReturnValues(value: string | undefined, allowed: readonly string[]): void {
  if (value !== undefined && !allowed.includes(value)) {
    validation(`ReturnValues can only be ${allowed.join(' or ')}`);
  }
}

/**
 * Replaces `send` on every `DynamoDBClient` (including clients created before this call, such as
 * those built at module load by Lambda handlers) with the in-memory DynamoDB described above.
 * Call `restore()` when done.
 */
export function installDynamoDbFake(options: InstallDynamoDbFakeOptions = {}): DynamoDbFake {
  const runner = new FakeCommandRunner(ServiceException);
  const tables = new Map<string, FakeTable>();
  const mock = mockClient(DynamoDBClient);
  const ok = () => ({ httpStatusCode: 200, requestId: randomUUID(), attempts: 1, totalRetryDelay: 0 });

  const createTable = (name: string, tableOptions: CreateFakeTableOptions = {}) => {
    if (tables.has(name)) throw new Error(`The DynamoDB fake already has a table named ${name}`);
    tables.set(name, { name, partitionKey: tableOptions.partitionKey ?? 'pk', items: new Map() });
  };
  for (const name of options.tables ?? []) createTable(name);

  const tableOf = (name: string | undefined): FakeTable => {
    const existing = tables.get(name ?? '');
    if (existing) return existing;
    if (!options.autoCreateTables || !name) {
      throw serviceError('ResourceNotFoundException', 'Requested resource not found');
    }
    createTable(name);
    return tables.get(name) as FakeTable;
  };

  const knownTable = (name: string): FakeTable => {
    const table = tables.get(name);
    if (!table) throw new Error(`The DynamoDB fake has no table named ${name}`);
    return table;
  };

  /** Counts the call, throws injected failures as the SDK would deserialize them, runs `handler`. */
  const run = async <T>(command: string, input: unknown, handler: () => T): Promise<T> => {
    try {
      return await runner.run(command, input, handler);
    } catch (error) {
      throw asModeled(error);
    }
  };

  const conditionFailed = (old: Item | undefined, returnOld: string | undefined): never => {
    throw serviceError(
      'ConditionalCheckFailedException',
      'The conditional request failed',
      returnOld === 'ALL_OLD' && old ? { Item: clone(old) } : {},
    );
  };
  /**
   * A PutItem or DeleteItem's `ConditionExpression`, checked as DynamoDB does: placeholders parsed
   * and all used, then the condition against the item as it is now.
   */
  const checkCondition = (
    input: Pick<
      PutItemCommandInput,
      | 'ConditionExpression'
      | 'ExpressionAttributeNames'
      | 'ExpressionAttributeValues'
      | 'ReturnValuesOnConditionCheckFailure'
    >,
    old: Item | undefined,
  ): void => {
    const placeholders = new Placeholders(
      input.ExpressionAttributeNames,
      input.ExpressionAttributeValues,
      input.ConditionExpression !== undefined,
    );
    const condition =
      input.ConditionExpression === undefined
        ? undefined
        : new Parser(input.ConditionExpression, 'ConditionExpression', placeholders).condition();
    placeholders.checkUnused();
    if (condition && !evaluate(condition, old))
      conditionFailed(old, input.ReturnValuesOnConditionCheckFailure);
  };

  mock.onAnyCommand().callsFake(async () => {
    throw new DynamoDbFakeUnsupportedError(
      'this command (only GetItem, PutItem, UpdateItem, DeleteItem, Query, Scan)',
    );
  });

  mock.on(GetItemCommand).callsFake((input: GetItemCommandInput) =>
    run('GetItem', input, (): GetItemCommandOutput => {
      rejectLegacy(input, ['AttributesToGet']);
      const table = tableOf(input.TableName);
      const key = keyOf(table, input.Key);
      const placeholders = new Placeholders(
        input.ExpressionAttributeNames,
        undefined,
        input.ProjectionExpression !== undefined,
      );
      const projection =
        input.ProjectionExpression === undefined
          ? undefined
          : new Parser(input.ProjectionExpression, 'ProjectionExpression', placeholders).projection();
      if (projection) checkNoOverlap(projection, 'ProjectionExpression');
      placeholders.checkUnused();
      const item = table.items.get(key);
      if (!item) return { $metadata: ok() };
      return { $metadata: ok(), Item: projection ? project(item, projection) : clone(item) };
    }),
  );

  mock.on(PutItemCommand).callsFake((input: PutItemCommandInput) =>
    run('PutItem', input, (): PutItemCommandOutput => {
      rejectLegacy(input, ['Expected', 'ConditionalOperator']);
      const table = tableOf(input.TableName);
      const item = input.Item ?? {};
      for (const value of Object.values(item)) validateValue(value);
      const key = keyOfItem(table, item);
      checkReturnValues(input.ReturnValues, ['NONE', 'ALL_OLD']);
      const old = table.items.get(key);
      checkCondition(input, old);
      table.items.set(key, clone(item));
      return { $metadata: ok(), ...(input.ReturnValues === 'ALL_OLD' && old ? { Attributes: old } : {}) };
    }),
  );

  mock.on(UpdateItemCommand).callsFake((input: UpdateItemCommandInput) =>
    run('UpdateItem', input, (): UpdateItemCommandOutput => {
      rejectLegacy(input, ['AttributeUpdates', 'Expected', 'ConditionalOperator']);
      const table = tableOf(input.TableName);
      const key = keyOf(table, input.Key);
      checkReturnValues(input.ReturnValues, ['NONE', 'ALL_OLD', 'UPDATED_OLD', 'ALL_NEW', 'UPDATED_NEW']);
      const placeholders = new Placeholders(
        input.ExpressionAttributeNames,
        input.ExpressionAttributeValues,
        input.UpdateExpression !== undefined || input.ConditionExpression !== undefined,
      );
      const plan =
        input.UpdateExpression === undefined
          ? { set: [], remove: [] }
          : new Parser(input.UpdateExpression, 'UpdateExpression', placeholders).update();
      const condition =
        input.ConditionExpression === undefined
          ? undefined
          : new Parser(input.ConditionExpression, 'ConditionExpression', placeholders).condition();
      placeholders.checkUnused();
      const targets = [...plan.set.map(({ path }) => path), ...plan.remove];
      for (const path of targets) {
        if (path[0] === table.partitionKey) {
          validation(
            `One or more parameter values were invalid: Cannot update attribute ${table.partitionKey}. This attribute is part of the key`,
          );
        }
      }
      checkNoOverlap(targets, 'UpdateExpression');

      const old = table.items.get(key);
      if (condition && !evaluate(condition, old))
        conditionFailed(old, input.ReturnValuesOnConditionCheckFailure);
      // UpdateItem creates a missing item: its key plus whatever the update sets.
      const updated = applyUpdate(old, old ?? { [table.partitionKey]: { S: key } }, plan);
      table.items.set(key, updated);

      let attributes: Item | undefined;
      switch (input.ReturnValues) {
        case 'ALL_OLD':
          attributes = old && clone(old);
          break;
        case 'ALL_NEW':
          attributes = clone(updated);
          break;
        case 'UPDATED_OLD':
          attributes = old && project(old, targets);
          break;
        case 'UPDATED_NEW':
          attributes = project(updated, targets);
          break;
        default:
          attributes = undefined;
      }
      const hasAttributes = attributes !== undefined && Object.keys(attributes).length > 0;
      return { $metadata: ok(), ...(hasAttributes ? { Attributes: attributes } : {}) };
    }),
  );

  mock.on(DeleteItemCommand).callsFake((input: DeleteItemCommandInput) =>
    run('DeleteItem', input, (): DeleteItemCommandOutput => {
      rejectLegacy(input, ['Expected', 'ConditionalOperator']);
      const table = tableOf(input.TableName);
      const key = keyOf(table, input.Key);
      checkReturnValues(input.ReturnValues, ['NONE', 'ALL_OLD']);
      const old = table.items.get(key);
      checkCondition(input, old);
      table.items.delete(key);
      return { $metadata: ok(), ...(input.ReturnValues === 'ALL_OLD' && old ? { Attributes: old } : {}) };
    }),
  );

  /** Filter and projection shared by Query and Scan. */
  const readPlan = (
    input: QueryCommandInput | ScanCommandInput,
    table: FakeTable,
    keyCondition: string | undefined,
  ) => {
    rejectLegacy(input, [
      'AttributesToGet',
      'ScanFilter',
      'QueryFilter',
      'KeyConditions',
      'ConditionalOperator',
    ]);
    if (input.IndexName !== undefined) throw new DynamoDbFakeUnsupportedError('secondary indexes');
    if (input.Select !== undefined && input.Select !== 'ALL_ATTRIBUTES' && input.Select !== 'COUNT') {
      throw new DynamoDbFakeUnsupportedError(`Select ${input.Select}`);
    }
    const placeholders = new Placeholders(
      input.ExpressionAttributeNames,
      input.ExpressionAttributeValues,
      keyCondition !== undefined ||
        input.FilterExpression !== undefined ||
        input.ProjectionExpression !== undefined,
    );
    const key =
      keyCondition === undefined
        ? undefined
        : new Parser(keyCondition, 'KeyConditionExpression', placeholders).condition();
    const filter =
      input.FilterExpression === undefined
        ? undefined
        : new Parser(input.FilterExpression, 'FilterExpression', placeholders).condition();
    const projection =
      input.ProjectionExpression === undefined
        ? undefined
        : new Parser(input.ProjectionExpression, 'ProjectionExpression', placeholders).projection();
    placeholders.checkUnused();
    if (projection) checkNoOverlap(projection, 'ProjectionExpression');
    if (filter && key) {
      const keyPath = conditionPaths(filter).find((path) => path[0] === table.partitionKey);
      if (keyPath) {
        validation(
          `Filter Expression can only contain non-primary key attributes: Primary key attribute: ${table.partitionKey}`,
        );
      }
    }
    if (input.Limit !== undefined && input.Limit < 1) {
      validation(
        `1 validation error detected: Value '${input.Limit}' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1`,
      );
    }
    return { key, filter, projection };
  };

  const readResult = (
    scanned: readonly Item[],
    plan: ReturnType<typeof readPlan>,
    input: QueryCommandInput | ScanCommandInput,
    lastKey: Item | undefined,
  ) => {
    const matching = scanned.filter((item) => !plan.filter || evaluate(plan.filter, item));
    return {
      $metadata: ok(),
      Count: matching.length,
      ScannedCount: scanned.length,
      ...(input.Select === 'COUNT'
        ? {}
        : {
            Items: matching.map((item) => (plan.projection ? project(item, plan.projection) : clone(item))),
          }),
      ...(lastKey ? { LastEvaluatedKey: lastKey } : {}),
    };
  };

  mock.on(QueryCommand).callsFake((input: QueryCommandInput) =>
    run('Query', input, (): QueryCommandOutput => {
      const table = tableOf(input.TableName);
      if (input.KeyConditionExpression === undefined) {
        validation(
          'Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.',
        );
      }
      const plan = readPlan(input, table, input.KeyConditionExpression);
      const key = plan.key;
      if (
        key?.kind !== 'compare' ||
        key.comparator !== '=' ||
        key.left.kind !== 'path' ||
        key.left.path.length !== 1 ||
        key.left.path[0] !== table.partitionKey ||
        key.right.kind !== 'value'
      ) {
        throw new DynamoDbFakeUnsupportedError(
          'a KeyConditionExpression other than `<partition key> = :value`',
        );
      }
      if (key.right.value.S === undefined)
        validation(
          'One or more parameter values were invalid: Condition parameter type does not match schema type',
        );
      const item = table.items.get(key.right.value.S);
      const scanned = item ? [item] : [];
      const limited = input.Limit !== undefined && scanned.length >= input.Limit;
      const lastKey =
        limited && item
          ? { [table.partitionKey]: clone(item[table.partitionKey] as AttributeValue) }
          : undefined;
      return readResult(scanned, plan, input, lastKey);
    }),
  );

  mock.on(ScanCommand).callsFake((input: ScanCommandInput) =>
    run('Scan', input, (): ScanCommandOutput => {
      if (input.Segment !== undefined || input.TotalSegments !== undefined) {
        throw new DynamoDbFakeUnsupportedError('parallel scans');
      }
      const table = tableOf(input.TableName);
      const plan = readPlan(input, table, undefined);
      const start = input.ExclusiveStartKey === undefined ? undefined : keyOf(table, input.ExclusiveStartKey);
      const remaining = sortedItems(table).filter(
        ([key]) => start === undefined || compareStrings(key, start) > 0,
      );
      const page = input.Limit === undefined ? remaining : remaining.slice(0, input.Limit);
      const last = page.at(-1);
      const lastKey =
        input.Limit !== undefined && page.length === input.Limit && last
          ? { [table.partitionKey]: { S: last[0] } }
          : undefined;
      return readResult(
        page.map(([, item]) => item),
        plan,
        input,
        lastKey,
      );
    }),
  );

  return {
    calls: runner.calls,
    requests: runner.requests,
    createTable,
    hasTable: (name) => tables.has(name),
    items: (name) => sortedItems(knownTable(name)).map(([, item]) => unmarshall(item)),
    rawItems: (name) => sortedItems(knownTable(name)).map(([, item]) => clone(item)),
    putItem(name, item) {
      const table = knownTable(name);
      const marshalled = marshall(item, { removeUndefinedValues: true });
      for (const value of Object.values(marshalled)) validateValue(value);
      table.items.set(keyOfItem(table, marshalled), marshalled);
    },
    failNext: (command, errorName, times = 1) => runner.failNext(command, errorName, times),
    restore: () => mock.restore(),
  };
}
