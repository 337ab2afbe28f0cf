import { base64url } from 'jose';
import {
  AccountDoesNotExistError,
  AccountKeyInUseError,
  AcmeProtocolError,
  AcmeServerError,
  BadNonceError,
  CrossOriginUrlError,
  ExternalAccountRequiredError,
  InvalidInputError,
  problemToError,
  RateLimitedError,
  UnauthorizedError,
  UrlTooLongError,
} from '../errors.js';
import type {
  EcPublicJwk,
  ExternalAccountBinding,
  HttpRequest,
  HttpResponse,
  HttpTransport,
  Signer,
} from '../ports.js';
import {
  MAX_ALTERNATE_CHAINS,
  MAX_IDENTIFIER_LENGTH,
  MAX_SUBPROBLEM_DETAIL_LENGTH,
  MAX_URL_LENGTH,
  quoteForMessage,
  urlForMessage,
} from './bounds.js';
import { normalizeContacts } from './contacts.js';
import { DNS_PERSIST_01, readIssuerDomainNames } from './dns-persist.js';
import { signExternalAccountBinding } from './external-account-binding.js';
import { mediaType, parseHttpDate, parseLinkHeader, parseReplayNonce, parseRetryAfter } from './headers.js';
import { type JwsKeyReference, publicJwkMembers, signJws, signKeyChangeJws } from './jws.js';
import { parseProblemBody, readProblem } from './problem-document.js';
import { isAriCertificateId, parseRenewalInfo, type RenewalInfo } from './renewal-info.js';
import type {
  AcmeAccount,
  AcmeAuthorization,
  AcmeAuthorizationStatus,
  AcmeChallenge,
  AcmeChallengeStatus,
  AcmeDirectory,
  AcmeIdentifier,
  AcmeOrder,
  AcmeOrderStatus,
  AcmeResult,
} from './types.js';

const JOSE_JSON = 'application/jose+json';
const JSON_TYPE = 'application/json';
const PROBLEM_JSON = 'application/problem+json';
const PEM_CHAIN = 'application/pem-certificate-chain';
const DEFAULT_MAX_BAD_NONCE_RETRIES = 5;
/**
 * A status (RFC 8555 §7.1.6) is one short lower-case word; anything else is refused rather than
 * carried into the state. The callers compare it with the values they act on.
 */
const STATUS = /^[a-z]{1,16}$/;
/** An RFC 3339 timestamp is about 30 characters; `expires` goes to the registry with a pending order. */
const MAX_TIMESTAMP_LENGTH = 64;
/** Contacts are a handful of `mailto:` URLs; they go to the registry and the account event. */
const MAX_CONTACTS_LENGTH = 2048;

/** How to reach the CA, and what a previous step already learned from it. */
export interface AcmeClientOptions {
  /** The ACME directory URL (RFC 8555 §7.1.1). */
  readonly directoryUrl: string;
  readonly transport: HttpTransport;
  /** Holds the account key; the client only ever asks it to sign. */
  readonly signer: Signer;
  /**
   * The directory carried in state or kept in the registry from an earlier run, which saves the
   * directory GET. Used as given: the caller has checked it (`parseDirectory`).
   */
  readonly directory?: AcmeDirectory;
  /** A known account: requests are signed with `kid` instead of `jwk`. */
  readonly accountUrl?: string;
  /** The last unused `Replay-Nonce` carried from the previous step, which saves a newNonce request. */
  readonly nonce?: string;
  /** Retries of one request after `badNonce` problems. @default 5 */
  readonly maxBadNonceRetries?: number;
}

/** Optional newOrder fields beyond RFC 8555. */
export interface NewOrderOptions {
  /** The RFC 9773 CertID (`ariCertificateId`) of the certificate this order replaces (§5). */
  readonly replaces?: string;
  /** A certificate profile the CA advertises in `meta.profiles` (the ACME profiles extension). */
  readonly profile?: string;
}

type KeyMode = 'jwk' | 'kid';

/** A key other than the account key, shown as `jwk`. */
interface ForeignKey {
  readonly signer: Signer;
  readonly jwk: EcPublicJwk;
}

interface PostOptions {
  /** The `Accept` header, for the one resource that is not JSON (the PEM chain). */
  readonly accept?: string;
  /** The error for a failed response that only this request's context can name; else the usual one. */
  readonly errorFor?: (response: HttpResponse) => Error | undefined;
  /** Signs with this key instead of the account key. */
  readonly key?: ForeignKey;
}
type FieldKind = 'string' | 'array' | 'object';

/**
 * An RFC 8555 client for one account key. It speaks the protocol only: every decision about what
 * to do next (poll, retry later, give up) belongs to the caller, which gets `Retry-After` on every
 * result and a typed error for every problem document.
 *
 * Guarantees:
 * - every POST is a flattened JWS (§6.2) signed by the account key (`signer`, or the key
 *   `changeKey` moved the account to; only `changeKey` signs anything with the key it moves
 *   to), with `jwk` for newAccount and `kid` for everything else; POST-as-GET (§6.3) has an
 *   empty payload;
 * - a nonce is sent at most once; a newNonce request is made only when no unused nonce is at
 *   hand, and `nonce` always exposes the freshest unused one so the next step can carry it;
 * - a `badNonce` problem is retried with the nonce from that error response, up to
 *   `maxBadNonceRetries` times;
 * - a response is accepted only with the status class and content type RFC 8555 prescribes;
 *   anything else throws `AcmeProtocolError` (or `AcmeServerError` for a bare 5xx), never
 *   returns half-parsed data;
 * - the CA is not trusted to point elsewhere: every URL it hands out (Location, an order's
 *   finalize, authorization and certificate URLs, challenge, account and orders URLs, and every
 *   URL requested, such as a Link alternate, keyChange or renewalInfo) must be on one of the CA's
 *   origins (`caOrigins`), else `CrossOriginUrlError`; and at most `MAX_URL_LENGTH` long, else
 *   `UrlTooLongError`; both before any request goes to it;
 * - nothing the CA sends is kept unbounded: a status must be one short word and an identifier no
 *   longer than a DNS name, problem documents (responses, an order's or a challenge's `error`)
 *   are shortened to the bounds of `bounds.ts`, and values quoted in messages are shortened.
 */
export class AcmeClient {
  readonly #directoryUrl: string;
  readonly #transport: HttpTransport;
  #signer: Signer;
  readonly #maxBadNonceRetries: number;
  #directory: AcmeDirectory | undefined;
  #accountUrl: string | undefined;
  #nonce: string | undefined;
  #jwk: Promise<EcPublicJwk> | undefined;

  constructor(options: AcmeClientOptions) {
    const retries = options.maxBadNonceRetries ?? DEFAULT_MAX_BAD_NONCE_RETRIES;
    if (!Number.isInteger(retries) || retries < 0) {
      throw new InvalidInputError(`maxBadNonceRetries must be a non-negative integer, got ${retries}.`);
    }
    this.#directoryUrl = options.directoryUrl;
    this.#transport = options.transport;
    this.#signer = options.signer;
    this.#maxBadNonceRetries = retries;
    this.#directory = options.directory;
    this.#accountUrl = options.accountUrl;
    this.#nonce = parseReplayNonce(options.nonce);
  }

  /** The last `Replay-Nonce` received and not yet used, to carry to the next step. */
  get nonce(): string | undefined {
    return this.#nonce;
  }

  /** The account URL given in the options or learned from `findAccount`/`createAccount`. */
  get accountUrl(): string | undefined {
    return this.#accountUrl;
  }

  /** The directory: the one from the options, else fetched once and then cached. */
  async directory(): Promise<AcmeDirectory> {
    if (this.#directory) return this.#directory;
    const url = this.#directoryUrl;
    const response = await this.#send({ method: 'GET', url, headers: { accept: JSON_TYPE } });
    if (!isSuccess(response.status)) throw errorFromResponse(response, 'GET', url);
    this.#directory = parseDirectory(readJson(response, url), url);
    return this.#directory;
  }

  /**
   * The origins the CA serves from: the directory's own, and those of its newNonce, newAccount and
   * newOrder endpoints once the directory is known. At every public CA these are one origin; a
   * directory served apart from its CA names the CA's origin in those endpoints. Every other URL
   * the CA hands out must be on one of these.
   */
  caOrigins(): readonly string[] {
    const directory = this.#directory;
    const urls = [this.#directoryUrl];
    if (directory) urls.push(directory.newNonce, directory.newAccount, directory.newOrder);
    const origins = urls.filter((url) => URL.canParse(url)).map((url) => new URL(url).origin);
    // An opaque origin ("null") is nobody's: it must never match another opaque URL.
    return [...new Set(origins)].filter((origin) => origin !== 'null');
  }

  /**
   * `url` when the client may keep it and send to it: an absolute URL of at most
   * `MAX_URL_LENGTH` characters on one of `caOrigins`. When it is not on the directory's origin
   * and the directory is not known yet, the directory is fetched first to learn the CA's origins.
   * `what` names the URL in the error.
   */
  async #requireCaUrl(url: string, what: string): Promise<string> {
    requireAbsoluteUrl(url, what);
    const origin = new URL(url).origin;
    if (this.caOrigins().includes(origin)) return url;
    if (!this.#directory) {
      await this.directory();
      if (this.caOrigins().includes(origin)) return url;
    }
    const origins = this.caOrigins();
    throw new CrossOriginUrlError(
      `The CA gave ${url} as ${what}, not on its origin (${origins.join(', ')}); nothing was sent there. Check that ${this.#directoryUrl} is the CA's directory.`,
      { url, allowedOrigins: origins },
    );
  }

  /**
   * Looks the account key up without creating an account (newAccount with
   * `onlyReturnExisting`, RFC 8555 §7.3.1). Returns and remembers the account URL, or
   * `undefined` when the CA answers `accountDoesNotExist`.
   */
  async findAccount(): Promise<string | undefined> {
    const url = await this.#accountHeldBy();
    if (url !== undefined) this.#accountUrl = url;
    return url;
  }

  /**
   * Registers the account key (RFC 8555 §7.3), or returns the existing account if the key is
   * already registered. Remembers the account URL for later `kid` signatures.
   *
   * With `externalAccountBinding`, the payload carries the HS256 binding of the account key
   * (§7.3.4), computed once: a `badNonce` retry re-signs only the outer JWS. When the directory
   * says `externalAccountRequired` and no binding is given, this throws
   * `ExternalAccountRequiredError` before sending anything, rather than spending a request on an
   * answer known in advance.
   */
  async createAccount(request: {
    contact?: readonly string[];
    termsOfServiceAgreed?: boolean;
    externalAccountBinding?: ExternalAccountBinding;
  }): Promise<{ url: string; account: AcmeAccount }> {
    const directory = await this.directory();
    const { newAccount } = directory;
    if (directory.meta?.externalAccountRequired && !request.externalAccountBinding) {
      throw new ExternalAccountRequiredError({
        type: 'urn:ietf:params:acme:error:externalAccountRequired',
        detail: `The CA at ${this.#directoryUrl} requires an external account binding (RFC 8555 §7.3.4) to create an account, and none was given.`,
      });
    }
    const binding = request.externalAccountBinding
      ? signExternalAccountBinding({
          binding: request.externalAccountBinding,
          url: newAccount,
          jwk: await this.#accountJwk(),
        })
      : undefined;
    const payload = {
      ...(request.contact ? { contact: request.contact } : {}),
      ...(request.termsOfServiceAgreed !== undefined
        ? { termsOfServiceAgreed: request.termsOfServiceAgreed }
        : {}),
      ...(binding ? { externalAccountBinding: binding } : {}),
    };
    const response = await this.#post(newAccount, payload, 'jwk');
    const url = await this.#requireCaUrl(requireLocation(response, newAccount), 'the account URL (Location)');
    const account = await this.#readAccount(response, newAccount);
    this.#accountUrl = url;
    return { url, account };
  }

  /**
   * Fetches the account object (RFC 8555 §7.1.2) with a POST-as-GET (§6.3) to the account URL:
   * its status, contacts and orders URL, as the CA holds them now. Needs a known account URL: without one it throws
   * `InvalidInputError` before any request.
   */
  async getAccount(): Promise<AcmeAccount> {
    const url = this.#requireAccountUrl();
    const response = await this.#post(url, undefined, 'kid');
    return this.#readAccount(response, url);
  }

  /**
   * Replaces the account's contacts (RFC 8555 §7.3.2) with `changes.contact` as
   * `normalizeContacts` writes them; an empty list removes every contact. A contact that is not
   * one email address, or an unknown account URL, throws `InvalidInputError` before any request.
   * Returns the account as the CA holds it after the change.
   */
  async updateAccount(changes: { contact: readonly string[] }): Promise<AcmeAccount> {
    const contact = normalizeContacts(changes.contact);
    const url = this.#requireAccountUrl();
    const response = await this.#post(url, { contact }, 'kid');
    return this.#readAccount(response, url);
  }

  /**
   * Deactivates the account (RFC 8555 §7.3.6). This cannot be undone: the CA refuses every later
   * request for the account, and its key cannot register a new one. Returns the account only if
   * the CA reports it `deactivated`; any other status throws `AcmeProtocolError`, so success
   * means the account is really gone. An unknown account URL throws `InvalidInputError` before
   * any request.
   */
  async deactivateAccount(): Promise<AcmeAccount> {
    const url = this.#requireAccountUrl();
    const response = await this.#post(url, { status: 'deactivated' }, 'kid');
    const account = await this.#readAccount(response, url);
    if (account.status !== 'deactivated') {
      throw new AcmeProtocolError(
        `${url} answered the deactivation with an account whose status is "${account.status}", not "deactivated".`,
      );
    }
    return account;
  }

  /**
   * Moves the account to the key held by `newSigner` (RFC 8555 §7.3.5 key rollover), e.g. to
   * retire a key that may be exposed. The account URL stays the same.
   *
   * Guarantees:
   * - the inner JWS, signed by `newSigner`, is computed once (it has no nonce): a `badNonce`
   *   retry re-signs only the outer JWS, which the current key signs with `kid` as usual;
   * - once the CA has moved the account, and only then, every later request is signed by
   *   `newSigner`; on any failure the client keeps the current key, which the CA then still
   *   knows the account by;
   * - a new key that already holds an account throws `AccountKeyInUseError`, not retryable, with
   *   that account's URL when the CA tells it: from `Location` on 409 Conflict (the RFC 8555
   *   answer), or, when the CA fails with a 5xx instead (Pebble 2.4 does), from asking the CA
   *   which account the new key holds (onlyReturnExisting). That question also recognises a
   *   rollover the CA made before failing, which then counts as done; when the new key holds
   *   no account the 5xx is thrown as it came, as `AcmeServerError`;
   * - no request is made, and `InvalidInputError` is thrown, when no account URL is known or the
   *   new key is the current one; `AcmeProtocolError` when the directory has no `keyChange`.
   *
   * When the outcome is unknown (the connection failed after sending), `findAccount` on a client
   * for `newSigner` tells whether the rollover happened.
   */
  async changeKey(newSigner: Signer): Promise<void> {
    const account = this.#requireAccountUrl();
    const { keyChange } = await this.directory();
    if (!keyChange) {
      throw new AcmeProtocolError(
        `The directory at ${this.#directoryUrl} has no keyChange endpoint, so the account key cannot be rolled over.`,
      );
    }
    const [oldKey, newKey] = await Promise.all([this.#accountJwk(), newSigner.publicJwk()]);
    if (JSON.stringify(publicJwkMembers(oldKey)) === JSON.stringify(publicJwkMembers(newKey))) {
      throw new InvalidInputError(
        `The new key is the one ${account} already has; generate a different key to roll over to.`,
      );
    }
    const inner = await signKeyChangeJws(newSigner, { url: keyChange, account, oldKey, newKey });
    try {
      await this.#post(keyChange, inner, 'kid', {
        errorFor: (response) =>
          response.status === 409 ? keyInUseError(response, keyChange, this.caOrigins()) : undefined,
      });
    } catch (error) {
      if (!(error instanceof AcmeServerError)) throw error;
      const holder = await this.#holderAfterFailedRollover(error, { signer: newSigner, jwk: newKey });
      if (holder !== account) {
        const { type, detail, status, subproblems } = error;
        throw new AccountKeyInUseError(
          { type, status, subproblems, ...(detail !== undefined ? { detail } : {}) },
          { cause: error, existingAccountUrl: holder },
        );
      }
    }
    this.#signer = newSigner;
    this.#jwk = Promise.resolve(newKey);
  }

  /**
   * The account the new key holds after keyChange failed with a 5xx: its URL; or `undefined`
   * when the CA refuses the key as a deactivated account's (RFC 8555 §7.3.6), which leaves it
   * taken by an account the CA will not name. When the key holds no account, or the question
   * itself fails, the keyChange failure is what the caller must see, so that is thrown.
   */
  async #holderAfterFailedRollover(failure: AcmeServerError, key: ForeignKey): Promise<string | undefined> {
    let holder: string | undefined;
    try {
      holder = await this.#accountHeldBy(key);
    } catch (error) {
      if (error instanceof UnauthorizedError) return undefined;
      throw failure;
    }
    if (holder === undefined) throw failure;
    return holder;
  }

  /**
   * The URL of the account `key` (by default the account key) holds, by newAccount with
   * `onlyReturnExisting` (RFC 8555 §7.3.1), or `undefined` on `accountDoesNotExist`.
   */
  async #accountHeldBy(key?: ForeignKey): Promise<string | undefined> {
    const { newAccount } = await this.directory();
    let response: HttpResponse;
    try {
      response = await this.#post(newAccount, { onlyReturnExisting: true }, 'jwk', key ? { key } : {});
    } catch (error) {
      if (error instanceof AccountDoesNotExistError) return undefined;
      throw error;
    }
    return this.#requireCaUrl(requireLocation(response, newAccount), 'the account URL (Location)');
  }

  /**
   * Places an order for DNS identifiers (RFC 8555 §7.4); `location` is the order URL to poll.
   * `replaces` and `profile` go into the payload only when given, so a CA that knows neither
   * sees exactly the RFC 8555 request.
   */
  async newOrder(
    identifiers: readonly string[],
    options: NewOrderOptions = {},
  ): Promise<AcmeResult<AcmeOrder> & { location: string }> {
    if (identifiers.length === 0) throw new InvalidInputError('An order needs at least one DNS identifier.');
    const { replaces, profile } = options;
    if (replaces !== undefined && !isAriCertificateId(replaces)) {
      throw new InvalidInputError(
        `replaces must be an RFC 9773 CertID ("<keyIdentifier>.<serial>" in base64url, see ariCertificateId), got ${JSON.stringify(replaces)}.`,
      );
    }
    if (profile !== undefined && profile.trim() === '') {
      throw new InvalidInputError('profile must name a certificate profile, got an empty string.');
    }
    const { newOrder } = await this.directory();
    const payload = {
      identifiers: identifiers.map((value) => ({ type: 'dns', value })),
      ...(replaces !== undefined ? { replaces } : {}),
      ...(profile !== undefined ? { profile } : {}),
    };
    const response = await this.#post(newOrder, payload, 'kid');
    const location = await this.#requireCaUrl(
      requireLocation(response, newOrder),
      'the order URL (Location)',
    );
    return { ...result(response, await this.#readOrder(response, newOrder)), location };
  }

  /**
   * The CA's suggested renewal window for a certificate (RFC 9773 §4), by its CertID (computed
   * once, when the certificate is issued, by `ariCertificateId`), or `undefined` when the
   * directory has no `renewalInfo` (no request is made) or the CA answers 404 (it does not know
   * the certificate). A plain GET of `<renewalInfo>/<CertID>`: unauthenticated, so no JWS and no
   * nonce is spent. Problem documents become typed errors as for every other request, and
   * `retryAfterSeconds` says when the CA wants to be asked again. Throws `InvalidInputError` for
   * a value that is not shaped like a CertID, before any request.
   */
  async getRenewalInfoById(certId: string): Promise<RenewalInfo | undefined> {
    if (!isAriCertificateId(certId)) {
      throw new InvalidInputError(
        `Not an RFC 9773 CertID ("<keyIdentifier>.<serial>" in base64url, see ariCertificateId): ${JSON.stringify(certId)}.`,
      );
    }
    const { renewalInfo } = await this.directory();
    if (renewalInfo === undefined) return undefined;
    if (typeof renewalInfo !== 'string' || !URL.canParse(renewalInfo)) {
      throw new AcmeProtocolError(
        `The directory's renewalInfo is not a URL: ${quoteForMessage(renewalInfo)}.`,
      );
    }
    const url = `${renewalInfo.replace(/\/$/, '')}/${certId}`;
    const response = await this.#send({ method: 'GET', url, headers: { accept: JSON_TYPE } });
    if (response.status === 404) return undefined;
    if (!isSuccess(response.status)) throw errorFromResponse(response, 'GET', url);
    const body = readJson(response, url);
    let window: RenewalInfo['window'];
    try {
      window = parseRenewalInfo(body);
    } catch (error) {
      if (!(error instanceof AcmeProtocolError)) throw error;
      throw new AcmeProtocolError(`${url}: ${error.message}`, { cause: error });
    }
    const retryAfterSeconds = parseRetryAfter(response.headers['retry-after'], responseTime(response));
    return retryAfterSeconds === undefined ? { window } : { window, retryAfterSeconds };
  }

  /** Fetches an order (POST-as-GET) to poll its status. */
  async getOrder(url: string): Promise<AcmeResult<AcmeOrder>> {
    const response = await this.#post(url, undefined, 'kid');
    return result(response, await this.#readOrder(response, url));
  }

  /**
   * Fetches an authorization (POST-as-GET) with its challenges. The identifier is checked for
   * shape only (a string type, and a value no longer than a DNS name): whether it belongs to the
   * order is the caller's to check (`authorizationIdentifier`).
   */
  async getAuthorization(url: string): Promise<AcmeResult<AcmeAuthorization>> {
    const response = await this.#post(url, undefined, 'kid');
    const body = readJson(response, url);
    requireFields(
      body,
      { identifier: 'object', status: 'string', challenges: 'array' },
      'authorization',
      url,
    );
    const challenges: AcmeChallenge[] = [];
    for (const challenge of body.challenges as unknown[]) {
      challenges.push(await this.#readChallenge(challenge, url));
    }
    const authorization: AcmeAuthorization = {
      identifier: readIdentifier(body.identifier, url),
      status: requireStatus<AcmeAuthorizationStatus>(body.status, url),
      challenges,
      ...timestamp(body.expires),
      ...(typeof body.wildcard === 'boolean' ? { wildcard: body.wildcard } : {}),
    };
    return result(response, authorization);
  }

  /** Tells the CA the challenge is ready to validate (RFC 8555 §7.5.1): POST with payload `{}`. */
  async answerChallenge(url: string): Promise<AcmeResult<AcmeChallenge>> {
    const response = await this.#post(url, {}, 'kid');
    return result(response, await this.#readChallenge(readJson(response, url), url));
  }

  /** Fetches a challenge (POST-as-GET), e.g. to learn whether an earlier answer was taken. */
  async getChallenge(url: string): Promise<AcmeResult<AcmeChallenge>> {
    const response = await this.#post(url, undefined, 'kid');
    return result(response, await this.#readChallenge(readJson(response, url), url));
  }

  /** Submits the CSR (RFC 8555 §7.4); the returned order is typically `processing` or `valid`. */
  async finalize(finalizeUrl: string, csrDer: Uint8Array): Promise<AcmeResult<AcmeOrder>> {
    const response = await this.#post(finalizeUrl, { csr: base64url.encode(csrDer) }, 'kid');
    return result(response, await this.#readOrder(response, finalizeUrl));
  }

  /**
   * Downloads the PEM chain (RFC 8555 §7.4.2), leaf first. `alternates` lists the URLs of
   * alternative chains the CA offers (`Link: rel="alternate"`), resolved to absolute URLs, the
   * first `MAX_ALTERNATE_CHAINS` only. They are checked when one is downloaded, so an alternate
   * on another origin fails only a run that would follow it.
   */
  async downloadCertificate(url: string): Promise<{ pem: string; alternates: readonly string[] }> {
    const response = await this.#post(url, undefined, 'kid', { accept: PEM_CHAIN });
    const type = mediaType(response.headers['content-type']);
    if (type !== PEM_CHAIN) {
      throw new AcmeProtocolError(
        `The certificate at ${url} came as ${type === undefined ? 'no content type' : quoteForMessage(type)}, not ${PEM_CHAIN}.`,
      );
    }
    const alternates = parseLinkHeader(response.headers.link)
      .filter((link) => link.rel === 'alternate')
      .slice(0, MAX_ALTERNATE_CHAINS)
      .map((link) => absoluteUrl(link.url, url));
    return { pem: response.body, alternates };
  }

  /**
   * Revokes a certificate (RFC 8555 §7.6), signed with the account key (`kid`): the CA accepts it
   * from the account that ordered the certificate. `reason` is an RFC 5280 reason code. A 200
   * (with an empty body) is success; a certificate the CA had already revoked fails with
   * `AlreadyRevokedError`, which callers that only need it revoked may treat as done.
   */
  async revokeCertificate(certificateDer: Uint8Array, reason: number): Promise<void> {
    const { revokeCert } = await this.directory();
    if (!revokeCert) {
      throw new AcmeProtocolError(`The directory at ${this.#directoryUrl} has no revokeCert endpoint.`);
    }
    await this.#post(revokeCert, { certificate: base64url.encode(certificateDer), reason }, 'kid');
  }

  /** Sends a signed POST, retrying `badNonce` with the nonce that came with the problem. */
  async #post(
    url: string,
    payload: object | undefined,
    mode: KeyMode,
    options: PostOptions = {},
  ): Promise<HttpResponse> {
    const { accept } = options;
    const signer = options.key?.signer ?? this.#signer;
    const key = options.key ? { jwk: options.key.jwk } : await this.#keyReference(mode);
    for (let attempt = 0; ; attempt += 1) {
      const nonce = await this.#takeNonce();
      const jws = await signJws(signer, { nonce, url, ...key }, payload);
      const response = await this.#send({
        method: 'POST',
        url,
        headers: { 'content-type': JOSE_JSON, ...(accept ? { accept } : {}) },
        body: JSON.stringify(jws),
      });
      if (isSuccess(response.status)) return response;
      const error = options.errorFor?.(response) ?? errorFromResponse(response, 'POST', url);
      if (error instanceof BadNonceError && attempt < this.#maxBadNonceRetries) continue;
      throw error;
    }
  }

  async #keyReference(mode: KeyMode): Promise<JwsKeyReference> {
    if (mode === 'jwk') return { jwk: await this.#accountJwk() };
    return { kid: this.#requireAccountUrl() };
  }

  #requireAccountUrl(): string {
    if (!this.#accountUrl) {
      throw new InvalidInputError(
        'No ACME account URL is known: pass accountUrl, or call findAccount() or createAccount() first.',
      );
    }
    return this.#accountUrl;
  }

  /** The account key's public JWK, asked of the signer once. */
  #accountJwk(): Promise<EcPublicJwk> {
    this.#jwk ??= this.#signer.publicJwk();
    return this.#jwk;
  }

  /** Hands out the unused nonce, forgetting it so it is never sent twice; asks newNonce only when there is none. */
  async #takeNonce(): Promise<string> {
    if (!this.#nonce) {
      const { newNonce } = await this.directory();
      const response = await this.#send({ method: 'HEAD', url: newNonce });
      if (!isSuccess(response.status)) throw errorFromResponse(response, 'HEAD', newNonce);
      if (!this.#nonce)
        throw new AcmeProtocolError(`newNonce (${newNonce}) answered without a valid Replay-Nonce.`);
    }
    const nonce = this.#nonce;
    this.#nonce = undefined;
    return nonce;
  }

  /**
   * Every request goes out here, and only to the CA (`#requireCaUrl`; the directory URL itself is
   * the operator's choice). Every response, error or not, may carry the next nonce (RFC 8555 §6.5).
   */
  async #send(request: HttpRequest): Promise<HttpResponse> {
    if (request.url !== this.#directoryUrl)
      await this.#requireCaUrl(request.url, 'a URL to send a request to');
    const response = await this.#transport.request(request);
    const nonce = parseReplayNonce(response.headers['replay-nonce']);
    if (nonce) this.#nonce = nonce;
    return response;
  }

  /** An order (RFC 8555 §7.1.3) with every URL in it checked, as the callers keep it. */
  async #readOrder(response: HttpResponse, url: string): Promise<AcmeOrder> {
    const body = readJson(response, url);
    requireFields(
      body,
      { status: 'string', identifiers: 'array', authorizations: 'array', finalize: 'string' },
      'order',
      url,
    );
    const what = `of the order at ${url}`;
    const [finalize = '', ...authorizations] = await this.#caUrls(
      [body.finalize, ...(body.authorizations as unknown[])],
      `a URL ${what}`,
    );
    const [certificate] = await this.#caUrls(
      body.certificate === undefined ? [] : [body.certificate],
      `the certificate URL ${what}`,
    );
    const error = readProblem(body.error);
    return {
      status: requireStatus<AcmeOrderStatus>(body.status, url),
      identifiers: (body.identifiers as unknown[]).map((identifier) => readIdentifier(identifier, url)),
      authorizations,
      finalize,
      ...timestamp(body.expires),
      ...(certificate !== undefined ? { certificate } : {}),
      ...(error ? { error } : {}),
    };
  }

  /** A challenge (RFC 8555 §8) from the response to `url`, its own URL checked. */
  async #readChallenge(value: unknown, url: string): Promise<AcmeChallenge> {
    if (!isRecord(value))
      throw new AcmeProtocolError(`${url} answered with a challenge that is not an object.`);
    requireFields(value, { type: 'string', url: 'string', status: 'string' }, 'challenge', url);
    const [challengeUrl = ''] = await this.#caUrls([value.url], `a challenge URL from ${url}`);
    const error = readProblem(value.error, undefined, MAX_SUBPROBLEM_DETAIL_LENGTH);
    // draft-ietf-acme-dns-persist-02 §3.1: a client must not use a challenge whose names break
    // the rules, so such a list is dropped and the challenge counts as unusable.
    const issuerDomainNames =
      value.type === DNS_PERSIST_01 ? readIssuerDomainNames(value.issuerDomainNames) : undefined;
    return {
      type: value.type as string,
      url: challengeUrl,
      status: requireStatus<AcmeChallengeStatus>(value.status, url),
      token: typeof value.token === 'string' ? value.token : '',
      ...(Array.isArray(issuerDomainNames) ? { issuerDomainNames } : {}),
      ...(error ? { error } : {}),
    };
  }

  /** An account object (RFC 8555 §7.1.2): its status, bounded contacts, its orders URL checked. */
  async #readAccount(response: HttpResponse, url: string): Promise<AcmeAccount> {
    const body = readJson(response, url);
    requireFields(body, { status: 'string' }, 'account', url);
    const { contact } = body;
    if (
      contact !== undefined &&
      !(
        Array.isArray(contact) &&
        contact.every((entry) => typeof entry === 'string') &&
        contact.join().length <= MAX_CONTACTS_LENGTH
      )
    ) {
      throw new AcmeProtocolError(`${url} answered with a "contact" that is not a short list of URLs.`);
    }
    const [orders] = await this.#caUrls(
      body.orders === undefined ? [] : [body.orders],
      `the orders URL of ${url}`,
    );
    return {
      status: requireStatus<AcmeAccount['status']>(body.status, url),
      ...(contact !== undefined ? { contact: contact as string[] } : {}),
      ...(orders !== undefined ? { orders } : {}),
    };
  }

  /** Each of `values` as a URL the client may keep and send to (`#requireCaUrl`). */
  async #caUrls(values: readonly unknown[], what: string): Promise<string[]> {
    const urls: string[] = [];
    for (const value of values) {
      if (typeof value !== 'string')
        throw new AcmeProtocolError(`The CA gave ${quoteForMessage(value)} as ${what}.`);
      urls.push(await this.#requireCaUrl(value, what));
    }
    return urls;
  }
}

/**
 * `body` as a directory (RFC 8555 §7.1.1) when it has the endpoints every issuance uses (newNonce,
 * newAccount, newOrder) as absolute URLs, else `AcmeProtocolError` (or `UrlTooLongError`). The one
 * check for a directory the CA just sent and for one kept from an earlier run, so a kept one is
 * never trusted further than a fetched one. `url` is the directory's URL, named in errors.
 */
export function parseDirectory(body: unknown, url: string): AcmeDirectory {
  if (!isRecord(body)) throw new AcmeProtocolError(`The directory from ${url} is not a JSON object.`);
  requireFields(body, { newNonce: 'string', newAccount: 'string', newOrder: 'string' }, 'directory', url);
  for (const name of ['newNonce', 'newAccount', 'newOrder'] as const) {
    requireAbsoluteUrl(body[name] as string, `the directory's ${name}`);
  }
  return body as unknown as AcmeDirectory;
}

/**
 * Refuses a URL the CA gave that is not absolute, or longer than `MAX_URL_LENGTH`: a shortened
 * URL would be another URL, so it is never cut.
 */
function requireAbsoluteUrl(url: string, what: string): void {
  if (url.length > MAX_URL_LENGTH) {
    throw new UrlTooLongError(
      `The CA gave a URL of ${url.length} characters as ${what}, over the ${MAX_URL_LENGTH} accepted; nothing was sent to it: ${urlForMessage(url)}`,
    );
  }
  if (!URL.canParse(url)) {
    throw new AcmeProtocolError(`The CA gave ${quoteForMessage(url)} as ${what}, not an absolute URL.`);
  }
}

/** `value` when it is shaped like a status (`STATUS`), else `AcmeProtocolError`. */
function requireStatus<T extends string>(value: unknown, url: string): T {
  if (typeof value === 'string' && STATUS.test(value)) return value as T;
  throw new AcmeProtocolError(`${url} answered with the status ${quoteForMessage(value)}.`);
}

/** An identifier object (RFC 8555 §9.7.7) whose value is no longer than a DNS name. */
function readIdentifier(value: unknown, url: string): AcmeIdentifier {
  if (
    !isRecord(value) ||
    typeof value.type !== 'string' ||
    typeof value.value !== 'string' ||
    value.value.length > MAX_IDENTIFIER_LENGTH
  ) {
    throw new AcmeProtocolError(
      `${url} answered with the identifier ${quoteForMessage(value)}, not a DNS name.`,
    );
  }
  return { type: value.type as 'dns', value: value.value };
}

/** `{ expires }` when the CA sent a timestamp of sane length that parses; otherwise nothing, as the field is optional. */
function timestamp(value: unknown): { expires?: string } {
  return typeof value === 'string' &&
    value.length <= MAX_TIMESTAMP_LENGTH &&
    Number.isFinite(Date.parse(value))
    ? { expires: value }
    : {};
}

function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}

/** The typed error for a failed response: the problem document if there is one, else the status. */
function errorFromResponse(response: HttpResponse, method: string, url: string): Error {
  const type = mediaType(response.headers['content-type']);
  if (type === PROBLEM_JSON) {
    const problem = parseProblemBody(response.body, response.status);
    if (problem) {
      const error = problemToError(problem);
      if (error instanceof RateLimitedError) describeRateLimit(error, response);
      return error;
    }
  }
  const what = `${method} ${url} answered HTTP ${response.status} without an ACME problem document`;
  if (response.status >= 500)
    return new AcmeServerError({ type: 'about:blank', status: response.status, detail: what });
  return new AcmeProtocolError(
    `${what} (content type ${type === undefined ? 'none' : quoteForMessage(type)}).`,
  );
}

/**
 * Records when a rate limit lifts, from `Retry-After`, on the error and in its message as
 * `retry after <ISO 8601>`: the message is what survives the state machine (as the failure's
 * cause), and `rateLimitLiftsAt` reads the instant back from it to hold off the next attempt.
 */
function describeRateLimit(error: RateLimitedError, response: HttpResponse): void {
  const seconds = parseRetryAfter(response.headers['retry-after'], responseTime(response));
  error.retryAfterSeconds = seconds;
  error.message =
    seconds === undefined
      ? `${error.message}; the CA did not say when the limit lifts (no Retry-After)`
      : `${error.message}; retry after ${new Date(Date.now() + seconds * 1000).toISOString()}`;
}

function readJson(response: HttpResponse, url: string): Record<string, unknown> {
  const type = mediaType(response.headers['content-type']);
  if (type !== JSON_TYPE) {
    throw new AcmeProtocolError(`${url} answered with ${type ?? 'no content type'}, not ${JSON_TYPE}.`);
  }
  let value: unknown;
  try {
    value = JSON.parse(response.body);
  } catch (error) {
    throw new AcmeProtocolError(`${url} answered with JSON that does not parse.`, { cause: error });
  }
  if (!isRecord(value)) throw new AcmeProtocolError(`${url} answered with JSON that is not an object.`);
  return value;
}

/**
 * RFC 8555 §7.3.5 answers a new key that already holds an account with 409 Conflict and the
 * holder's URL in `Location`, but names no problem type, and CAs send none or one of their own:
 * so the status of the keyChange response alone decides, and any problem document is kept.
 */
function keyInUseError(
  response: HttpResponse,
  url: string,
  caOrigins: readonly string[],
): AccountKeyInUseError {
  const problem =
    mediaType(response.headers['content-type']) === PROBLEM_JSON
      ? parseProblemBody(response.body, response.status)
      : undefined;
  const location = response.headers.location?.trim();
  const resolved = location && URL.canParse(location, url) ? absoluteUrl(location, url) : undefined;
  // Only named in the message: a URL that is too long or elsewhere is left out rather than refused.
  const existingAccountUrl =
    resolved && resolved.length <= MAX_URL_LENGTH && caOrigins.includes(new URL(resolved).origin)
      ? resolved
      : undefined;
  return new AccountKeyInUseError(
    problem ?? {
      type: 'about:blank',
      status: response.status,
      detail: `${url} answered HTTP ${response.status} Conflict without a problem document`,
    },
    existingAccountUrl ? { existingAccountUrl } : {},
  );
}

/** Checks the fields the callers rely on, so a wrong body fails here and not deep in a later step. */
function requireFields(
  value: Record<string, unknown>,
  fields: Readonly<Record<string, FieldKind>>,
  what: string,
  url: string,
): void {
  for (const [name, kind] of Object.entries(fields)) {
    const field = value[name];
    const ok =
      kind === 'array' ? Array.isArray(field) : kind === 'object' ? isRecord(field) : typeof field === kind;
    if (!ok)
      throw new AcmeProtocolError(`The ${what} from ${url} has no valid "${name}" (${kind} expected).`);
  }
}

function requireLocation(response: HttpResponse, url: string): string {
  const location = response.headers.location?.trim();
  if (!location)
    throw new AcmeProtocolError(`${url} answered HTTP ${response.status} without a Location header.`);
  return absoluteUrl(location, url);
}

/**
 * Absolute URLs are kept byte for byte (a `kid` must match what the CA issued, so no
 * normalisation); relative references are resolved against the request URL (RFC 3986 §5).
 */
function absoluteUrl(reference: string, base: string): string {
  if (URL.canParse(reference)) return reference;
  if (URL.canParse(reference, base)) return new URL(reference, base).href;
  throw new AcmeProtocolError(`${base} answered with an unusable URL: ${quoteForMessage(reference)}`);
}

function result<T>(response: HttpResponse, body: T): AcmeResult<T> {
  const retryAfterSeconds = parseRetryAfter(response.headers['retry-after'], responseTime(response));
  return retryAfterSeconds === undefined ? { body } : { body, retryAfterSeconds };
}

/**
 * The server's own `Date`, when it sent one, is the reference for an HTTP-date `Retry-After`:
 * both come from the same clock, so skew between our clock and the CA's cancels out.
 */
function responseTime(response: HttpResponse): Date {
  const now = new Date();
  const serverDate = response.headers.date ? parseHttpDate(response.headers.date.trim(), now) : undefined;
  return serverDate === undefined ? now : new Date(serverDate);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
