import { describe, expect, it } from 'vitest';
import { challengeRecordName } from '../../../lambdas/core/dns/record-name.js';
import { InvalidInputError } from '../../../lambdas/core/errors.js';

describe('challengeRecordName', () => {
  it('prefixes the name with _acme-challenge', () => {
    expect(challengeRecordName('www.example.org')).toBe('_acme-challenge.www.example.org');
  });

  it('gives a wildcard and its apex the same record name', () => {
    expect(challengeRecordName('*.example.org')).toBe(challengeRecordName('example.org'));
    expect(challengeRecordName('*.example.org')).toBe('_acme-challenge.example.org');
  });

  it('normalizes the spelling first', () => {
    expect(challengeRecordName('*.Bücher.Example.')).toBe('_acme-challenge.xn--bcher-kva.example');
  });

  it('refuses a name too long to carry the prefix within 253 characters', () => {
    const label = 'a'.repeat(63);
    const longest = `${label}.${label}.${label}.${'b'.repeat(61)}`;

    expect(() => challengeRecordName(longest)).toThrow(InvalidInputError);
    expect(() => challengeRecordName(longest)).toThrow(/269 characters/);
  });

  it('refuses invalid identifiers', () => {
    expect(() => challengeRecordName('192.0.2.1')).toThrow(InvalidInputError);
  });
});
