import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../../cli/args.js';
import { UsageError } from '../../../cli/errors.js';
import { CertificateDeclarationError, KEY_TYPES } from '../../../lambdas/core/config/schema.js';
import { InvalidInputError } from '../../../lambdas/core/errors.js';
import { parseIssuanceRequest } from '../../../lambdas/core/workflow/input.js';
import { validateCertificates } from '../../../lib/declared-certificates.js';
import { TEST_WORKFLOW_CONFIG } from '../../support/workflow-config.js';

/*
 * One rule, one place: the construct's declarations (synth), the state machine's execution input
 * and the CLI accept exactly the same certificate ids, names and configurations, and normalize
 * them the same way. Each side is driven through its public entry point; a refusal is its own
 * error class, anything else fails the property.
 */

const REGION = TEST_WORKFLOW_CONFIG.defaultRegion;

/** Counts accepted and refused cases, so a property cannot pass by refusing everything. */
function tally() {
  const counts = { accepted: 0, refused: 0 };
  return {
    count(result: Outcome): void {
      counts[result === 'refused' ? 'refused' : 'accepted'] += 1;
    },
    /** Both outcomes happened in at least a tenth of the runs. */
    expectBoth(runs: number): void {
      expect(counts.accepted).toBeGreaterThan(runs / 10);
      expect(counts.refused).toBeGreaterThan(runs / 10);
    },
  };
}

/** What a side made of a configuration: the normalized fields, or `refused`. */
type Outcome = 'refused' | Record<string, unknown>;

function outcome(parse: () => Record<string, unknown>, refusal: new (...args: never[]) => Error): Outcome {
  try {
    return parse();
  } catch (error) {
    if (error instanceof refusal) return 'refused';
    throw error;
  }
}

interface Declared {
  readonly id: string;
  readonly domains: readonly string[];
  readonly keyType?: string;
  readonly regions?: readonly string[];
  readonly hostedZoneIds?: Record<string, string>;
  readonly zoneRoles?: Record<string, string>;
  readonly profile?: string;
  readonly preferredChain?: string;
}

const defined = <T extends object>(value: T) =>
  Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined));

function synth(certificate: Declared): Outcome {
  return outcome(() => {
    // What the construct runs at synth, not only the core function it delegates to.
    const [declared] = validateCertificates([defined(certificate) as never], REGION);
    return { ...declared };
  }, CertificateDeclarationError);
}

function runtime(certificate: Declared): Outcome {
  const { id, ...config } = certificate;
  return outcome(() => {
    const request = parseIssuanceRequest(
      defined({ action: 'issue', certificateId: id, ...config }),
      TEST_WORKFLOW_CONFIG,
    );
    return { id: request.certificateId, ...request.config };
  }, InvalidInputError);
}

/** The CLI takes the id, names, key type and regions; `--` keeps an id starting with `-` positional. */
function cli(certificate: Declared): Outcome {
  return outcome(() => {
    const argv = [
      'issue',
      `--domains=${certificate.domains.join(',')}`,
      ...(certificate.keyType === undefined ? [] : [`--key-type=${certificate.keyType}`]),
      ...(certificate.regions === undefined ? [] : [`--regions=${certificate.regions.join(',')}`]),
      '--',
      certificate.id,
    ];
    const { command } = parseCommandLine(argv);
    if (command.name !== 'issue') throw new Error(`parsed as ${command.name}`);
    return {
      id: command.certificateId,
      domains: command.domains,
      keyType: command.keyType,
      regions: command.regions ?? [REGION],
    };
  }, UsageError);
}

const letters = 'abcdefghijklmnopqrstuvwxyz';
const ldh = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/);
const upper = (text: string) => text.toUpperCase();

/** Labels, valid and not, weighted towards the edges of the rules. */
const label = fc.oneof(
  { weight: 6, arbitrary: ldh },
  fc.constantFrom('a'.repeat(63), 'b'.repeat(64), `${'c'.repeat(62)}-d`, 'x'.repeat(65)),
  fc.constantFrom('-bad', 'bad-', '-', 'ab--cd', 'xn--bcher-kva', 'xn--', 'a-b'),
  fc.constantFrom('bücher', 'München', 'пример', '例え', 'straße', 'ÉCOLE', 'ü'),
  fc.constantFrom('', '*', 'a*', 'under_score', 'sp ace', 'per%cent', '123', '0'),
  ldh.map(upper),
);

/** A name of exactly `length` characters before any wildcard: four labels of letters. */
const nameOfLength = (length: number) =>
  [letters.repeat(3).slice(0, 63), 'b'.repeat(63), 'c'.repeat(63), 'd'.repeat(length - 192)].join('.');

/** Names the rules accept, as people write them: any case, IDNs, a wildcard, a trailing dot. */
const validName = fc
  .tuple(
    fc.constantFrom('', '*.'),
    fc.array(fc.oneof({ weight: 4, arbitrary: ldh }, fc.constantFrom('bücher', 'München', 'a'.repeat(63))), {
      minLength: 1,
      maxLength: 3,
    }),
    fc.constantFrom('org', 'EXAMPLE', 'xn--p1ai', 'a1'),
    fc.constantFrom('', '.'),
  )
  .map(([wildcard, labels, tld, dot]) => `${wildcard}${[...labels, tld].join('.')}${dot}`);

/** DNS names as people write them, including every edge the rules draw. */
const name = fc.oneof(
  { weight: 8, arbitrary: validName },
  {
    weight: 8,
    arbitrary: fc
      .tuple(
        fc.constantFrom('', '', '', '*.'),
        fc.array(label, { minLength: 1, maxLength: 4 }),
        fc.constantFrom('org', 'example', 'COM', 'xn--p1ai', '123', 'a1', ''),
        fc.constantFrom('', '', '.'),
      )
      .map(([wildcard, labels, tld, dot]) => `${wildcard}${[...labels, tld].join('.')}${dot}`),
  },
  fc
    .tuple(fc.constantFrom(252, 253, 254, 255), fc.constantFrom('', '*.'), fc.constantFrom('', '.'))
    .map(([length, wildcard, dot]) => `${wildcard}${nameOfLength(length)}${dot}`),
  fc.constantFrom(
    'example.org',
    'Example.ORG.',
    'bücher.example',
    'xn--bcher-kva.example',
    '-bad-.example.org',
    'a.*.example.org',
    '*.*.example.org',
    'example..org',
    '.example.org',
    '.',
    '*.',
    '10.0.0.1',
    '[::1]',
    'example.123',
    'localhost',
  ),
);

/** Certificate ids: the rule's alphabet and bounds, and just past them. */
const certificateId = fc.oneof(
  { weight: 10, arbitrary: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,10}$/) },
  fc.constantFrom(
    `w${'e'.repeat(63)}`,
    `w${'e'.repeat(64)}`,
    '',
    '.web',
    '-web',
    '_web',
    'we b',
    'wéb',
    'web/1',
  ),
);

const keyType = fc.option(
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...KEY_TYPES) },
    fc.constantFrom('EC_P521', 'ec_p256', ''),
  ),
  { nil: undefined },
);

const regions = fc.option(
  fc.array(
    fc.constantFrom('us-east-1', 'eu-west-1', 'eu-west-1', 'ap-southeast-2', 'mars-1', 'US-EAST-1', ''),
    {
      minLength: 0,
      maxLength: 3,
    },
  ),
  { nil: undefined },
);

describe('synth, the state machine and the CLI accept the same certificates', () => {
  it('agree on every id, name, key type and region list, and normalize them alike', () => {
    const outcomes = tally();
    fc.assert(
      fc.property(
        certificateId,
        fc.array(name, { minLength: 1, maxLength: 3 }),
        keyType,
        regions,
        (id, domains, type, regionList) => {
          const certificate: Declared = {
            id,
            domains,
            ...(type === undefined ? {} : { keyType: type }),
            ...(regionList === undefined ? {} : { regions: regionList }),
          };

          const fromRuntime = runtime(certificate);
          outcomes.count(fromRuntime);

          expect(synth(certificate)).toEqual(fromRuntime);
          expect(cli(certificate)).toEqual(fromRuntime);
        },
      ),
      { numRuns: 2000 },
    );
    outcomes.expectBoth(2000);
  });

  it('agree on single names at every edge of the rules', () => {
    const outcomes = tally();
    fc.assert(
      fc.property(name, (domain) => {
        const certificate = { id: 'web', domains: [domain] };

        const fromRuntime = runtime(certificate);
        outcomes.count(fromRuntime);

        expect(synth(certificate)).toEqual(fromRuntime);
        expect(cli(certificate)).toEqual(fromRuntime);
      }),
      { numRuns: 3000 },
    );
    outcomes.expectBoth(3000);
  });

  it.each([
    ['a 64-character label', `${'a'.repeat(64)}.example.org`, 'refused'],
    ['a 63-character label', `${'a'.repeat(63)}.example.org`, `${'a'.repeat(63)}.example.org`],
    ['a label with leading and trailing hyphens', '-bad-.example.org', 'refused'],
    ['an IDN, as its A-label', 'bücher.example', 'xn--bcher-kva.example'],
    ['upper case and a trailing dot', '*.Example.ORG.', '*.example.org'],
    ['a 253-character name', nameOfLength(253), nameOfLength(253)],
    ['a 254-character name', nameOfLength(254), 'refused'],
    ['a wildcard that is not the first label', 'www.*.example.org', 'refused'],
    ['an all-numeric last label', 'example.123', 'refused'],
  ])('treat %s the same way', (_, domain, expected) => {
    const certificate = { id: 'web', domains: [domain] };
    const results = [synth(certificate), runtime(certificate), cli(certificate)];

    for (const result of results) {
      expect(result === 'refused' ? 'refused' : result.domains).toEqual(
        expected === 'refused' ? 'refused' : [expected],
      );
    }
  });
});

/** Hosted zone maps: names and ids as written, valid or not. */
const hostedZoneIds = fc.option(
  fc.dictionary(
    fc.oneof({ weight: 8, arbitrary: validName }, name, fc.constantFrom('__proto__', 'constructor')),
    fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom('Z0123456789ABC', '/hostedzone/ZORG', 'hostedzone/ZNET') },
      fc.constantFrom('not a zone', 'z-lower'),
    ),
    { maxKeys: 3 },
  ),
  { nil: undefined },
);
const zoneRoles = fc.option(
  fc.dictionary(
    fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom('ZPARTNER1', '/hostedzone/ZPARTNER2', 'hostedzone/ZPARTNER1') },
      fc.constantFrom('zlower', 'prototype'),
    ),
    fc.oneof(
      { weight: 8, arbitrary: fc.constant('arn:aws:iam::111122223333:role/acme-dns') },
      fc.constantFrom('arn:aws:iam::222233334444:role/other', 'arn:aws:iam::1:role/x', 'role/acme'),
    ),
    { maxKeys: 2 },
  ),
  { nil: undefined },
);
const profile = fc.option(
  fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom('classic', 'shortlived', 'p'.repeat(64)) },
    fc.constantFrom('short lived', '', 'p'.repeat(65)),
  ),
  { nil: undefined },
);
const preferredChain = fc.option(
  fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom('ISRG Root X1', 'R'.repeat(64)) },
    fc.constantFrom('  ', 'R'.repeat(65), 'bad\u0007bell'),
  ),
  { nil: undefined },
);

describe('synth and the state machine accept the same configurations', () => {
  it('agree on zone maps, regions, profile and preferred chain, and normalize them alike', () => {
    const outcomes = tally();
    fc.assert(
      fc.property(
        certificateId,
        fc.array(fc.oneof({ weight: 3, arbitrary: validName }, name), { minLength: 1, maxLength: 3 }),
        keyType,
        regions,
        hostedZoneIds,
        zoneRoles,
        profile,
        preferredChain,
        (id, domains, type, regionList, zones, roles, profileName, chain) => {
          const certificate: Declared = defined({
            id,
            domains,
            keyType: type,
            regions: regionList,
            hostedZoneIds: zones,
            zoneRoles: roles,
            profile: profileName,
            preferredChain: chain,
          }) as unknown as Declared;

          const fromRuntime = runtime(certificate);
          outcomes.count(fromRuntime);

          expect(synth(certificate)).toEqual(fromRuntime);
        },
      ),
      { numRuns: 2000 },
    );
    outcomes.expectBoth(2000);
  });
});

describe('synth and the state machine hold externalDns to dns-persist-01 alike', () => {
  /** The state machine's refusal of an `issue` input with these fields, or undefined when it accepts. */
  function inputRefusal(fields: object): string | undefined {
    try {
      parseIssuanceRequest({ action: 'issue', domains: ['example.org'], ...fields }, TEST_WORKFLOW_CONFIG);
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidInputError);
      return (error as Error).message;
    }
    return undefined;
  }

  it.each([
    { case: 'without a challenge', fields: { externalDns: true } },
    { case: "with challenge 'dns-01'", fields: { externalDns: true, challenge: 'dns-01' } },
  ])('refuses externalDns $case on both sides, the input naming externalDns', ({ fields }) => {
    expect(inputRefusal(fields)).toMatch(/^externalDns needs challenge "dns-persist-01": /);
    expect(synth({ id: 'web', domains: ['example.org'], ...fields } as Declared)).toBe('refused');
  });

  it("accepts externalDns with challenge 'dns-persist-01' on both sides and keeps it alike", () => {
    const certificate = {
      id: 'web',
      domains: ['example.org'],
      challenge: 'dns-persist-01',
      externalDns: true,
    } as Declared;

    const fromRuntime = runtime(certificate);

    expect(fromRuntime).toMatchObject({ challenge: 'dns-persist-01', externalDns: true });
    expect(synth(certificate)).toEqual(fromRuntime);
  });

  it('refuses an externalDns that is not a boolean on both sides', () => {
    const fields = { challenge: 'dns-persist-01', externalDns: 'yes' };

    expect(inputRefusal(fields)).toBe('externalDns must be true or false.');
    expect(synth({ id: 'web', domains: ['example.org'], ...fields } as unknown as Declared)).toBe('refused');
  });

  it('refuses externalDns on renew, which reads the configuration from the registry', () => {
    expect(() =>
      parseIssuanceRequest(
        { action: 'renew', certificateId: 'web', externalDns: true },
        TEST_WORKFLOW_CONFIG,
      ),
    ).toThrow(/"externalDns" is not allowed/);
  });
});

describe('synth and the state machine hold a certificate’s certificateAuthorities alike', () => {
  const FIRST = 'https://acme-v02.api.letsencrypt.org/directory';
  const SECOND = 'https://dv.acme-v02.api.pki.goog/directory';
  const fiveCas = [1, 2, 3, 4, 5].map((n) => ({ directoryUrl: `https://ca${n}.example/directory` }));

  /** The state machine's refusal of an input, or undefined when it accepts. */
  function inputRefusal(input: object): string | undefined {
    try {
      parseIssuanceRequest(input, TEST_WORKFLOW_CONFIG);
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidInputError);
      return (error as Error).message;
    }
    return undefined;
  }
  const issue = (fields: object) => ({ action: 'issue', domains: ['example.org'], ...fields });
  const withCas = (certificateAuthorities: unknown) =>
    ({ id: 'web', domains: ['example.org'], certificateAuthorities }) as unknown as Declared;

  it('accepts a list on both sides and keeps it alike, in its order', () => {
    const certificateAuthorities = [{ directoryUrl: FIRST }, { directoryUrl: SECOND, profile: 'shortlived' }];
    const certificate = withCas(certificateAuthorities);

    const fromRuntime = runtime(certificate);

    expect(fromRuntime).toMatchObject({ certificateAuthorities });
    expect(synth(certificate)).toEqual(fromRuntime);
  });

  it.each([
    ['no CA', [], /^certificateAuthorities \[\] is not a list of CAs: give 1 to 5 entries/],
    [
      'six CAs',
      [...fiveCas, { directoryUrl: 'https://ca6.example/directory' }],
      /^certificateAuthorities .* is not a list of CAs: give 1 to 5 entries/,
    ],
    [
      'a CA listed twice',
      [{ directoryUrl: FIRST }, { directoryUrl: FIRST }],
      /^certificateAuthorities lists a directory URL twice: list each CA once\.$/,
    ],
    [
      'an http directory',
      [{ directoryUrl: FIRST }, { directoryUrl: 'http://ca.example/directory' }],
      /^certificateAuthorities\[1\]\.directoryUrl "http:\/\/ca\.example\/directory" is not an https URL: /,
    ],
    [
      'an entry with a property a CA entry does not have',
      [{ directoryUrl: FIRST, eabSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:x' }],
      /^certificateAuthorities\[0\]\.eabSecretArn is not a property of a CA entry \(directoryUrl, profile\): remove it\.$/,
    ],
  ])('refuses %s on both sides, the input naming the field', (_, certificateAuthorities, message) => {
    expect(inputRefusal(issue({ certificateAuthorities }))).toMatch(message);
    expect(synth(withCas(certificateAuthorities))).toBe('refused');
  });

  it('accepts five CAs on both sides', () => {
    expect(inputRefusal(issue({ certificateAuthorities: fiveCas }))).toBeUndefined();
    expect(synth(withCas(fiveCas))).not.toBe('refused');
  });

  it('refuses an issue giving both directoryUrl and certificateAuthorities, naming certificateAuthorities', () => {
    expect(
      inputRefusal(issue({ directoryUrl: FIRST, certificateAuthorities: [{ directoryUrl: SECOND }] })),
    ).toBe(
      'certificateAuthorities cannot be given with directoryUrl: list the CA of directoryUrl in certificateAuthorities instead, most preferred first.',
    );
  });

  it('refuses certificateAuthorities on renew, which reads the configuration from the registry', () => {
    expect(
      inputRefusal({
        action: 'renew',
        certificateId: 'web',
        certificateAuthorities: [{ directoryUrl: FIRST }],
      }),
    ).toMatch(/"certificateAuthorities" is not allowed/);
  });
});

describe('the state machine’s caIndex, set when a run moves to the next CA', () => {
  function parse(input: object) {
    return parseIssuanceRequest(input, TEST_WORKFLOW_CONFIG);
  }

  it.each([
    ['renew', { action: 'renew', certificateId: 'web' }],
    ['issue', { action: 'issue', domains: ['example.org'] }],
  ])('carries caIndex on %s', (_, input) => {
    expect(parse({ ...input, caIndex: 1 }).caIndex).toBe(1);
    expect(parse({ ...input, caIndex: 4 }).caIndex).toBe(4);
    expect(parse({ ...input, caIndex: 0 }).caIndex).toBe(0);
  });

  it('leaves caIndex out when the input has none', () => {
    expect(parse({ action: 'renew', certificateId: 'web' })).not.toHaveProperty('caIndex');
  });

  it.each([
    ['5, past the longest list', 5],
    ['negative', -1],
    ['not an integer', 1.5],
    ['a string', '1'],
  ])('refuses a caIndex that is %s', (_, caIndex) => {
    expect(() => parse({ action: 'renew', certificateId: 'web', caIndex })).toThrow(
      new InvalidInputError("caIndex must be a CA's position in the list."),
    );
  });

  it('refuses caIndex on revoke, which goes to the CA that issued the certificate', () => {
    expect(() => parse({ action: 'revoke', certificateId: 'web', caIndex: 1 })).toThrow(
      /revoke .* so "caIndex" is not allowed/,
    );
  });
});
