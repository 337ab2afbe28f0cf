import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  mediaType,
  parseHttpDate,
  parseLinkHeader,
  parseReplayNonce,
  parseRetryAfter,
} from '../../../lambdas/core/acme/headers.js';

const NOW = new Date('2024-05-01T12:00:00.000Z');

describe('parseRetryAfter', () => {
  it('reads delta-seconds, ignoring surrounding whitespace', () => {
    expect(parseRetryAfter(' 120 ', NOW)).toBe(120);
    expect(parseRetryAfter('0', NOW)).toBe(0);
  });

  it('counts the seconds from now until an IMF-fixdate', () => {
    expect(parseRetryAfter('Wed, 01 May 2024 12:01:30 GMT', NOW)).toBe(90);
  });

  it('rounds a fractional wait up so the caller never retries early', () => {
    const now = new Date('2024-05-01T12:00:00.250Z');

    expect(parseRetryAfter('Wed, 01 May 2024 12:00:10 GMT', now)).toBe(10);
  });

  it('gives 0 for a date in the past', () => {
    expect(parseRetryAfter('Wed, 01 May 2024 11:00:00 GMT', NOW)).toBe(0);
  });

  it('accepts the obsolete RFC 850 and asctime forms, both in GMT', () => {
    expect(parseRetryAfter('Wednesday, 01-May-24 12:00:05 GMT', NOW)).toBe(5);
    expect(parseRetryAfter('Wed May  1 12:00:07 2024', NOW)).toBe(7);
  });

  it('places a two-digit RFC 850 year more than 50 years ahead in the previous century', () => {
    const parsed = parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', NOW);

    expect(parsed).toBe(Date.UTC(1994, 10, 6, 8, 49, 37));
  });

  it.each([
    ['absent', undefined],
    ['empty', ''],
    ['negative', '-5'],
    ['fractional', '1.5'],
    ['a non-HTTP date format', '2024-05-01T12:01:00Z'],
    ['an impossible calendar date', 'Fri, 31 Feb 2024 12:00:00 GMT'],
    ['an out-of-range time', 'Wed, 01 May 2024 25:00:00 GMT'],
    ['a date without GMT', 'Wed, 01 May 2024 12:01:00 PST'],
  ])('ignores a value that is %s', (_label, value) => {
    expect(parseRetryAfter(value, NOW)).toBeUndefined();
  });

  it('returns any delta-seconds value unchanged', () => {
    fc.assert(
      fc.property(fc.nat(), fc.constantFrom('', ' ', '\t'), (seconds, padding) => {
        expect(parseRetryAfter(`${padding}${seconds}${padding}`, NOW)).toBe(seconds);
      }),
    );
  });

  it('returns the whole seconds until any IMF-fixdate, never negative', () => {
    const dates = fc.date({
      min: new Date('1970-01-01T00:00:00Z'),
      max: new Date('9999-12-31T23:59:59Z'),
      noInvalidDate: true,
    });
    fc.assert(
      fc.property(dates, dates, (at, now) => {
        const wholeSecond = Math.floor(at.getTime() / 1000) * 1000;
        const expected = Math.max(0, Math.ceil((wholeSecond - now.getTime()) / 1000));

        expect(parseRetryAfter(at.toUTCString(), now)).toBe(expected);
      }),
    );
  });

  it('yields either nothing or a non-negative integer for any input', () => {
    fc.assert(
      fc.property(fc.string(), (value) => {
        const seconds = parseRetryAfter(value, NOW);

        expect(seconds === undefined || (Number.isInteger(seconds) && seconds >= 0)).toBe(true);
      }),
    );
  });
});

describe('parseLinkHeader', () => {
  it('reads several links joined with commas, as the transport joins repeated headers', () => {
    const header =
      '<https://ca.example/dir>;rel="index", <https://ca.example/cert/1/1>;rel="alternate", <https://ca.example/cert/1/2>; rel=alternate';

    expect(parseLinkHeader(header)).toEqual([
      { url: 'https://ca.example/dir', rel: 'index' },
      { url: 'https://ca.example/cert/1/1', rel: 'alternate' },
      { url: 'https://ca.example/cert/1/2', rel: 'alternate' },
    ]);
  });

  it('keeps commas and semicolons inside quoted parameters out of the link structure', () => {
    const header = '<https://a.example/1>; title="x, y; <z>"; rel="up", <https://a.example/2>; rel=next';

    expect(parseLinkHeader(header)).toEqual([
      { url: 'https://a.example/1', rel: 'up' },
      { url: 'https://a.example/2', rel: 'next' },
    ]);
  });

  it('reports each of several relation types, lower-case, and honours only the first rel', () => {
    const header = '<https://a.example/x>; REL="Alternate UP"; rel="index"';

    expect(parseLinkHeader(header)).toEqual([
      { url: 'https://a.example/x', rel: 'alternate' },
      { url: 'https://a.example/x', rel: 'up' },
    ]);
  });

  it('leaves relative references for the caller to resolve', () => {
    expect(parseLinkHeader('</cert/2>;rel="alternate"')).toEqual([{ url: '/cert/2', rel: 'alternate' }]);
  });

  it('skips malformed links and links without rel without losing the rest', () => {
    const header =
      'garbage, <https://a.example/norel>; title="t", <https://a.example/bad> junk, <https://a.example/ok>;rel=up';

    expect(parseLinkHeader(header)).toEqual([{ url: 'https://a.example/ok', rel: 'up' }]);
  });

  it('returns nothing for an absent or empty header', () => {
    expect(parseLinkHeader(undefined)).toEqual([]);
    expect(parseLinkHeader('')).toEqual([]);
  });

  it('recovers every serialized link whatever the quoting, spacing and parameter order', () => {
    const token = fc.stringMatching(/^[A-Za-z][A-Za-z0-9.-]{0,8}$/);
    const param = fc.record({
      name: token.filter((name) => name.toLowerCase() !== 'rel'),
      value: fc.string(),
    });
    const link = fc.record({
      url: fc.webUrl({ withQueryParameters: true, withFragments: true }),
      rels: fc.array(token, { minLength: 1, maxLength: 3 }),
      quoteRel: fc.boolean(),
      params: fc.array(param, { maxLength: 3 }),
      relPosition: fc.nat(),
      space: fc.constantFrom('', ' ', '  ', '\t'),
    });
    fc.assert(
      fc.property(
        fc.array(link, { maxLength: 5 }),
        fc.constantFrom(',', ', ', ' ,\t'),
        (links, separator) => {
          const serialized = links
            .map((item) => {
              const relValue = item.rels.join(' ');
              const rel = `rel=${item.quoteRel || item.rels.length > 1 ? `"${relValue}"` : relValue}`;
              const others = item.params.map((p) => `${p.name}="${p.value.replace(/[\\"]/g, '\\$&')}"`);
              others.splice(item.relPosition % (others.length + 1), 0, rel);
              return `<${item.url}>${others.map((part) => `${item.space};${item.space}${part}`).join('')}`;
            })
            .join(separator);

          const expected = links.flatMap((item) =>
            item.rels.map((rel) => ({ url: item.url, rel: rel.toLowerCase() })),
          );
          expect(parseLinkHeader(serialized)).toEqual(expected);
        },
      ),
    );
  });

  it('never throws and only reports non-empty lower-case relation types', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (value) => {
        for (const link of parseLinkHeader(value)) {
          expect(link.rel).toMatch(/^\S+$/);
          expect(link.rel).toBe(link.rel.toLowerCase());
        }
      }),
    );
  });
});

describe('mediaType', () => {
  it('drops parameters and case so charset variants compare equal', () => {
    expect(mediaType('Application/JSON; charset=utf-8')).toBe('application/json');
    expect(mediaType(undefined)).toBeUndefined();
    expect(mediaType('  ')).toBeUndefined();
  });
});

describe('parseReplayNonce', () => {
  it('accepts base64url nonces and ignores anything else, as RFC 8555 §6.5.1 requires', () => {
    expect(parseReplayNonce(' abc-DEF_123 ')).toBe('abc-DEF_123');
    expect(parseReplayNonce('abc=')).toBeUndefined();
    expect(parseReplayNonce('a b')).toBeUndefined();
    expect(parseReplayNonce('')).toBeUndefined();
    expect(parseReplayNonce(undefined)).toBeUndefined();
  });
});
