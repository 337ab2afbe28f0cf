import { describe, expect, it } from 'vitest';
import {
  DNS_PERSIST_DRAFT,
  evaluatePersistRecords,
  hashedAccountUri,
  type PersistAuthorizationRequest,
  parsePersistRecord,
  persistRecordValue,
  readIssuerDomainNames,
  validationDomainName,
} from '../../../lambdas/core/acme/dns-persist.js';
import { InvalidInputError } from '../../../lambdas/core/errors.js';

// The inputs and outputs of the draft's own test vector (§10.2).
const PREFIX = 'https://ca.example/account-hash/';
const ACCOUNT_URL = 'https://ca.example/acct/123';
const THUMBPRINT = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';
const HASHED = `${PREFIX}sha-256/5SQm7n6tPh2-PlLbCKGnViTXX5z19SCN4cPGQHSk-kw`;
const HASHED_ANY_DOMAIN = `${PREFIX}sha-256/NpDnSwUthQK8zCgFdefYxAdAVPnygMLbs9US6oO-5ug`;
const OLD_THUMBPRINT = 'h9QUhY3qcuky1okYC8ffGDfbvAEAnXZOiosEFiFUu10';
const NOW = new Date('2026-10-01T00:00:00Z');
const NOW_SECONDS = NOW.getTime() / 1000;

const REQUEST: PersistAuthorizationRequest = {
  identifier: 'example.com',
  issuerDomainNames: ['authority.example', 'ca.example.net'],
  accountHashPrefix: PREFIX,
  accountUrl: ACCOUNT_URL,
  accountKeyThumbprints: [THUMBPRINT],
  now: NOW,
};

describe(`dns-persist record model (${DNS_PERSIST_DRAFT})`, () => {
  describe('validationDomainName', () => {
    it.each([
      { section: '§4', identifier: 'example.com', name: '_validation-persist.example.com' },
      { section: '§5, §10.4', identifier: '*.example.com', name: '_validation-persist.example.com' },
      { section: '§9.2', identifier: 'WWW.Example.COM.', name: '_validation-persist.www.example.com' },
    ])('$section: $identifier is validated at $name', ({ identifier, name }) => {
      expect(validationDomainName(identifier)).toBe(name);
    });

    it('refuses a name with a wildcard label not in front', () => {
      expect(() => validationDomainName('www.*.example.com')).toThrow(InvalidInputError);
    });
  });

  describe('hashedAccountUri (§4.1 item 3)', () => {
    it.each([
      { section: '§10.2', domain: 'example.com', uri: HASHED },
      { section: '§9.2 normalization before hashing', domain: 'Example.COM.', uri: HASHED },
      { section: '§10.2 domain-omitted opt-out', domain: '*', uri: HASHED_ANY_DOMAIN },
    ])('$section: reproduces the draft test vector for domain $domain', ({ domain, uri }) => {
      expect(
        hashedAccountUri({
          accountHashPrefix: PREFIX,
          accountUrl: ACCOUNT_URL,
          accountKeyThumbprint: THUMBPRINT,
          domain,
        }),
      ).toBe(uri);
    });

    it('refuses a thumbprint that is not 43 base64url characters', () => {
      expect(() =>
        hashedAccountUri({
          accountHashPrefix: PREFIX,
          accountUrl: ACCOUNT_URL,
          accountKeyThumbprint: 'short',
          domain: 'example.com',
        }),
      ).toThrow(/43-character/);
    });
  });

  describe('persistRecordValue (§4.1)', () => {
    it.each([
      {
        section: '§4.1 Figure 2',
        options: {},
        value: `authority.example; accounturi=${HASHED}`,
      },
      {
        section: '§10.4 Figure 8',
        options: { wildcard: true },
        value: `authority.example; accounturi=${HASHED}; policy=wildcard`,
      },
      {
        section: '§10.6 Figure 10',
        options: { wildcard: true, persistUntil: new Date(1721952000 * 1000) },
        value: `authority.example; accounturi=${HASHED}; policy=wildcard; persistUntil=1721952000`,
      },
    ])('$section', ({ options, value }) => {
      expect(persistRecordValue('authority.example', HASHED, options)).toBe(value);
    });

    it.each([
      { section: '§3.1 lower case', issuer: 'Authority.example' },
      { section: '§3.1 no trailing dot', issuer: 'authority.example.' },
      { section: '§3.1 A-label', issuer: 'autöritet.example' },
    ])('$section: refuses the issuer $issuer', ({ issuer }) => {
      expect(() => persistRecordValue(issuer, HASHED)).toThrow(InvalidInputError);
    });

    it('RFC 8659 §4.2: refuses an accounturi holding ";" or a space', () => {
      expect(() => persistRecordValue('authority.example', 'https://a.example/x;y')).toThrow(/RFC 8659/);
      expect(() => persistRecordValue('authority.example', 'https://a.example/x y')).toThrow(/RFC 8659/);
    });
  });

  describe('parsePersistRecord (RFC 8659 §4.2 issue-value, §4.1 item 1)', () => {
    it.each([
      {
        section: '§4.1 Figure 2',
        value: `authority.example; accounturi=${HASHED}`,
        issuer: 'authority.example',
        parameters: { accounturi: HASHED },
      },
      {
        section: 'RFC 8659 §4.2 WSP around "=" and ";"',
        value: ` \tauthority.example \t;\t accounturi = ${HASHED} ;policy=wildcard \t`,
        issuer: 'authority.example',
        parameters: { accounturi: HASHED, policy: 'wildcard' },
      },
      {
        section: 'tags compare case-insensitively',
        value: `Authority.Example; AccountURI=${HASHED}; PersistUntil=1`,
        issuer: 'authority.example',
        parameters: { accounturi: HASHED, persistuntil: '1' },
      },
      {
        section: 'RFC 8659 §4.2 empty parameter list',
        value: 'authority.example;',
        issuer: 'authority.example',
        parameters: {},
      },
      {
        section: 'RFC 8659 §4.2 empty parameter value',
        value: 'authority.example; policy=',
        issuer: 'authority.example',
        parameters: { policy: '' },
      },
      {
        section: 'RFC 8659 §4.2 no issuer',
        value: '; accounturi=x',
        issuer: undefined,
        parameters: { accounturi: 'x' },
      },
    ])('$section: reads "$value"', ({ value, issuer, parameters }) => {
      const parsed = parsePersistRecord(value);

      expect(parsed).not.toHaveProperty('malformed');
      expect(parsed.issuerDomainName).toBe(issuer);
      expect(Object.fromEntries((parsed as { parameters: Map<string, string> }).parameters)).toEqual(
        parameters,
      );
    });

    it.each([
      {
        section: '§9.3.1 duplicate parameters',
        value: 'ca.example; accounturi=a; accounturi=b',
        reason: /more than once/,
      },
      {
        section: '§9.3.1 duplicate parameters, tags differing in case',
        value: 'ca.example; accounturi=a; AccountUri=b',
        reason: /"accounturi" appears more than once/,
      },
      { section: 'RFC 8659 §4.2 parameter without "="', value: 'ca.example; accounturi', reason: /no "="/ },
      {
        section: 'RFC 8659 §4.2 trailing ";"',
        value: 'ca.example; accounturi=a;',
        reason: /without a parameter/,
      },
      {
        section: 'RFC 8659 §4.2 space inside a value',
        value: 'ca.example; accounturi=a b',
        reason: /unexpected "b"/,
      },
      { section: 'RFC 8659 §4.2 label syntax', value: 'ca_example; accounturi=a', reason: /unexpected "_"/ },
      { section: 'RFC 8659 §4.2 tag syntax', value: 'ca.example; -tag=a', reason: /parameter tag/ },
    ])('$section: "$value" is malformed', ({ value, reason }) => {
      const parsed = parsePersistRecord(value);

      expect(parsed).toHaveProperty('malformed');
      expect((parsed as { malformed: string }).malformed).toMatch(reason);
    });
  });

  describe('readIssuerDomainNames (§3.1)', () => {
    it.each([
      { section: '§3.1 Figure 1', value: ['authority.example', 'ca.example.net'], ok: true },
      { section: '§3.1 not empty', value: [], ok: false },
      {
        section: '§3.1 at most 10',
        value: Array.from({ length: 11 }, (_, i) => `ca${i}.example`),
        ok: false,
      },
      { section: '§3.1 lower case', value: ['CA.example'], ok: false },
      { section: '§3.1 no trailing dot', value: ['ca.example.'], ok: false },
      { section: '§3.1 array of strings', value: 'ca.example', ok: false },
    ])('$section', ({ value, ok }) => {
      const result = readIssuerDomainNames(value);

      expect(Array.isArray(result)).toBe(ok);
    });
  });

  describe('evaluatePersistRecords (§4.2, §4.3.2)', () => {
    const record = (extra = '', uri = HASHED, issuer = 'authority.example') =>
      `${issuer}; accounturi=${uri}${extra}`;

    it.each([
      { section: '§4.2 Figure 2', values: [record()], request: {} },
      { section: '§4.2 domain-omitted opt-out', values: [record('', HASHED_ANY_DOMAIN)], request: {} },
      {
        section: '§4.3.2 other issuers ignored',
        values: [record('', HASHED, 'other.example'), record()],
        request: {},
      },
      { section: '§4.2 any offered issuer', values: [record('', HASHED, 'ca.example.net')], request: {} },
      {
        section: '§4.2 prior key retained',
        values: [record()],
        request: { accountKeyThumbprints: [OLD_THUMBPRINT, THUMBPRINT] },
      },
      {
        section: '§5.1 wildcard with policy=wildcard',
        values: [record('; policy=wildcard')],
        request: { identifier: '*.example.com' },
      },
      {
        section: '§4.1 item 4 policy value case-insensitive',
        values: [record('; policy=WildCard')],
        request: { identifier: '*.example.com' },
      },
      {
        section: '§4.1 item 1 unknown tags ignored',
        values: [record('; future-tag=anything')],
        request: {},
      },
      {
        section: '§4.1 item 5 persistUntil not yet passed',
        values: [record(`; persistUntil=${NOW_SECONDS}`)],
        request: {},
      },
      {
        section: 'mixed-case tags',
        values: [
          `Authority.Example; ACCOUNTURI=${HASHED}; Policy=wildcard; PERSISTUNTIL=${NOW_SECONDS + 60}`,
        ],
        request: { identifier: '*.example.com' },
      },
    ])('$section: authorizes', ({ values, request }) => {
      const result = evaluatePersistRecords(values, { ...REQUEST, ...request });

      expect(result.authorized).toBe(true);
    });

    it('§4.1 item 5: reports persistUntil so the authorization never outlives it', () => {
      const result = evaluatePersistRecords(
        [record(`; policy=wildcard; persistUntil=${NOW_SECONDS + 60}`)],
        REQUEST,
      );

      expect(result).toMatchObject({
        authorized: true,
        wildcardPolicy: true,
        persistUntil: new Date((NOW_SECONDS + 60) * 1000),
      });
    });

    it.each([
      {
        section: '§7.11 record removed',
        values: [],
        request: {},
        problem: 'unauthorized',
        detail: /No TXT record at _validation-persist\.example\.com\./,
      },
      {
        section: '§4.3.2 no record for this CA',
        values: [record('', HASHED, 'other.example')],
        request: {},
        problem: 'unauthorized',
        detail: /names the issuer authority\.example or ca\.example\.net/,
      },
      {
        section: '§9.3.1 accounturi of another account',
        values: [record()],
        request: { accountUrl: 'https://ca.example/acct/124' },
        problem: 'unauthorized',
        detail: /accounturi that is not the hashed URI of account https:\/\/ca\.example\/acct\/124/,
      },
      {
        section: '§4.2 hashed URI of another domain',
        values: [record()],
        request: { identifier: 'example.org' },
        problem: 'unauthorized',
        detail: /accounturi/,
      },
      {
        section: '§5.1 wildcard without policy=wildcard',
        values: [record()],
        request: { identifier: '*.example.com' },
        problem: 'unauthorized',
        detail: /lacks policy=wildcard/,
      },
      {
        section: '§4.1 item 4 other policy values count as absent',
        values: [record('; policy=subdomains')],
        request: { identifier: '*.example.com' },
        problem: 'unauthorized',
        detail: /lacks policy=wildcard/,
      },
      {
        section: '§9.3.1 persistUntil passed',
        values: [record(`; persistUntil=${NOW_SECONDS - 1}`)],
        request: {},
        problem: 'unauthorized',
        detail: /persistUntil=\d+, which has passed/,
      },
      {
        section: '§9.3.1 duplicate parameters',
        values: [`${record()}; accounturi=${HASHED}`],
        request: {},
        problem: 'malformed',
        detail: /"accounturi" appears more than once/,
      },
      {
        section: '§9.3.1 missing accounturi',
        values: ['authority.example; policy=wildcard'],
        request: {},
        problem: 'malformed',
        detail: /no accounturi/,
      },
      {
        section: '§9.3.1 persistUntil not an integer',
        values: [record('; persistUntil=2026-01-01')],
        request: {},
        problem: 'malformed',
        detail: /not a base-10 integer/,
      },
      {
        section: '§9.3.1 accounturi outside accountHashPrefix',
        values: [record('', ACCOUNT_URL)],
        request: {},
        problem: 'malformed',
        detail: /outside the CA's accountHashPrefix/,
      },
      {
        section: '§9.3.1 algorithm not accepted',
        values: [record('', HASHED.replace('sha-256', 'sha-1'))],
        request: {},
        problem: 'malformed',
        detail: /hash algorithm "sha-1"/,
      },
      {
        section: '§9.3.1 hash of the wrong length',
        values: [record('', `${PREFIX}sha-256/abc`)],
        request: {},
        problem: 'malformed',
        detail: /not 43 base64url/,
      },
      {
        section: '§9.3.1 a malformed record beside one that fails authorization',
        values: [record('; accounturi=x'), record('', HASHED_ANY_DOMAIN.replace('N', 'M'))],
        request: {},
        problem: 'unauthorized',
        detail: /appears more than once.*not the hashed URI/,
      },
    ])('$section: refuses as $problem', ({ values, request, problem, detail }) => {
      const result = evaluatePersistRecords(values, { ...REQUEST, ...request });

      expect(result.authorized).toBe(false);
      expect(result).toMatchObject({ problem });
      expect((result as { detail: string }).detail).toMatch(detail);
    });
  });
});
