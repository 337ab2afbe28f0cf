import type { AcmeClient } from '../acme/client.js';
import { dns01TxtValue, jwkThumbprint } from '../acme/key-authorization.js';
import { assertOrderMatchesRequest, authorizationIdentifier } from '../acme/order-identifiers.js';
import type { AcmeOrder } from '../acme/types.js';
import { deliveryPending } from '../delivery/delivery-parts.js';
import { assertCaaPermits } from '../dns/caa.js';
import { planCaaPins } from '../dns/caa-pin.js';
import { type ChallengePlacement, ChallengePlacer } from '../dns/placement.js';
import { mapConcurrently } from '../dns/pool.js';
import { assertChallengeWritable } from '../dns/write-scope.js';
import {
  AcmeProblemError,
  AcmeProtocolError,
  AlreadyReplacedError,
  CaUnavailableError,
  InvalidInputError,
  PersistRecordMissingError,
  RateLimitedError,
} from '../errors.js';
import type { PendingOrderRecord } from '../ports.js';
import { configurationFingerprint } from '../renewal/due.js';
import type { DnsChallenge, IssuanceState } from '../state.js';
import { rateLimitOutlastsWindow } from './ca-fallback.js';
import { carryNonce, resumeAcmeClient, type StepDeps, type WorkflowLogger } from './deps.js';
import {
  assertPersistRecordsStand,
  choosePersistChallenge,
  type PersistContext,
  persistWriteRefusal,
} from './persist-challenges.js';
import { retryTransient } from './retry-transient.js';

const REUSABLE_STATUSES = new Set(['pending', 'ready', 'processing', 'valid']);
/** `_acme-challenge` CNAME lookups in flight at once while placing up to 100 names. */
const PLACEMENT_CONCURRENCY = 8;

/**
 * CreateOrder: matches every identifier to a hosted zone first, following a delegated
 * `_acme-challenge` CNAME to the zone of its target, and checks that IAM will let
 * PublishChallenges write there (so a missing zone or a CNAME into a zone we may not write fails
 * before the CA is asked for anything). A certificate an earlier run issued but could not import
 * goes straight to import; an order an earlier run left usable is resumed; otherwise the names'
 * CAA records are checked against the CA's identities and our account (refusing with
 * `CaaForbidsIssuanceError` what the CA would refuse at validation), and a new order is placed and
 * recorded before anything else can fail. Then each authorization is read, skipping
 * those already `valid`, and the dns-01 TXT values are computed.
 */
export async function createOrder(
  state: IssuanceState,
  deps: Pick<StepDeps, 'transport' | 'signer' | 'dns' | 'resolver' | 'registry' | 'clock' | 'config' | 'log'>,
): Promise<IssuanceState> {
  const persist = state.challenge === 'dns-persist-01';
  const externalDns = persist && state.externalDns === true;
  const dns01Writable = deps.config.dns01Writes !== false;
  if (!persist && !dns01Writable) {
    throw new InvalidInputError(
      "This stack holds no permission to write dns-01 records: every certificate it declares uses challenge 'dns-persist-01'. " +
        "Give this certificate challenge 'dns-persist-01' (with externalDns when the stack may not write its DNS), or declare a dns-01 certificate in the construct.",
    );
  }
  // How the CA may validate this run's names: what CAA's `validationmethods` must allow, and pin.
  const validationMethods =
    externalDns || !dns01Writable ? ['dns-persist-01'] : persist ? ['dns-persist-01', 'dns-01'] : ['dns-01'];
  if (state.pinCaa) assertCaaPinAllowed(state, deps.config.caaPinNames);
  const zones = (await deps.dns.listPublicZones(state.zoneRoles)).filter((zone) => !zone.privateZone);
  const placer = new ChallengePlacer({
    zones,
    hostedZoneIds: state.hostedZoneIds,
    resolver: deps.resolver,
    warn: (message, attributes) => deps.log.warn(message, attributes),
  });
  const writeScope = {
    validationZoneIds: deps.config.validationZoneIds ?? [],
    hostedZoneIds: deps.config.writableZoneIds,
    zoneRoles: state.zoneRoles,
  };
  const place = async (identifier: string): Promise<ChallengePlacement> => {
    const placement = await placer.place(identifier);
    assertChallengeWritable({ ...placement, identifier }, writeScope);
    return placement;
  };
  // No dns-01 record is placed where none may be written (externalDns, or no dns-01 grant at all).
  const placementFor = new Map(
    await mapConcurrently(
      externalDns || !dns01Writable ? [] : state.domains,
      PLACEMENT_CONCURRENCY,
      async (domain) => [domain, await place(domain)] as const,
    ),
  );
  const fingerprint = configurationFingerprint(state);
  const record = await deps.registry.get(state.certificateId);
  const now = deps.clock.now();

  const issued = record?.issued;
  if (
    issued &&
    issued.fingerprint === fingerprint &&
    ((!issued.importedArn && !issued.publishedAt) || deliveryPending(record?.config?.delivery, issued)) &&
    new Date(issued.notAfter) > now
  ) {
    deps.log.info('Importing the certificate an earlier run issued; no new order', { serial: issued.serial });
    return {
      ...state,
      challenges: [],
      certificate: { storeKey: issued.storeKey, serial: issued.serial, notAfter: issued.notAfter },
    };
  }

  const client = resumeAcmeClient(state, deps);
  const jwk = await deps.signer.publicJwk();
  const caaPins = state.pinCaa
    ? planCaaPins(state.domains, {
        issuer: await pinnedIssuer(client, state.directoryUrl),
        accountUrl: state.accountUrl ?? '',
        validationMethods,
        zones,
        hostedZoneIds: state.hostedZoneIds,
      })
    : undefined;
  const persistContext: PersistContext | undefined =
    persist && state.accountUrl
      ? {
          directory: await client.directory(),
          accountUrl: state.accountUrl,
          accountKeyThumbprint: await jwkThumbprint(jwk),
          domains: state.domains,
          zones,
          hostedZoneIds: state.hostedZoneIds,
          resolver: deps.resolver,
          now,
          externalDns,
        }
      : undefined;
  // An order lives at the CA that took it: after a switch to another CA it cannot be resumed.
  const pending =
    record?.pendingOrder?.fingerprint === fingerprint &&
    (record.pendingOrder.directoryUrl ?? state.directoryUrl) === state.directoryUrl
      ? record.pendingOrder
      : undefined;
  const resumed = pending ? await resumableOrder(client, pending, now, deps.log) : undefined;
  let orderUrl: string;
  let order: AcmeOrder;
  if (resumed) {
    orderUrl = pending?.url ?? '';
    order = resumed;
    deps.log.info('Resuming the order an earlier run placed', { orderUrl, status: order.status });
  } else {
    const directory = await client.directory();
    if (state.profile && !directory.meta?.profiles?.[state.profile]) {
      const offered = Object.keys(directory.meta?.profiles ?? {});
      throw new InvalidInputError(
        `The CA does not offer the profile "${state.profile}"; ${offered.length > 0 ? `it offers ${offered.join(', ')}` : 'it offers no profiles'}. Change the certificate's profile.`,
      );
    }
    await assertCaaPermits(
      state.domains,
      {
        caaIdentities: directory.meta?.caaIdentities,
        accountUrl: state.accountUrl,
        validationMethods,
      },
      { resolver: deps.resolver, warn: (message, attributes) => deps.log.warn(message, attributes) },
    );
    // Records nobody here can write are checked before ordering: a missing one costs no order.
    if (externalDns && persistContext) await assertPersistRecordsStand(persistContext);
    // RFC 9773 §5: naming the certificate being replaced lets the CA exempt the renewal from
    // rate limits; a CA without renewal information does not know the field.
    // Only the CA that issued the certificate knows it: another CA would refuse `replaces`.
    const issuedHere = (record?.issued?.directoryUrl ?? state.directoryUrl) === state.directoryUrl;
    const replaces = directory.renewalInfo && issuedHere ? record?.issued?.ariCertId : undefined;
    const created = await newOrderReplacing(client, state, replaces, deps.log).catch((error: unknown) => {
      if (
        error instanceof RateLimitedError &&
        state.caFallback?.next &&
        rateLimitOutlastsWindow(error, now, record?.issued)
      ) {
        throw new CaUnavailableError(
          `The CA at ${state.directoryUrl} rate-limits new orders ${error.retryAfterSeconds === undefined ? 'for an unknown time' : `for ${error.retryAfterSeconds} s`}, past this certificate's renewal window (${error.message}); the next CA in the list is tried.`,
        );
      }
      throw error;
    });
    orderUrl = created.location;
    order = created.body;
    // newOrder is not idempotent (RFC 8555 §7.4): if this write is lost, a retried step orders
    // again. So it is tried a few more times here, where the order's URL is still known.
    await retryTransient(
      () =>
        deps.registry.update(state.certificateId, {
          status: 'issuing',
          lastAttemptAt: now.toISOString(),
          pendingOrder: {
            url: orderUrl,
            fingerprint,
            directoryUrl: state.directoryUrl,
            ...(order.expires ? { expires: order.expires } : {}),
          },
        }),
      [200, 400, 800, 1600],
    );
  }
  // The CA is not trusted to say which names an order is for: checked before any TXT record exists.
  assertOrderMatchesRequest(order, state.domains, orderUrl);
  const authorized = new Set<string>();

  const challenges: DnsChallenge[] = [];
  for (const authorizationUrl of order.authorizations) {
    const { body: authorization } = await client.getAuthorization(authorizationUrl);
    authorized.add(authorizationIdentifier(authorization, order, authorized, authorizationUrl));
    if (authorization.status === 'valid') continue;
    const identifier = `${authorization.wildcard ? '*.' : ''}${authorization.identifier.value}`;
    if (authorization.status !== 'pending') {
      throw new AcmeProtocolError(
        `The authorization for ${identifier} is ${authorization.status}, so this order cannot succeed. Start a new execution to get a fresh order.`,
      );
    }
    if (persistContext) {
      const choice = await choosePersistChallenge(authorization, authorizationUrl, persistContext);
      const reason = choice.usable
        ? persistWriteRefusal(choice.challenge, deps.config.persistRecordNames)
        : choice.reason;
      if (externalDns) {
        if (!choice.usable) {
          throw new InvalidInputError(
            `${identifier} cannot be validated: ${choice.reason}, and the stack writes none of its DNS (externalDns).`,
          );
        }
        if (!choice.challenge.inPlace) {
          const { recordName, value } = choice.challenge;
          const offered = authorization.challenges.find((candidate) => candidate.type === 'dns-persist-01');
          throw new PersistRecordMissingError([
            {
              recordName,
              value,
              found: `no value there authorizes this account for the issuer domain names of the CA's challenge (${(offered?.issuerDomainNames ?? []).join(', ')})`,
            },
          ]);
        }
      }
      if (choice.usable && reason === undefined) {
        const { zoneId, recordName, zoneName = '' } = choice.challenge;
        if (!choice.challenge.inPlace)
          assertChallengeWritable({ identifier, zoneId, recordName, zoneName }, writeScope);
        challenges.push(choice.challenge);
        continue;
      }
      if (!dns01Writable) {
        throw new InvalidInputError(
          `${identifier} cannot be validated by dns-persist-01 (${reason}), and this stack holds no permission to write dns-01 records.`,
        );
      }
      deps.log.warn('Answering dns-01 instead of dns-persist-01', { identifier, reason });
    }
    const challenge = authorization.challenges.find((candidate) => candidate.type === 'dns-01');
    if (!challenge) {
      throw new InvalidInputError(
        `The CA offers no dns-01 challenge for ${identifier}; this workflow validates through DNS only.`,
      );
    }
    const placement = placementFor.get(identifier) ?? (await place(identifier));
    challenges.push({
      identifier,
      authorizationUrl,
      challengeUrl: challenge.url,
      zoneId: placement.zoneId,
      recordName: placement.recordName,
      zoneName: placement.zoneName,
      ...(placement.delegatedFrom ? { delegatedFrom: placement.delegatedFrom } : {}),
      value: await dns01TxtValue(challenge.token, jwk),
    });
  }
  const persistent = challenges.filter((challenge) => challenge.type === 'dns-persist-01');
  if (persistent.length > 0) {
    const until = persistent
      .map((challenge) => challenge.persistUntil)
      .filter((at) => at !== undefined)
      .sort()[0];
    if (until !== record?.persistUntil) {
      await deps.registry.update(state.certificateId, { persistUntil: until ?? null });
    }
  }
  deps.log.info('Order ready for validation', {
    orderUrl,
    status: order.status,
    authorizations: order.authorizations.length,
    pendingChallenges: challenges.length,
    ...(persistContext
      ? {
          persistentRecordsInPlace: challenges.filter((challenge) => challenge.inPlace).length,
          persistentRecordsToWrite: challenges.filter((c) => c.type === 'dns-persist-01' && !c.inPlace)
            .length,
        }
      : {}),
  });
  return {
    ...state,
    order: {
      url: orderUrl,
      finalize: order.finalize,
      status: order.status,
      authorizations: order.authorizations,
      ...(order.certificate ? { certificate: order.certificate } : {}),
    },
    challenges,
    ...(caaPins ? { caaPins } : {}),
    ...carryNonce(client),
  };
}

/**
 * A pin is written by PublishChallenges, whose IAM grant covers the names of the certificates
 * declared with `pinCaa` only; and it names one CA, so it cannot serve a list of several.
 * Checked before anything is asked of the CA.
 */
function assertCaaPinAllowed(state: IssuanceState, granted: readonly string[] | undefined): void {
  if ((state.caFallback?.count ?? 1) > 1) {
    throw new InvalidInputError(
      'pinCaa names one CA and this account there, and this certificate has a list of CAs, which the pin would make refuse it. Remove pinCaa, or give the certificate one CA.',
    );
  }
  const names = [...new Set(state.domains.map((domain) => domain.replace(/^\*\./, '')))];
  const missing = names.filter((name) => !(granted ?? []).includes(name));
  if (missing.length > 0) {
    throw new InvalidInputError(
      `The stack may not write CAA records at ${missing.join(', ')}: declare the certificate with pinCaa in the construct's certificates (IAM allows pins at the declared names only), or remove pinCaa.`,
    );
  }
}

/** The CA's identity to pin to: the first of its directory's `caaIdentities` (RFC 8555 §7.1.1). */
async function pinnedIssuer(client: AcmeClient, directoryUrl: string): Promise<string> {
  const issuer = (await client.directory()).meta?.caaIdentities?.[0];
  if (!issuer) {
    throw new InvalidInputError(
      `The CA at ${directoryUrl} lists no caaIdentities in its directory, so there is no CA name to pin the CAA records to. Remove pinCaa for this CA.`,
    );
  }
  return issuer;
}

/** newOrder with `replaces`, once more without it when the CA says it was already replaced. */
async function newOrderReplacing(
  client: AcmeClient,
  state: IssuanceState,
  replaces: string | undefined,
  log: WorkflowLogger,
): ReturnType<AcmeClient['newOrder']> {
  const profile = state.profile ? { profile: state.profile } : {};
  if (!replaces) return client.newOrder(state.domains, profile);
  try {
    return await client.newOrder(state.domains, { ...profile, replaces });
  } catch (error) {
    if (!(error instanceof AlreadyReplacedError)) throw error;
    log.info('The CA says the certificate was already replaced; ordering without replaces', { replaces });
    return client.newOrder(state.domains, profile);
  }
}

/**
 * The recorded order, when the CA still has it in a state that can lead to a certificate.
 * An order the CA no longer knows (or reports as invalid) is simply replaced by a new one.
 */
async function resumableOrder(
  client: AcmeClient,
  pending: PendingOrderRecord,
  now: Date,
  log: WorkflowLogger,
): Promise<AcmeOrder | undefined> {
  if (pending.expires && new Date(pending.expires) <= now) return undefined;
  try {
    const { body } = await client.getOrder(pending.url);
    return REUSABLE_STATUSES.has(body.status) ? body : undefined;
  } catch (error) {
    const gone =
      error instanceof AcmeProblemError &&
      (error.status === 404 ||
        error.status === 403 ||
        error.code === 'MALFORMED' ||
        error.code === 'UNAUTHORIZED');
    if (!gone) throw error;
    log.info('The recorded order cannot be resumed; placing a new one', {
      orderUrl: pending.url,
      problem: error.type,
    });
    return undefined;
  }
}
