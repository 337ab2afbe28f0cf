import type { AcmeDirectory, AcmeOrderStatus } from './acme/types.js';
import type { DeliveredTarget } from './ports.js';

/**
 * What travels between the steps of one issuance, in the Step Functions payload.
 * It never holds a private key or anything derived from one: the certificate key stays in the
 * encrypted certificate store and only its store key travels here.
 */

/**
 * Certificate key algorithms: ECDSA on P-256 or P-384, or RSA with a 2048-, 3072- or 4096-bit
 * modulus. CloudFront accepts only the RSA sizes and P-256 (see `cloudFrontKeyWarning`).
 */
export type KeyType = 'EC_P256' | 'EC_P384' | 'RSA_2048' | 'RSA_3072' | 'RSA_4096';

/**
 * `issue` declares (or redeclares) a certificate and issues it; `renew` renews a registered one;
 * `revoke` revokes its current certificate and then renews it, so ACM gets a replacement.
 */
export type IssuanceAction = 'issue' | 'renew' | 'revoke';

/** What an operator (or a schedule) passes to start an issuance. */
export interface IssuanceInput {
  /** Stable id of the certificate: names its store folder and its ACM tag. */
  readonly certificateId: string;
  /** DNS names; a wildcard is `*.` followed by a name. */
  readonly domains: readonly string[];
  /** @default 'EC_P256' */
  readonly keyType?: KeyType;
  /** Hosted zone id per domain (or per parent name), overriding the longest-suffix choice. */
  readonly hostedZoneIds?: Readonly<Record<string, string>>;
  /** IAM role to assume per hosted zone id, for zones that live in another AWS account. */
  readonly zoneRoles?: Readonly<Record<string, string>>;
  /** ACM regions to import into. @default the region the workflow runs in */
  readonly regions?: readonly string[];
  /** ACME profile (such as Let's Encrypt `shortlived`), when the CA offers profiles. */
  readonly profile?: string;
  /** Issuer CN of the topmost certificate of the preferred chain. @default the CA's default chain */
  readonly preferredChain?: string;
  /**
   * `dns-persist-01` validates through one persistent record per name where the CA offers it
   * (see `acme/dns-persist.ts`), dns-01 elsewhere. @default 'dns-01'
   */
  readonly challenge?: 'dns-01' | 'dns-persist-01';
  /** With dns-persist-01: the stack writes none of the names' DNS (see `CertificateConfig.externalDns`). */
  readonly externalDns?: boolean;
  /** Pin the names' CAA records to the CA and our account (see `CertificateConfig.pinCaa`). */
  readonly pinCaa?: boolean;
  /** The CAA record sets PublishChallenges pins, as CreateOrder planned them (see `dns/caa-pin.ts`). */
  readonly caaPins?: readonly CaaPin[];
  /**
   * A KMS asymmetric key (declared in the stack) to be the certificate's key: the CSR is signed in
   * KMS and the certificate goes to the certificate store only, since ACM cannot import a key it
   * cannot read. @default a key generated for each issuance
   */
  readonly kmsKeyArn?: string;
  /** Added by the state machine: the execution that holds the certificate's lock. */
  readonly execution?: { readonly id: string; readonly startedAt?: string };
}

/** One name's CAA pin: the `issue` value naming the CA and our account, in the zone that holds it. */
export interface CaaPin {
  readonly zoneId: string;
  /** The name the CAA record set is at: a certificate name without `*.`, lower-case. */
  readonly name: string;
  /** The CA's identity (its directory's first `caaIdentities` entry). */
  readonly issuer: string;
  /** The full issue-value: `<issuer>; accounturi=<account URL>; validationmethods=<methods>`. */
  readonly value: string;
}

/** One dns-01 challenge we must publish and answer. */
export interface DnsChallenge {
  /** The identifier value as ordered, e.g. `*.example.org`. */
  readonly identifier: string;
  readonly authorizationUrl: string;
  readonly challengeUrl: string;
  readonly zoneId: string;
  /**
   * Where the TXT value is written: `_acme-challenge.` + the base name, or, when that name is a
   * CNAME (a delegated challenge), the end of its CNAME chain. Lower-case, no trailing dot.
   */
  readonly recordName: string;
  /** Name of the zone `zoneId` (lower-case, no trailing dot), whose name servers are checked. */
  readonly zoneName?: string;
  /** The `_acme-challenge` name whose CNAME led to `recordName`, when the challenge is delegated. */
  readonly delegatedFrom?: string;
  /**
   * The TXT value: base64url(SHA-256(key authorization)) for dns-01; for dns-persist-01 the
   * persistent record's value, which stays after the run.
   */
  readonly value: string;
  /** `dns-persist-01` when the persistent record answers the challenge. @default 'dns-01' */
  readonly type?: 'dns-persist-01';
  /** dns-persist-01 only: every authoritative server already returns the record; nothing to write. */
  readonly inPlace?: boolean;
  /** dns-persist-01, in place: the earliest `persistUntil` the servers' authorizing values carry. */
  readonly persistUntil?: string;
}

export interface OrderRef {
  readonly url: string;
  readonly finalize: string;
  readonly status: AcmeOrderStatus;
  readonly authorizations: readonly string[];
  readonly certificate?: string;
}

export interface IssuanceState extends IssuanceInput {
  /**
   * With more than one CA: which one this run uses (its position in the list), how many there are,
   * and the input that starts the run again at the next one (see `workflow/ca-fallback.ts`).
   */
  readonly caFallback?: {
    readonly index: number;
    readonly count: number;
    readonly next?: {
      readonly caIndex: number;
      readonly execution?: { readonly id: string; readonly startedAt?: string };
    };
  };
  readonly action: IssuanceAction;
  readonly keyType: KeyType;
  readonly regions: readonly string[];
  readonly directoryUrl: string;
  /** For `revoke`: the RFC 5280 reason code sent to the CA. */
  readonly revokeReason?: number;
  /** Set by RevokeCertificate: the certificate this run revoked, before it renews. */
  readonly revoked?: { readonly serial: string; readonly reason: number };
  /** Set when another execution holds the lock: this one ends without changing anything. */
  readonly skipped?: string;
  readonly directory?: AcmeDirectory;
  readonly accountUrl?: string;
  /** Last unused Replay-Nonce, so the next step skips a newNonce request. */
  readonly nonce?: string;
  readonly order?: OrderRef;
  readonly challenges?: readonly DnsChallenge[];
  readonly dnsChanges?: readonly { readonly zoneId: string; readonly changeId: string }[];
  readonly dnsInSync?: boolean;
  /** Drives the Wait states between polls. */
  readonly retryAfterSeconds: number;
  /** Polls made by the current waiting loop; bounded so a stuck CA cannot loop forever. */
  readonly polls: number;
  /** Store key of the encrypted certificate private key. */
  readonly privateKeyRef?: string;
  /**
   * For a KMS-held certificate key: its public key (SubjectPublicKeyInfo, DER, base64url), which
   * the issued certificate must carry. Public, so it may travel; the private half never leaves KMS.
   */
  readonly certificatePublicKey?: string;
  readonly certificate?: {
    readonly storeKey: string;
    readonly serial: string;
    readonly notAfter: string;
  };
  readonly certificateArn?: string;
  /** ACM ARN per region after ImportToAcm. */
  readonly certificateArns?: Readonly<Record<string, string>>;
  /** Whether this run replaced an earlier certificate (a renewal) or issued the first one. */
  readonly renewal?: boolean;
  /** Why ACM needed new ARNs this run, when it did. */
  readonly arnReplaced?: { readonly region: string; readonly previousArn: string; readonly reason: string };
  /** Set by ImportToAcm when the certificate has delivery targets: DeliverCertificate runs next. */
  readonly deliver?: true;
  /** What DeliverCertificate wrote: the secret's version and each parameter's. */
  readonly delivered?: readonly DeliveredTarget[];
  /** Things the operator should know that did not stop the issuance (e.g. a key CloudFront refuses). */
  readonly warnings?: readonly string[];
  /** Set by a Catch: the failed step's error, kept for the final Fail state. */
  readonly error?: { readonly Error: string; readonly Cause: string };
}
