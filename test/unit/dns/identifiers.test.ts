import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  baseName,
  normalizeIdentifier,
  normalizeIdentifiers,
} from '../../../lambdas/core/dns/identifiers.js';
import { InvalidInputError } from '../../../lambdas/core/errors.js';

const CANONICAL = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

function rejection(value: string): InvalidInputError {
  try {
    normalizeIdentifier(value);
  } catch (error) {
    if (error instanceof InvalidInputError) return error;
    throw error;
  }
  throw new Error(`${JSON.stringify(value)} was accepted`);
}

describe('normalizeIdentifier', () => {
  it('lower-cases the name and strips one trailing dot', () => {
    expect(normalizeIdentifier('WWW.Example.ORG.')).toBe('www.example.org');
  });

  it('keeps a whole leftmost wildcard label', () => {
    expect(normalizeIdentifier('*.Example.org')).toBe('*.example.org');
  });

  it('converts internationalized names to punycode', () => {
    expect(normalizeIdentifier('Bücher.example')).toBe('xn--bcher-kva.example');
    expect(normalizeIdentifier('*.例え.テスト')).toBe('*.xn--r8jz45g.xn--zckzah');
  });

  it('accepts names of exactly 253 characters and labels of exactly 63', () => {
    const label = 'a'.repeat(63);
    const name = `${label}.${label}.${label}.${'b'.repeat(61)}`;

    expect(name).toHaveLength(253);
    expect(normalizeIdentifier(name)).toBe(name);
  });

  it.each([
    ['', 'is empty'],
    ['.', 'is empty'],
    ['example..org', 'empty label'],
    ['.example.org', 'empty label'],
    ['example.org..', 'empty label'],
    [`${'a'.repeat(64)}.org`, 'label of 64 characters'],
    [`${'abcdefghi.'.repeat(26)}org`, 'is 263 characters long'],
    ['exa_mple.org', 'contains "_"'],
    ['bü＿cher.org', 'the label "xn--b_cher-3ya"'],
    ['exa mple.org', 'contains " "'],
    ['%41.example.org', 'contains "%"'],
    ['-example.org', 'starting or ending with a hyphen'],
    ['example-.org', 'starting or ending with a hyphen'],
    ['www.*.example.org', 'wildcard that is not the whole leftmost label'],
    ['*example.org', 'wildcard that is not the whole leftmost label'],
    ['*.*.example.org', 'wildcard that is not the whole leftmost label'],
    ['*', 'wildcard'],
    ['192.0.2.1', 'is an IP address'],
    ['2001:db8::1', 'is an IP address'],
    ['[2001:db8::1]', 'is an IP address'],
    ['１９２.０.２.１', 'all-numeric label'],
    ['example.123', 'all-numeric label'],
  ])('rejects %j because it %s', (value, problem) => {
    const error = rejection(value);

    expect(error.message).toContain(JSON.stringify(value));
    expect(error.message).toContain(problem);
  });

  it('says what to do about a rejected identifier', () => {
    expect(rejection('192.0.2.1').message).toMatch(/dns-01 validates DNS names only/);
    expect(rejection('a..b.org').message).toMatch(/remove the doubled or leading dot/);
  });

  it('returns canonical names unchanged and is idempotent', () => {
    fc.assert(
      fc.property(fc.domain(), fc.boolean(), (domain, wildcard) => {
        fc.pre(!/\.[0-9]+$/.test(domain));
        const value = wildcard ? `*.${domain}` : domain;
        fc.pre(value.length <= 253);

        const normalized = normalizeIdentifier(value);

        expect(normalized).toBe(value.toLowerCase());
        expect(normalizeIdentifier(normalized)).toBe(normalized);
      }),
    );
  });

  it('treats case and a trailing dot as the same name', () => {
    fc.assert(
      fc.property(
        fc.domain(),
        fc.array(fc.boolean(), { minLength: 253, maxLength: 253 }),
        (domain, upper) => {
          fc.pre(!/\.[0-9]+$/.test(domain));
          const shouted = [...domain]
            .map((char, index) => (upper[index] ? char.toUpperCase() : char))
            .join('');

          expect(normalizeIdentifier(`${shouted}.`)).toBe(normalizeIdentifier(domain));
        },
      ),
    );
  });

  it('either returns a canonical name or throws InvalidInputError, for any input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.domain()), (value) => {
        let normalized: string;
        try {
          normalized = normalizeIdentifier(value);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidInputError);
          return;
        }
        expect(normalized).toMatch(CANONICAL);
        expect(normalized.length).toBeLessThanOrEqual(253);
      }),
      { numRuns: 500 },
    );
  });
});

describe('normalizeIdentifiers', () => {
  it('normalizes every name and drops duplicates, keeping the first order', () => {
    expect(normalizeIdentifiers(['B.example.org', '*.example.org', 'b.example.org.', 'example.org'])).toEqual(
      ['b.example.org', '*.example.org', 'example.org'],
    );
  });

  it('refuses an empty list', () => {
    expect(() => normalizeIdentifiers([])).toThrow(InvalidInputError);
  });

  it('refuses the whole list when one name is invalid', () => {
    expect(() => normalizeIdentifiers(['example.org', 'bad_name.org'])).toThrow(/bad_name\.org/);
  });
});

describe('baseName', () => {
  it('drops the wildcard label and keeps other names as they are', () => {
    expect(baseName('*.Example.org.')).toBe('example.org');
    expect(baseName('www.example.org')).toBe('www.example.org');
  });
});
