/**
 * Ports: the roles the core needs from the outside world. Adapters under `lambdas/adapters`
 * implement them over the AWS SDK and Node's network stack; tests implement them with stand-ins.
 * The core never imports an adapter, the AWS SDK or `lib/`.
 */

import type { CaaPin, KeyType } from './state.js';

/** A public EC P-256 key in JWK form (RFC 7517), as ACME servers expect in the `jwk` header. */
export interface EcPublicJwk {
  readonly kty: 'EC';
  readonly crv: 'P-256';
  readonly x: string;
  readonly y: string;
}

/**
 * Signs JWS payloads with the ACME account key. The key itself never leaves the signer
 * (in production it stays in AWS KMS).
 */
export interface Signer {
  /** JOSE algorithm of the signatures this signer produces. */
  readonly algorithm: 'ES256';
  /** The public half of the account key, used for `jwk` headers and the key thumbprint. */
  publicJwk(): Promise<EcPublicJwk>;
  /** Signs `signingInput` and returns the 64-byte JOSE form (r || s), never DER. */
  sign(signingInput: Uint8Array): Promise<Uint8Array>;
}

export interface HttpRequest {
  readonly method: 'GET' | 'HEAD' | 'POST';
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

export interface HttpResponse {
  readonly status: number;
  /** Lower-case header names. Repeated headers (such as `Link`) are joined with `, `. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Sends one HTTP request to the ACME server. Implementations enforce timeouts and size caps. */
export interface HttpTransport {
  request(request: HttpRequest): Promise<HttpResponse>;
}

/** A Route 53 (or other) hosted zone, with its name lower-case and without the trailing dot. */
export interface HostedZone {
  readonly id: string;
  readonly name: string;
  readonly privateZone: boolean;
}

/** One TXT value an execution wrote, with where it went. */
export interface PublishedTxtValue {
  readonly executionId: string;
  readonly zoneId: string;
  /** Lower-case, without the trailing dot. */
  readonly recordName: string;
  readonly value: string;
  /** The role the zone is written through, for a zone in another account. */
  readonly roleArn?: string;
}

/** TXT values for one record name, unquoted. */
export interface TxtRecord {
  /** Fully qualified name, lower-case, without the trailing dot. */
  readonly name: string;
  readonly values: readonly string[];
}

/**
 * IAM roles to assume per hosted zone id (bare, without `/hostedzone/`), for zones that live in
 * another AWS account: `{ "Z0123": "arn:aws:iam::111122223333:role/acme-dns" }`.
 */
export type ZoneRoles = Readonly<Record<string, string>>;

/**
 * DNS provider operations the dns-01 steps need. `roleArn`, where given, is the role that
 * reaches the zone (or the change) in another account; without it the caller's own account is used.
 */
export interface DnsZones {
  /**
   * Every hosted zone visible to the caller, plus each zone of `zoneRoles` read through its role,
   * with `privateZone` set so that callers can both filter and explain.
   */
  listPublicZones(zoneRoles?: ZoneRoles): Promise<HostedZone[]>;
  /**
   * Adds `records` to the zone in one change batch: each record set becomes the union of the
   * values already present and ours. Returns the change id to poll.
   */
  publishTxt(zoneId: string, records: readonly TxtRecord[], roleArn?: string): Promise<string>;
  /** True once the change has propagated to every authoritative server (Route 53 `INSYNC`). */
  isChangeInSync(changeId: string, roleArn?: string): Promise<boolean>;
  /**
   * Removes exactly `records`' values in one change batch, keeping values that are not ours.
   * Values that are already gone are ignored, so the call is safe to repeat.
   */
  removeTxt(zoneId: string, records: readonly TxtRecord[], roleArn?: string): Promise<void>;
  /**
   * Sets the CAA record set at each pin's name to what `pinnedCaaValues` makes of it, in one change
   * batch. Returns the change id to poll, or `undefined` when every set already is pinned.
   */
  pinCaa(zoneId: string, pins: readonly CaaPin[], roleArn?: string): Promise<string | undefined>;
}

/** Encrypted object storage for issued chains, private keys and small JSON records. */
export interface CertificateStore {
  put(key: string, body: string, contentType: string): Promise<void>;
  /**
   * Writes `key` only if no object is stored there (S3 `If-None-Match: *`), in one atomic
   * request: `created` when this call wrote it, `exists` when an object was already there, which
   * is left as it was. For what must be written once and never replaced, such as an order's key.
   */
  create(key: string, body: string, contentType: string): Promise<'created' | 'exists'>;
  /** The stored text, or `undefined` when there is no such object. */
  get(key: string): Promise<string | undefined>;
}

export interface ImportCertificateRequest {
  readonly certificatePem: string;
  /** Intermediates only: ACM refuses a chain that contains the leaf. */
  readonly chainPem: string;
  readonly privateKeyPem: string;
  /** Re-import into this ARN, so attached load balancers and distributions keep working. */
  readonly existingArn?: string;
  readonly tags: Readonly<Record<string, string>>;
}

/** Imports certificates into a certificate manager (ACM). */
export interface CertificateImporter {
  importCertificate(request: ImportCertificateRequest): Promise<{ arn: string }>;
}

/** One certificate manager per region, so a certificate can serve CloudFront and a regional load balancer. */
export interface CertificateImporters {
  forRegion(region: string): CertificateImporter;
}

/** Operational metrics (CloudWatch through embedded metric format); values only, never secrets. */
export interface WorkflowMetrics {
  add(
    name: string,
    unit: 'Count' | 'Seconds' | 'None',
    value: number,
    dimensions?: Readonly<Record<string, string>>,
  ): void;
}

/** Time source, so tests can use fake clocks instead of sleeping. */
export interface Clock {
  now(): Date;
}

/**
 * The account URL a CA gave our key, so later runs skip registration, and what we last did to
 * the account: its contact, a deactivation, or a rollover that moved it to another key.
 */
export interface AccountRecord {
  readonly directoryUrl: string;
  readonly accountUrl: string;
  /**
   * `valid` (or absent) while this key signs for the account; `deactivated` once the account was
   * deactivated (permanent, RFC 8555 §7.3.6); `rolled-over` once the account moved to the key
   * named by `rolledOverTo` (§7.3.5), so this key no longer speaks for it.
   */
  readonly status?: 'valid' | 'deactivated' | 'rolled-over';
  /** The contact URIs last sent to the CA (`mailto:` URIs). */
  readonly contact?: readonly string[];
  /** JWK thumbprint of the key the account was rolled over to. */
  readonly rolledOverTo?: string;
  /** When this record last changed (ISO 8601). */
  readonly updatedAt?: string;
}

/**
 * A CA's directory (RFC 8555 §7.1.1) as an earlier run fetched it, kept so that later runs skip the
 * directory GET. The core decides when it is too old or suspect to use.
 */
export interface DirectoryRecord {
  readonly directoryUrl: string;
  /** The directory as JSON text. */
  readonly body: string;
  /** When it was fetched (ISO 8601). */
  readonly fetchedAt: string;
}

/** The order an attempt is working on, kept so a re-run after a crash reuses it. */
export interface PendingOrderRecord {
  readonly url: string;
  /** `domains` joined with "," and the key type: a change means a new order. */
  readonly fingerprint: string;
  readonly expires?: string;
  /** The CA the order was placed with; only that CA can resume it. @default the run's CA */
  readonly directoryUrl?: string;
}

/** A certificate that was issued and stored; `importedArn` is set once ACM has it. */
export interface IssuedCertificateRecord {
  readonly serial: string;
  readonly storeKey: string;
  readonly notAfter: string;
  readonly notBefore?: string;
  readonly fingerprint: string;
  /** RFC 9773 CertID, for renewal information and `replaces`, which go to the issuing CA only. */
  readonly ariCertId?: string;
  /** The directory URL of the CA that issued it. @default the certificate's configured CA */
  readonly directoryUrl?: string;
  readonly importedArn?: string;
  /** The KMS key that is this certificate's key, when it is one. */
  readonly kmsKeyArn?: string;
  /** For a KMS-held key, which ACM never sees: when the certificate was published to the store. */
  readonly publishedAt?: string;
  /**
   * The execution that delivered this certificate (imported it into every region, or published
   * it), and what it would have announced. Written with the delivery itself, so Cleanup can tell a
   * run that failed after delivering (its Lambda crashed once the import was done) from one that
   * failed before, and announce what really happened.
   */
  /**
   * When DeliverCertificate last wrote this certificate to every delivery target, and what it
   * wrote; absent until then, which makes a certificate with delivery targets due again.
   */
  readonly delivered?: {
    readonly at: string;
    readonly targets: readonly DeliveredTarget[];
  };
  readonly deliveredBy?: {
    readonly executionId: string;
    /** Whether it replaced an earlier certificate (`Certificate Renewed`) or was the first. */
    readonly renewal: boolean;
    /** Whether ACM needed a new ARN for it (the record's `arnReplaced` says where and why). */
    readonly arnReplaced: boolean;
  };
}

/** What an operator declared (in CDK props or with an `issue` request) for one certificate. */
export interface CertificateConfig {
  readonly domains: readonly string[];
  readonly keyType: string;
  readonly hostedZoneIds?: Readonly<Record<string, string>>;
  /** ACM regions to import into; the first is where the workflow runs unless listed otherwise. */
  readonly regions: readonly string[];
  readonly directoryUrl?: string;
  readonly profile?: string;
  /** Role to assume per hosted zone id, for zones in other AWS accounts. */
  readonly zoneRoles?: ZoneRoles;
  /**
   * Issuer common name of the topmost certificate of the chain to prefer among those the CA
   * offers (`Link: rel="alternate"`). @default the CA's default chain
   */
  readonly preferredChain?: string;
  /**
   * `dns-persist-01`: validate through one persistent `_validation-persist` record per name
   * (draft-ietf-acme-dns-persist-02), falling back to dns-01 where the CA does not offer it.
   * @default 'dns-01'
   */
  readonly challenge?: 'dns-01' | 'dns-persist-01';
  /**
   * The stack writes none of the names' DNS (it lives outside Route 53, or in zones the stack may
   * not write): only dns-persist-01 records an operator created, checked before every order.
   */
  readonly externalDns?: boolean;
  /**
   * The CAs to try, most preferred first (see `workflow/ca-fallback.ts`). @default the
   * deployment's list, or `directoryUrl` alone
   */
  readonly certificateAuthorities?: readonly CertificateAuthorityEntry[];
  /**
   * Pin the names' CAA records to the CA and this deployment's account there (RFC 8657
   * `accounturi`, `validationmethods`), so no other account can obtain a certificate for them
   * from that CA. @default false
   */
  readonly pinCaa?: boolean;
  /**
   * ARN of the KMS key that is the certificate's key. Such a certificate is published to the
   * certificate store only, never to ACM. @default a fresh key per issuance, imported into ACM
   */
  readonly kmsKeyArn?: string;
  /**
   * Where DeliverCertificate writes the certificate for workloads outside ACM, as the construct
   * declared it (`secret`, `parameters`). Only declared certificates have one; an `issue` of a
   * declared id keeps it. @default no delivery
   */
  readonly delivery?: DeliveryTargets;
}

/** The Secrets Manager secret and Parameter Store path a certificate is delivered to. */
export interface DeliveryTargets {
  /** ARN of the secret (created at deploy) that gets a new version per certificate. */
  readonly secretArn?: string;
  /**
   * Parameter path such as `/certificates/web`: SecureString parameters `<path>/certificate`,
   * `<path>/chain` and `<path>/privateKey`, plus `<path>/fullchain` on the Advanced tier.
   */
  readonly parameterPath?: string;
  /** @default 'Standard' */
  readonly parameterTier?: 'Standard' | 'Advanced';
  /** ARN of the KMS key the parameters are encrypted with (the secret has its own setting). */
  readonly parameterKeyArn?: string;
}

/** One write of a delivery: the secret or one parameter, and the version it got. */
export interface DeliveredTarget {
  readonly target: 'secretsmanager' | 'ssm';
  /** The secret's ARN, or the parameter's name. */
  readonly name: string;
  /** The secret's VersionId, or the parameter's version number as a string. */
  readonly version: string;
}

/** What DeliverCertificate writes a certificate to: the secret's and the parameters' services. */
export interface CertificateDeliveries {
  /**
   * Writes `value` as a new version of the secret, which becomes `AWSCURRENT` (the one it replaces
   * becomes `AWSPREVIOUS`). The same `requestToken` with the same value writes nothing again and
   * answers with the same version, so a retried delivery of one certificate adds no version.
   */
  putSecretVersion(input: {
    readonly secretArn: string;
    readonly value: string;
    readonly requestToken: string;
  }): Promise<{ readonly versionId: string }>;
  /** Writes a SecureString parameter, overwriting it, and answers with its new version. */
  putParameter(input: {
    readonly name: string;
    readonly value: string;
    readonly keyArn?: string;
    readonly tier: 'Standard' | 'Advanced';
  }): Promise<{ readonly version: number }>;
}

/** One managed certificate in the registry. */
export interface CertificateRecord {
  readonly certificateId: string;
  /** `published`: a KMS-held key's certificate, in the certificate store and never in ACM. */
  readonly status?: 'issuing' | 'issued' | 'imported' | 'published' | 'failed' | 'revoked';
  readonly config?: CertificateConfig;
  /** ACM ARN per region the certificate is (re-)imported into. */
  readonly acmArns?: Readonly<Record<string, string>>;
  /** Key type of the certificate in ACM: re-importing a different one needs a new ARN. */
  readonly importedKeyType?: string;
  /** Set when ACM needed a new ARN (for example after a key type change), with the reason. */
  readonly arnReplaced?: { readonly region: string; readonly previousArn: string; readonly reason: string };
  readonly pendingOrder?: PendingOrderRecord;
  readonly issued?: IssuedCertificateRecord;
  /**
   * TXT values an execution is publishing or has published and not removed yet, noted before
   * they are written, so that a run killed before its Cleanup (timed out, stopped, crashed)
   * leaves a trail: the rule on the execution's end, or the next run's Cleanup, removes them.
   */
  readonly publishedTxt?: readonly PublishedTxtValue[];
  /**
   * The last failure; `executionId` is the execution it was counted for, so a retried Cleanup of
   * that execution does not count it again.
   */
  readonly lastError?: {
    readonly name: string;
    readonly message: string;
    readonly at: string;
    readonly executionId?: string;
  };
  readonly lastAttemptAt?: string;
  /** When the certificate is due for renewal (ARI window or a third of its lifetime left). */
  readonly nextRenewalAt?: string;
  /** When to ask the CA's renewal information again (its Retry-After). */
  readonly ariCheckAfter?: string;
  readonly consecutiveFailures?: number;
  /** After a failure, no renewal is attempted before this time. */
  readonly nextAttemptAt?: string;
  /**
   * dns-persist-01: the earliest `persistUntil` among the persistent records the last order relied
   * on, after which the CA stops honouring them; the planner reports the days left so an alarm
   * fires before it passes. Absent when those records carry none.
   */
  readonly persistUntil?: string;
  /** Held by the execution that is working on this certificate. */
  readonly lock?: { readonly executionId: string; readonly expiresAt: string };
}

/** One CA of a fallback list: its directory, and the profile to ask it for. */
export interface CertificateAuthorityEntry {
  readonly directoryUrl: string;
  /** Overrides the certificate's profile at this CA. */
  readonly profile?: string;
}

/** Fields `CertificateRegistry.update` sets; `null` removes a field. */
export type CertificateRecordChanges = {
  readonly [K in Exclude<keyof CertificateRecord, 'certificateId' | 'lock'>]?: CertificateRecord[K] | null;
};

/**
 * Durable state across executions: CA accounts, the per-certificate lock that keeps two runs
 * apart, and what each attempt achieved, so a re-run resumes instead of ordering again.
 */
export interface CertificateRegistry {
  getAccount(directoryUrl: string, accountKeyThumbprint: string): Promise<AccountRecord | undefined>;
  putAccount(accountKeyThumbprint: string, record: AccountRecord): Promise<void>;
  /** The directory last kept for the CA at `directoryUrl`, whatever its age. */
  getDirectory(directoryUrl: string): Promise<DirectoryRecord | undefined>;
  /** Keeps `record` for its CA, replacing the one kept before. */
  putDirectory(record: DirectoryRecord): Promise<void>;
  /**
   * Takes the certificate's lock for `executionId` unless another execution holds an unexpired
   * one. Returns false (and changes nothing) when another run is in progress. Idempotent for the
   * holder, so a retried step succeeds.
   */
  acquireLock(certificateId: string, executionId: string, now: Date, ttlSeconds: number): Promise<boolean>;
  /** Releases the lock only if `executionId` holds it. */
  releaseLock(certificateId: string, executionId: string): Promise<void>;
  get(certificateId: string): Promise<CertificateRecord | undefined>;
  /** Sets (or, for `null`, removes) the given fields, creating the record when needed. */
  update(certificateId: string, changes: CertificateRecordChanges): Promise<void>;
  /** One page of certificate records (accounts excluded), for the renewal planner. */
  list(options: { readonly cursor?: string; readonly limit: number }): Promise<{
    readonly records: readonly CertificateRecord[];
    readonly cursor?: string;
  }>;
}

/**
 * Short leases that serialize read-modify-write changes to one DNS record set across executions.
 * Route 53 has no conditional change, and a dns-01 record set is shared: `example.org` and
 * `*.example.org` of different certificates answer at the same `_acme-challenge.example.org`, so
 * two writers that each read the values and write back the union would lose each other's value.
 * A writer holds the lease on the record set from its read to its change.
 */
export interface RecordSetLeases {
  /**
   * Takes the lease on `key` for `holder` for `ttlSeconds` from `now`, unless another holder has
   * one that has not expired. Returns false (and changes nothing) when the lease is taken.
   * Idempotent for the holder, so a retried step takes its own lease again at once.
   */
  acquire(key: string, holder: string, now: Date, ttlSeconds: number): Promise<boolean>;
  /** Gives the lease back, only if `holder` holds it; a lease that is gone already is fine. */
  release(key: string, holder: string): Promise<void>;
  /**
   * Milliseconds the current invocation has left (the Lambda's remaining time): a lease lasts no
   * longer than its holder can live, and a writer waits for one only while it can still write.
   */
  remainingMs(): number;
  /** Waits `ms` between attempts to take a busy lease; tests advance a fake clock instead. */
  pause(ms: number): Promise<void>;
}

/** Publishes what happened to a certificate, for alerting and automation. */
export interface EventPublisher {
  publish(event: {
    readonly detailType: string;
    readonly detail: Readonly<Record<string, unknown>>;
  }): Promise<void>;
}

/**
 * External account binding credentials (RFC 8555 §7.3.4): a key identifier and MAC key the CA
 * issued out of band, which tie a new ACME account to an account the operator holds at the CA.
 */
export interface ExternalAccountBinding {
  /** The key identifier the CA issued; it becomes the binding's `kid` header. */
  readonly kid: string;
  /** The MAC key, decoded. Secret: never log it, never put it in the state or an error message. */
  readonly hmacKey: Uint8Array;
}

/**
 * Where a deployment's external account binding credentials live (AWS Secrets Manager in
 * production), so the MAC key is read only at the moment an account is created and never travels
 * in props, environment variables or the workflow state.
 */
export interface ExternalAccountBindingSource {
  /** Reads the credentials; throws a typed error naming the secret (never its value) when it cannot. */
  read(): Promise<ExternalAccountBinding>;
}

/**
 * A certificate key that never leaves its keystore (an AWS KMS asymmetric key): the CSR is signed
 * through it, and the certificate is used by workloads that sign through the same keystore.
 */
export interface CertificateKeySigner {
  /** The key's id or ARN, for messages. */
  readonly keyId: string;
  /**
   * The key's type and its public half (SubjectPublicKeyInfo, DER), read from the key itself.
   * Throws `InvalidInputError` naming the key when it is not a signing key of a supported type.
   */
  describe(): Promise<{ readonly keyType: KeyType; readonly spki: Uint8Array }>;
  /**
   * Signs `data` as an X.509 signature: ECDSA with SHA-256 (P-256) or SHA-384 (P-384), the
   * DER-encoded ECDSA-Sig-Value; RSASSA-PKCS1-v1_5 with SHA-256 for RSA keys.
   */
  sign(data: Uint8Array): Promise<Uint8Array>;
}

/** Certificate keys held in a keystore, by key id or ARN. */
export interface CertificateKeySigners {
  forKey(keyId: string): CertificateKeySigner;
}

/** One authoritative name server of a zone, and the address it is asked at (`ip` or `ip:port`). */
export interface NameServer {
  readonly name: string;
  readonly address: string;
}

/**
 * DNS lookups the dns-01 steps make outside AWS: following a delegated `_acme-challenge` CNAME
 * before choosing the zone, and asking a zone's authoritative servers whether our TXT values are
 * there before the CA is told to look. Names are lower-case without the trailing dot.
 * Lookups that fail (SERVFAIL, timeout, refused) throw `DnsQueryError`; a name that does not
 * exist or has no record of the type asked is an empty answer, not an error.
 */
export interface DnsResolver {
  /** The CNAME target of `name` as a recursive resolver sees it, or `undefined` when it has none. */
  resolveCname(name: string): Promise<string | undefined>;
  /** The servers authoritative for `zone`: its NS records, each with an address to ask it at. */
  authoritativeServers(zone: string): Promise<NameServer[]>;
  /** TXT values at `name` (each value's strings joined) as `server` answers, never following a CNAME. */
  resolveTxt(name: string, server: string): Promise<string[]>;
  /**
   * The CAA records at `name` as a recursive resolver sees them, so a CNAME at `name` is followed
   * the way RFC 8659 §3 expects; empty when `name` has none (or does not exist).
   */
  resolveCaa(name: string): Promise<CaaRecord[]>;
}

/** One CAA record (RFC 8659 §4.1): its flags octet, its property tag as published, and its value. */
export interface CaaRecord {
  readonly flags: number;
  readonly tag: string;
  readonly value: string;
}
