import diagnosticsChannel from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import { type AcmFake, installAcmFake } from '../fakes/acm-fake.js';
import { type DynamoDbFake, installDynamoDbFake } from '../fakes/dynamodb-fake.js';
import { type EventBridgeFake, installEventBridgeFake } from '../fakes/eventbridge-fake.js';
import { installKmsFake, type KmsFake } from '../fakes/kms-fake.js';
import { installRoute53Fake, type Route53Fake } from '../fakes/route53-fake.js';
import { type Route53NameServers, startRoute53NameServers } from '../fakes/route53-name-servers.js';
import { installS3Fake, type S3Fake } from '../fakes/s3-fake.js';
import { ChalltestsrvClient } from './challtestsrv.js';
import {
  type LocalExecution,
  type RunOptions,
  runWorkflow,
  type SynthesizedWorkflow,
} from './state-machine.js';

/**
 * One local issuance end to end: a real ACME CA (Pebble) and real DNS (challtestsrv), the
 * synthesized state machine with every real handler, and AWS faked at the SDK boundary.
 * Shared by the e2e tests, `npm run demo` and the benchmarks.
 */

/** Where the local CA and its DNS live. */
export interface LocalCa {
  readonly directoryUrl: string;
  readonly caBundlePath: string;
  readonly challtestsrvUrl: string;
  /**
   * `host:port` of challtestsrv's DNS, which the CA resolves with: the handlers use it as their
   * recursive resolver too (`DNS_RESOLVERS`), so they see the same `_acme-challenge` CNAMEs.
   */
  readonly dnsResolver?: string;
}

/** AWS as the handlers see it, faked at the SDK boundary. */
export interface LocalAws {
  readonly kms: KmsFake;
  readonly route53: Route53Fake;
  readonly acm: AcmFake;
  readonly s3: S3Fake;
  readonly dynamodb: DynamoDbFake;
  readonly eventBridge: EventBridgeFake;
  /**
   * Route 53's authoritative name servers over the fake's zones, which the propagation check asks
   * (`DNS_AUTHORITATIVE_SERVERS`); the CA keeps resolving through challtestsrv.
   */
  readonly nameServers?: Route53NameServers;
  readonly accountKeyId: string;
  /** Hosted zone id per zone name. */
  readonly zones: ReadonlyMap<string, string>;
  restore(): void;
}

/**
 * The zone each name would live in: its last two labels, so `a.example.org` and `*.example.org`
 * share `example.org` while `api.example.net` gets its own.
 */
export function registrableDomain(name: string): string {
  return name.replace(/^\*\./, '').toLowerCase().replace(/\.$/, '').split('.').slice(-2).join('.');
}

/** Installs the AWS fakes with one public hosted zone per registrable domain among `domains`. */
export function installLocalAws(ca: LocalCa, domains: readonly string[]): LocalAws {
  const kms = installKmsFake();
  const route53 = installRoute53Fake({ challtestsrv: new ChalltestsrvClient(ca.challtestsrvUrl) });
  const acm = installAcmFake({ region: 'us-east-1' });
  const s3 = installS3Fake();
  const dynamodb = installDynamoDbFake();
  const eventBridge = installEventBridgeFake();
  const nameServers = startRoute53NameServers(route53);
  const zones = new Map<string, string>();
  for (const zoneName of new Set(domains.map(registrableDomain))) {
    zones.set(zoneName, route53.addZone({ name: zoneName }));
  }
  return {
    kms,
    route53,
    acm,
    s3,
    dynamodb,
    eventBridge,
    nameServers,
    accountKeyId: kms.createKey(),
    zones,
    restore() {
      nameServers.stop();
      kms.restore();
      route53.restore();
      acm.restore();
      s3.restore();
      dynamodb.restore();
      eventBridge.restore();
    },
  };
}

export interface LocalIssuanceOptions {
  readonly workflow: SynthesizedWorkflow;
  readonly ca: LocalCa;
  readonly aws: LocalAws;
  readonly input: Record<string, unknown>;
  readonly pauseMs?: number;
  readonly wrapHandler?: RunOptions['wrapHandler'];
  readonly environment?: Readonly<Record<string, string>>;
  readonly executionId?: string;
}

export interface LocalIssuanceResult {
  readonly execution: LocalExecution;
  /** HTTP requests sent to the CA, counted at Node's HTTP client. */
  readonly acmeRequests: number;
  readonly acmeRequestsByPath: Readonly<Record<string, number>>;
  /**
   * Responses per endpoint and status, e.g. `POST /order-plz 201`: a request the CA rejected
   * (such as a `badNonce` retried with a fresh nonce) is counted in `acmeRequestsByPath` but
   * created nothing.
   */
  readonly acmeResponsesByStatus: Readonly<Record<string, number>>;
  readonly kmsSignCalls: number;
  readonly route53ChangeCalls: number;
  readonly route53GetChangeCalls: number;
  readonly acmCalls: number;
}

/** The Lambda environment the handlers get locally, on top of the synthesized one. */
export function localEnvironment(ca: LocalCa, aws: LocalAws): Record<string, string> {
  return {
    ACME_DIRECTORY_URL: ca.directoryUrl,
    ACME_CA_BUNDLE: ca.caBundlePath,
    ACCOUNT_KEY_ID: aws.accountKeyId,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIALOCALTESTING',
    AWS_SECRET_ACCESS_KEY: 'local-testing-only',
    // Warnings and errors only, and no metric documents, unless a test or the demo asks for them.
    POWERTOOLS_LOG_LEVEL: process.env.ACME_LOCAL_LOG_LEVEL ?? 'WARN',
    POWERTOOLS_METRICS_DISABLED: process.env.ACME_LOCAL_METRICS ? 'false' : 'true',
    // The handlers resolve CNAMEs as the CA does, and check Route 53's (fake) name servers.
    ...(ca.dnsResolver ? { DNS_RESOLVERS: ca.dnsResolver } : {}),
    ...(aws.nameServers ? { DNS_AUTHORITATIVE_SERVERS: aws.nameServers.addresses.join(',') } : {}),
  };
}

/** Runs one execution and counts what it cost at the CA and at AWS. */
export async function runLocalIssuance(options: LocalIssuanceOptions): Promise<LocalIssuanceResult> {
  const caHost = new URL(options.ca.directoryUrl).host;
  const byPath: Record<string, number> = {};
  let acmeRequests = 0;
  const onRequest = (message: unknown) => {
    const request = (message as { request: ClientRequest }).request;
    if (request.getHeader('host') !== caHost) return;
    acmeRequests += 1;
    // Group by endpoint: the first path segment names it; the rest are resource ids.
    const key = `${request.method} /${request.path.split('/')[1] ?? ''}`;
    byPath[key] = (byPath[key] ?? 0) + 1;
  };
  const byStatus: Record<string, number> = {};
  const onResponse = (message: unknown) => {
    const { request, response } = message as { request: ClientRequest; response: { statusCode?: number } };
    if (request.getHeader('host') !== caHost) return;
    const key = `${request.method} /${request.path.split('/')[1] ?? ''} ${response.statusCode ?? 0}`;
    byStatus[key] = (byStatus[key] ?? 0) + 1;
  };
  const before = {
    sign: options.aws.kms.calls.Sign ?? 0,
    change: options.aws.route53.calls.ChangeResourceRecordSets ?? 0,
    getChange: options.aws.route53.calls.GetChange ?? 0,
    acm: Object.values(options.aws.acm.calls).reduce((sum, count) => sum + (count ?? 0), 0),
  };
  // The stack creates the registry table; locally the fake gets the synthesized table name.
  const registryTable = options.workflow.environment.REGISTRY_TABLE;
  if (registryTable && !options.aws.dynamodb.hasTable(registryTable))
    options.aws.dynamodb.createTable(registryTable);
  diagnosticsChannel.subscribe('http.client.request.start', onRequest);
  diagnosticsChannel.subscribe('http.client.response.finish', onResponse);
  try {
    const execution = await runWorkflow(options.workflow, {
      input: options.input,
      environment: { ...localEnvironment(options.ca, options.aws), ...options.environment },
      ...(options.pauseMs !== undefined ? { pauseMs: options.pauseMs } : {}),
      ...(options.wrapHandler ? { wrapHandler: options.wrapHandler } : {}),
      ...(options.executionId ? { executionId: options.executionId } : {}),
    });
    return {
      execution,
      acmeRequests,
      acmeRequestsByPath: byPath,
      acmeResponsesByStatus: byStatus,
      kmsSignCalls: (options.aws.kms.calls.Sign ?? 0) - before.sign,
      route53ChangeCalls: (options.aws.route53.calls.ChangeResourceRecordSets ?? 0) - before.change,
      route53GetChangeCalls: (options.aws.route53.calls.GetChange ?? 0) - before.getChange,
      acmCalls:
        Object.values(options.aws.acm.calls).reduce((sum, count) => sum + (count ?? 0), 0) - before.acm,
    };
  } finally {
    diagnosticsChannel.unsubscribe('http.client.request.start', onRequest);
    diagnosticsChannel.unsubscribe('http.client.response.finish', onResponse);
  }
}
