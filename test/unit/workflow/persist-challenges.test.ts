import { beforeAll, describe, expect, it } from 'vitest';
import { hashedAccountUri, persistRecordValue } from '../../../lambdas/core/acme/dns-persist.js';
import { jwkThumbprint } from '../../../lambdas/core/acme/key-authorization.js';
import type { AcmeAuthorization, AcmeChallenge } from '../../../lambdas/core/acme/types.js';
import { InvalidInputError, PersistRecordMissingError } from '../../../lambdas/core/errors.js';
import type { DnsResolver, HostedZone, NameServer } from '../../../lambdas/core/ports.js';
import type { DnsChallenge } from '../../../lambdas/core/state.js';
import {
  assertPersistRecordsStand,
  choosePersistChallenge,
  type PersistContext,
  persistWriteRefusal,
} from '../../../lambdas/core/workflow/persist-challenges.js';
import { FakeDnsResolver } from '../../fakes/dns-resolver-fake.js';
import { ACCOUNT_URL, AUTHORIZATION_URL, CA, DIRECTORY } from '../../support/acme-fixtures.js';
import { createTestSigner } from '../../support/test-signer.js';

/**
 * CreateOrder's choice of a dns-persist-01 challenge (draft-ietf-acme-dns-persist-02): the record
 * our account needs at `_validation-persist.<name>`, whether every authoritative server already
 * answers one that authorizes us, and whether IAM lets PublishChallenges write it.
 */

const ACCOUNT_HASH_PREFIX = `${CA}/account-hash/`;
const ISSUER = 'ca.example';
const SECOND_ISSUER = 'ca.example.net';
const NOW = new Date('2030-03-01T12:00:00Z');
const NOW_SECONDS = NOW.getTime() / 1000;
const PERSIST_CHALLENGE_URL = `${CA}/chall/persist`;
const ZONES: readonly HostedZone[] = [
  { id: 'ZORG', name: 'example.org.', privateZone: false },
  { id: 'ZDEV', name: 'dev.example.org.', privateZone: false },
];

let thumbprint: string;

beforeAll(async () => {
  const signer = await createTestSigner();
  thumbprint = await jwkThumbprint(await signer.publicJwk());
});

/** A pending authorization for `name` offering dns-01 and, unless told otherwise, dns-persist-01. */
function authorization(
  name: string,
  options: { wildcard?: boolean; persist?: Partial<AcmeChallenge> | false } = {},
): AcmeAuthorization {
  const challenges: AcmeChallenge[] = [
    { type: 'dns-01', url: `${CA}/chall/dns`, status: 'pending', token: 'tok' },
  ];
  if (options.persist !== false) {
    challenges.push({
      type: 'dns-persist-01',
      url: PERSIST_CHALLENGE_URL,
      status: 'pending',
      token: '',
      issuerDomainNames: [ISSUER, SECOND_ISSUER],
      ...options.persist,
    });
  }
  return {
    identifier: { type: 'dns', value: name },
    status: 'pending',
    challenges,
    ...(options.wildcard ? { wildcard: true } : {}),
  };
}

/** The workflow's side: a directory with `accountHashPrefix`, our account, the zones, a resolver. */
function persistContext(overrides: Partial<PersistContext> = {}): PersistContext {
  return {
    directory: { ...DIRECTORY, meta: { accountHashPrefix: ACCOUNT_HASH_PREFIX } },
    accountUrl: ACCOUNT_URL,
    accountKeyThumbprint: thumbprint,
    domains: ['example.org'],
    zones: ZONES,
    resolver: new FakeDnsResolver(),
    now: NOW,
    ...overrides,
  };
}

/** The hashed account URI of `accountUrl` (our account unless told) for `domain`. */
function accountUri(domain: string, accountUrl = ACCOUNT_URL, keyThumbprint = thumbprint): string {
  return hashedAccountUri({
    accountHashPrefix: ACCOUNT_HASH_PREFIX,
    accountUrl,
    accountKeyThumbprint: keyThumbprint,
    domain,
  });
}

/** The challenge of a usable choice, failing the test with the reason otherwise. */
async function usableChallenge(choice: ReturnType<typeof choosePersistChallenge>): Promise<DnsChallenge> {
  const settled = await choice;
  if (!settled.usable) throw new Error(`expected a usable dns-persist-01 challenge: ${settled.reason}`);
  return settled.challenge;
}

describe('choosePersistChallenge: when dns-01 must answer instead', () => {
  it('gives a reason when the CA does not offer dns-persist-01', async () => {
    const choice = await choosePersistChallenge(
      authorization('example.org', { persist: false }),
      AUTHORIZATION_URL,
      persistContext(),
    );

    expect(choice).toEqual({ usable: false, reason: expect.stringMatching(/does not offer dns-persist-01/) });
  });

  it.each([
    { case: 'no issuerDomainNames', persist: { issuerDomainNames: undefined } },
    { case: 'an empty issuerDomainNames', persist: { issuerDomainNames: [] } },
  ])('gives a reason when the challenge names $case', async ({ persist }) => {
    const choice = await choosePersistChallenge(
      authorization('example.org', { persist }),
      AUTHORIZATION_URL,
      persistContext(),
    );

    expect(choice).toEqual({ usable: false, reason: expect.stringMatching(/issuer domain names/) });
  });

  it.each([
    { case: 'no meta', meta: undefined },
    { case: 'meta without accountHashPrefix', meta: { termsOfService: `${CA}/tos` } },
    { case: 'an empty accountHashPrefix', meta: { accountHashPrefix: '' } },
  ])('gives a reason when the directory has $case', async ({ meta }) => {
    const resolver = new FakeDnsResolver();

    const choice = await choosePersistChallenge(
      authorization('example.org'),
      AUTHORIZATION_URL,
      persistContext({ directory: { ...DIRECTORY, ...(meta ? { meta } : {}) }, resolver }),
    );

    expect(choice).toEqual({ usable: false, reason: expect.stringMatching(/accountHashPrefix/) });
    expect(resolver.queries).toEqual([]);
  });
});

describe('choosePersistChallenge: the record to publish', () => {
  it('names the first issuer of the challenge and our hashed account URI for the name, at _validation-persist', async () => {
    const challenge = await usableChallenge(
      choosePersistChallenge(authorization('example.org'), AUTHORIZATION_URL, persistContext()),
    );

    expect(challenge).toStrictEqual({
      identifier: 'example.org',
      authorizationUrl: AUTHORIZATION_URL,
      challengeUrl: PERSIST_CHALLENGE_URL,
      zoneId: 'ZORG',
      zoneName: 'example.org',
      recordName: '_validation-persist.example.org',
      type: 'dns-persist-01',
      value: `${ISSUER}; accounturi=${accountUri('example.org')}`,
    });
  });

  it("writes the draft's own test vector (§10.2) for its account, key and domain", async () => {
    const context = persistContext({
      directory: { ...DIRECTORY, meta: { accountHashPrefix: 'https://ca.example/account-hash/' } },
      accountUrl: 'https://ca.example/acct/123',
      accountKeyThumbprint: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
      domains: ['example.com'],
      zones: [{ id: 'ZCOM', name: 'example.com.', privateZone: false }],
    });

    const challenge = await usableChallenge(
      choosePersistChallenge(authorization('example.com'), AUTHORIZATION_URL, context),
    );

    expect(challenge.value).toBe(
      'ca.example; accounturi=https://ca.example/account-hash/sha-256/5SQm7n6tPh2-PlLbCKGnViTXX5z19SCN4cPGQHSk-kw',
    );
  });

  it('adds policy=wildcard to the apex and the wildcard alike when the certificate has both, at the one name', async () => {
    const context = persistContext({ domains: ['example.org', '*.example.org'] });

    const apex = await usableChallenge(
      choosePersistChallenge(authorization('example.org'), AUTHORIZATION_URL, context),
    );
    const wildcard = await usableChallenge(
      choosePersistChallenge(
        authorization('example.org', { wildcard: true }),
        `${AUTHORIZATION_URL}-wildcard`,
        context,
      ),
    );

    const value = `${ISSUER}; accounturi=${accountUri('example.org')}; policy=wildcard`;
    expect(apex).toMatchObject({
      identifier: 'example.org',
      recordName: '_validation-persist.example.org',
      value,
    });
    expect(wildcard).toMatchObject({
      identifier: '*.example.org',
      authorizationUrl: `${AUTHORIZATION_URL}-wildcard`,
      recordName: '_validation-persist.example.org',
      value,
    });
  });

  it('adds policy=wildcard for a certificate of the wildcard alone', async () => {
    const challenge = await usableChallenge(
      choosePersistChallenge(
        authorization('example.org', { wildcard: true }),
        AUTHORIZATION_URL,
        persistContext({ domains: ['*.example.org'] }),
      ),
    );

    expect(challenge.value).toBe(`${ISSUER}; accounturi=${accountUri('example.org')}; policy=wildcard`);
  });

  it('leaves policy=wildcard out when the wildcard in the certificate is of another name', async () => {
    const challenge = await usableChallenge(
      choosePersistChallenge(
        authorization('api.example.org'),
        AUTHORIZATION_URL,
        persistContext({ domains: ['api.example.org', '*.example.org'] }),
      ),
    );

    expect(challenge.value).toBe(`${ISSUER}; accounturi=${accountUri('api.example.org')}`);
  });

  it('hashes the account URI per name, so two names of one certificate get different values', async () => {
    const context = persistContext({ domains: ['example.org', 'www.example.org'] });

    const apex = await usableChallenge(
      choosePersistChallenge(authorization('example.org'), AUTHORIZATION_URL, context),
    );
    const www = await usableChallenge(
      choosePersistChallenge(authorization('www.example.org'), AUTHORIZATION_URL, context),
    );

    expect(www.recordName).toBe('_validation-persist.www.example.org');
    expect(www.value).toBe(`${ISSUER}; accounturi=${accountUri('www.example.org')}`);
    expect(www.value).not.toBe(apex.value);
  });
});

describe('choosePersistChallenge: the zone', () => {
  it('picks the zone with the longest matching name', async () => {
    const challenge = await usableChallenge(
      choosePersistChallenge(
        authorization('api.dev.example.org'),
        AUTHORIZATION_URL,
        persistContext({ domains: ['api.dev.example.org'] }),
      ),
    );

    expect(challenge).toMatchObject({
      zoneId: 'ZDEV',
      zoneName: 'dev.example.org',
      recordName: '_validation-persist.api.dev.example.org',
    });
  });

  it('follows hostedZoneIds to a zone that holds the name', async () => {
    const challenge = await usableChallenge(
      choosePersistChallenge(
        authorization('api.dev.example.org'),
        AUTHORIZATION_URL,
        persistContext({
          domains: ['api.dev.example.org'],
          hostedZoneIds: { 'api.dev.example.org': 'ZORG' },
        }),
      ),
    );

    expect(challenge).toMatchObject({ zoneId: 'ZORG', zoneName: 'example.org' });
  });

  it('refuses a hostedZoneIds zone that cannot hold the record, naming the record and the zone', async () => {
    const choice = choosePersistChallenge(
      authorization('example.org'),
      AUTHORIZATION_URL,
      persistContext({ hostedZoneIds: { 'example.org': 'ZDEV' } }),
    );

    await expect(choice).rejects.toThrow(InvalidInputError);
    await expect(choice).rejects.toThrow(/dev\.example\.org \(ZDEV\).*_validation-persist\.example\.org/);
  });

  it('reads the record from every server of the chosen zone', async () => {
    const recordName = '_validation-persist.api.dev.example.org';
    const resolver = new FakeDnsResolver();
    resolver.setNameServers('dev.example.org');
    resolver.setTxtEverywhere('dev.example.org', recordName, [
      persistRecordValue(ISSUER, accountUri('api.dev.example.org')),
    ]);

    const challenge = await usableChallenge(
      choosePersistChallenge(
        authorization('api.dev.example.org'),
        AUTHORIZATION_URL,
        persistContext({ domains: ['api.dev.example.org'], resolver }),
      ),
    );

    expect(challenge.inPlace).toBe(true);
    expect(resolver.queries).toEqual([
      'NS dev.example.org',
      'TXT _validation-persist.api.dev.example.org @ 192.0.2.1',
      'TXT _validation-persist.api.dev.example.org @ 192.0.2.2',
    ]);
  });
});

describe('choosePersistChallenge: a record already in place', () => {
  const RECORD = '_validation-persist.example.org';

  function ours(options: { wildcard?: boolean } = {}): string {
    return persistRecordValue(ISSUER, accountUri('example.org'), options);
  }

  it('is in place when every authoritative server returns a value that authorizes us', async () => {
    const resolver = new FakeDnsResolver();
    resolver.setNameServers('example.org', 3);
    resolver.setTxtEverywhere('example.org', RECORD, ['other-ca.example; accounturi=x', ours()]);

    const challenge = await usableChallenge(
      choosePersistChallenge(authorization('example.org'), AUTHORIZATION_URL, persistContext({ resolver })),
    );

    expect(challenge).toMatchObject({ inPlace: true, value: ours(), recordName: RECORD });
  });

  it('takes a standing value that authorizes us, not the one it would write', async () => {
    const standing = `${SECOND_ISSUER}; accounturi=${accountUri('*')}; persistUntil=${NOW_SECONDS + 86_400}`;
    const resolver = new FakeDnsResolver();
    resolver.setNameServers('example.org');
    resolver.setTxtEverywhere('example.org', RECORD, [standing]);

    const challenge = await usableChallenge(
      choosePersistChallenge(authorization('example.org'), AUTHORIZATION_URL, persistContext({ resolver })),
    );

    expect(challenge).toMatchObject({ inPlace: true, value: standing });
  });

  it('does not count a standing value without policy=wildcard for the wildcard', async () => {
    const resolver = new FakeDnsResolver();
    resolver.setNameServers('example.org');
    resolver.setTxtEverywhere('example.org', RECORD, [ours()]);

    const challenge = await usableChallenge(
      choosePersistChallenge(
        authorization('example.org', { wildcard: true }),
        AUTHORIZATION_URL,
        persistContext({ domains: ['example.org', '*.example.org'], resolver }),
      ),
    );

    expect(challenge.inPlace).toBeUndefined();
    expect(challenge.value).toBe(ours({ wildcard: true }));
  });

  it.each([
    {
      case: 'one server does not return it yet',
      arrange: (resolver: FakeDnsResolver) => {
        resolver.setNameServers('example.org', 3);
        resolver.setTxt('192.0.2.1', RECORD, [ours()]).setTxt('192.0.2.3', RECORD, [ours()]);
      },
    },
    {
      case: 'one server fails to answer',
      arrange: (resolver: FakeDnsResolver) => {
        resolver.setNameServers('example.org');
        resolver.setTxtEverywhere('example.org', RECORD, [ours()]);
        resolver.fail(`TXT ${RECORD} @ 192.0.2.2`, 'ETIMEOUT');
      },
    },
    {
      case: 'the name servers cannot be found',
      arrange: (resolver: FakeDnsResolver) => {
        resolver.setNameServers('example.org');
        resolver.setTxtEverywhere('example.org', RECORD, [ours()]);
        resolver.fail('NS example.org');
      },
    },
    { case: 'the zone has no name servers', arrange: () => {} },
    {
      case: 'the standing value is past its persistUntil',
      arrange: (resolver: FakeDnsResolver) => {
        resolver.setNameServers('example.org');
        resolver.setTxtEverywhere('example.org', RECORD, [`${ours()}; persistUntil=${NOW_SECONDS - 1}`]);
      },
    },
    {
      case: "the standing value is another account's",
      arrange: (resolver: FakeDnsResolver) => {
        resolver.setNameServers('example.org');
        resolver.setTxtEverywhere('example.org', RECORD, [
          `${ISSUER}; accounturi=${accountUri('example.org', `${CA}/acct/2`)}`,
        ]);
      },
    },
    {
      case: "the standing value was hashed with another account key's thumbprint",
      arrange: (resolver: FakeDnsResolver) => {
        resolver.setNameServers('example.org');
        resolver.setTxtEverywhere('example.org', RECORD, [
          `${ISSUER}; accounturi=${accountUri('example.org', ACCOUNT_URL, 'h9QUhY3qcuky1okYC8ffGDfbvAEAnXZOiosEFiFUu10')}`,
        ]);
      },
    },
    {
      case: 'the standing value names an issuer the challenge does not list',
      arrange: (resolver: FakeDnsResolver) => {
        resolver.setNameServers('example.org');
        resolver.setTxtEverywhere('example.org', RECORD, [
          `other-ca.example; accounturi=${accountUri('example.org')}`,
        ]);
      },
    },
  ])('is not in place, and writes its own value, when $case', async ({ arrange }) => {
    const resolver = new FakeDnsResolver();
    arrange(resolver);

    const challenge = await usableChallenge(
      choosePersistChallenge(authorization('example.org'), AUTHORIZATION_URL, persistContext({ resolver })),
    );

    expect(challenge).not.toHaveProperty('inPlace');
    expect(challenge.value).toBe(ours());
  });

  it('lets an error that is not a DNS answer through rather than take it for a missing record', async () => {
    const broken: DnsResolver = {
      resolveCname: async () => undefined,
      resolveCaa: async () => [],
      authoritativeServers: async (): Promise<NameServer[]> => [
        { name: 'ns1.example.org', address: '192.0.2.1' },
      ],
      resolveTxt: async () => {
        throw new TypeError('resolver bug');
      },
    };

    await expect(
      choosePersistChallenge(
        authorization('example.org'),
        AUTHORIZATION_URL,
        persistContext({ resolver: broken }),
      ),
    ).rejects.toThrow(TypeError);
  });
});

describe('choosePersistChallenge: the persistUntil margin', () => {
  const RECORD = '_validation-persist.example.org';
  const HOUR_SECONDS = 3_600;

  async function choiceWithPersistUntil(persistUntil: number): Promise<DnsChallenge> {
    const resolver = new FakeDnsResolver();
    resolver.setNameServers('example.org');
    resolver.setTxtEverywhere('example.org', RECORD, [
      `${persistRecordValue(ISSUER, accountUri('example.org'))}; persistUntil=${persistUntil}`,
    ]);
    return usableChallenge(
      choosePersistChallenge(authorization('example.org'), AUTHORIZATION_URL, persistContext({ resolver })),
    );
  }

  it('does not count a standing value that stops counting within the hour, since the CA validates later', async () => {
    const challenge = await choiceWithPersistUntil(NOW_SECONDS + HOUR_SECONDS);

    expect(challenge).not.toHaveProperty('inPlace');
    expect(challenge.value).toBe(persistRecordValue(ISSUER, accountUri('example.org')));
  });

  it('counts a standing value that lasts two more days', async () => {
    const standing = `${persistRecordValue(ISSUER, accountUri('example.org'))}; persistUntil=${NOW_SECONDS + 48 * HOUR_SECONDS}`;

    const challenge = await choiceWithPersistUntil(NOW_SECONDS + 48 * HOUR_SECONDS);

    expect(challenge).toMatchObject({ inPlace: true, value: standing });
  });
});

describe('assertPersistRecordsStand: the check before ordering for externalDns', () => {
  /** A directory advertising dns-persist-01 (§3.2), as the check reads it before any authorization exists. */
  const PERSIST_DIRECTORY = {
    ...DIRECTORY,
    meta: { issuerDomainNames: [ISSUER, SECOND_ISSUER], accountHashPrefix: ACCOUNT_HASH_PREFIX },
  };

  function externalContext(overrides: Partial<PersistContext> = {}): PersistContext {
    return persistContext({ directory: PERSIST_DIRECTORY, externalDns: true, ...overrides });
  }

  /** The error the check throws, failing the test when it resolves or throws anything else. */
  async function missingError(context: PersistContext): Promise<PersistRecordMissingError> {
    const error = await assertPersistRecordsStand(context).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    if (!(error instanceof PersistRecordMissingError)) {
      throw new Error(`expected a PersistRecordMissingError, got ${String(error)}`);
    }
    return error;
  }

  it('resolves when every authoritative server returns a value authorizing us at every name', async () => {
    const resolver = new FakeDnsResolver();
    resolver.setNameServers('example.org', 3);
    resolver.setTxtEverywhere('example.org', '_validation-persist.example.org', [
      persistRecordValue(ISSUER, accountUri('example.org')),
    ]);
    resolver.setTxtEverywhere('example.org', '_validation-persist.www.example.org', [
      persistRecordValue(SECOND_ISSUER, accountUri('www.example.org')),
    ]);

    await expect(
      assertPersistRecordsStand(externalContext({ domains: ['example.org', 'www.example.org'], resolver })),
    ).resolves.toBeUndefined();
    expect(resolver.queries.filter((query) => query.startsWith('TXT'))).toHaveLength(6);
  });

  it('lists a record one server lacks, with our value and what that server returned', async () => {
    const resolver = new FakeDnsResolver();
    resolver.setNameServers('example.org', 2);
    resolver
      .setTxt('192.0.2.1', '_validation-persist.www.example.org', [
        persistRecordValue(ISSUER, accountUri('www.example.org')),
      ])
      .setTxt('192.0.2.1', '_validation-persist.example.org', [
        persistRecordValue(ISSUER, accountUri('example.org')),
      ])
      .setTxt('192.0.2.2', '_validation-persist.example.org', [
        persistRecordValue(ISSUER, accountUri('example.org')),
      ]);

    const error = await missingError(
      externalContext({ domains: ['example.org', 'www.example.org'], resolver }),
    );

    const value = `${ISSUER}; accounturi=${accountUri('www.example.org')}`;
    expect(error.missing).toEqual([
      {
        recordName: '_validation-persist.www.example.org',
        value,
        found: expect.stringMatching(
          /^ns2\.example\.org: No TXT record at _validation-persist\.www\.example\.org/,
        ),
      },
    ]);
    expect(error.message).toContain(`_validation-persist.www.example.org. 300 IN TXT "${value}"`);
    expect(error.message).toContain('no order was placed');
  });

  it('checks an apex and its wildcard once, as the wildcard: a standing value without policy=wildcard is missing', async () => {
    const resolver = new FakeDnsResolver();
    resolver.setNameServers('example.org');
    resolver.setTxtEverywhere('example.org', '_validation-persist.example.org', [
      persistRecordValue(ISSUER, accountUri('example.org')),
    ]);

    const error = await missingError(
      externalContext({ domains: ['example.org', '*.example.org'], resolver }),
    );

    expect(error.missing).toEqual([
      {
        recordName: '_validation-persist.example.org',
        value: `${ISSUER}; accounturi=${accountUri('example.org')}; policy=wildcard`,
        found: expect.stringContaining('lacks policy=wildcard'),
      },
    ]);
    expect(resolver.queries).toEqual(['NS example.org', 'TXT _validation-persist.example.org @ 192.0.2.1']);
  });

  it('lets an apex and its wildcard through when the one record carries policy=wildcard', async () => {
    const resolver = new FakeDnsResolver();
    resolver.setNameServers('example.org');
    resolver.setTxtEverywhere('example.org', '_validation-persist.example.org', [
      persistRecordValue(ISSUER, accountUri('example.org'), { wildcard: true }),
    ]);

    await expect(
      assertPersistRecordsStand(externalContext({ domains: ['example.org', '*.example.org'], resolver })),
    ).resolves.toBeUndefined();
  });

  it.each([
    { case: 'no meta', meta: undefined },
    { case: 'no issuerDomainNames', meta: { accountHashPrefix: ACCOUNT_HASH_PREFIX } },
    { case: 'no accountHashPrefix', meta: { issuerDomainNames: [ISSUER] } },
    {
      case: 'issuerDomainNames that §3.1 refuses',
      meta: { issuerDomainNames: ['CA.Example.'], accountHashPrefix: ACCOUNT_HASH_PREFIX },
    },
  ])(
    'refuses a directory with $case, naming dns-persist-01 and externalDns, before any DNS query',
    async ({ meta }) => {
      const resolver = new FakeDnsResolver();

      const check = assertPersistRecordsStand(
        externalContext({ directory: { ...DIRECTORY, ...(meta ? { meta } : {}) }, resolver }),
      );

      await expect(check).rejects.toThrow(InvalidInputError);
      await expect(check).rejects.toThrow(/does not advertise dns-persist-01.*externalDns/);
      expect(resolver.queries).toEqual([]);
    },
  );

  it('walks up from a name outside every hosted zone to the closest name public DNS lists servers for', async () => {
    const recordName = '_validation-persist.a.b.example.net';
    const resolver = new FakeDnsResolver();
    resolver.setNameServers('example.net');
    resolver.setTxtEverywhere('example.net', recordName, [
      persistRecordValue(ISSUER, accountUri('a.b.example.net')),
    ]);

    await assertPersistRecordsStand(externalContext({ domains: ['a.b.example.net'], resolver }));

    expect(resolver.queries).toEqual([
      'NS a.b.example.net',
      'NS b.example.net',
      'NS example.net',
      'NS example.net',
      `TXT ${recordName} @ 192.0.2.1`,
      `TXT ${recordName} @ 192.0.2.2`,
    ]);
  });

  it('reports the record to create at a name outside every hosted zone when it is missing', async () => {
    const resolver = new FakeDnsResolver();
    resolver.setNameServers('example.net');

    const error = await missingError(externalContext({ domains: ['a.b.example.net'], resolver }));

    expect(error.missing).toEqual([
      {
        recordName: '_validation-persist.a.b.example.net',
        value: `${ISSUER}; accounturi=${accountUri('a.b.example.net')}`,
        found: 'ns1.example.net: No TXT record at _validation-persist.a.b.example.net.',
      },
    ]);
  });

  it('refuses a name outside every hosted zone for which no name servers answer at any level', async () => {
    const resolver = new FakeDnsResolver();
    resolver.fail('NS b.example.net');

    const check = assertPersistRecordsStand(externalContext({ domains: ['a.b.example.net'], resolver }));

    await expect(check).rejects.toThrow(InvalidInputError);
    await expect(check).rejects.toThrow(/No name servers answer for a\.b\.example\.net/);
    expect(resolver.queries).toEqual(['NS a.b.example.net', 'NS b.example.net', 'NS example.net']);
  });

  it('does not count a standing value whose persistUntil is less than a day away', async () => {
    const resolver = new FakeDnsResolver();
    resolver.setNameServers('example.org');
    resolver.setTxtEverywhere('example.org', '_validation-persist.example.org', [
      `${persistRecordValue(ISSUER, accountUri('example.org'))}; persistUntil=${NOW_SECONDS + 3_600}`,
    ]);

    const error = await missingError(externalContext({ resolver }));

    expect(error.missing).toEqual([
      expect.objectContaining({
        recordName: '_validation-persist.example.org',
        found: expect.stringContaining(
          `runs out at ${new Date((NOW_SECONDS + 3_600) * 1000).toISOString()}, less than a day from now`,
        ),
      }),
    ]);
  });
});

describe('choosePersistChallenge: a name outside every hosted zone', () => {
  it('is refused for a certificate whose DNS the stack writes, rather than looked up in public DNS', async () => {
    const resolver = new FakeDnsResolver();
    resolver.setNameServers('example.net');

    const choice = choosePersistChallenge(
      authorization('a.b.example.net'),
      AUTHORIZATION_URL,
      persistContext({ domains: ['a.b.example.net'], resolver }),
    );

    await expect(choice).rejects.toThrow(InvalidInputError);
    await expect(choice).rejects.toThrow(/No public hosted zone/);
    expect(resolver.queries).toEqual([]);
  });

  it('is read from the closest enclosing name with name servers for externalDns, with no zone id', async () => {
    const recordName = '_validation-persist.a.b.example.net';
    const resolver = new FakeDnsResolver();
    resolver.setNameServers('example.net');
    resolver.setTxtEverywhere('example.net', recordName, [
      persistRecordValue(ISSUER, accountUri('a.b.example.net')),
    ]);

    const challenge = await usableChallenge(
      choosePersistChallenge(
        authorization('a.b.example.net'),
        AUTHORIZATION_URL,
        persistContext({ domains: ['a.b.example.net'], resolver, externalDns: true }),
      ),
    );

    expect(challenge).toMatchObject({ zoneId: '', zoneName: 'example.net', recordName, inPlace: true });
  });
});

describe('persistWriteRefusal', () => {
  const CHALLENGE: DnsChallenge = {
    identifier: 'example.org',
    authorizationUrl: AUTHORIZATION_URL,
    challengeUrl: PERSIST_CHALLENGE_URL,
    zoneId: 'ZORG',
    zoneName: 'example.org',
    recordName: '_validation-persist.example.org',
    type: 'dns-persist-01',
    value: `${ISSUER}; accounturi=${ACCOUNT_HASH_PREFIX}sha-256/${'A'.repeat(43)}`,
  };

  it('has nothing against a record already in place, whatever IAM grants', () => {
    expect(persistWriteRefusal({ ...CHALLENGE, inPlace: true }, undefined)).toBeUndefined();
    expect(persistWriteRefusal({ ...CHALLENGE, inPlace: true }, [])).toBeUndefined();
  });

  it('lets PublishChallenges write a name IAM grants', () => {
    expect(
      persistWriteRefusal(CHALLENGE, [
        '_validation-persist.api.example.org',
        '_validation-persist.example.org',
      ]),
    ).toBeUndefined();
  });

  it('lets PublishChallenges write any name when IAM grants the _validation-persist.* pattern', () => {
    expect(persistWriteRefusal(CHALLENGE, ['_validation-persist.*'])).toBeUndefined();
  });

  it.each([
    { case: 'no names are granted', granted: undefined },
    { case: 'other names are granted', granted: ['_validation-persist.api.example.org'] },
    { case: 'only a parent name is granted', granted: ['_validation-persist.org'] },
  ])('refuses when $case, naming the record and its exact value', ({ granted }) => {
    const refusal = persistWriteRefusal(CHALLENGE, granted);

    expect(refusal).toContain("challenge 'dns-persist-01'");
    expect(refusal).toContain(`TXT record _validation-persist.example.org "${CHALLENGE.value}"`);
  });
});
