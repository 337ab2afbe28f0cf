import { type AcmFake, installAcmFake } from '../fakes/acm-fake.js';
import { type DynamoDbFake, installDynamoDbFake } from '../fakes/dynamodb-fake.js';
import { type EventBridgeFake, installEventBridgeFake } from '../fakes/eventbridge-fake.js';
import { installKmsFake, type KmsFake } from '../fakes/kms-fake.js';
import { installRoute53Fake, type Route53Fake } from '../fakes/route53-fake.js';
import { type Route53NameServers, startRoute53NameServers } from '../fakes/route53-name-servers.js';
import { installS3Fake, type S3Fake } from '../fakes/s3-fake.js';
import type { StsFake } from '../fakes/sts-fake.js';
import { ChalltestsrvClient } from './challtestsrv.js';
import {
  type CfnTemplate,
  type StackPropsForTest,
  type SynthesizedStack,
  synthesizeStack,
} from './cloud/assembly.js';
import { type DeployedStack, LocalCloud } from './cloud/cloud.js';
import type { ExecutionOptions, LocalExecution } from './cloud/step-functions.js';

/**
 * One local issuance end to end: a real ACME CA (Pebble) and real DNS (challtestsrv), and the
 * stack as `cdk deploy` would ship it: synthesized with its bundles, deployed into a local cloud
 * of AWS fakes whose every call is authorized against the template's IAM, its state machine run
 * from the synthesized definition and its functions from their bundled assets.
 * Shared by the e2e tests, `npm run demo` and the benchmarks.
 */

/** Where the local CA and its DNS live. */
export interface LocalCa {
  readonly directoryUrl: string;
  readonly caBundlePath: string;
  readonly challtestsrvUrl: string;
  /**
   * `host:port` of challtestsrv's DNS, which the CA resolves with: the functions use it as their
   * recursive resolver too (`DNS_RESOLVERS`), so they see the same `_acme-challenge` CNAMEs.
   */
  readonly dnsResolver?: string;
}

/** AWS as the functions see it, faked at the SDK boundary. */
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
  /** Hosted zone id per zone name. */
  readonly zones: ReadonlyMap<string, string>;
  restore(): Promise<void>;
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
  // Only the buckets the deployment creates exist.
  const s3 = installS3Fake({ buckets: [] });
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
    zones,
    async restore() {
      nameServers.stop();
      kms.restore();
      route53.restore();
      acm.restore();
      s3.restore();
      eventBridge.restore();
      await dynamodb.restore();
    },
  };
}

/**
 * What the local network provides that AWS would: trust in the local CA's certificate, and the
 * DNS servers that stand in for the VPC resolver and Route 53's name servers. These are not the
 * functions' configuration (the template's), so they never count toward the 4 KB quota.
 */
export function networkEnvironment(ca: LocalCa, aws: LocalAws): Record<string, string> {
  return {
    ACME_CA_BUNDLE: ca.caBundlePath,
    ...(ca.dnsResolver ? { DNS_RESOLVERS: ca.dnsResolver } : {}),
    ...(aws.nameServers ? { DNS_AUTHORITATIVE_SERVERS: aws.nameServers.addresses.join(',') } : {}),
  };
}

/** The stack deployed into a local cloud. */
export interface LocalDeployment {
  readonly cloud: LocalCloud;
  readonly stack: DeployedStack;
  readonly aws: LocalAws;
  readonly ca: LocalCa;
}

export interface DeployOptions {
  /** Props of the stack; `acme.directoryUrl` defaults to the CA's. */
  readonly props?: StackPropsForTest;
  readonly sts?: StsFake;
  /** Echo what the functions write to this process's stderr (the demo's `--verbose`). */
  readonly echoLogs?: boolean;
  /** Changes to the local network, such as DNS servers (`DNS_RESOLVERS`, `DNS_AUTHORITATIVE_SERVERS`). */
  readonly network?: Readonly<Record<string, string>>;
  /**
   * Changes the synthesized template before it is deployed, as a hand-edited template would (a
   * test that removes a permission to show the run fails without it).
   */
  readonly editTemplate?: (template: CfnTemplate) => void;
}

/** Synthesizes the stack for `ca` (with the bundles that ship) and deploys it into a fresh local cloud. */
export async function deployLocally(
  ca: LocalCa,
  aws: LocalAws,
  options: DeployOptions = {},
): Promise<LocalDeployment> {
  const cloud = await LocalCloud.create({
    aws,
    ...(options.sts ? { sts: options.sts } : {}),
    networkEnvironment: { ...networkEnvironment(ca, aws), ...options.network },
    ...(options.echoLogs ? { onLog: (_fn, _stream, text) => process.stderr.write(text) } : {}),
  });
  try {
    const synthesized = synthesizeFor(ca, options.props);
    let template = synthesized.template;
    if (options.editTemplate) {
      template = structuredClone(template) as CfnTemplate;
      options.editTemplate(template);
    }
    const stack = await cloud.deploy({ ...synthesized, template });
    return { cloud, stack, aws, ca };
  } catch (error) {
    await cloud.shutdown();
    throw error;
  }
}

/** The stack synthesized against `ca`'s directory unless the props name another. */
export function synthesizeFor(ca: LocalCa, props: StackPropsForTest = {}): SynthesizedStack {
  // A list of CAs replaces the one directory URL.
  const directory = props.acme?.certificateAuthorities ? {} : { directoryUrl: ca.directoryUrl };
  return synthesizeStack({ ...props, acme: { ...directory, ...props.acme } });
}

/** The stack's ACME account key id (the current generation's). */
export function accountKeyIdOf(stack: DeployedStack): string {
  return stack.environmentOf('register-account').ACCOUNT_KEY_ID as string;
}

export interface LocalIssuanceOptions extends Omit<ExecutionOptions, 'input'> {
  readonly deployment: LocalDeployment;
  readonly input: Record<string, unknown>;
}

export interface LocalIssuanceResult {
  readonly execution: LocalExecution;
  /** HTTP requests sent to the CA. */
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
  /** AWS calls the functions made that IAM authorized (and a fake then served). */
  readonly iamAuthorizedCalls: number;
  /** What the functions wrote during the run. */
  readonly logs: string;
}

/** Runs one execution of the issuance state machine and counts what it cost at the CA and at AWS. */
export async function runLocalIssuance(options: LocalIssuanceOptions): Promise<LocalIssuanceResult> {
  const { deployment, input, ...executionOptions } = options;
  const { cloud, aws, ca } = deployment;
  const caHost = new URL(ca.directoryUrl).host;
  const sum = (calls: Readonly<Record<string, number | undefined>>) =>
    Object.values(calls).reduce<number>((total, count) => total + (count ?? 0), 0);
  const before = {
    http: cloud.httpRequests.length,
    logs: cloud.logs.length,
    authorized: cloud.authorizedCalls,
    sign: aws.kms.calls.Sign ?? 0,
    change: aws.route53.calls.ChangeResourceRecordSets ?? 0,
    getChange: aws.route53.calls.GetChange ?? 0,
    acm: sum(aws.acm.calls),
  };
  const execution = await cloud.stepFunctions.run(deployment.stack.stateMachine('Issuance'), {
    input,
    ...executionOptions,
  });
  const byPath: Record<string, number> = {};
  const byStatus: Record<string, number> = {};
  const exchanges = cloud.httpRequests.slice(before.http).filter((exchange) => exchange.host === caHost);
  for (const exchange of exchanges) {
    // Group by endpoint: the first path segment names it; the rest are resource ids.
    const endpoint = `${exchange.method} /${exchange.path.split('/')[1] ?? ''}`;
    byPath[endpoint] = (byPath[endpoint] ?? 0) + 1;
    if (exchange.status)
      byStatus[`${endpoint} ${exchange.status}`] = (byStatus[`${endpoint} ${exchange.status}`] ?? 0) + 1;
  }
  return {
    execution,
    acmeRequests: exchanges.length,
    acmeRequestsByPath: byPath,
    acmeResponsesByStatus: byStatus,
    kmsSignCalls: (aws.kms.calls.Sign ?? 0) - before.sign,
    route53ChangeCalls: (aws.route53.calls.ChangeResourceRecordSets ?? 0) - before.change,
    route53GetChangeCalls: (aws.route53.calls.GetChange ?? 0) - before.getChange,
    acmCalls: sum(aws.acm.calls) - before.acm,
    iamAuthorizedCalls: cloud.authorizedCalls - before.authorized,
    logs: cloud.logs
      .slice(before.logs)
      .map((line) => line.text)
      .join(''),
  };
}
