import {
  type Change,
  ChangeResourceRecordSetsCommand,
  type ChangeResourceRecordSetsRequest,
  type ChangeResourceRecordSetsResponse,
  GetChangeCommand,
  type GetChangeRequest,
  type GetChangeResponse,
  GetHostedZoneCommand,
  type GetHostedZoneRequest,
  type GetHostedZoneResponse,
  InvalidChangeBatch,
  InvalidInput,
  ListHostedZonesCommand,
  type ListHostedZonesRequest,
  type ListHostedZonesResponse,
  ListResourceRecordSetsCommand,
  type ListResourceRecordSetsRequest,
  type ListResourceRecordSetsResponse,
  NoSuchChange,
  NoSuchHostedZone,
  PriorRequestNotComplete,
  type ResourceRecordSet,
  Route53Client,
  Route53ServiceException,
  ThrottlingException,
} from '@aws-sdk/client-route-53';
import { mockClient } from 'aws-sdk-client-mock';
import type { ChalltestsrvClient } from '../harness/challtestsrv.js';

/** The Route 53 commands the fake implements; any other command rejects. */
export type Route53FakeCommand =
  | 'ListHostedZones'
  | 'ListResourceRecordSets'
  | 'ChangeResourceRecordSets'
  | 'GetChange'
  | 'GetHostedZone';

/** The account every zone belongs to unless told otherwise, and that unknown credentials act in. */
export const HOME_ACCOUNT = '123456789012';

/**
 * Tells which AWS account a client's credentials act in (the STS fake does), or throws the error
 * AWS answers for credentials that are expired or unknown.
 */
export interface FakeCredentialAccounts {
  accountOf(credentials: { readonly accessKeyId: string; readonly sessionToken?: string }): string;
}

/** How the fake answers beyond its defaults. */
export interface Route53FakeOptions {
  /** When given, every applied TXT change is mirrored into this mock DNS server. */
  readonly challtestsrv?: ChalltestsrvClient;
  /**
   * GetChange calls that still report `PENDING`; the next one reports `INSYNC`. `0` makes the
   * first poll report `INSYNC`. @default 1
   */
  readonly syncAfterPolls?: number;
  /**
   * When given, each request acts in the account of the credentials its client signs with: it sees
   * only that account's zones and changes, as Route 53 does. @default every request acts in
   * {@link HOME_ACCOUNT} (the credentials are not even resolved)
   */
  readonly accounts?: FakeCredentialAccounts;
}

/** A record set as Route 53 holds it: lower-case FQDN with the trailing dot, values as sent. */
export interface FakeRecordSet {
  readonly name: string;
  readonly type: string;
  readonly ttl: number;
  readonly values: readonly string[];
}

/** One ChangeResourceRecordSets request, accepted (with its change id) or rejected (with the error). */
export interface ReceivedChangeBatch {
  readonly zoneId: string;
  /** The account the request acted in. */
  readonly account: string;
  readonly changes: readonly Change[];
  readonly changeId?: string;
  readonly error?: string;
}

interface Zone {
  readonly id: string;
  readonly name: string;
  readonly privateZone: boolean;
  readonly account: string;
  sets: Map<string, FakeRecordSet>;
}

/** A public zone's data as its name servers serve it. */
export interface ServedZone {
  readonly name: string;
  readonly sets: ReadonlyMap<string, FakeRecordSet>;
}

interface ChangeState {
  readonly submittedAt: Date;
  readonly account: string;
  polls: number;
}

type ResponseMetadata = Route53ServiceException['$metadata'];

const MAX_PAGE_OF_RECORD_SETS = 300;
const DEFAULT_PAGE_OF_ZONES = 100;
const MAX_RESOURCE_RECORDS_PER_BATCH = 1000;
const MAX_STRING_BYTES = 255;

/**
 * Installs an in-memory Route 53 behind every `Route53Client` (created before or after this call),
 * and returns a handle to arrange zones, inspect what was sent and inject failures.
 * Call `restore()` in `afterEach`.
 */
export function installRoute53Fake(options: Route53FakeOptions = {}): Route53Fake {
  return new Route53Fake(options);
}

/**
 * A Route 53 stand-in faithful where dns-01 depends on it: batches are validated whole and applied
 * atomically, refused with Route 53's own error names and messages (quoted TXT values, exact
 * DELETE, no CREATE over an existing set, names inside the zone, one change per set), listings are
 * sorted and paginated like Route 53's, and changes go from `PENDING` to `INSYNC` only when polled.
 */
export class Route53Fake {
  /** The aws-sdk-client-mock stub, for assertions the helpers below do not cover. */
  readonly stub = mockClient(Route53Client);
  /** Requests received per command, including ones answered with an injected failure. */
  readonly calls: Record<Route53FakeCommand, number> = {
    ListHostedZones: 0,
    ListResourceRecordSets: 0,
    ChangeResourceRecordSets: 0,
    GetChange: 0,
    GetHostedZone: 0,
  };
  /** Every change batch received, in order. */
  readonly changeBatches: ReceivedChangeBatch[] = [];

  private readonly zones: Zone[] = [];
  private readonly changes = new Map<string, ChangeState>();
  private readonly failures = new Map<Route53FakeCommand, { errorName: string; remaining: number }[]>();
  private readonly challtestsrv: ChalltestsrvClient | undefined;
  private readonly syncAfterPolls: number;
  private accounts: FakeCredentialAccounts | undefined;
  private nextId = 1;

  constructor(options: Route53FakeOptions) {
    this.challtestsrv = options.challtestsrv;
    this.syncAfterPolls = options.syncAfterPolls ?? 1;
    this.accounts = options.accounts;
    this.stub.onAnyCommand().callsFake((input: unknown) => {
      throw new Error(`The Route 53 fake does not implement this command: ${JSON.stringify(input)}`);
    });
    this.stub
      .on(ListHostedZonesCommand)
      .callsFake((input: ListHostedZonesRequest, getClient) =>
        this.handle('ListHostedZones', getClient, (account) => this.listHostedZones(input, account)),
      );
    this.stub
      .on(ListResourceRecordSetsCommand)
      .callsFake((input: ListResourceRecordSetsRequest, getClient) =>
        this.handle('ListResourceRecordSets', getClient, (account) =>
          this.listResourceRecordSets(input, account),
        ),
      );
    this.stub
      .on(ChangeResourceRecordSetsCommand)
      .callsFake((input: ChangeResourceRecordSetsRequest, getClient) =>
        this.handle('ChangeResourceRecordSets', getClient, (account) =>
          this.changeResourceRecordSets(input, account),
        ),
      );
    this.stub
      .on(GetChangeCommand)
      .callsFake((input: GetChangeRequest, getClient) =>
        this.handle('GetChange', getClient, (account) => this.getChange(input, account)),
      );
    this.stub
      .on(GetHostedZoneCommand)
      .callsFake((input: GetHostedZoneRequest, getClient) =>
        this.handle('GetHostedZone', getClient, (account) => this.getHostedZone(input, account)),
      );
  }

  /**
   * Creates a hosted zone with the SOA and NS record sets Route 53 puts in every new zone.
   * Returns its id (without `/hostedzone/`). Several zones may share a name, as in Route 53.
   */
  addZone(zone: {
    readonly name: string;
    readonly id?: string;
    readonly privateZone?: boolean;
    /** The AWS account that owns the zone. @default HOME_ACCOUNT */
    readonly account?: string;
  }): string {
    const id = zone.id ? stripPrefix(zone.id, '/hostedzone/') : `Z${this.generateId()}`;
    if (this.zones.some((existing) => existing.id === id)) throw new Error(`zone ${id} already exists`);
    const name = fqdn(zone.name);
    const sets = new Map<string, FakeRecordSet>();
    const ns = ['ns-1.awsdns-01.org.', 'ns-2.awsdns-02.co.uk.', 'ns-3.awsdns-03.com.', 'ns-4.awsdns-04.net.'];
    sets.set(setKey(name, 'NS'), { name, type: 'NS', ttl: 172_800, values: ns });
    sets.set(setKey(name, 'SOA'), {
      name,
      type: 'SOA',
      ttl: 900,
      values: [`${ns[0]} awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400`],
    });
    this.zones.push({
      id,
      name,
      privateZone: zone.privateZone ?? false,
      account: zone.account ?? HOME_ACCOUNT,
      sets,
    });
    return id;
  }

  /**
   * Every public zone with its record sets as they are now, whatever account owns it: what
   * Route 53's name servers answer from (see `route53-name-servers.ts`). Later changes replace a
   * zone's set map rather than mutate it, so a returned snapshot stays as it was.
   */
  servedZones(): ServedZone[] {
    return this.zones
      .filter((zone) => !zone.privateZone)
      .map((zone) => ({ name: zone.name, sets: zone.sets }));
  }

  /** The zone's record sets in Route 53's listing order. */
  recordSets(zoneId: string): FakeRecordSet[] {
    return sortedSets(this.zoneById(zoneId).sets);
  }

  /**
   * The unquoted TXT values public DNS would answer for `name`: those of the most specific public
   * zone containing it, or none.
   */
  txtValues(name: string): string[] {
    const owner = fqdn(name);
    const zone = this.authoritativeZone(owner);
    const set = zone?.sets.get(setKey(owner, 'TXT'));
    return set ? set.values.map((value) => parseTxt(value).text) : [];
  }

  /**
   * Creates or replaces a TXT record set as an operator would in the console, outside every
   * policy and counter the functions' calls go through, and serves it on DNS at once.
   */
  async putTxt(zoneId: string, name: string, values: readonly string[]): Promise<void> {
    const zone = this.zoneById(stripPrefix(zoneId, '/hostedzone/'));
    const owner = fqdn(name);
    const result = this.validateBatch(zone, [
      {
        Action: 'UPSERT',
        ResourceRecordSet: {
          Name: owner,
          Type: 'TXT',
          TTL: 300,
          ResourceRecords: values.map((value) => ({ Value: JSON.stringify(value) })),
        },
      },
    ]);
    zone.sets = result.sets;
    await this.mirrorToChalltestsrv(result.touched);
  }

  /**
   * Creates or replaces a record set of `type` with `values` in Route 53's presentation form, as
   * an operator would in the console, and serves it on DNS at once.
   */
  async putRecordSet(zoneId: string, name: string, type: 'CAA', values: readonly string[]): Promise<void> {
    const zone = this.zoneById(stripPrefix(zoneId, '/hostedzone/'));
    const result = this.validateBatch(zone, [
      {
        Action: 'UPSERT',
        ResourceRecordSet: {
          Name: fqdn(name),
          Type: type,
          TTL: 300,
          ResourceRecords: values.map((Value) => ({ Value })),
        },
      },
    ]);
    zone.sets = result.sets;
    await this.mirrorCaaToChalltestsrv(zone, result.touchedCaa);
  }

  /** Makes the next `times` calls of `command` fail with a Route 53 error called `errorName`. */
  failNext(command: Route53FakeCommand, errorName: string, times = 1): void {
    const queue = this.failures.get(command) ?? [];
    queue.push({ errorName, remaining: times });
    this.failures.set(command, queue);
  }

  /**
   * From now on, each request acts in the account of its client's credentials, as the `accounts`
   * option does: for a fake installed by a harness that took no options.
   */
  useAccounts(accounts: FakeCredentialAccounts): void {
    this.accounts = accounts;
  }

  /** Puts the real `Route53Client.send` back. */
  restore(): void {
    this.stub.restore();
  }

  private async handle<T>(
    command: Route53FakeCommand,
    getClient: () => { config: { credentials?: unknown } },
    run: (account: string) => T | Promise<T>,
  ): Promise<T> {
    this.calls[command] += 1;
    const queue = this.failures.get(command) ?? [];
    const failure = queue[0];
    if (failure) {
      failure.remaining -= 1;
      if (failure.remaining <= 0) queue.shift();
      throw serviceError(failure.errorName, command);
    }
    return run(await this.callerAccount(getClient));
  }

  /** The account a request acts in, from the credentials its client signs with. */
  private async callerAccount(getClient: () => { config: { credentials?: unknown } }): Promise<string> {
    if (!this.accounts) return HOME_ACCOUNT;
    const provider = getClient().config.credentials as
      | (() => Promise<{ accessKeyId: string; sessionToken?: string }>)
      | undefined;
    if (typeof provider !== 'function') throw new Error('the Route 53 client has no credentials');
    return this.accounts.accountOf(await provider());
  }

  private listHostedZones(input: ListHostedZonesRequest, account: string): ListHostedZonesResponse {
    const zones = this.zones.filter((zone) => zone.account === account);
    const maxItems = Math.min(Number(input.MaxItems ?? DEFAULT_PAGE_OF_ZONES), DEFAULT_PAGE_OF_ZONES);
    let start = 0;
    if (input.Marker !== undefined) {
      start = zones.findIndex((zone) => zone.id === stripPrefix(input.Marker ?? '', '/hostedzone/'));
      if (start < 0)
        throw new InvalidInput({ $metadata: metadata(400), message: `Invalid marker: ${input.Marker}` });
    }
    const page = zones.slice(start, start + maxItems);
    const next = zones[start + maxItems];
    return {
      HostedZones: page.map((zone) => ({
        Id: `/hostedzone/${zone.id}`,
        Name: zone.name,
        CallerReference: `fake-${zone.id}`,
        Config: { PrivateZone: zone.privateZone },
        ResourceRecordSetCount: zone.sets.size,
      })),
      Marker: input.Marker,
      IsTruncated: next !== undefined,
      NextMarker: next?.id,
      MaxItems: maxItems,
    };
  }

  private listResourceRecordSets(
    input: ListResourceRecordSetsRequest,
    account: string,
  ): ListResourceRecordSetsResponse {
    const zone = this.zoneById(input.HostedZoneId ?? '', account);
    if (input.StartRecordType !== undefined && input.StartRecordName === undefined) {
      throw new InvalidInput({
        $metadata: metadata(400),
        message: 'The input is not valid: StartRecordType requires StartRecordName',
      });
    }
    const maxItems = Math.min(Number(input.MaxItems ?? MAX_PAGE_OF_RECORD_SETS), MAX_PAGE_OF_RECORD_SETS);
    const all = sortedSets(zone.sets);
    const start =
      input.StartRecordName === undefined
        ? 0
        : all.findIndex((set) => {
            const byName = compareNames(set.name, fqdn(input.StartRecordName ?? ''));
            if (byName !== 0 || input.StartRecordType === undefined) return byName >= 0;
            return set.type >= input.StartRecordType;
          });
    const from = start < 0 ? all.length : start;
    const page = all.slice(from, from + maxItems);
    const next = all[from + maxItems];
    return {
      ResourceRecordSets: page.map(toSdkSet),
      IsTruncated: next !== undefined,
      NextRecordName: next ? presentName(next.name) : undefined,
      NextRecordType: next ? (next.type as ResourceRecordSet['Type']) : undefined,
      MaxItems: maxItems,
    };
  }

  private async changeResourceRecordSets(
    input: ChangeResourceRecordSetsRequest,
    account: string,
  ): Promise<ChangeResourceRecordSetsResponse> {
    const zoneId = stripPrefix(input.HostedZoneId ?? '', '/hostedzone/');
    const changes = input.ChangeBatch?.Changes ?? [];
    const received = { zoneId, account, changes: structuredClone(changes) };
    let result: { sets: Map<string, FakeRecordSet>; touched: Set<string>; touchedCaa: Set<string> };
    try {
      result = this.validateBatch(this.zoneById(zoneId, account), changes);
    } catch (error) {
      this.changeBatches.push({
        ...received,
        error: `${(error as Error).name}: ${(error as Error).message}`,
      });
      throw error;
    }

    // Route 53 applies a batch to its servers at once; INSYNC only reports that all have it.
    const zone = this.zoneById(zoneId, account);
    zone.sets = result.sets;
    const changeId = `C${this.generateId()}`;
    this.changes.set(changeId, { submittedAt: new Date(), account, polls: 0 });
    this.changeBatches.push({ ...received, changeId });
    await this.mirrorToChalltestsrv(result.touched);
    await this.mirrorCaaToChalltestsrv(zone, result.touchedCaa);
    return { ChangeInfo: { Id: `/change/${changeId}`, Status: 'PENDING', SubmittedAt: new Date() } };
  }

  private getChange(input: GetChangeRequest, account: string): GetChangeResponse {
    const id = stripPrefix(input.Id ?? '', '/change/');
    const change = this.changes.get(id);
    // Change ids belong to the account that made the change; others are told it does not exist.
    if (!change || change.account !== account) {
      throw new NoSuchChange({
        $metadata: metadata(404),
        message: `A change with the specified change ID does not exist.`,
      });
    }
    change.polls += 1;
    const status = change.polls > this.syncAfterPolls ? 'INSYNC' : 'PENDING';
    return { ChangeInfo: { Id: `/change/${id}`, Status: status, SubmittedAt: change.submittedAt } };
  }

  private getHostedZone(input: GetHostedZoneRequest, account: string): GetHostedZoneResponse {
    const zone = this.zoneById(input.Id ?? '', account);
    return {
      HostedZone: {
        Id: `/hostedzone/${zone.id}`,
        Name: zone.name,
        CallerReference: `fake-${zone.id}`,
        Config: { PrivateZone: zone.privateZone },
        ResourceRecordSetCount: zone.sets.size,
      },
      ...(zone.privateZone
        ? { VPCs: [{ VPCRegion: 'us-east-1', VPCId: 'vpc-fake' }] }
        : {
            DelegationSet: {
              NameServers: (zone.sets.get(setKey(zone.name, 'NS'))?.values ?? []).map(bareName),
            },
          }),
    };
  }

  /**
   * Checks every change against a working copy updated change by change, as Route 53 does, and
   * returns the copy only if all pass; otherwise throws one error listing every problem.
   */
  private validateBatch(
    zone: Zone,
    changes: readonly Change[],
  ): { sets: Map<string, FakeRecordSet>; touched: Set<string>; touchedCaa: Set<string> } {
    if (changes.length === 0) {
      throw new InvalidInput({
        $metadata: metadata(400),
        message:
          "Invalid XML ; cvc-complex-type.2.4.b: The content of element 'Changes' is not complete. " +
          `One of '{"https://route53.amazonaws.com/doc/2013-04-01/":Change}' is expected.`,
      });
    }

    const messages: string[] = [];
    const recordCount = changes.reduce(
      (sum, change) =>
        sum + (change.ResourceRecordSet?.ResourceRecords?.length ?? 0) * (change.Action === 'UPSERT' ? 2 : 1),
      0,
    );
    if (changes.length > MAX_RESOURCE_RECORDS_PER_BATCH || recordCount > MAX_RESOURCE_RECORDS_PER_BATCH) {
      messages.push(`Number of records limit of ${MAX_RESOURCE_RECORDS_PER_BATCH} exceeded.`);
    }

    const actionsBySet = new Map<string, string[]>();
    for (const change of changes) {
      const set = change.ResourceRecordSet;
      const key = setKey(fqdn(set?.Name ?? ''), set?.Type ?? '');
      actionsBySet.set(key, [...(actionsBySet.get(key) ?? []), change.Action ?? '']);
    }
    for (const [key, actions] of actionsBySet) {
      // Route 53 allows the pre-UPSERT idiom of DELETE then CREATE, and no other repetition.
      if (
        actions.length > 1 &&
        !(actions.length === 2 && actions[0] === 'DELETE' && actions[1] === 'CREATE')
      ) {
        const [name, type] = key.split('|');
        messages.push(
          `The request contains an invalid set of changes for a resource record set '${type} ${presentName(name ?? '')}'`,
        );
      }
    }

    const sets = new Map(zone.sets);
    const touched = new Set<string>();
    const touchedCaa = new Set<string>();
    for (const change of changes) {
      const problem = applyChange(zone, sets, change);
      if (problem) messages.push(problem);
      else if (change.ResourceRecordSet?.Type === 'TXT')
        touched.add(fqdn(change.ResourceRecordSet.Name ?? ''));
      else if (change.ResourceRecordSet?.Type === 'CAA')
        touchedCaa.add(fqdn(change.ResourceRecordSet.Name ?? ''));
    }

    if (messages.length > 0) {
      throw new InvalidChangeBatch({
        $metadata: metadata(400),
        message: `[${messages.join(', ')}]`,
        messages,
      });
    }
    return { sets, touched, touchedCaa };
  }

  private async mirrorToChalltestsrv(names: ReadonlySet<string>): Promise<void> {
    if (!this.challtestsrv) return;
    for (const name of names) {
      // What a resolver sees is decided by the most specific public zone, not by the one changed.
      const values = this.txtValues(name);
      await this.challtestsrv.clearTxt(name);
      for (const value of values) await this.challtestsrv.setTxt(name, value);
    }
  }

  /** Serves each CAA record set changed on challtestsrv, which the functions' resolver asks. */
  private async mirrorCaaToChalltestsrv(zone: Zone, names: ReadonlySet<string>): Promise<void> {
    if (!this.challtestsrv) return;
    for (const name of names) {
      const set = zone.sets.get(setKey(name, 'CAA'));
      await this.challtestsrv.clearCaa(name);
      const policies = (set?.values ?? []).flatMap((value) => {
        const parsed = CAA_VALUE.exec(value);
        return parsed ? [{ tag: parsed[2] ?? '', value: (parsed[3] ?? '').replace(/\\(.)/g, '$1') }] : [];
      });
      if (policies.length > 0) await this.challtestsrv.addCaa(name, policies);
    }
  }

  /** The CAA record set at `name` in the zone that would serve it, as Route 53 holds the values. */
  caaValues(name: string): string[] {
    const owner = fqdn(name);
    return [...(this.authoritativeZone(owner)?.sets.get(setKey(owner, 'CAA'))?.values ?? [])];
  }

  private authoritativeZone(name: string): Zone | undefined {
    return this.zones
      .filter((zone) => !zone.privateZone && isWithin(name, zone.name))
      .reduce<Zone | undefined>(
        (best, zone) => (best && best.name.length >= zone.name.length ? best : zone),
        undefined,
      );
  }

  /** The zone, if `account` owns it: Route 53 answers another account's zone id as unknown. */
  private zoneById(zoneId: string, account?: string): Zone {
    const id = stripPrefix(zoneId, '/hostedzone/');
    const zone = this.zones.find(
      (candidate) => candidate.id === id && (account === undefined || candidate.account === account),
    );
    if (!zone)
      throw new NoSuchHostedZone({
        $metadata: metadata(404),
        message: `No hosted zone found with ID: ${id}`,
      });
    return zone;
  }

  private generateId(): string {
    const serial = this.nextId.toString(36).toUpperCase().padStart(6, '0');
    this.nextId += 1;
    return `FAKE${serial}`;
  }
}

/** A CAA value as Route 53 presents it: flags, tag, quoted value (RFC 8659 §4.1). */
const CAA_VALUE = /^(\d{1,3}) ([A-Za-z0-9]+) "((?:[^"\\]|\\.)*)"$/;

/** Applies one change to `sets`, or returns Route 53's message for why it cannot. */
function applyChange(zone: Zone, sets: Map<string, FakeRecordSet>, change: Change): string | undefined {
  const set = change.ResourceRecordSet;
  const name = fqdn(set?.Name ?? '');
  const type = set?.Type ?? '';
  const described = `[name='${presentName(name)}', type='${type}']`;
  if (!isWithin(name, zone.name))
    return `RRSet with DNS name ${presentName(name)} is not permitted in zone ${zone.name}`;

  const values = (set?.ResourceRecords ?? []).map((record) => record.Value ?? '');
  if (set?.TTL === undefined || values.length === 0) {
    return (
      'Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or ' +
      `TrafficPolicyInstanceId], but found none in Change with [Action=${change.Action}, Name=${presentName(name)}, ` +
      `Type=${type}, SetIdentifier=null]`
    );
  }
  if (type === 'TXT') {
    for (const value of values) {
      const problem = parseTxt(value).problem;
      if (problem) return `Invalid Resource Record: FATAL problem: ${problem} encountered with '${value}'`;
    }
  }
  if (type === 'CAA') {
    // Route 53 takes CAA values as `<flags> <tag> "<value>"` (its "Supported DNS record types").
    for (const value of values) {
      if (!CAA_VALUE.test(value)) {
        return `Invalid Resource Record: FATAL problem: CAARecordFormatInvalid encountered with '${value}'`;
      }
    }
  }

  const key = setKey(name, type);
  const existing = sets.get(key);
  const wanted: FakeRecordSet = { name, type, ttl: set.TTL, values };
  switch (change.Action) {
    case 'CREATE':
      if (existing) return `Tried to create resource record set ${described} but it already exists`;
      break;
    case 'DELETE':
      if (!existing) return `Tried to delete resource record set ${described} but it was not found`;
      if (existing.ttl !== wanted.ttl || !sameValues(existing.values, wanted.values)) {
        return `Tried to delete resource record set ${described} but the values provided do not match the current values`;
      }
      sets.delete(key);
      return undefined;
    case 'UPSERT':
      break;
    default:
      return `Invalid request: unknown action ${String(change.Action)}`;
  }

  const cname = sets.get(setKey(name, 'CNAME'));
  if (type !== 'CNAME' && cname) {
    return (
      `RRSet of type ${type} with DNS name ${presentName(name)} is not permitted because a conflicting RRSet of ` +
      `type CNAME with the same DNS name already exists in zone ${zone.name}`
    );
  }
  sets.set(key, wanted);
  return undefined;
}

/**
 * Reads a TXT value in presentation format, independently of the production parser so the fake
 * can catch its mistakes. Route 53 insists on quoted strings of at most 255 bytes each.
 */
export function parseTxt(value: string): { text: string; strings?: Uint8Array[]; problem?: string } {
  const strings: number[][] = [];
  let index = 0;
  while (index < value.length) {
    if (value[index] === ' ' || value[index] === '\t') {
      index += 1;
      continue;
    }
    if (value[index] !== '"') {
      return { text: value, problem: 'InvalidCharacterString (Value should be enclosed in quotation marks)' };
    }
    index += 1;
    const bytes: number[] = [];
    let closed = false;
    while (index < value.length) {
      const char = value[index] ?? '';
      if (char === '"') {
        closed = true;
        index += 1;
        break;
      }
      if (char === '\\') {
        const digits = value.slice(index + 1, index + 4);
        if (/^\d{3}$/.test(digits)) {
          bytes.push(Number(digits));
          index += 4;
        } else {
          bytes.push(...Buffer.from(value[index + 1] ?? '', 'utf8'));
          index += 2;
        }
        continue;
      }
      bytes.push(...Buffer.from(char, 'utf8'));
      index += 1;
    }
    if (!closed)
      return { text: value, problem: 'InvalidCharacterString (Value should be enclosed in quotation marks)' };
    if (bytes.length > MAX_STRING_BYTES)
      return { text: value, problem: 'CharacterStringTooLong (Value is too long)' };
    strings.push(bytes);
  }
  if (strings.length === 0) {
    return { text: value, problem: 'InvalidCharacterString (Value should be enclosed in quotation marks)' };
  }
  return {
    text: Buffer.from(strings.flat()).toString('utf8'),
    strings: strings.map((bytes) => Uint8Array.from(bytes)),
  };
}

function serviceError(errorName: string, command: Route53FakeCommand): Error {
  switch (errorName) {
    case 'Throttling': {
      const error = new Route53ServiceException({
        name: 'Throttling',
        $fault: 'client',
        $metadata: metadata(400),
        message: 'Rate exceeded',
      });
      error.$retryable = { throttling: true };
      return error;
    }
    case 'ThrottlingException': {
      const error = new ThrottlingException({ $metadata: metadata(400), message: 'Rate exceeded' });
      error.$retryable = { throttling: true };
      return error;
    }
    case 'PriorRequestNotComplete':
      return new PriorRequestNotComplete({
        $metadata: metadata(400),
        message: 'The request was rejected because Route 53 was still processing a prior request.',
      });
    case 'InvalidChangeBatch':
      return new InvalidChangeBatch({
        $metadata: metadata(400),
        message: '[injected failure]',
        messages: [],
      });
    case 'NoSuchHostedZone':
      return new NoSuchHostedZone({
        $metadata: metadata(404),
        message: 'No hosted zone found with ID: injected',
      });
    case 'NoSuchChange':
      return new NoSuchChange({
        $metadata: metadata(404),
        message: 'A change with the specified change ID does not exist.',
      });
    case 'InvalidInput':
      return new InvalidInput({ $metadata: metadata(400), message: 'Invalid request' });
    case 'AccessDenied':
      return new Route53ServiceException({
        name: 'AccessDenied',
        $fault: 'client',
        $metadata: metadata(403),
        message: `User: arn:aws:sts::123456789012:assumed-role/fake/fake is not authorized to perform: route53:${command}`,
      });
    case 'ServiceUnavailable':
    case 'InternalFailure':
      return new Route53ServiceException({
        name: errorName,
        $fault: 'server',
        $metadata: metadata(errorName === 'ServiceUnavailable' ? 503 : 500),
        message: 'injected server failure',
      });
    default:
      return new Route53ServiceException({
        name: errorName,
        $fault: 'client',
        $metadata: metadata(400),
        message: 'injected failure',
      });
  }
}

function metadata(httpStatusCode: number): ResponseMetadata {
  return { httpStatusCode, requestId: 'fake-request', attempts: 1, totalRetryDelay: 0 };
}

function toSdkSet(set: FakeRecordSet): ResourceRecordSet {
  return {
    Name: presentName(set.name),
    Type: set.type as ResourceRecordSet['Type'],
    TTL: set.ttl,
    ResourceRecords: set.values.map((Value) => ({ Value })),
  };
}

function sortedSets(sets: ReadonlyMap<string, FakeRecordSet>): FakeRecordSet[] {
  return [...sets.values()].sort(
    (a, b) => compareNames(a.name, b.name) || (a.type < b.type ? -1 : a.type > b.type ? 1 : 0),
  );
}

/** Route 53 lists names label by label from the right: `org.example` sorts before `org.example.www`. */
function compareNames(a: string, b: string): number {
  const left = a.split('.').filter(Boolean).reverse();
  const right = b.split('.').filter(Boolean).reverse();
  for (let index = 0; index < Math.min(left.length, right.length); index += 1) {
    const l = left[index] ?? '';
    const r = right[index] ?? '';
    if (l !== r) return l < r ? -1 : 1;
  }
  return left.length - right.length;
}

function sameValues(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');
}

/** Lower-case with the trailing dot; Route 53's `\052` escape read back as `*`. */
function fqdn(name: string): string {
  const lower = name.toLowerCase().replaceAll('\\052', '*');
  return lower.endsWith('.') ? lower : `${lower}.`;
}

/** Route 53 writes `*` in names it returns as `\052`. */
function presentName(name: string): string {
  return name.replaceAll('*', '\\052');
}

function isWithin(name: string, zoneName: string): boolean {
  return name === zoneName || name.endsWith(`.${zoneName}`);
}

function bareName(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

export function setKey(name: string, type: string): string {
  return `${name}|${type}`;
}

function stripPrefix(value: string, prefix: string): string {
  return value.startsWith(prefix) ? value.slice(prefix.length) : value;
}
