import { fallbackRenewalTime } from '../../lambdas/core/acme/renewal-info.js';
import type {
  CertificateRecord,
  CertificateRecordChanges,
  CertificateRegistry,
  HttpRequest,
  HttpResponse,
  HttpTransport,
  Signer,
} from '../../lambdas/core/ports.js';
import { LETS_ENCRYPT_RATE_LIMITS, type LimitName } from '../../lambdas/core/renewal/ca-rate-limits.js';
import { configurationFingerprint, renewalDecision } from '../../lambdas/core/renewal/due.js';
import { exactSetKey, registeredDomain } from '../../lambdas/core/renewal/pacing.js';
import { type PlannerOutput, planRenewals } from '../../lambdas/core/renewal/planner.js';

/**
 * The renewal planner run on a schedule over simulated time against a simulated Let's Encrypt
 * that enforces its published limits on its own complete log of orders and certificates (the
 * planner sees only what the registry records). Each started certificate is ordered and issued
 * at once, a minute apart, as the fleet state machine would with its Map state.
 */

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;
export const SIMULATED_DIRECTORY_URL = 'https://acme-v02.api.letsencrypt.org/directory';
const RENEWAL_INFO_URL = 'https://acme-v02.api.letsencrypt.org/draft-ietf-acme-ari-03/renewalInfo';

export interface SimulationOptions {
  readonly certificates: number;
  /** The fleet's names are spread round-robin over this many registered domains. */
  readonly registeredDomains: number;
  /** Hours between planner runs. @default 24 */
  readonly runEveryHours?: number;
  /** Lifetime of the certificates the CA issues. @default 90 days */
  readonly lifetimeHours?: number;
  /** Whether the CA offers renewal information (and so exempts ARI renewals). @default true */
  readonly ari?: boolean;
  /** Simulated days. */
  readonly days: number;
  readonly pageSize?: number;
}

export interface SimulationResult {
  /** Orders the CA refused with a 429, by the limit that refused them. */
  readonly refused: Readonly<Partial<Record<LimitName, number>>>;
  /** The highest count any sliding window of each limit reached, per limit. */
  readonly peaks: Readonly<Record<LimitName, number>>;
  /** Hours from the first run to the last first issuance; undefined when some never issued. */
  readonly lastFirstIssuanceHours?: number;
  readonly firstIssuances: number;
  readonly renewals: number;
  readonly ariRenewals: number;
  /** ARI renewals the planner left for a later run although they were due. */
  readonly ariRenewalsDelayed: number;
  readonly deferredByLimit: Readonly<Partial<Record<LimitName, number>>>;
  readonly runs: number;
  /** The least time a certificate had left when it was renewed, in hours (negative: it expired). */
  readonly minHoursLeftAtRenewal?: number;
}

interface CaEvent {
  readonly at: number;
  readonly kind: 'first' | 'renewal' | 'ari-renewal';
  readonly names: readonly string[];
}

class SimulatedRegistry implements Pick<CertificateRegistry, 'list' | 'update'> {
  readonly records = new Map<string, CertificateRecord>();
  async list(options: { cursor?: string; limit: number }) {
    const all = [...this.records.values()];
    const start = options.cursor ? Number(options.cursor) : 0;
    const next = start + options.limit;
    return { records: all.slice(start, next), ...(next < all.length ? { cursor: String(next) } : {}) };
  }
  async update(certificateId: string, changes: CertificateRecordChanges) {
    const current = this.records.get(certificateId) ?? { certificateId };
    const merged: Record<string, unknown> = { ...current };
    for (const [key, value] of Object.entries(changes)) {
      if (value === null) delete merged[key];
      else merged[key] = value;
    }
    this.records.set(certificateId, merged as unknown as CertificateRecord);
  }
}

/** Runs the simulation; pure apart from time spent. */
export async function simulatePacing(options: SimulationOptions): Promise<SimulationResult> {
  const lifetimeMs = (options.lifetimeHours ?? 90 * 24) * HOUR_MS;
  const runEveryMs = (options.runEveryHours ?? 24) * HOUR_MS;
  const ari = options.ari ?? true;
  const start = Date.parse('2027-03-01T00:00:00.000Z');
  let now = start;
  const registry = new SimulatedRegistry();
  const windows = new Map<string, { notBefore: number; notAfter: number }>();
  const log: CaEvent[] = [];
  const refused: Partial<Record<LimitName, number>> = {};
  const deferredByLimit: Partial<Record<LimitName, number>> = {};
  let serial = 0;
  let lastFirstIssuance: number | undefined;
  let ariRenewalsDelayed = 0;
  let runs = 0;
  let minLeftMs: number | undefined;

  for (let index = 0; index < options.certificates; index += 1) {
    const domain = `customer-${index % options.registeredDomains}.co.uk`;
    registry.records.set(`site-${index}`, {
      certificateId: `site-${index}`,
      config: {
        domains: [`site-${index}.${domain}`, `www.site-${index}.${domain}`],
        keyType: 'EC_P256',
        regions: ['us-east-1'],
      },
    });
  }

  const transport: HttpTransport = {
    async request(request: HttpRequest): Promise<HttpResponse> {
      if (request.url === SIMULATED_DIRECTORY_URL) {
        return json({
          newNonce: 'https://acme-v02.api.letsencrypt.org/acme/new-nonce',
          newAccount: 'https://acme-v02.api.letsencrypt.org/acme/new-acct',
          newOrder: 'https://acme-v02.api.letsencrypt.org/acme/new-order',
          ...(ari ? { renewalInfo: RENEWAL_INFO_URL } : {}),
        });
      }
      const certId = request.url.slice(RENEWAL_INFO_URL.length + 1);
      const window = windows.get(certId);
      if (!window) return { status: 404, headers: {}, body: '' };
      // Let's Encrypt's window sits around two thirds of the lifetime.
      const middle = window.notBefore + ((window.notAfter - window.notBefore) * 2) / 3;
      const spread = (window.notAfter - window.notBefore) / 30;
      return json(
        {
          suggestedWindow: {
            start: new Date(middle - spread).toISOString(),
            end: new Date(middle + spread).toISOString(),
          },
        },
        { 'retry-after': '21600' },
      );
    },
  };

  /** The limit a new order would break at the CA, by Let's Encrypt's rules, or undefined. */
  const breaks = (kind: CaEvent['kind'], names: readonly string[], at: number): LimitName | undefined => {
    if (kind === 'ari-renewal') return undefined;
    const limits = LETS_ENCRYPT_RATE_LIMITS;
    const within = (windowMs: number) => log.filter((event) => event.at > at - windowMs);
    const set = exactSetKey(names);
    const exact = limits.certificatesPerExactSet;
    if (
      exact &&
      within(exact.windowMs).filter((event) => exactSetKey(event.names) === set).length >= exact.count
    ) {
      return 'certificatesPerExactSet';
    }
    if (kind === 'renewal') return undefined;
    const orders = limits.newOrdersPerAccount;
    if (orders && within(orders.windowMs).filter((event) => event.kind === 'first').length >= orders.count) {
      return 'newOrdersPerAccount';
    }
    const perDomain = limits.certificatesPerRegisteredDomain;
    if (perDomain) {
      const recent = within(perDomain.windowMs).filter((event) => event.kind === 'first');
      for (const domain of new Set(names.map(registeredDomain))) {
        const count = recent.filter((event) =>
          event.names.some((name) => registeredDomain(name) === domain),
        ).length;
        if (count >= perDomain.count) return 'certificatesPerRegisteredDomain';
      }
    }
    return undefined;
  };

  const issue = async (certificateId: string, at: number) => {
    const record = registry.records.get(certificateId);
    const config = record?.config;
    if (!record || !config) throw new Error(`no record ${certificateId}`);
    const previous = record.issued;
    const sameSet =
      previous !== undefined &&
      exactSetKey(previous.fingerprint.slice(previous.fingerprint.lastIndexOf(':') + 1).split(',')) ===
        exactSetKey(config.domains);
    const kind: CaEvent['kind'] =
      !previous || !sameSet ? 'first' : ari && previous.ariCertId ? 'ari-renewal' : 'renewal';
    const broken = breaks(kind, config.domains, at);
    if (broken) {
      refused[broken] = (refused[broken] ?? 0) + 1;
      await registry.update(certificateId, {
        lastAttemptAt: new Date(at).toISOString(),
        consecutiveFailures: (record.consecutiveFailures ?? 0) + 1,
        nextAttemptAt: new Date(at + HOUR_MS).toISOString(),
        lastError: { name: 'RateLimitedError', message: broken, at: new Date(at).toISOString() },
      });
      return;
    }
    log.push({ at, kind, names: config.domains });
    if (previous) {
      const left = Date.parse(previous.notAfter) - at;
      minLeftMs = minLeftMs === undefined ? left : Math.min(minLeftMs, left);
    }
    if (kind === 'first') lastFirstIssuance = at;
    serial += 1;
    const notBefore = at - HOUR_MS;
    const certId = `AAAA.${Buffer.from(String(serial)).toString('base64url')}`;
    windows.set(certId, { notBefore, notAfter: notBefore + lifetimeMs });
    const arn = `arn:aws:acm:us-east-1:111122223333:certificate/${certificateId}`;
    await registry.update(certificateId, {
      lastAttemptAt: new Date(at).toISOString(),
      issued: {
        serial: String(serial),
        storeKey: `certificates/${certificateId}/${serial}`,
        notBefore: new Date(notBefore).toISOString(),
        notAfter: new Date(notBefore + lifetimeMs).toISOString(),
        fingerprint: configurationFingerprint(config),
        importedArn: arn,
        ...(ari ? { ariCertId: certId } : {}),
        deliveredBy: { executionId: `run-${serial}`, renewal: previous !== undefined, arnReplaced: false },
      },
      acmArns: { 'us-east-1': arn },
      status: 'imported',
      consecutiveFailures: 0,
      nextAttemptAt: null,
      lastError: null,
      nextRenewalAt: fallbackRenewalTime(new Date(notBefore), new Date(notBefore + lifetimeMs)).toISOString(),
      ariCheckAfter: new Date(at).toISOString(),
    });
  };

  const signer = unusedSigner();
  const end = start + options.days * DAY_MS;
  for (; now < end; now += runEveryMs) {
    runs += 1;
    let cursor: string | undefined;
    do {
      const clockNow = now;
      const plan: PlannerOutput = await planRenewals(
        { pageSize: options.pageSize ?? 200, ...(cursor ? { cursor } : {}) },
        {
          registry: registry as unknown as CertificateRegistry,
          transport,
          signer,
          clock: { now: () => new Date(clockNow) },
          config: {
            defaultDirectoryUrl: SIMULATED_DIRECTORY_URL,
            defaultRegion: 'us-east-1',
            managedByTag: 'simulation',
            dnsPollSeconds: 1,
            orderPollSeconds: 1,
            maxPolls: 1,
            lockTtlSeconds: 60,
          },
          log: { debug: () => {}, info: () => {}, warn: () => {} },
          metrics: { add: () => {} },
          random: () => 0.5,
        },
      );
      for (const [limit, count] of Object.entries(plan.deferred)) {
        deferredByLimit[limit as LimitName] = (deferredByLimit[limit as LimitName] ?? 0) + (count ?? 0);
      }
      const started = new Set(plan.due.map((entry) => entry.certificateId));
      const page = await registry.list({ limit: options.pageSize ?? 200, ...(cursor ? { cursor } : {}) });
      for (const record of page.records) {
        const due = renewalDecision(record, new Date(clockNow)).due;
        if (due && ari && record.issued?.ariCertId && !started.has(record.certificateId))
          ariRenewalsDelayed += 1;
      }
      // The Map state runs the executions after the page is planned: a minute apart.
      let offset = 0;
      for (const entry of plan.due) {
        offset += 60_000;
        await issue(entry.certificateId, now + offset);
      }
      cursor = plan.cursor;
    } while (cursor);
  }

  const allIssued = [...registry.records.values()].every((record) => record.issued !== undefined);
  return {
    refused,
    peaks: peaks(log),
    ...(allIssued && lastFirstIssuance !== undefined
      ? { lastFirstIssuanceHours: (lastFirstIssuance - start) / HOUR_MS }
      : {}),
    firstIssuances: log.filter((event) => event.kind === 'first').length,
    renewals: log.filter((event) => event.kind === 'renewal').length,
    ariRenewals: log.filter((event) => event.kind === 'ari-renewal').length,
    ariRenewalsDelayed,
    deferredByLimit,
    runs,
    ...(minLeftMs !== undefined ? { minHoursLeftAtRenewal: minLeftMs / HOUR_MS } : {}),
  };
}

/** The largest number of counted events inside any window of each limit, as the CA counts them. */
function peaks(log: readonly CaEvent[]): Record<LimitName, number> {
  const limits = LETS_ENCRYPT_RATE_LIMITS;
  const maxIn = (events: readonly number[], windowMs: number): number => {
    const sorted = [...events].sort((a, b) => a - b);
    let best = 0;
    let from = 0;
    for (let to = 0; to < sorted.length; to += 1) {
      while ((sorted[to] as number) - (sorted[from] as number) >= windowMs) from += 1;
      best = Math.max(best, to - from + 1);
    }
    return best;
  };
  const grouped = (keyOf: (event: CaEvent) => readonly string[], counted: (event: CaEvent) => boolean) => {
    const groups = new Map<string, number[]>();
    for (const event of log) {
      if (!counted(event)) continue;
      for (const key of new Set(keyOf(event))) {
        const list = groups.get(key);
        if (list) list.push(event.at);
        else groups.set(key, [event.at]);
      }
    }
    return groups;
  };
  const maxOver = (groups: Map<string, number[]>, windowMs: number) =>
    Math.max(0, ...[...groups.values()].map((events) => maxIn(events, windowMs)));
  const first = (event: CaEvent) => event.kind === 'first';
  return {
    newOrdersPerAccount: maxIn(
      log.filter(first).map((event) => event.at),
      limits.newOrdersPerAccount?.windowMs ?? 0,
    ),
    certificatesPerRegisteredDomain: maxOver(
      grouped((event) => event.names.map(registeredDomain), first),
      limits.certificatesPerRegisteredDomain?.windowMs ?? 0,
    ),
    certificatesPerExactSet: maxOver(
      grouped(
        (event) => [exactSetKey(event.names)],
        (event) => event.kind !== 'ari-renewal',
      ),
      limits.certificatesPerExactSet?.windowMs ?? 0,
    ),
    failedAuthorizationsPerIdentifier: 0,
  };
}

function json(body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return {
    status: 200,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

/** The planner only reads the directory and renewal information, which are not signed. */
function unusedSigner(): Signer {
  const fail = () => {
    throw new Error('the simulated planner signs nothing');
  };
  return { publicJwk: fail, sign: fail } as unknown as Signer;
}
