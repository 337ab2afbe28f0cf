import { beforeAll, describe, expect, it } from 'vitest';
import type { CertificateProps } from '../../lib/declared-certificates.js';
import { LETS_ENCRYPT_STAGING, STEP_HANDLERS } from '../../lib/steps.js';
import {
  actionsOfStatement,
  type CfnResource,
  identityStatements,
  roleIdsByStep,
  type Statement,
  type SynthesizedStack,
  synthStack,
} from './template.js';

/**
 * dns-persist-01 records stay in DNS for the renewals to come, so IAM lets one function write
 * them: PublishChallenges, with UPSERT only, at exactly the `_validation-persist` names of the
 * certificates declared with `challenge: 'dns-persist-01'`. CreateOrder learns those names from
 * `PERSIST_RECORD_NAMES` so that it answers dns-01 where the write would be denied.
 */

const PERSIST = '_validation-persist';
const NAMES_CONDITION = 'route53:ChangeResourceRecordSetsNormalizedRecordNames';

function synthWith(certificates: readonly CertificateProps[]): SynthesizedStack {
  return synthStack({ directoryUrl: LETS_ENCRYPT_STAGING, hostedZoneIds: ['Z111'], certificates });
}

/** A function's environment variables; empty for any other resource. */
function variablesOf(resource: CfnResource): Record<string, unknown> {
  const environment = resource.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined;
  return environment?.Variables ?? {};
}

/** The environment of the one function of the step whose handler is in `folder`. */
function environmentOf(
  resources: Readonly<Record<string, CfnResource>>,
  folder: string,
): Record<string, unknown> {
  const [variables, ...others] = Object.values(resources)
    .filter((resource) => resource.Type === 'AWS::Lambda::Function')
    .map(variablesOf)
    .filter((candidate) => candidate.ACME_STEP === folder);
  if (variables === undefined || others.length > 0) throw new Error(`expected one function for ${folder}`);
  return variables;
}

/** The record names a ChangeResourceRecordSets statement is limited to, or undefined when it is not one. */
function recordNamesOf(statement: Statement): unknown {
  if (!actionsOfStatement(statement).includes('route53:ChangeResourceRecordSets')) return undefined;
  return (statement.Condition?.['ForAllValues:StringLike'] as Record<string, unknown> | undefined)?.[
    NAMES_CONDITION
  ];
}

/** Every role of the template, each with the statements of the identity policies attached to it. */
function statementsByRole(resources: Readonly<Record<string, CfnResource>>): Map<string, Statement[]> {
  const roles = Object.entries(resources).filter(([, resource]) => resource.Type === 'AWS::IAM::Role');
  return new Map(roles.map(([roleId]) => [roleId, identityStatements(resources, roleId)]));
}

/** The statements of PublishChallenges that let it write `_validation-persist` names. */
function persistWrites(synthesized: SynthesizedStack): Statement[] {
  const { resources } = synthesized;
  const publishRole = roleIdsByStep(resources).PublishChallenges;
  return identityStatements(resources, publishRole).filter((statement) =>
    JSON.stringify(recordNamesOf(statement) ?? []).includes(PERSIST),
  );
}

describe('dns-persist-01 permissions', () => {
  it('grants nothing and tells CreateOrder nothing when no certificate declares dns-persist-01', () => {
    const { resources } = synthWith([
      { id: 'web', domains: ['example.org', '*.example.org'] },
      { id: 'api', domains: ['api.example.org'], challenge: 'dns-01' },
    ]);

    for (const [roleId, statements] of statementsByRole(resources)) {
      expect(JSON.stringify(statements), roleId).not.toContain(PERSIST);
    }
    expect(JSON.stringify(resources)).not.toContain(PERSIST);
    expect(environmentOf(resources, STEP_HANDLERS.CreateOrder)).not.toHaveProperty('PERSIST_RECORD_NAMES');
  });

  describe('with one certificate declared for dns-persist-01 beside a dns-01 one', () => {
    let synthesized: SynthesizedStack;

    beforeAll(() => {
      synthesized = synthWith([
        { id: 'web', domains: ['example.org', '*.example.org'], challenge: 'dns-persist-01' },
        { id: 'api', domains: ['api.example.org'] },
      ]);
    });

    it("lets PublishChallenges UPSERT TXT at exactly that certificate's one _validation-persist name", () => {
      const writes = persistWrites(synthesized);

      expect(writes).toHaveLength(1);
      const [write] = writes;
      expect(write?.Effect).toBe('Allow');
      expect(actionsOfStatement(write as Statement)).toEqual(['route53:ChangeResourceRecordSets']);
      expect(write?.Condition).toEqual({
        'ForAllValues:StringEquals': {
          'route53:ChangeResourceRecordSetsRecordTypes': ['TXT'],
          'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
        },
        'ForAllValues:StringLike': { [NAMES_CONDITION]: ['_validation-persist.example.org'] },
      });
    });

    it('lets no other role write a _validation-persist name', () => {
      const { resources } = synthesized;
      const publishRole = roleIdsByStep(resources).PublishChallenges;

      const others = [...statementsByRole(resources)]
        .filter(([roleId]) => roleId !== publishRole)
        .filter(([, statements]) => JSON.stringify(statements).includes(PERSIST))
        .map(([roleId]) => roleId);

      expect(others).toEqual([]);
      // Nor does any other resource: a role's inline policy, a managed policy, another function.
      const holders = Object.entries(resources)
        .filter(([, resource]) => JSON.stringify(resource).includes(PERSIST))
        .map(([, resource]) =>
          resource.Type === 'AWS::IAM::Policy'
            ? `policy of ${JSON.stringify(resource.Properties?.Roles)}`
            : `${resource.Type} ${JSON.stringify(variablesOf(resource))}`,
        )
        .sort();
      expect(holders).toEqual([
        expect.stringMatching(/^AWS::Lambda::Function .*"ACME_STEP":"create-order"/),
        `policy of ${JSON.stringify([{ Ref: publishRole }])}`,
      ]);
      // Cleanup's own record names stay those of dns-01.
      const cleanupNames = identityStatements(resources, roleIdsByStep(resources).Cleanup)
        .map(recordNamesOf)
        .filter((names) => names !== undefined);
      expect(cleanupNames).toEqual([['_acme-challenge.*']]);
    });

    it('gives no write at the name of the dns-01 certificate', () => {
      expect(JSON.stringify(synthesized.resources)).not.toContain(`${PERSIST}.api.example.org`);
    });

    it('tells CreateOrder, and no other function, the granted names', () => {
      const { resources } = synthesized;

      expect(environmentOf(resources, STEP_HANDLERS.CreateOrder).PERSIST_RECORD_NAMES).toBe(
        '_validation-persist.example.org',
      );
      const elsewhere = Object.entries(resources)
        .filter(([, resource]) => resource.Type === 'AWS::Lambda::Function')
        .filter(([, resource]) => JSON.stringify(resource.Properties).includes('PERSIST_RECORD_NAMES'))
        .map(([, resource]) => variablesOf(resource).ACME_STEP);
      expect(elsewhere).toEqual([STEP_HANDLERS.CreateOrder]);
    });
  });

  it('falls back to the one pattern _validation-persist.* past 1,500 characters of names', () => {
    const domains = Array.from({ length: 45 }, (_, index) => `host-${index}.example.org`);
    const listed = domains.map((domain) => `${PERSIST}.${domain}`).join(',');
    expect(listed.length).toBeGreaterThan(1_500);

    const synthesized = synthWith([{ id: 'fleet', domains, challenge: 'dns-persist-01' }]);

    const writes = persistWrites(synthesized);
    expect(writes.map(recordNamesOf)).toEqual([['_validation-persist.*']]);
    expect(writes[0]?.Condition?.['ForAllValues:StringEquals']).toEqual({
      'route53:ChangeResourceRecordSetsRecordTypes': ['TXT'],
      'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
    });
    expect(environmentOf(synthesized.resources, STEP_HANDLERS.CreateOrder).PERSIST_RECORD_NAMES).toBe(
      '_validation-persist.*',
    );
  });

  it('lists every name of several dns-persist-01 certificates while they fit', () => {
    const synthesized = synthWith([
      { id: 'web', domains: ['www.example.org'], challenge: 'dns-persist-01' },
      { id: 'api', domains: ['api.example.org', 'example.org'], challenge: 'dns-persist-01' },
    ]);

    expect(persistWrites(synthesized).map(recordNamesOf)).toEqual([
      [`${PERSIST}.api.example.org`, `${PERSIST}.example.org`, `${PERSIST}.www.example.org`],
    ]);
    expect(environmentOf(synthesized.resources, STEP_HANDLERS.CreateOrder).PERSIST_RECORD_NAMES).toBe(
      `${PERSIST}.api.example.org,${PERSIST}.example.org,${PERSIST}.www.example.org`,
    );
  });

  it('refuses a challenge type it does not know at synth, naming the field', () => {
    expect(() => synthWith([{ id: 'web', domains: ['example.org'], challenge: 'dns-02' as never }])).toThrow(
      'AcmeCertificates: certificates[0].challenge "dns-02" is not a challenge type this workflow answers: use "dns-01" or "dns-persist-01".',
    );
  });
});

function changesRecords(statement: Statement): boolean {
  return actionsOfStatement(statement).includes('route53:ChangeResourceRecordSets');
}

/** Every ChangeResourceRecordSets statement of the template, with the step whose role holds it. */
function recordChanges(
  resources: Readonly<Record<string, CfnResource>>,
): { step: string; statement: Statement }[] {
  const stepOfRole = new Map(
    Object.entries(roleIdsByStep(resources)).map(([step, roleId]) => [roleId, step]),
  );
  return [...statementsByRole(resources)].flatMap(([roleId, statements]) =>
    statements
      .filter(changesRecords)
      .map((statement) => ({ step: stepOfRole.get(roleId) ?? roleId, statement })),
  );
}

/**
 * The roles that write dns-01 records: PublishChallenges, Cleanup, and the cleaner of ended
 * executions (a function outside the state machine, so known by its role's logical id).
 */
const DNS01_WRITERS = [expect.stringContaining('CleanupEndedExecution'), 'Cleanup', 'PublishChallenges'];

/** The steps (or, for functions outside the state machine, roles) granted a write at `_acme-challenge.*` names. */
function acmeChallengeWriters(resources: Readonly<Record<string, CfnResource>>): string[] {
  return recordChanges(resources)
    .filter(({ statement }) => JSON.stringify(recordNamesOf(statement)).includes('_acme-challenge.*'))
    .map(({ step }) => step)
    .sort();
}

describe('dns-01 permissions when every declared certificate uses dns-persist-01', () => {
  it('grants no Route 53 change at all when every certificate is externalDns, and tells CreateOrder', () => {
    const { resources } = synthStack({
      directoryUrl: LETS_ENCRYPT_STAGING,
      hostedZoneIds: ['Z111'],
      validationZoneIds: ['ZVAL'],
      certificates: [
        {
          id: 'web',
          domains: ['example.org', '*.example.org'],
          challenge: 'dns-persist-01',
          externalDns: true,
        },
        { id: 'api', domains: ['api.example.net'], challenge: 'dns-persist-01', externalDns: true },
      ],
    });

    expect(JSON.stringify(resources)).not.toContain('route53:ChangeResourceRecordSets');
    expect(recordChanges(resources)).toEqual([]);
    const createOrder = environmentOf(resources, STEP_HANDLERS.CreateOrder);
    expect(createOrder.DNS01_WRITES).toBe('none');
    expect(createOrder).not.toHaveProperty('PERSIST_RECORD_NAMES');
    expect(createOrder).not.toHaveProperty('VALIDATION_ZONE_IDS');
  });

  it("grants only PublishChallenges' UPSERT at the managed certificate's _validation-persist names", () => {
    const { resources } = synthWith([
      { id: 'web', domains: ['example.org', 'www.example.org'], challenge: 'dns-persist-01' },
      { id: 'partner', domains: ['partner.example.net'], challenge: 'dns-persist-01', externalDns: true },
    ]);

    const changes = recordChanges(resources);
    expect(changes.map(({ step }) => step)).toEqual(['PublishChallenges']);
    expect(changes[0]?.statement.Condition).toEqual({
      'ForAllValues:StringEquals': {
        'route53:ChangeResourceRecordSetsRecordTypes': ['TXT'],
        'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
      },
      'ForAllValues:StringLike': {
        [NAMES_CONDITION]: [`${PERSIST}.example.org`, `${PERSIST}.www.example.org`],
      },
    });
    expect(JSON.stringify(resources)).not.toContain('_acme-challenge');
    expect(identityStatements(resources, roleIdsByStep(resources).Cleanup).filter(changesRecords)).toEqual(
      [],
    );
    const createOrder = environmentOf(resources, STEP_HANDLERS.CreateOrder);
    expect(createOrder.DNS01_WRITES).toBe('none');
    expect(createOrder.PERSIST_RECORD_NAMES).toBe(`${PERSIST}.example.org,${PERSIST}.www.example.org`);
  });

  it('keeps the _acme-challenge grants, and CreateOrder unrestricted, when one certificate uses dns-01', () => {
    const { resources } = synthWith([
      { id: 'web', domains: ['example.org'], challenge: 'dns-persist-01', externalDns: true },
      { id: 'api', domains: ['api.example.org'], challenge: 'dns-01' },
      { id: 'www', domains: ['www.example.org'], challenge: 'dns-persist-01' },
    ]);

    expect(acmeChallengeWriters(resources)).toEqual(DNS01_WRITERS);
    expect(environmentOf(resources, STEP_HANDLERS.CreateOrder)).not.toHaveProperty('DNS01_WRITES');
  });

  it('keeps the _acme-challenge grants when no certificate is declared, since issue inputs use dns-01', () => {
    const { resources } = synthStack({ directoryUrl: LETS_ENCRYPT_STAGING, hostedZoneIds: ['Z111'] });

    expect(acmeChallengeWriters(resources)).toEqual(DNS01_WRITERS);
    expect(environmentOf(resources, STEP_HANDLERS.CreateOrder)).not.toHaveProperty('DNS01_WRITES');
  });
});

describe('the records an operator must create (externalDns)', () => {
  it('lists them as a stack output, naming the command that prints their values', () => {
    const { template } = synthStack({
      directoryUrl: LETS_ENCRYPT_STAGING,
      hostedZoneIds: ['Z111'],
      certificates: [
        {
          id: 'edge',
          domains: ['edge.example.net', '*.edge.example.net'],
          challenge: 'dns-persist-01',
          externalDns: true,
        },
        { id: 'web', domains: ['example.org'] },
      ],
    });
    const output = Object.values(template.findOutputs('PersistRecordsToCreate'))[0] as {
      Value: string;
      Description: string;
    };
    expect(output.Value).toBe('_validation-persist.edge.example.net TXT (edge)');
    expect(output.Description).toContain('acme-aws persist-record edge');
  });

  it('adds no such output when no certificate is declared with externalDns', () => {
    const { template } = synthStack({ directoryUrl: LETS_ENCRYPT_STAGING, hostedZoneIds: ['Z111'] });
    expect(Object.keys(template.findOutputs('PersistRecordsToCreate'))).toEqual([]);
  });
});
