import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import {
  CertificateIdSchema,
  DirectoryUrlSchema,
  DomainNameSchema,
  DomainsSchema,
  ExecutionInputSchema,
  FIELD,
  HostedZoneIdsSchema,
  KeyTypeSchema,
  MAX_DOMAINS,
  MAX_ZONE_ENTRIES,
  parseWith,
  pathLabel,
  RegionsSchema,
  shown,
  ZoneRolesSchema,
} from '../../../lambdas/core/config/schema.js';

/** The message a schema gives for `value`, its field named `field`. */
function refusal(schema: v.GenericSchema, value: unknown, field = 'field'): string {
  try {
    parseWith(
      schema,
      value,
      () => field,
      (message) => new Error(message),
    );
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`${JSON.stringify(value)} was accepted`);
}

describe('field labels', () => {
  it('names a field as a JSON path under a root, or bare without one', () => {
    expect(pathLabel()(['domains', 2])).toBe('domains[2]');
    expect(pathLabel()(['execution', 'id'])).toBe('execution.id');
    expect(pathLabel('AcmeCertificates: certificates')([0, 'regions', 1])).toBe(
      'AcmeCertificates: certificates[0].regions[1]',
    );
  });

  it('puts the caller’s name of the field where a rule says FIELD', () => {
    const schema = v.object({ regions: RegionsSchema });

    const error = (() => {
      try {
        parseWith(schema, { regions: ['eu-west-1', 'mars-1'] }, pathLabel('stack'), (m) => new Error(m));
      } catch (caught) {
        return caught as Error;
      }
    })();

    expect(error?.message).toBe('stack.regions[1] "mars-1" is not an AWS region name such as us-east-1.');
    expect(error?.message).not.toContain(FIELD);
  });

  it('shows at most 80 characters of a value, with its length', () => {
    expect(shown('x'.repeat(1000))).toBe(`"${'x'.repeat(79)}… (1002 characters)`);
    expect(shown(undefined)).toBe('undefined');
  });
});

describe('domain names', () => {
  it.each([
    ['-bad-.example.org', 'field "-bad-.example.org" has the label "-bad-" starting or ending with a hyphen'],
    [`${'a'.repeat(64)}.example.org`, 'has a label of 64 characters: shorten each label to 63 or fewer'],
    ['www.*.example.org', 'has a wildcard that is not the whole leftmost label: use the form *.example.org'],
    ['example..org', 'has an empty label: remove the doubled or leading dot'],
    ['10.0.0.1', 'is an IP address'],
    ['example.123', 'ends in an all-numeric label'],
    ['exa mple.org', 'contains " "'],
    ['', 'is empty: give a DNS name such as example.org'],
  ])('refuses %j, naming the field, the name, the rule and the fix', (name, message) => {
    expect(refusal(DomainNameSchema, name)).toContain(message);
  });

  it('refuses a name that is not a string, showing the value', () => {
    expect(refusal(DomainNameSchema, 42)).toBe('field must be a DNS name such as "example.org", not 42.');
  });

  it('gives IDNs as A-labels, in lower case, without the trailing dot', () => {
    expect(v.parse(DomainsSchema, ['Bücher.Example.', '*.EXAMPLE.org', 'xn--bcher-kva.example'])).toEqual([
      'xn--bcher-kva.example',
      '*.example.org',
    ]);
  });

  it('counts names after duplicates are dropped, and says how to split more', () => {
    const names = Array.from({ length: MAX_DOMAINS + 1 }, (_, index) => `n${index}.example.org`);

    expect(v.parse(DomainsSchema, [...names.slice(0, MAX_DOMAINS), 'N0.example.org.'])).toHaveLength(
      MAX_DOMAINS,
    );
    expect(refusal(DomainsSchema, names, 'domains')).toBe(
      `domains has ${MAX_DOMAINS + 1} names; ACME CAs accept at most ${MAX_DOMAINS} per certificate. Split them over several certificates.`,
    );
  });

  it('refuses an empty list and what is not a list', () => {
    expect(refusal(DomainsSchema, [], 'domains')).toContain('domains lists no names');
    expect(refusal(DomainsSchema, 'example.org', 'domains')).toContain('domains must be a list of DNS names');
  });
});

describe('certificate fields', () => {
  it('refuses a certificate id, saying what an id is made of', () => {
    expect(refusal(CertificateIdSchema, 'we b', 'certificateId')).toBe(
      'certificateId "we b" is not valid: use 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit.',
    );
    expect(refusal(CertificateIdSchema, `w${'e'.repeat(64)}`)).toContain('is not valid');
    expect(v.parse(CertificateIdSchema, `w${'e'.repeat(63)}`)).toHaveLength(64);
  });

  it('refuses a key type, listing the supported ones', () => {
    expect(refusal(KeyTypeSchema, 'EC_P521', '--key-type')).toBe(
      '--key-type "EC_P521" is not supported: use one of EC_P256, EC_P384, RSA_2048, RSA_3072, RSA_4096.',
    );
  });

  it('refuses an empty region list and names a bad region by its place', () => {
    expect(refusal(RegionsSchema, [], 'regions')).toContain('regions must be a list of 1 to 50 AWS regions');
    expect(refusal(RegionsSchema, ['us-east-1', 'Europe'], 'regions')).toContain(
      '"Europe" is not an AWS region',
    );
    expect(v.parse(RegionsSchema, ['us-east-1', 'us-east-1', 'eu-west-1'])).toEqual([
      'us-east-1',
      'eu-west-1',
    ]);
  });

  it('refuses a directory that is not https, with an example', () => {
    expect(refusal(DirectoryUrlSchema, 'http://ca.example/dir', 'directoryUrl')).toBe(
      'directoryUrl "http://ca.example/dir" is not an https URL: ACME requires TLS to the CA. Use the directory\'s https URL, e.g. https://acme-v02.api.letsencrypt.org/directory.',
    );
  });
});

describe('zone maps', () => {
  it('normalizes names and zone ids', () => {
    expect(v.parse(HostedZoneIdsSchema, { 'Bücher.Example.': '/hostedzone/ZORG' })).toEqual({
      'xn--bcher-kva.example': 'ZORG',
    });
    expect(
      v.parse(ZoneRolesSchema, { '/hostedzone/ZPARTNER': 'arn:aws:iam::111122223333:role/acme-dns' }),
    ).toEqual({ ZPARTNER: 'arn:aws:iam::111122223333:role/acme-dns' });
  });

  it.each([
    [{ 'exa mple.org': 'ZORG' }, 'hostedZoneIds has the key "exa mple.org", which is not a DNS name'],
    [
      { 'example.org': 'zone' },
      'hostedZoneIds["example.org"] must be a hosted zone id such as "Z0123456789ABC"',
    ],
    [{ 'example.org': 'ZA', 'EXAMPLE.org.': 'ZB' }, 'hostedZoneIds maps example.org to both ZA and ZB'],
    [
      JSON.parse('{"__proto__":"ZORG"}'),
      'hostedZoneIds has the key "__proto__", which cannot be a name here',
    ],
  ])('refuses hostedZoneIds %j, naming the entry', (map, message) => {
    expect(refusal(HostedZoneIdsSchema, map, 'hostedZoneIds')).toContain(message);
  });

  it('refuses more entries than the bound', () => {
    const map = Object.fromEntries(
      Array.from({ length: MAX_ZONE_ENTRIES + 1 }, (_, index) => [`n${index}.example.org`, 'ZORG']),
    );

    expect(refusal(HostedZoneIdsSchema, map, 'hostedZoneIds')).toContain(`at most ${MAX_ZONE_ENTRIES}`);
  });

  it('refuses a role that is not an IAM role ARN', () => {
    expect(refusal(ZoneRolesSchema, { ZPARTNER: 'role/acme' }, 'zoneRoles')).toContain(
      'zoneRoles["ZPARTNER"] must be the ARN of an IAM role',
    );
  });
});

describe('the execution input, keyed on action', () => {
  it('takes each action with its own fields', () => {
    for (const input of [
      { action: 'issue', domains: ['example.org'] },
      { action: 'renew', certificateId: 'web', force: true },
      { action: 'revoke', certificateId: 'web', reason: 'superseded' },
      { action: 'rollover-account-key' },
      { action: 'update-account', contact: ['ops@example.org'] },
      { action: 'deactivate-account', accountUrl: 'https://ca.example/acct/1' },
    ]) {
      expect(v.safeParse(ExecutionInputSchema, input).success).toBe(true);
    }
  });

  it('refuses an unknown action, listing the actions', () => {
    expect(refusal(ExecutionInputSchema, { action: 'reissue' }, 'action')).toBe(
      'action "reissue" is not supported: use "issue", "renew" or "revoke" for a certificate, or "rollover-account-key", "update-account" or "deactivate-account" for the CA account.',
    );
  });

  it('refuses a field another action takes, saying why', () => {
    expect(
      refusal(ExecutionInputSchema, { action: 'renew', certificateId: 'web', keyType: 'RSA_2048' }),
    ).toBe(
      'renew takes the certificate\'s configuration from the registry, so "keyType" is not allowed; use {"action":"issue",...} to change it.',
    );
  });
});
