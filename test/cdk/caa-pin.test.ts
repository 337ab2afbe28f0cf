import { describe, expect, it } from 'vitest';
import { STEP_HANDLERS, type StepName } from '../../lib/steps.js';
import {
  type CfnResource,
  identityStatements,
  roleIdsByStep,
  type Statement,
  synthStack,
} from './template.js';

/**
 * The CAA pin is written by PublishChallenges alone, with UPSERT of CAA record sets at exactly the
 * names of the certificates declared with `pinCaa` (a wildcard at its base name); CreateOrder learns
 * those names from `CAA_PIN_NAMES` and refuses a pin anywhere else before ordering.
 */

const NAMES = 'route53:ChangeResourceRecordSetsNormalizedRecordNames';

function caaWrites(statement: Statement): boolean {
  const types = (statement.Condition as Record<string, Record<string, unknown>> | undefined)?.[
    'ForAllValues:StringEquals'
  ]?.['route53:ChangeResourceRecordSetsRecordTypes'];
  return JSON.stringify(types ?? []).includes('CAA');
}

function variablesOf(resource: CfnResource | undefined): Record<string, unknown> {
  return (
    (resource?.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ??
    {}
  );
}

describe('CAA pin permissions', () => {
  const { resources } = synthStack({
    directoryUrl: 'https://acme-staging-v02.api.letsencrypt.org/directory',
    hostedZoneIds: ['Z111'],
    certificates: [
      { id: 'pinned', domains: ['example.org', '*.example.org', 'www.example.org'], pinCaa: true },
      { id: 'plain', domains: ['api.example.org'] },
    ],
  });
  const roles = roleIdsByStep(resources);

  it('lets PublishChallenges alone UPSERT CAA record sets, at exactly the pinned names', () => {
    for (const step of Object.keys(STEP_HANDLERS) as StepName[]) {
      const writes = identityStatements(resources, roles[step]).filter(caaWrites);
      if (step !== 'PublishChallenges') {
        expect(writes, step).toEqual([]);
        continue;
      }
      expect(writes).toHaveLength(1);
      expect(writes[0]?.Action).toBe('route53:ChangeResourceRecordSets');
      expect(writes[0]?.Condition).toEqual({
        'ForAllValues:StringEquals': {
          'route53:ChangeResourceRecordSetsRecordTypes': ['CAA'],
          'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
          [NAMES]: ['example.org', 'www.example.org'],
        },
      });
    }
  });

  it('tells CreateOrder the pinned names', () => {
    const createOrder = Object.values(resources).find(
      (resource) =>
        resource.Type === 'AWS::Lambda::Function' && variablesOf(resource).CAA_PIN_NAMES !== undefined,
    );
    expect(variablesOf(createOrder).CAA_PIN_NAMES).toBe('example.org,www.example.org');
    const holders = Object.values(resources).filter(
      (resource) => variablesOf(resource).CAA_PIN_NAMES !== undefined,
    );
    expect(holders).toHaveLength(1);
  });

  it('grants no CAA write when no certificate pins', () => {
    const plain = synthStack({ directoryUrl: 'https://acme-staging-v02.api.letsencrypt.org/directory' });
    expect(JSON.stringify(plain.resources)).not.toContain('"CAA"');
  });

  it('refuses at synth a pin with several CAs, or with externalDns', () => {
    expect(() =>
      synthStack({
        certificateAuthorities: [
          { directoryUrl: 'https://acme-v02.api.letsencrypt.org/directory' },
          { directoryUrl: 'https://dv.acme-v02.api.pki.goog/directory' },
        ],
        certificates: [{ id: 'pinned', domains: ['example.org'], pinCaa: true }],
      }),
    ).toThrow(/pinCaa.*certificateAuthorities lists 2 CAs/);
    expect(() =>
      synthStack({
        certificates: [
          {
            id: 'edge',
            domains: ['edge.example.net'],
            challenge: 'dns-persist-01',
            externalDns: true,
            pinCaa: true,
          },
        ],
      }),
    ).toThrow(/certificates\[0\]\.pinCaa pins the names to one CA/);
  });
});
