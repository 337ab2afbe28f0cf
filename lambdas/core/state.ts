import type { AcmeDirectory, AcmeOrderStatus } from './acme/types.js';

/**
 * What travels between the steps of one issuance, in the Step Functions payload.
 * It never holds a private key or anything derived from one: the certificate key stays in the
 * encrypted certificate store and only its store key travels here.
 */

/** Certificate key algorithms. */
export type KeyType = 'EC_P256' | 'RSA_2048';

/** `issue` declares (or redeclares) a certificate and issues it; `renew` renews a registered one. */
export type IssuanceAction = 'issue' | 'renew';

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
  /** ACM regions to import into. @default the region the workflow runs in */
  readonly regions?: readonly string[];
  /** ACME profile (such as Let's Encrypt `shortlived`), when the CA offers profiles. */
  readonly profile?: string;
  /** Added by the state machine: the execution that holds the certificate's lock. */
  readonly execution?: { readonly id: string; readonly startedAt?: string };
}

/** One dns-01 challenge we must publish and answer. */
export interface DnsChallenge {
  /** The identifier value as ordered, e.g. `*.example.org`. */
  readonly identifier: string;
  readonly authorizationUrl: string;
  readonly challengeUrl: string;
  readonly zoneId: string;
  /** `_acme-challenge.` + the base name, lower-case, no trailing dot. */
  readonly recordName: string;
  /** base64url(SHA-256(key authorization)). */
  readonly value: string;
}

export interface OrderRef {
  readonly url: string;
  readonly finalize: string;
  readonly status: AcmeOrderStatus;
  readonly authorizations: readonly string[];
  readonly certificate?: string;
}

export interface IssuanceState extends IssuanceInput {
  readonly action: IssuanceAction;
  readonly keyType: KeyType;
  readonly regions: readonly string[];
  readonly directoryUrl: string;
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
  /** Set by a Catch: the failed step's error, kept for the final Fail state. */
  readonly error?: { readonly Error: string; readonly Cause: string };
}
