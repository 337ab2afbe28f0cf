import type { Change, Route53Client } from '@aws-sdk/client-route-53';
import { pinnedCaaValues } from '../core/dns/caa-pin.js';
import { quoteTxtValue, unquoteTxtValue } from '../core/dns/txt.js';
import { AwsRequestError, AwsTransientError, InvalidInputError } from '../core/errors.js';
import type { DnsZones, HostedZone, TxtRecord, ZoneRoles } from '../core/ports.js';
import type { CaaPin } from '../core/state.js';

/** The Route 53 SDK, imported on first use and never with this module (runtime.ts says why). */
const sdk = () => import('@aws-sdk/client-route-53');

/** Route 53 clients signed by roles in other accounts, e.g. {@link AssumedRoleClients}. */
export interface Route53ClientsByRole {
  clientFor(roleArn: string): Promise<Route53Client>;
}

/** How {@link Route53Zones} talks to Route 53. */
export interface Route53ZonesOptions {
  /** Built once per Lambda module so connections are reused across invocations. */
  readonly client: Route53Client;
  /**
   * Clients for zones in other accounts, by the role `zoneRoles` names. Without it, a call with a
   * role fails with `AwsRequestError`. Long-lived like `client`, so credentials are reused.
   */
  readonly roleClients?: Route53ClientsByRole;
  /** TTL of record sets we create; an existing set keeps its own. @default 60 */
  readonly ttlSeconds?: number;
  /** Attempts per API call when Route 53 throttles or fails transiently. @default 5 */
  readonly maxAttempts?: number;
  /** Waits between attempts; tests inject an instant one. @default a `setTimeout` promise */
  readonly sleep?: (ms: number) => Promise<void>;
}

const HOSTED_ZONE_PREFIX = '/hostedzone/';
const CHANGE_PREFIX = '/change/';
const BASE_DELAY_MS = 250;
const MAX_DELAY_MS = 5_000;

/**
 * Route 53 rate-limits each account to about five requests per second and refuses a change to a
 * zone while the previous one is still being applied (`PriorRequestNotComplete`); both clear up
 * on their own, as do server-side faults.
 */
const RETRYABLE_ERROR_NAMES = new Set([
  'Throttling',
  'ThrottlingException',
  'PriorRequestNotComplete',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'ServiceUnavailable',
  'InternalFailure',
  // What the SDK throws once its own network retries are spent: a later attempt may well succeed.
  'TimeoutError',
  'RequestTimeout',
]);
const RETRYABLE_NETWORK_CODES = new Set(['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN']);

interface TxtSet {
  readonly ttl: number;
  /** As Route 53 returned them (quoted), so a DELETE can repeat them exactly. */
  readonly quotedValues: readonly string[];
}

interface CallContext {
  readonly operation: string;
  readonly subject: string;
}

/**
 * {@link DnsZones} over Route 53: the only place dns-01 records touch AWS.
 *
 * It never clobbers TXT values it did not write: publishing upserts the union of what is there
 * and ours, removing keeps everyone else's, and each call sends at most one change batch per zone.
 * Throttling and transient faults are retried here with jittered exponential backoff; what still
 * fails becomes {@link AwsTransientError}, and refusals (`InvalidChangeBatch`, `NoSuchHostedZone`,
 * access denied) become {@link AwsRequestError}, both naming the zone and records and keeping the
 * SDK error as `cause`. A call given a role ARN runs in that role's account, through the client
 * `roleClients` keeps for it, since Route 53 answers a zone or change of another account as unknown.
 */
export class Route53Zones implements DnsZones {
  private readonly client: Route53Client;
  private readonly roleClients: Route53ClientsByRole | undefined;
  private readonly ttlSeconds: number;
  private readonly maxAttempts: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(options: Route53ZonesOptions) {
    this.client = options.client;
    this.roleClients = options.roleClients;
    this.ttlSeconds = options.ttlSeconds ?? 60;
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 5);
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /**
   * Every hosted zone of the account, private ones included with `privateZone` set, so that the
   * caller can both filter them and explain why a private zone was not chosen; then each zone of
   * `zoneRoles`, read with `GetHostedZone` through its role. Zones in other accounts are not listed:
   * the operator named them, `GetHostedZone` can be granted on exactly those zones, and the other
   * account's unrelated zones (perhaps with the same names) never compete in the choice.
   */
  async listPublicZones(zoneRoles?: ZoneRoles): Promise<HostedZone[]> {
    const crossAccount = Object.entries(zoneRoles ?? {}).map(([zoneId, roleArn]) => ({
      zoneId: stripPrefix(zoneId, HOSTED_ZONE_PREFIX),
      roleArn,
    }));
    const { GetHostedZoneCommand, ListHostedZonesCommand } = await sdk();
    const zones: HostedZone[] = [];
    let marker: string | undefined;
    do {
      const page = await this.call({ operation: 'ListHostedZones', subject: 'the account' }, () =>
        this.client.send(new ListHostedZonesCommand({ Marker: marker })),
      );
      for (const zone of page.HostedZones ?? []) {
        const id = stripPrefix(zone.Id ?? '', HOSTED_ZONE_PREFIX);
        if (crossAccount.some((entry) => entry.zoneId === id)) continue;
        zones.push({
          id,
          name: canonicalName(zone.Name ?? ''),
          privateZone: zone.Config?.PrivateZone ?? false,
        });
      }
      marker = page.IsTruncated ? page.NextMarker : undefined;
    } while (marker !== undefined);

    for (const { zoneId, roleArn } of crossAccount) {
      const client = await this.clientFor(roleArn);
      const response = await this.call(
        { operation: 'GetHostedZone', subject: `hosted zone ${zoneId} through role ${roleArn}` },
        () => client.send(new GetHostedZoneCommand({ Id: zoneId })),
      );
      zones.push({
        id: stripPrefix(response.HostedZone?.Id ?? zoneId, HOSTED_ZONE_PREFIX),
        name: canonicalName(response.HostedZone?.Name ?? ''),
        privateZone: response.HostedZone?.Config?.PrivateZone ?? false,
      });
    }
    return zones;
  }

  /** Upserts each record set as the union of its current values and ours, in one change batch. */
  async publishTxt(zoneId: string, records: readonly TxtRecord[], roleArn?: string): Promise<string> {
    const wanted = mergeByName(records);
    if (wanted.size === 0) {
      throw new InvalidInputError(`Nothing to publish in hosted zone ${zoneId}: no TXT records were given.`);
    }

    const client = await this.clientFor(roleArn);
    const changes: Change[] = [];
    for (const [name, values] of wanted) {
      const current = await this.readTxt(client, zoneId, name, roleArn);
      const quoted = [...(current?.quotedValues ?? [])];
      const present = new Set(quoted.map(unquoteTxtValue));
      for (const value of values) {
        if (!present.has(value)) quoted.push(quoteTxtValue(value));
      }
      changes.push(txtChange('UPSERT', name, current?.ttl ?? this.ttlSeconds, quoted));
    }

    return this.sendChanges(client, zoneId, changes, wanted.keys(), roleArn, 'TXT');
  }

  async pinCaa(zoneId: string, pins: readonly CaaPin[], roleArn?: string): Promise<string | undefined> {
    const client = await this.clientFor(roleArn);
    const changes: Change[] = [];
    for (const pin of pins) {
      const current = await this.readSet(client, zoneId, pin.name, 'CAA', roleArn);
      const values = pinnedCaaValues(current?.values ?? [], pin);
      if (!values) continue;
      changes.push({
        Action: 'UPSERT',
        ResourceRecordSet: {
          Name: `${pin.name}.`,
          Type: 'CAA',
          TTL: current?.ttl ?? this.ttlSeconds,
          ResourceRecords: values.map((Value) => ({ Value })),
        },
      });
    }
    if (changes.length === 0) return undefined;
    return this.sendChanges(
      client,
      zoneId,
      changes,
      pins.map((pin) => pin.name),
      roleArn,
      'CAA',
    );
  }

  /** Accepts the id with or without `/change/`; true only for `INSYNC`. */
  async isChangeInSync(changeId: string, roleArn?: string): Promise<boolean> {
    const { GetChangeCommand } = await sdk();
    const client = await this.clientFor(roleArn);
    const response = await this.call(
      { operation: 'GetChange', subject: `change ${changeId}${throughRole(roleArn)}` },
      () => client.send(new GetChangeCommand({ Id: changeId })),
    );
    return response.ChangeInfo?.Status === 'INSYNC';
  }

  /**
   * Takes our values out of each record set: upserts what remains, or deletes the set with its
   * exact current TTL and values when nothing remains (Route 53 refuses any other DELETE).
   * Sends nothing when none of our values are present, so repeating it is harmless.
   */
  async removeTxt(zoneId: string, records: readonly TxtRecord[], roleArn?: string): Promise<void> {
    const wanted = mergeByName(records);
    if (wanted.size === 0) return;
    const client = await this.clientFor(roleArn);
    const changes: Change[] = [];
    for (const [name, values] of wanted) {
      const current = await this.readTxt(client, zoneId, name, roleArn);
      if (current === undefined) continue;
      const ours = new Set(values);
      const remaining = current.quotedValues.filter((quoted) => !ours.has(unquoteTxtValue(quoted)));
      if (remaining.length === current.quotedValues.length) continue;
      changes.push(
        remaining.length > 0
          ? txtChange('UPSERT', name, current.ttl, remaining)
          : txtChange('DELETE', name, current.ttl, current.quotedValues),
      );
    }
    if (changes.length === 0) return;

    const names = changes.map((change) => canonicalName(change.ResourceRecordSet?.Name ?? ''));
    await this.sendChanges(client, zoneId, changes, names, roleArn, 'TXT');
  }

  /** The client for the zone's account: ours, or the one signed by `roleArn`. */
  private async clientFor(roleArn: string | undefined): Promise<Route53Client> {
    if (roleArn === undefined) return this.client;
    if (this.roleClients === undefined) {
      throw new AwsRequestError(
        `A hosted zone is to be reached through role ${roleArn}, but this Route 53 adapter was built without STS.`,
      );
    }
    return this.roleClients.clientFor(roleArn);
  }

  /** The record set of `type` at `name`, or `undefined` when there is none. */
  private async readSet(
    client: Route53Client,
    zoneId: string,
    name: string,
    type: 'TXT' | 'CAA',
    roleArn: string | undefined,
  ): Promise<{ readonly ttl: number; readonly values: string[] } | undefined> {
    const { ListResourceRecordSetsCommand } = await sdk();
    const context = {
      operation: 'ListResourceRecordSets',
      subject: `hosted zone ${zoneId}${throughRole(roleArn)}, record ${name}`,
    };
    const response = await this.call(context, () =>
      client.send(
        new ListResourceRecordSetsCommand({
          HostedZoneId: zoneId,
          StartRecordName: name,
          StartRecordType: type,
          MaxItems: 1,
        }),
      ),
    );
    // The listing starts at the first set at or after the name, which may belong to another name.
    const first = response.ResourceRecordSets?.[0];
    if (first === undefined || first.Type !== type || canonicalName(first.Name ?? '') !== name)
      return undefined;
    return {
      ttl: first.TTL ?? this.ttlSeconds,
      values: (first.ResourceRecords ?? []).flatMap((record) => (record.Value ? [record.Value] : [])),
    };
  }

  /** The TXT set at `name`, its values as Route 53 quotes them. */
  private async readTxt(
    client: Route53Client,
    zoneId: string,
    name: string,
    roleArn: string | undefined,
  ): Promise<TxtSet | undefined> {
    const set = await this.readSet(client, zoneId, name, 'TXT', roleArn);
    return set ? { ttl: set.ttl, quotedValues: set.values } : undefined;
  }

  /** Sends one change batch and returns the change id to poll. */
  private async sendChanges(
    client: Route53Client,
    zoneId: string,
    changes: Change[],
    names: Iterable<string>,
    roleArn: string | undefined,
    type: 'TXT' | 'CAA',
  ): Promise<string> {
    const { ChangeResourceRecordSetsCommand } = await sdk();
    const response = await this.call(changeContext(zoneId, names, roleArn), () =>
      client.send(
        new ChangeResourceRecordSetsCommand({ HostedZoneId: zoneId, ChangeBatch: { Changes: changes } }),
      ),
    );
    const changeId = response.ChangeInfo?.Id;
    if (!changeId) {
      throw new AwsRequestError(
        `Route 53 accepted the ${type} change in hosted zone ${zoneId} but returned no change id to poll.`,
      );
    }
    return stripPrefix(changeId, CHANGE_PREFIX);
  }

  private async call<T>(context: CallContext, run: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await run();
      } catch (error) {
        const what = `Route 53 ${context.operation} for ${context.subject}`;
        if (!isTransient(error)) {
          throw new AwsRequestError(`${what} was refused: ${describeError(error)}`, { cause: error });
        }
        if (attempt >= this.maxAttempts) {
          throw new AwsTransientError(
            `${what} still failed after ${attempt} attempts: ${describeError(error)}`,
            {
              cause: error,
            },
          );
        }
        await this.sleep(backoffMs(attempt));
      }
    }
  }
}

function mergeByName(records: readonly TxtRecord[]): Map<string, string[]> {
  const merged = new Map<string, string[]>();
  for (const record of records) {
    const name = canonicalName(record.name);
    const values = merged.get(name) ?? [];
    for (const value of record.values) if (!values.includes(value)) values.push(value);
    merged.set(name, values);
  }
  return merged;
}

function txtChange(
  action: 'UPSERT' | 'DELETE',
  name: string,
  ttl: number,
  quotedValues: readonly string[],
): Change {
  return {
    Action: action,
    ResourceRecordSet: {
      Name: `${name}.`,
      Type: 'TXT',
      TTL: ttl,
      ResourceRecords: quotedValues.map((Value) => ({ Value })),
    },
  };
}

function changeContext(zoneId: string, names: Iterable<string>, roleArn: string | undefined): CallContext {
  return {
    operation: 'ChangeResourceRecordSets',
    subject: `hosted zone ${zoneId}${throughRole(roleArn)}, records ${[...names].join(', ')}`,
  };
}

function throughRole(roleArn: string | undefined): string {
  return roleArn === undefined ? '' : ` (through role ${roleArn})`;
}

/** Equal jitter: at least half the exponential delay, so retries never stampede at zero. */
function backoffMs(attempt: number): number {
  const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (attempt - 1));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

function isTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const details = error as Error & {
    $retryable?: unknown;
    $fault?: string;
    $metadata?: { httpStatusCode?: number };
    code?: string;
  };
  return (
    RETRYABLE_ERROR_NAMES.has(details.name) ||
    RETRYABLE_NETWORK_CODES.has(details.code ?? '') ||
    details.$retryable !== undefined ||
    details.$fault === 'server' ||
    (details.$metadata?.httpStatusCode ?? 0) >= 500
  );
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function canonicalName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

function stripPrefix(value: string, prefix: string): string {
  return value.startsWith(prefix) ? value.slice(prefix.length) : value;
}
