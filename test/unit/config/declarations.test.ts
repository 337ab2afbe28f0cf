import { describe, expect, it } from 'vitest';
import {
  type CertificateDeclaration,
  CertificateDeclarationError,
  parseCertificateDeclarations,
  parseDeclarations,
} from '../../../lambdas/core/config/schema.js';

function refusal(certificates: readonly unknown[], context = {}): CertificateDeclarationError {
  try {
    parseCertificateDeclarations(certificates as CertificateDeclaration[], context);
  } catch (error) {
    expect(error).toBeInstanceOf(CertificateDeclarationError);
    return error as CertificateDeclarationError;
  }
  throw new Error('the declarations were accepted');
}

describe('parseCertificateDeclarations', () => {
  it('fills in defaults and normalizes names as the state machine does', () => {
    const declared = parseCertificateDeclarations(
      [
        {
          id: 'web',
          domains: ['Bücher.Example.', '*.EXAMPLE.org', 'example.org', 'bücher.example'],
          hostedZoneIds: { 'Example.ORG.': '/hostedzone/ZORG' },
          zoneRoles: { '/hostedzone/ZPARTNER': 'arn:aws:iam::111122223333:role/acme-dns' },
          profile: 'shortlived',
        },
        { id: 'api', domains: ['api.example.org'], keyType: 'RSA_2048', regions: ['us-east-1', 'us-east-1'] },
      ],
      { region: 'eu-west-1' },
    );

    expect(declared).toEqual([
      {
        id: 'web',
        domains: ['xn--bcher-kva.example', '*.example.org', 'example.org'],
        keyType: 'EC_P256',
        regions: ['eu-west-1'],
        hostedZoneIds: { 'example.org': 'ZORG' },
        zoneRoles: { ZPARTNER: 'arn:aws:iam::111122223333:role/acme-dns' },
        profile: 'shortlived',
      },
      { id: 'api', domains: ['api.example.org'], keyType: 'RSA_2048', regions: ['us-east-1'] },
    ]);
  });

  it('leaves regions empty in an environment-agnostic stack, for the Lambdas to fill in', () => {
    expect(parseCertificateDeclarations([{ id: 'web', domains: ['example.org'] }])[0]?.regions).toEqual([]);
  });

  it('accepts no certificates', () => {
    expect(parseCertificateDeclarations([], { region: 'eu-west-1' })).toEqual([]);
  });

  it.each([
    [`${'a'.repeat(64)}.example.org`, 'certificates[0].domains[0]', 'has a label of 64 characters'],
    ['-bad-.example.org', 'certificates[0].domains[0]', 'starting or ending with a hyphen'],
  ])('refuses %s, which the state machine refuses too', (domain, where, problem) => {
    const message = refusal([{ id: 'web', domains: [domain] }]).message;

    expect(message).toContain(`AcmeCertificates: ${where}`);
    expect(message).toContain(problem);
  });

  it('refuses a duplicate id, naming the second declaration', () => {
    expect(
      refusal([
        { id: 'web', domains: ['a.example.org'] },
        { id: 'web', domains: ['b.example.org'] },
      ]).message,
    ).toBe('AcmeCertificates: certificates[1].id "web" is declared twice; ids must be unique.');
  });

  it.each([
    [{ id: 'we b', domains: ['example.org'] }, 'certificates[0].id "we b" is not valid'],
    [{ id: 'web', domains: [] }, 'certificates[0].domains lists no names'],
    [{ id: 'web' }, 'certificates[0].domains is required'],
    [{ domains: ['example.org'] }, 'certificates[0].id is required'],
    [
      { id: 'web', domains: ['example.org'], keyType: 'EC_P521' },
      'certificates[0].keyType "EC_P521" is not supported',
    ],
    [
      { id: 'web', domains: ['example.org'], regions: [] },
      'certificates[0].regions must be a list of 1 to 50 AWS regions',
    ],
    [
      { id: 'web', domains: ['example.org'], regions: ['mars-1'] },
      'certificates[0].regions[0] "mars-1" is not an AWS region',
    ],
    [
      { id: 'web', domains: ['example.org'], profile: 'short lived' },
      'certificates[0].profile "short lived" is not a profile',
    ],
    [
      { id: 'web', domains: ['example.org'], keytype: 'RSA_2048' },
      'certificates[0].keytype is not a property of a certificate',
    ],
  ])('refuses %j, naming the prop', (certificate, message) => {
    expect(refusal([certificate]).message).toContain(`AcmeCertificates: ${message}`);
  });

  it('refuses kmsKey with regions: such a certificate never goes to ACM', () => {
    expect(
      refusal([{ id: 'signer', domains: ['sign.example.org'], kmsKey: true, regions: ['us-east-1'] }])
        .message,
    ).toBe(
      'AcmeCertificates: certificates[0].regions cannot be given with kmsKey: a certificate whose key stays in KMS is never imported into ACM, so it has no regions. Remove regions, or remove kmsKey to import it into ACM.',
    );
    expect(
      parseCertificateDeclarations([{ id: 'signer', domains: ['sign.example.org'], kmsKey: {} }], {
        region: 'eu-west-1',
      }),
    ).toEqual([{ id: 'signer', domains: ['sign.example.org'], keyType: 'EC_P256', regions: ['eu-west-1'] }]);
  });

  it('refuses a directory that is not https', () => {
    expect(refusal([], { directoryUrl: 'http://ca.example/directory' }).message).toContain(
      'AcmeCertificates: directoryUrl "http://ca.example/directory" is not an https URL',
    );
  });

  describe('with hostedZones', () => {
    const hostedZones = [{ id: 'ZORG', name: 'Example.ORG.' }];

    it('accepts domains under a zone, and domains mapped in hostedZoneIds', () => {
      expect(() =>
        parseCertificateDeclarations(
          [
            { id: 'web', domains: ['*.www.example.org', 'example.org'] },
            { id: 'other', domains: ['x.other.example'], hostedZoneIds: { 'other.example': 'ZOTHER' } },
          ],
          { hostedZones },
        ),
      ).not.toThrow();
    });

    it('lets an externalDns certificate name domains outside every zone: the stack writes none of their DNS', () => {
      expect(() =>
        parseCertificateDeclarations(
          [
            {
              id: 'partner',
              domains: ['partner.example.net'],
              challenge: 'dns-persist-01',
              externalDns: true,
            },
          ],
          { hostedZones },
        ),
      ).not.toThrow();
    });

    it('refuses a domain no zone covers, listing the zones', () => {
      expect(refusal([{ id: 'web', domains: ['www.example.net'] }], { hostedZones }).message).toBe(
        'AcmeCertificates: certificates "web" has domain "www.example.net", which no zone in hostedZones covers (example.org). Add its hosted zone to hostedZones, or map the domain in the certificate\'s hostedZoneIds.',
      );
    });

    it('matches an IDN domain to its zone by A-label', () => {
      expect(() =>
        parseCertificateDeclarations([{ id: 'web', domains: ['www.bücher.example'] }], {
          hostedZones: [{ id: 'ZB', name: 'xn--bcher-kva.example' }],
        }),
      ).not.toThrow();
    });
  });

  describe('deliveries', () => {
    const context = { region: 'eu-west-1', stackName: 'Platform' };
    const declare = (delivery: object, id = 'web') => ({ id, domains: ['example.org'], ...delivery });

    it('names a secret after the stack and id unless named, and defaults the tier to Standard', () => {
      const parsed = parseDeclarations(
        [
          declare({ secret: true, parameters: { path: '/certificates/web' } }),
          declare({ secret: { name: 'tls/api' }, parameters: { path: '/edge', tier: 'Advanced' } }, 'api'),
          declare({ secret: false }, 'plain'),
        ],
        context,
      );

      expect(parsed.deliveries).toEqual({
        web: {
          secretName: 'acme-aws/Platform/web/certificate',
          parameterPath: '/certificates/web',
          parameterTier: 'Standard',
        },
        api: { secretName: 'tls/api', parameterPath: '/edge', parameterTier: 'Advanced' },
      });
      expect(parsed.certificates[0]).toEqual({
        id: 'web',
        domains: ['example.org'],
        keyType: 'EC_P256',
        regions: ['eu-west-1'],
      });
    });

    it('accepts a path at the limits: 999 characters, 14 levels', () => {
      expect(() =>
        parseDeclarations(
          [
            declare({ parameters: { path: `/${'a'.repeat(998)}` } }),
            declare({ parameters: { path: `/${Array(14).fill('b').join('/')}` } }, 'deep'),
          ],
          context,
        ),
      ).not.toThrow();
    });

    it.each([
      [
        { secret: { name: 'web cert' } },
        'certificates[0].secret.name "web cert" is not a secret name: use 1 to 512',
      ],
      [{ secret: { name: '' } }, 'certificates[0].secret.name "" is not a secret name'],
      [{ secret: { name: 'x'.repeat(513) } }, 'certificates[0].secret.name "xxx'],
      [
        { secret: { name: 'tls/web-abcdef' } },
        'certificates[0].secret.name "tls/web-abcdef" ends with a hyphen followed by six characters',
      ],
      [
        { secret: { nme: 'tls' } },
        'certificates[0].secret.nme is not a property of secret (name): remove it.',
      ],
      [{ secret: 'yes' }, 'certificates[0].secret "yes" must be true'],
      [
        { parameters: { path: 'certificates/web' } },
        'certificates[0].parameters.path "certificates/web" must start with "/"',
      ],
      [
        { parameters: { path: '/certificates/web/' } },
        'certificates[0].parameters.path "/certificates/web/" has an empty level',
      ],
      [{ parameters: { path: '/certificates//web' } }, 'has an empty level'],
      [{ parameters: { path: '/certificates/w b' } }, 'has the level "w b": each level is letters, digits'],
      [
        { parameters: { path: '/AWS/web' } },
        'certificates[0].parameters.path "/AWS/web" starts with "aws" or "ssm"',
      ],
      [{ parameters: { path: '/ssmtools/web' } }, 'starts with "aws" or "ssm"'],
      [{ parameters: { path: '/tls/Ssm/web' } }, 'has the level "Ssm", which Parameter Store reserves'],
      [
        { parameters: { path: `/${'a'.repeat(999)}` } },
        'is 1000 characters long; with "/certificate" after it, a parameter name has at most 1011',
      ],
      [
        { parameters: { path: `/${Array(15).fill('b').join('/')}` } },
        'has 15 levels; with the part after it, a parameter has at most 15',
      ],
      [
        { parameters: { path: '/tls', tier: 'Intelligent-Tiering' } },
        'certificates[0].parameters.tier "Intelligent-Tiering" is not a Parameter Store tier',
      ],
      [{ parameters: { tier: 'Standard' } }, 'certificates[0].parameters.path is required'],
      [
        { parameters: { path: '/tls', type: 'String' } },
        'certificates[0].parameters.type is not a property of parameters (path, tier)',
      ],
      [
        { parameters: '/tls' },
        'certificates[0].parameters must be { path: "…", tier?: "Standard" | "Advanced" }',
      ],
    ])('refuses %j, naming the prop', (delivery, message) => {
      expect(refusal([declare(delivery)], context).message).toContain(message);
    });

    it('derives a default secret name that never ends like an ARN suffix, whatever the id', () => {
      const parsed = parseDeclarations([declare({ secret: true }, 'my-server')], context);

      expect(parsed.deliveries['my-server']?.secretName).toBe('acme-aws/Platform/my-server/certificate');
    });

    it('refuses two certificates sharing a secret, naming both', () => {
      expect(
        refusal(
          [
            declare({ secret: { name: 'acme-aws/Platform/api/certificate' } }),
            declare({ secret: true }, 'api'),
          ],
          context,
        ).message,
      ).toBe(
        'AcmeCertificates: certificates[1].secret names the secret "acme-aws/Platform/api/certificate", which certificates[0] is delivered to; each certificate needs a secret of its own: give one of them another secret.name.',
      );
    });

    it('refuses a parameter path that is another certificate’s, or under it', () => {
      expect(
        refusal([declare({ parameters: { path: '/tls' } }), declare({ parameters: { path: '/tls' } }, 'api')])
          .message,
      ).toBe(
        'AcmeCertificates: certificates[1].parameters.path "/tls" is the parameter path "/tls" of certificates[0]; each certificate needs a path of its own, neither under the other: choose another path.',
      );
      expect(
        refusal([
          declare({ parameters: { path: '/tls/api' } }),
          declare({ parameters: { path: '/tls' } }, 'api'),
        ]).message,
      ).toContain(
        'certificates[1].parameters.path "/tls" overlaps the parameter path "/tls/api" of certificates[0]',
      );
      expect(() =>
        parseDeclarations([
          declare({ parameters: { path: '/tls/web' } }),
          declare({ parameters: { path: '/tls/webs' } }, 'api'),
        ]),
      ).not.toThrow();
    });
  });

  describe('certificateAuthorities', () => {
    const FIRST = 'https://acme-v02.api.letsencrypt.org/directory';
    const SECOND = 'https://dv.acme-v02.api.pki.goog/directory';
    const declare = (certificateAuthorities: unknown) =>
      ({ id: 'web', domains: ['example.org'], certificateAuthorities }) as CertificateDeclaration;
    const fiveCas = [1, 2, 3, 4, 5].map((n) => ({ directoryUrl: `https://ca${n}.example/directory` }));

    it('keeps the list in its order, with each CA’s profile, for the workflow', () => {
      const certificateAuthorities = [
        { directoryUrl: FIRST },
        { directoryUrl: SECOND, profile: 'shortlived' },
      ];

      expect(
        parseCertificateDeclarations([declare(certificateAuthorities)], { region: 'eu-west-1' }),
      ).toEqual([
        {
          id: 'web',
          domains: ['example.org'],
          keyType: 'EC_P256',
          regions: ['eu-west-1'],
          certificateAuthorities,
        },
      ]);
    });

    it('accepts five CAs', () => {
      expect(parseCertificateDeclarations([declare(fiveCas)])[0]?.certificateAuthorities).toEqual(fiveCas);
    });

    it.each([
      ['no CA', []],
      ['six CAs', [...fiveCas, { directoryUrl: 'https://ca6.example/directory' }]],
      ['a single CA that is not in a list', { directoryUrl: FIRST }],
    ])('refuses %s, asking for 1 to 5 entries', (_, certificateAuthorities) => {
      expect(refusal([declare(certificateAuthorities)]).message).toMatch(
        /^AcmeCertificates: certificates\[0\]\.certificateAuthorities .* is not a list of CAs: give 1 to 5 entries/,
      );
    });

    it('refuses a CA listed twice', () => {
      expect(refusal([declare([{ directoryUrl: FIRST }, { directoryUrl: FIRST }])]).message).toBe(
        'AcmeCertificates: certificates[0].certificateAuthorities lists a directory URL twice: list each CA once.',
      );
    });

    it('refuses a directory that is not https, naming the entry', () => {
      expect(
        refusal([declare([{ directoryUrl: FIRST }, { directoryUrl: 'http://ca.example/directory' }])])
          .message,
      ).toContain(
        'AcmeCertificates: certificates[0].certificateAuthorities[1].directoryUrl "http://ca.example/directory" is not an https URL',
      );
    });

    it.each([
      [
        { directoryUrl: FIRST, externalAccountBindingSecret: 'arn' },
        'certificates[0].certificateAuthorities[0].externalAccountBindingSecret is not a property of a CA entry (directoryUrl, profile): remove it.',
      ],
      [{ profile: 'shortlived' }, 'certificates[0].certificateAuthorities[0].directoryUrl is required'],
      [
        { directoryUrl: FIRST, profile: 'short lived' },
        'certificates[0].certificateAuthorities[0].profile "short lived" is not a profile',
      ],
    ])('refuses the entry %j, naming the prop', (entry, message) => {
      expect(refusal([declare([entry])]).message).toContain(`AcmeCertificates: ${message}`);
    });
  });

  describe('externalDns', () => {
    it.each([
      { case: 'without a challenge', challenge: undefined },
      { case: "with challenge 'dns-01'", challenge: 'dns-01' },
    ])('refuses externalDns $case, naming the prop and the fix', ({ challenge }) => {
      const certificate = { id: 'web', domains: ['example.org'], externalDns: true, challenge };

      const message = refusal([certificate]).message;

      expect(message).toMatch(
        /^AcmeCertificates: certificates\[0\]\.externalDns needs challenge "dns-persist-01": .*Set challenge to "dns-persist-01", or remove externalDns\.$/,
      );
      expect(() => parseDeclarations([certificate as CertificateDeclaration])).toThrow(
        'AcmeCertificates: certificates[0].externalDns needs challenge "dns-persist-01"',
      );
    });

    it("keeps externalDns with challenge 'dns-persist-01', for the step permissions and the workflow", () => {
      const parsed = parseDeclarations(
        [{ id: 'web', domains: ['example.org'], challenge: 'dns-persist-01', externalDns: true }],
        { region: 'eu-west-1' },
      );

      expect(parsed.certificates).toEqual([
        {
          id: 'web',
          domains: ['example.org'],
          keyType: 'EC_P256',
          regions: ['eu-west-1'],
          challenge: 'dns-persist-01',
          externalDns: true,
        },
      ]);
    });

    it('leaves externalDns: false out, as if it were not given', () => {
      expect(
        parseCertificateDeclarations([{ id: 'web', domains: ['example.org'], externalDns: false }])[0],
      ).not.toHaveProperty('externalDns');
    });

    it('refuses an externalDns that is not a boolean', () => {
      expect(
        refusal([{ id: 'web', domains: ['example.org'], challenge: 'dns-persist-01', externalDns: 'yes' }])
          .message,
      ).toBe('AcmeCertificates: certificates[0].externalDns must be true or false.');
    });
  });
});
