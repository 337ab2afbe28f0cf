import { describe, expect, it } from 'vitest';
import {
  type CertificateDeclaration,
  CertificateDeclarationError,
  parseCertificateDeclarations,
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
});
