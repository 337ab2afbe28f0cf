/** RFC 8555 resource shapes, as far as this client reads them. */

/** RFC 8555 §7.1.1. `renewalInfo` is RFC 9773 (ARI). */
export interface AcmeDirectory {
  readonly newNonce: string;
  readonly newAccount: string;
  readonly newOrder: string;
  readonly revokeCert?: string;
  readonly keyChange?: string;
  readonly newAuthz?: string;
  readonly renewalInfo?: string;
  readonly meta?: {
    readonly termsOfService?: string;
    readonly website?: string;
    readonly caaIdentities?: readonly string[];
    readonly externalAccountRequired?: boolean;
    readonly profiles?: Readonly<Record<string, string>>;
    /** draft-ietf-acme-dns-persist-02 §3.2: names usable in records published before any order. */
    readonly issuerDomainNames?: readonly string[];
    /** draft-ietf-acme-dns-persist-02 §4.1 item 3: the prefix of hashed account URIs. */
    readonly accountHashPrefix?: string;
  };
}

export interface AcmeIdentifier {
  readonly type: 'dns';
  readonly value: string;
}

export type AcmeOrderStatus = 'pending' | 'ready' | 'processing' | 'valid' | 'invalid';

/** RFC 8555 §7.1.3. */
export interface AcmeOrder {
  readonly status: AcmeOrderStatus;
  readonly expires?: string;
  readonly identifiers: readonly AcmeIdentifier[];
  readonly authorizations: readonly string[];
  readonly finalize: string;
  readonly certificate?: string;
  readonly error?: import('../errors.js').AcmeProblem;
}

export type AcmeChallengeStatus = 'pending' | 'processing' | 'valid' | 'invalid';

/** RFC 8555 §8. */
export interface AcmeChallenge {
  readonly type: string;
  readonly url: string;
  readonly status: AcmeChallengeStatus;
  readonly token: string;
  /**
   * `dns-persist-01` only: the issuer domain names a persistent record may name
   * (draft-ietf-acme-dns-persist-02 §3.1); see `acme/dns-persist.ts`.
   */
  readonly issuerDomainNames?: readonly string[];
  readonly validated?: string;
  readonly error?: import('../errors.js').AcmeProblem;
}

export type AcmeAuthorizationStatus = 'pending' | 'valid' | 'invalid' | 'deactivated' | 'expired' | 'revoked';

/** RFC 8555 §7.1.4. */
export interface AcmeAuthorization {
  readonly identifier: AcmeIdentifier;
  readonly status: AcmeAuthorizationStatus;
  readonly expires?: string;
  readonly challenges: readonly AcmeChallenge[];
  readonly wildcard?: boolean;
}

/** RFC 8555 §7.1.2. */
export interface AcmeAccount {
  readonly status: 'valid' | 'deactivated' | 'revoked';
  readonly contact?: readonly string[];
  readonly orders?: string;
}

/** A resource together with the headers that matter for what happens next. */
export interface AcmeResult<T> {
  readonly body: T;
  /** The `Location` header, where RFC 8555 gives the resource URL there. */
  readonly location?: string;
  /** Seconds from `Retry-After` (delta-seconds or HTTP date), when the server sent it. */
  readonly retryAfterSeconds?: number;
}
