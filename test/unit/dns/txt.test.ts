import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { quoteTxtValue, unquoteTxtValue } from '../../../lambdas/core/dns/txt.js';
import { InvalidInputError } from '../../../lambdas/core/errors.js';

describe('quoteTxtValue', () => {
  it('encloses a challenge value in double quotes', () => {
    expect(quoteTxtValue('LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0')).toBe(
      '"LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"',
    );
  });

  it('escapes double quotes and backslashes', () => {
    expect(quoteTxtValue('say "hi" \\o/')).toBe('"say \\"hi\\" \\\\o/"');
  });

  it('writes bytes outside printable ASCII as three-digit decimal escapes', () => {
    expect(quoteTxtValue('é\n')).toBe('"\\195\\169\\010"');
  });

  it('quotes the empty value as one empty string', () => {
    expect(quoteTxtValue('')).toBe('""');
  });

  it('splits values over 255 bytes into several quoted strings', () => {
    const quoted = quoteTxtValue('x'.repeat(300));

    expect(quoted).toBe(`"${'x'.repeat(255)}" "${'x'.repeat(45)}"`);
  });
});

describe('unquoteTxtValue', () => {
  it('strips the quotes and resolves escapes', () => {
    expect(unquoteTxtValue('"a\\"b\\\\c\\100"')).toBe('a"b\\cd');
  });

  it('joins multi-string values', () => {
    expect(unquoteTxtValue('"abc" "def"')).toBe('abcdef');
  });

  it('accepts unquoted tokens as presentation format allows', () => {
    expect(unquoteTxtValue('v=spf1')).toBe('v=spf1');
  });

  it('refuses an unterminated quoted string', () => {
    expect(() => unquoteTxtValue('"abc')).toThrow(InvalidInputError);
  });

  it('refuses a lone trailing backslash', () => {
    expect(() => unquoteTxtValue('"abc\\')).toThrow(InvalidInputError);
  });

  it('reads back exactly what quoteTxtValue wrote, for any well-formed string', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: 'grapheme', maxLength: 400 }), fc.string({ maxLength: 600 })),
        (value) => {
          fc.pre(Buffer.from(value, 'utf8').toString('utf8') === value);

          expect(unquoteTxtValue(quoteTxtValue(value))).toBe(value);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('never emits a quoted string over 255 bytes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 600 }), (value) => {
        for (const part of quoteTxtValue(value).match(/"(?:[^"\\]|\\.)*"/g) ?? []) {
          expect(Buffer.byteLength(unquoteTxtValue(part))).toBeLessThanOrEqual(255);
        }
      }),
    );
  });
});
