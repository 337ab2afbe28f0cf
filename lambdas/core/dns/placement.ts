import { InvalidInputError } from '../errors.js';
import type { DnsResolver, HostedZone } from '../ports.js';
import { type CnameChain, followCnames } from './cname.js';
import { challengeRecordName } from './record-name.js';
import { chooseZone, chooseZoneForDelegatedRecord, zoneContains, zoneName } from './zones.js';

/** Where one identifier's dns-01 TXT value is written. */
export interface ChallengePlacement {
  /** The TXT record's name: `_acme-challenge.<base>`, or the end of its CNAME chain. */
  readonly recordName: string;
  readonly zoneId: string;
  /** The zone's name, lower-case without the trailing dot. */
  readonly zoneName: string;
  /** The `_acme-challenge` name, when a CNAME delegates it to `recordName`. */
  readonly delegatedFrom?: string;
}

/** What placing challenges needs: the candidate zones, the operator's overrides, DNS. */
export interface PlacementContext {
  /** Public zones of the account and of `zoneRoles`; private ones are ignored. */
  readonly zones: readonly HostedZone[];
  readonly hostedZoneIds?: Readonly<Record<string, string>> | undefined;
  readonly resolver: DnsResolver;
  /** Told when a CNAME lookup failed and the record stays at the `_acme-challenge` name. */
  readonly warn?: (message: string, attributes: Record<string, unknown>) => void;
}

/**
 * Decides where identifiers' TXT records go, following `_acme-challenge` CNAMEs first, the way the
 * CA will when it validates. Each `_acme-challenge` name is looked up once per placer, so an apex
 * and its wildcard cost one lookup. Every placement is checked to fit its zone, so a wrong
 * override fails here, before an order exists, rather than at Route 53.
 */
export class ChallengePlacer {
  private readonly chains = new Map<string, Promise<CnameChain>>();

  constructor(private readonly context: PlacementContext) {}

  /**
   * The placement of `identifier`'s challenge. Throws {@link InvalidInputError} when no zone can
   * hold it, when the CNAME chain loops or is too long, or when an override names a zone that
   * cannot hold the record.
   */
  async place(identifier: string): Promise<ChallengePlacement> {
    const challengeName = challengeRecordName(identifier);
    const chain = await this.chain(challengeName);
    const { zones, hostedZoneIds } = this.context;
    if (chain.target === challengeName) {
      const zone = chooseZone(identifier, zones, hostedZoneIds);
      if (!zoneContains(zone, challengeName)) {
        throw new InvalidInputError(
          `hostedZoneIds sends ${JSON.stringify(identifier)} to ${zoneName(zone)} (${zone.id}), which cannot hold ` +
            `${challengeName}: map it to the zone that contains that name, or delegate ${challengeName} with a ` +
            `CNAME to a name inside ${zoneName(zone)}.`,
        );
      }
      return { recordName: challengeName, zoneId: zone.id, zoneName: zoneName(zone) };
    }
    const zone = chooseZoneForDelegatedRecord(chain.target, identifier, zones, hostedZoneIds);
    return {
      recordName: chain.target,
      zoneId: zone.id,
      zoneName: zoneName(zone),
      delegatedFrom: challengeName,
    };
  }

  private chain(challengeName: string): Promise<CnameChain> {
    let chain = this.chains.get(challengeName);
    if (chain === undefined) {
      chain = followCnames(challengeName, this.context.resolver).then((result) => {
        if (result.lookupFailure !== undefined) {
          this.context.warn?.(
            'Could not look up the CNAME of a challenge name; writing the TXT where it ended',
            {
              recordName: result.target,
              chain: result.names,
              failure: result.lookupFailure,
            },
          );
        }
        return result;
      });
      this.chains.set(challengeName, chain);
    }
    return chain;
  }
}
