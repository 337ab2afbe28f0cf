import { createHash, createPublicKey, type JsonWebKey, verify } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import type {
  CaProxy,
  CaProxyExtension,
  ExtensionAnswer,
  ExtensionUpstream,
  RewritableAnswer,
} from './ca-proxy.js';
import { startCaProxy } from './ca-proxy.js';
import { type PebbleEnvironment, type StartPebbleOptions, startPebble } from './pebble.js';

/**
 * A local CA offering `dns-persist-01` (draft-ietf-acme-dns-persist-02), which Debian's Pebble 2.4
 * does not have: Pebble runs with `PEBBLE_VA_ALWAYS_VALID=1`, so it never validates anything
 * itself, and the proxy in front of it becomes the CA's only validator.
 *
 * - The directory gains `meta.issuerDomainNames` and `meta.accountHashPrefix` (§3.2).
 * - Every authorization gains a `dns-persist-01` challenge (§3.1) beside Pebble's own.
 * - A challenge answer is judged here, from fresh DNS (§4.2): the TXT values at
 *   `_validation-persist.<name>` are read from challtestsrv and judged by `judgePersistRecords`,
 *   an implementation of the draft kept apart from `lambdas/core/acme/dns-persist.ts` on purpose
 *   (a check that shares the client's code proves nothing about the client).
 * - What passes is forwarded to Pebble, which then validates trivially; what fails never reaches
 *   Pebble: the proxy shows the challenge, its authorization and its order `invalid` with the
 *   problem of §9.3.1.
 *
 * The dns-persist-01 challenge has the same URL as the authorization's dns-01 challenge. The proxy
 * holds no account key, so only the client's own signed POST can make Pebble validate, and Pebble
 * accepts a JWS only when its `url` is the requested URL (RFC 8555 §6.4) and its `kid` lies under
 * the requested host: no other URL can be forwarded, and a wildcard authorization has no challenge
 * but dns-01 to borrow. So an answer to that URL passes when either the persistent record
 * authorizes the account (checked first) or the dns-01 TXT is there (RFC 8555 §8.4, checked here
 * too since Pebble no longer does); when neither does, the problem names both. Tests that need to
 * know which one passed read `validations`.
 */

/** The draft this validator follows. */
export const DNS_PERSIST_CA_DRAFT = 'draft-ietf-acme-dns-persist-02';

export interface DnsPersistCaOptions {
  /** §3.1: the names the challenge offers and the directory advertises. @default ['persist.ca-proxy.test', 'ca-proxy.test'] */
  readonly issuerDomainNames?: readonly string[];
  /** The clock persistUntil is judged by (§4.1 item 5). @default the system clock */
  readonly now?: () => Date;
}

/** One validation the proxy performed. */
export interface PersistValidation {
  readonly type: 'dns-persist-01' | 'dns-01';
  readonly identifier: string;
  readonly wildcard: boolean;
  readonly outcome: 'valid' | 'invalid';
  readonly problem?: Problem;
  /** The TXT values read, as the validator saw them. */
  readonly txt: readonly string[];
}

export interface DnsPersistCa {
  readonly issuerDomainNames: readonly string[];
  /** §4.1 item 3: the prefix of every hashed account URI this CA accepts. */
  readonly accountHashPrefix: string;
  /** Every validation performed, oldest first. */
  readonly validations: readonly PersistValidation[];
}

/** A Pebble that validates nothing itself, the proxy in front of it, and the dns-persist-01 validator. */
export interface DnsPersistEnvironment {
  readonly pebble: PebbleEnvironment;
  readonly proxy: CaProxy;
  readonly ca: DnsPersistCa;
  stop(): Promise<void>;
}

/** Starts Pebble with `PEBBLE_VA_ALWAYS_VALID=1`, a proxy, and the dns-persist-01 validator on it. */
export async function startDnsPersistCa(
  options: DnsPersistCaOptions & { readonly pebble?: StartPebbleOptions } = {},
): Promise<DnsPersistEnvironment> {
  const pebble = await startPebble({
    ...options.pebble,
    env: { ...options.pebble?.env, PEBBLE_VA_ALWAYS_VALID: '1' },
  });
  try {
    const proxy = await startCaProxy(pebble);
    const ca = extendWithDnsPersist(proxy, pebble.dnsResolver, options);
    return {
      pebble,
      proxy,
      ca,
      async stop() {
        await proxy.stop();
        await pebble.stop();
      },
    };
  } catch (error) {
    await pebble.stop();
    throw error;
  }
}

interface Problem {
  readonly type: string;
  readonly detail: string;
  readonly status: number;
}

interface Jws {
  readonly protectedB64: string;
  readonly payloadB64: string;
  readonly signature: Buffer;
  readonly header: { alg?: string; kid?: string; jwk?: JsonWebKey; nonce?: string; url?: string };
  readonly payload: unknown;
}

interface Account {
  /** RFC 7638 thumbprints of every key the account used, current first (§4.2 retention). */
  readonly thumbprints: string[];
  key: JsonWebKey;
  deactivated: boolean;
}

interface Authorization {
  readonly identifier: string;
  readonly wildcard: boolean;
  readonly owner: string;
  readonly dns01Path: string;
  readonly token: string;
  outcome?: {
    readonly via: 'dns-persist-01' | 'dns-01';
    readonly status: 'valid' | 'invalid';
    readonly validated: string;
    readonly error?: Problem;
    readonly persistUntil?: number;
  };
}

const ACME_ERROR = 'urn:ietf:params:acme:error:';
const PERSIST = 'dns-persist-01';

/** Adds dns-persist-01 to `proxy`, whose Pebble must run with `PEBBLE_VA_ALWAYS_VALID=1`. */
export function extendWithDnsPersist(
  proxy: CaProxy,
  dnsResolver: string,
  options: DnsPersistCaOptions = {},
): DnsPersistCa {
  const directoryUrl = new URL(proxy.directoryUrl);
  const host = directoryUrl.host;
  if (!host.startsWith('127.0.0.1:'))
    throw new Error(`the dns-persist CA needs a proxy on 127.0.0.1, not ${host}`);
  const issuerDomainNames = options.issuerDomainNames ?? ['persist.ca-proxy.test', 'ca-proxy.test'];
  const accountHashPrefix = `https://${host}/account-hash/`;
  const now = options.now ?? (() => new Date());
  // A CA retries a DNS query that times out; under load, challtestsrv may answer late.
  const resolver = new Resolver({ timeout: 2_000, tries: 3 });
  resolver.setServers([dnsResolver]);

  const accounts = new Map<string, Account>();
  const authorizations = new Map<string, Authorization>();
  /** Challenge path (Pebble's dns-01 one, which the persist challenge shares) to authorization path. */
  const byChallenge = new Map<string, string>();
  const usedNonces = new Set<string>();
  const validations: PersistValidation[] = [];
  let newAccountPath: string | undefined;
  let keyChangePath: string | undefined;

  const txtAt = async (name: string): Promise<string[]> => {
    try {
      return (await resolver.resolveTxt(name)).map((chunks) => chunks.join(''));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENODATA' || code === 'ENOTFOUND') return [];
      throw error;
    }
  };

  const persistView = (authorization: Authorization): Record<string, unknown> => {
    const outcome = authorization.outcome?.via === PERSIST ? authorization.outcome : undefined;
    return {
      type: PERSIST,
      url: `https://${host}${authorization.dns01Path}`,
      status: outcome?.status ?? 'pending',
      issuerDomainNames,
      ...(outcome ? { validated: outcome.validated } : {}),
      ...(outcome?.error ? { error: outcome.error } : {}),
    };
  };

  const problemAnswer = async (ca: ExtensionUpstream, problem: Problem): Promise<ExtensionAnswer> => {
    const nonce = await ca.freshNonce();
    return {
      status: problem.status,
      headers: { 'content-type': 'application/problem+json', ...(nonce ? { 'replay-nonce': nonce } : {}) },
      body: JSON.stringify(problem),
    };
  };

  const challengeAnswer = async (
    ca: ExtensionUpstream,
    authorizationPath: string,
    challenge: Record<string, unknown>,
  ): Promise<ExtensionAnswer> => {
    const nonce = await ca.freshNonce();
    return {
      status: 200,
      headers: {
        'content-type': 'application/json',
        link: `<https://${host}${authorizationPath}>;rel="up"`,
        ...(nonce ? { 'replay-nonce': nonce } : {}),
      },
      body: JSON.stringify(challenge),
    };
  };

  /** RFC 8555 §6.2 and §6.5 as far as the proxy needs them before deciding without Pebble. */
  const authenticate = (jws: Jws): { account: Account; accountUrl: string } | Problem => {
    const accountUrl = jws.header.kid;
    const account = accountUrl === undefined ? undefined : accounts.get(accountUrl);
    if (accountUrl === undefined || !account)
      return problem(
        'accountDoesNotExist',
        `no account ${accountUrl ?? '(no kid)'} is known to this CA`,
        400,
      );
    if (!verifyJws(jws, account.key))
      return problem('malformed', 'JWS signature does not verify with the account key', 400);
    const nonce = jws.header.nonce ?? '';
    if (usedNonces.has(nonce)) return problem('badNonce', `nonce ${nonce} was already used`, 400);
    usedNonces.add(nonce);
    return { account, accountUrl };
  };

  /**
   * A POST `{}` to an authorization's challenge URL, which its dns-01 and dns-persist-01
   * challenges share (see the module comment): the persistent record is judged first (§4.2),
   * then the dns-01 TXT (RFC 8555 §8.4). Either one passing forwards the client's request to
   * Pebble, which validates trivially; both failing answer `invalid` without Pebble.
   */
  const answerChallenge = async (
    path: string,
    jws: Jws,
    body: Buffer,
    ca: ExtensionUpstream,
  ): Promise<ExtensionAnswer> => {
    const authorizationPath = byChallenge.get(path);
    const authorization = authorizationPath ? authorizations.get(authorizationPath) : undefined;
    if (!authorizationPath || !authorization)
      return problemAnswer(
        ca,
        problem('malformed', `no known challenge at ${path}; fetch its authorization first`, 404),
      );
    const who = authenticate(jws);
    if ('type' in who) return problemAnswer(ca, who);
    if (who.accountUrl !== authorization.owner)
      return problemAnswer(ca, problem('unauthorized', 'this authorization belongs to another account', 403));
    if (authorization.outcome) return challengeAnswer(ca, authorizationPath, persistView(authorization));

    const base = { identifier: authorization.identifier, wildcard: authorization.wildcard } as const;
    const persistTxt = await txtAt(`_validation-persist.${authorization.identifier}`);
    const verdict = who.account.deactivated
      ? problem('unauthorized', `account ${who.accountUrl} is deactivated (draft §4.2 rule 1)`, 403)
      : judgePersistRecords(persistTxt, {
          fqdn: authorization.identifier,
          wildcard: authorization.wildcard,
          issuerDomainNames,
          accountHashPrefix,
          accountUrl: who.accountUrl,
          thumbprints: who.account.thumbprints,
          nowSeconds: Math.floor(now().getTime() / 1000),
        });
    if (!('type' in verdict)) {
      const answer = await ca.send({ method: 'POST', path, body });
      if (answer.status !== 200) return fromUpstream(answer);
      authorization.outcome = {
        via: PERSIST,
        status: 'valid',
        validated: now().toISOString(),
        ...(verdict.persistUntil !== undefined ? { persistUntil: verdict.persistUntil } : {}),
      };
      validations.push({ ...base, type: PERSIST, outcome: 'valid', txt: persistTxt });
      return { status: 200, headers: answer.headers, body: JSON.stringify(persistView(authorization)) };
    }
    validations.push({ ...base, type: PERSIST, outcome: 'invalid', problem: verdict, txt: persistTxt });

    const thumbprint = who.account.thumbprints[0] ?? '';
    const expected = createHash('sha256').update(`${authorization.token}.${thumbprint}`).digest('base64url');
    const dns01Txt = await txtAt(`_acme-challenge.${authorization.identifier}`);
    if (dns01Txt.includes(expected)) {
      // As for dns-persist-01: an answer Pebble refused (a bad nonce, say) validated nothing, and
      // the client's retry is the one that counts.
      const answer = await ca.send({ method: 'POST', path, body });
      if (answer.status === 200)
        validations.push({ ...base, type: 'dns-01', outcome: 'valid', txt: dns01Txt });
      return fromUpstream(answer);
    }
    const dns01Problem = problem(
      'unauthorized',
      `no TXT value at _acme-challenge.${authorization.identifier} is ${expected}`,
      403,
    );
    validations.push({ ...base, type: 'dns-01', outcome: 'invalid', problem: dns01Problem, txt: dns01Txt });
    const error = { ...verdict, detail: `dns-persist-01: ${verdict.detail}; dns-01: ${dns01Problem.detail}` };
    authorization.outcome = { via: PERSIST, status: 'invalid', validated: now().toISOString(), error };
    return challengeAnswer(ca, authorizationPath, persistView(authorization));
  };

  const extension: CaProxyExtension = {
    async answer(request, ca) {
      if (request.method !== 'POST') return undefined;
      const jws = readJws(request.body);
      if (!jws) return undefined;
      if (!byChallenge.has(request.path) || jws.payloadB64 === '') return undefined;
      return answerChallenge(request.path, jws, request.body, ca);
    },

    rewrite(request, answer) {
      const { body } = answer;
      if (!isRecord(body)) return answer;
      if (request.method === 'GET' && typeof body.newAccount === 'string') {
        newAccountPath = new URL(body.newAccount).pathname;
        if (typeof body.keyChange === 'string') keyChangePath = new URL(body.keyChange).pathname;
        const meta = isRecord(body.meta) ? body.meta : {};
        return { ...answer, body: { ...body, meta: { ...meta, issuerDomainNames, accountHashPrefix } } };
      }
      const jws = request.method === 'POST' ? readJws(request.body) : undefined;
      if (!jws) return answer;
      observeAccount(request.path, jws, answer);
      if (isRecord(body.identifier) && Array.isArray(body.challenges))
        return rewriteAuthorization(request.path, jws, answer, body);
      if (typeof body.finalize === 'string' && Array.isArray(body.authorizations))
        return rewriteOrder(answer, body);
      return answer;
    },
  };

  /** Learns account keys (§4.2 retention) and deactivations (§4.2 rule 1) from what Pebble accepted. */
  const observeAccount = (path: string, jws: Jws, answer: RewritableAnswer): void => {
    const location = Object.entries(answer.headers).find(([name]) => name.toLowerCase() === 'location')?.[1];
    if (path === newAccountPath && location && jws.header.jwk) {
      if (!accounts.has(location))
        accounts.set(location, {
          thumbprints: [thumbprintOf(jws.header.jwk)],
          key: jws.header.jwk,
          deactivated: false,
        });
      return;
    }
    const account = jws.header.kid ? accounts.get(jws.header.kid) : undefined;
    if (!account) return;
    if (path === keyChangePath && isRecord(jws.payload)) {
      const inner = readJws(Buffer.from(JSON.stringify(jws.payload)));
      if (inner?.header.jwk) {
        account.thumbprints.unshift(thumbprintOf(inner.header.jwk));
        account.key = inner.header.jwk;
      }
    } else if (
      isRecord(jws.payload) &&
      jws.payload.status === 'deactivated' &&
      isRecord(answer.body) &&
      answer.body.status === 'deactivated' &&
      !isRecord(answer.body.identifier)
    ) {
      account.deactivated = true;
    }
  };

  const rewriteAuthorization = (
    path: string,
    jws: Jws,
    answer: RewritableAnswer,
    body: Record<string, unknown>,
  ): RewritableAnswer => {
    const dns01 = (body.challenges as unknown[]).find(
      (challenge): challenge is Record<string, unknown> => isRecord(challenge) && challenge.type === 'dns-01',
    );
    const identifier = isRecord(body.identifier) ? body.identifier.value : undefined;
    if (
      !dns01 ||
      typeof dns01.url !== 'string' ||
      typeof dns01.token !== 'string' ||
      typeof identifier !== 'string'
    )
      return answer;
    let authorization = authorizations.get(path);
    if (!authorization) {
      authorization = {
        identifier: identifier.toLowerCase(),
        wildcard: body.wildcard === true,
        owner: jws.header.kid ?? '',
        dns01Path: new URL(dns01.url).pathname,
        token: dns01.token,
      };
      authorizations.set(path, authorization);
      byChallenge.set(authorization.dns01Path, path);
    }
    const outcome = authorization.outcome;
    const shownDns01 =
      outcome?.status === 'invalid'
        ? { ...dns01, status: 'invalid', error: outcome.error }
        : outcome?.via === PERSIST
          ? (() => {
              // Pebble marked dns-01 valid only because the proxy forwarded the persist answer to it.
              const { validated: _validated, ...rest } = dns01;
              return { ...rest, status: 'pending' };
            })()
          : dns01;
    const expires =
      outcome?.persistUntil !== undefined && typeof body.expires === 'string'
        ? new Date(Math.min(Date.parse(body.expires), outcome.persistUntil * 1000)).toISOString()
        : body.expires;
    return {
      ...answer,
      body: {
        ...body,
        status: outcome?.status === 'invalid' ? 'invalid' : body.status,
        ...(expires !== undefined ? { expires } : {}),
        challenges: [
          ...(body.challenges as unknown[]).map((challenge) =>
            challenge === dns01 ? shownDns01 : challenge,
          ),
          persistView(authorization),
        ],
      },
    };
  };

  const rewriteOrder = (answer: RewritableAnswer, body: Record<string, unknown>): RewritableAnswer => {
    if (body.status !== 'pending' && body.status !== 'ready') return answer;
    const failed = (body.authorizations as unknown[])
      .map((url) => (typeof url === 'string' ? authorizations.get(new URL(url).pathname) : undefined))
      .find((authorization) => authorization?.outcome?.status === 'invalid');
    if (!failed?.outcome?.error) return answer;
    return { ...answer, body: { ...body, status: 'invalid', error: failed.outcome.error } };
  };

  proxy.extend(extension);
  return { issuerDomainNames, accountHashPrefix, validations };
}

/** What the validator judges a record set against. */
interface PersistCheck {
  readonly fqdn: string;
  readonly wildcard: boolean;
  readonly issuerDomainNames: readonly string[];
  readonly accountHashPrefix: string;
  readonly accountUrl: string;
  readonly thumbprints: readonly string[];
  readonly nowSeconds: number;
}

// RFC 8659 §4.2 issue-value, as one expression.
const LABEL = '[A-Za-z0-9](?:-*[A-Za-z0-9])*';
const PARAM = `${LABEL}[ \\t]*=[ \\t]*[\\x21-\\x3A\\x3C-\\x7E]*`;
const ISSUE_VALUE = new RegExp(
  `^[ \\t]*(?:${LABEL}(?:\\.${LABEL})*[ \\t]*)?(?:;[ \\t]*(?:${PARAM}(?:[ \\t]*;[ \\t]*${PARAM})*[ \\t]*)?)?$`,
);

/**
 * The CA's verdict on the TXT values at the Validation Domain Name (draft §4.2, §4.3.2), written
 * from the draft apart from the client's model: a value must match the RFC 8659 §4.2 issue-value
 * grammar and have no tag twice (tags folded to lower case) or it is `malformed` (§9.3.1); values
 * naming another issuer are ignored; the accounturi must be `<prefix>sha-256/<hash>` (else
 * `malformed`) equal to a recomputed hash over one of the account's keys with the FQDN or `*`
 * (else `unauthorized`); a wildcard needs `policy=wildcard` (§5.1); a passed persistUntil is
 * `unauthorized` (§4.1 item 5). The first value that passes wins.
 */
export function judgePersistRecords(
  values: readonly string[],
  check: PersistCheck,
): Problem | { readonly persistUntil?: number } {
  const failures: Problem[] = [];
  for (const value of values) {
    const semicolon = value.indexOf(';');
    const issuer = (semicolon < 0 ? value : value.slice(0, semicolon)).trim().toLowerCase();
    if (!check.issuerDomainNames.includes(issuer)) continue;
    if (!ISSUE_VALUE.test(value)) {
      failures.push(problem('malformed', `"${value}" is not an RFC 8659 issue-value`, 400));
      continue;
    }
    const tags = new Map<string, string>();
    let duplicate: string | undefined;
    for (const parameter of semicolon < 0 ? [] : value.slice(semicolon + 1).split(';')) {
      if (parameter.trim() === '') continue;
      const equals = parameter.indexOf('=');
      const tag = parameter.slice(0, equals).trim().toLowerCase();
      if (tags.has(tag)) duplicate = tag;
      tags.set(tag, parameter.slice(equals + 1).trim());
    }
    if (duplicate) {
      failures.push(problem('malformed', `"${value}" has a duplicate "${duplicate}" parameter`, 400));
      continue;
    }
    const accountUri = tags.get('accounturi');
    const persistUntil = tags.get('persistuntil');
    if (accountUri === undefined) {
      failures.push(problem('malformed', `"${value}" has no accounturi parameter`, 400));
      continue;
    }
    const hash = accountUri.startsWith(`${check.accountHashPrefix}sha-256/`)
      ? accountUri.slice(check.accountHashPrefix.length + 'sha-256/'.length)
      : undefined;
    if (hash === undefined || !/^[A-Za-z0-9_-]{43}$/.test(hash)) {
      failures.push(
        problem(
          'malformed',
          `"${value}" has an accounturi that is not a sha-256 hashed URI under ${check.accountHashPrefix}`,
          400,
        ),
      );
      continue;
    }
    if (persistUntil !== undefined && !/^\d+$/.test(persistUntil)) {
      failures.push(problem('malformed', `"${value}" has a persistUntil that is not a base-10 integer`, 400));
      continue;
    }
    const candidates = check.thumbprints.flatMap((thumbprint) =>
      [check.fqdn, '*'].map((domain) =>
        createHash('sha256')
          .update(
            Buffer.concat([
              Buffer.from([domain.length]),
              Buffer.from(domain + thumbprint + check.accountUrl),
            ]),
          )
          .digest('base64url'),
      ),
    );
    if (!candidates.includes(hash)) {
      failures.push(
        problem(
          'unauthorized',
          `"${value}" has an accounturi that does not identify account ${check.accountUrl}`,
          403,
        ),
      );
      continue;
    }
    if (check.wildcard && tags.get('policy')?.toLowerCase() !== 'wildcard') {
      failures.push(
        problem('unauthorized', `"${value}" lacks policy=wildcard, needed for *.${check.fqdn}`, 403),
      );
      continue;
    }
    if (persistUntil !== undefined && check.nowSeconds > Number(persistUntil)) {
      failures.push(
        problem('unauthorized', `"${value}" has persistUntil=${persistUntil}, which has passed`, 403),
      );
      continue;
    }
    return persistUntil === undefined ? {} : { persistUntil: Number(persistUntil) };
  }
  const name = `_validation-persist.${check.fqdn}`;
  if (failures.length === 0)
    return problem(
      'unauthorized',
      `no TXT record at ${name} names ${check.issuerDomainNames.join(' or ')}`,
      403,
    );
  const unauthorized = failures.filter((failure) => failure.type.endsWith(':unauthorized'));
  const shown = unauthorized.length > 0 ? unauthorized : failures;
  return problem(
    unauthorized.length > 0 ? 'unauthorized' : 'malformed',
    `no TXT record at ${name} authorizes the account: ${shown.map((failure) => failure.detail).join('; ')}`,
    unauthorized.length > 0 ? 403 : 400,
  );
}

function problem(type: string, detail: string, status: number): Problem {
  return { type: `${ACME_ERROR}${type}`, detail, status };
}

function readJws(body: Buffer): Jws | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    if (
      typeof parsed.protected !== 'string' ||
      typeof parsed.payload !== 'string' ||
      typeof parsed.signature !== 'string'
    )
      return undefined;
    const payloadText = Buffer.from(parsed.payload, 'base64url').toString('utf8');
    return {
      protectedB64: parsed.protected,
      payloadB64: parsed.payload,
      signature: Buffer.from(parsed.signature, 'base64url'),
      header: JSON.parse(Buffer.from(parsed.protected, 'base64url').toString('utf8')) as Jws['header'],
      payload: payloadText === '' ? undefined : (JSON.parse(payloadText) as unknown),
    };
  } catch {
    return undefined;
  }
}

/** RFC 7515 §5.2 for the two algorithms an ACME account key here may use. */
function verifyJws(jws: Jws, key: JsonWebKey): boolean {
  const input = Buffer.from(`${jws.protectedB64}.${jws.payloadB64}`, 'ascii');
  const publicKey = createPublicKey({ key, format: 'jwk' });
  if (jws.header.alg === 'ES256')
    return verify('sha256', input, { key: publicKey, dsaEncoding: 'ieee-p1363' }, jws.signature);
  if (jws.header.alg === 'RS256') return verify('sha256', input, publicKey, jws.signature);
  return false;
}

/** RFC 7638 §3.2: the required members in lexicographic order, hashed with SHA-256. */
function thumbprintOf(jwk: JsonWebKey): string {
  const members =
    jwk.kty === 'RSA'
      ? { e: jwk.e, kty: jwk.kty, n: jwk.n }
      : { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

function fromUpstream(answer: RewritableAnswer): ExtensionAnswer {
  return {
    status: answer.status,
    headers: { ...answer.headers },
    body: typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
