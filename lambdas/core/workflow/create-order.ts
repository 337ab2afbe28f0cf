import { dns01TxtValue } from '../acme/key-authorization.js';
import { challengeRecordName } from '../dns/record-name.js';
import { chooseZone } from '../dns/zones.js';
import { AcmeProtocolError, InvalidInputError } from '../errors.js';
import type { DnsChallenge, IssuanceState } from '../state.js';
import { carryNonce, resumeAcmeClient, type StepDeps } from './deps.js';

/**
 * CreateOrder: matches every identifier to a hosted zone first (so a missing zone fails before
 * the CA is asked for anything), then places the order and reads each authorization, skipping
 * those the CA already holds as `valid`, and computes the dns-01 TXT values.
 */
export async function createOrder(
  state: IssuanceState,
  deps: Pick<StepDeps, 'transport' | 'signer' | 'dns' | 'log'>,
): Promise<IssuanceState> {
  const zones = (await deps.dns.listPublicZones()).filter((zone) => !zone.privateZone);
  const zoneFor = new Map(
    state.domains.map((domain) => [domain, chooseZone(domain, zones, state.hostedZoneIds)]),
  );

  const client = resumeAcmeClient(state, deps);
  const created = await client.newOrder(state.domains);
  const order = created.body;
  const jwk = await deps.signer.publicJwk();

  const challenges: DnsChallenge[] = [];
  for (const authorizationUrl of order.authorizations) {
    const { body: authorization } = await client.getAuthorization(authorizationUrl);
    if (authorization.status === 'valid') continue;
    const identifier = `${authorization.wildcard ? '*.' : ''}${authorization.identifier.value}`;
    if (authorization.status !== 'pending') {
      throw new AcmeProtocolError(
        `The authorization for ${identifier} is ${authorization.status}, so this order cannot succeed. Start a new execution to get a fresh order.`,
      );
    }
    const challenge = authorization.challenges.find((candidate) => candidate.type === 'dns-01');
    if (!challenge) {
      throw new InvalidInputError(
        `The CA offers no dns-01 challenge for ${identifier}; this workflow validates through DNS only.`,
      );
    }
    const zone = zoneFor.get(identifier) ?? chooseZone(identifier, zones, state.hostedZoneIds);
    challenges.push({
      identifier,
      authorizationUrl,
      challengeUrl: challenge.url,
      zoneId: zone.id,
      recordName: challengeRecordName(identifier),
      value: await dns01TxtValue(challenge.token, jwk),
    });
  }
  deps.log.info('Order placed', {
    orderUrl: created.location,
    status: order.status,
    authorizations: order.authorizations.length,
    pendingChallenges: challenges.length,
  });
  return {
    ...state,
    order: {
      url: created.location,
      finalize: order.finalize,
      status: order.status,
      authorizations: order.authorizations,
      ...(order.certificate ? { certificate: order.certificate } : {}),
    },
    challenges,
    ...carryNonce(client),
  };
}
