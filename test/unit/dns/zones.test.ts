import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chooseZone } from '../../../lambdas/core/dns/zones.js';
import { InvalidInputError } from '../../../lambdas/core/errors.js';
import type { HostedZone } from '../../../lambdas/core/ports.js';

const zone = (id: string, name: string, privateZone = false): HostedZone => ({ id, name, privateZone });

const ORG = zone('ZORG', 'example.org');
const DEV = zone('ZDEV', 'dev.example.org');
const PRIVATE_DEV = zone('ZPRIV', 'api.dev.example.org', true);
const NOT_EXAMPLE = zone('ZNOT', 'notexample.org');
const ZONES = [ORG, DEV, PRIVATE_DEV, NOT_EXAMPLE];

describe('chooseZone', () => {
  it('chooses the longest public zone containing the name', () => {
    expect(chooseZone('www.dev.example.org', ZONES)).toBe(DEV);
    expect(chooseZone('www.example.org', ZONES)).toBe(ORG);
  });

  it('matches a zone named exactly like the name', () => {
    expect(chooseZone('dev.example.org', ZONES)).toBe(DEV);
  });

  it('uses the base name of a wildcard', () => {
    expect(chooseZone('*.dev.example.org', ZONES)).toBe(DEV);
    expect(chooseZone('*.example.org', ZONES)).toBe(ORG);
  });

  it('matches whole labels only, so example.org never serves notexample.org', () => {
    expect(chooseZone('www.notexample.org', [ORG, NOT_EXAMPLE])).toBe(NOT_EXAMPLE);
    expect(() => chooseZone('www.notexample.org', [ORG])).toThrow(InvalidInputError);
  });

  it('never chooses a private zone implicitly, even a longer one', () => {
    expect(chooseZone('x.api.dev.example.org', ZONES)).toBe(DEV);
  });

  it('accepts zone names with a trailing dot or upper case', () => {
    const dotted = zone('ZDOT', 'Example.ORG.');

    expect(chooseZone('www.example.org', [dotted])).toBe(dotted);
  });

  it('lists the public zones it considered when none matches', () => {
    const error = (() => {
      try {
        chooseZone('www.example.com', ZONES);
      } catch (caught) {
        return caught as Error;
      }
      throw new Error('no error');
    })();

    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.message).toContain('"www.example.com"');
    expect(error.message).toContain('example.org (ZORG)');
    expect(error.message).toContain('notexample.org (ZNOT)');
    expect(error.message).toContain('hostedZoneIds');
  });

  it('refuses to guess between two public zones with the same name', () => {
    expect(() => chooseZone('www.example.org', [ORG, zone('ZORG2', 'example.org')])).toThrow(/ambiguous/);
  });

  describe('with overrides', () => {
    it('lets an override by the exact identifier beat the longest match', () => {
      expect(chooseZone('*.dev.example.org', ZONES, { '*.dev.example.org': 'ZORG' })).toBe(ORG);
    });

    it('applies an override keyed by the base name to the wildcard', () => {
      expect(chooseZone('*.dev.example.org', ZONES, { 'dev.example.org': 'ZORG' })).toBe(ORG);
    });

    it('applies an override keyed by a parent name', () => {
      expect(chooseZone('a.b.dev.example.org', ZONES, { 'example.org': 'ZORG' })).toBe(ORG);
    });

    it('lets the most specific key win', () => {
      const overrides = { 'example.org': 'ZNOT', 'dev.example.org': 'ZORG', 'other.example.org': 'ZDEV' };

      expect(chooseZone('x.dev.example.org', ZONES, overrides)).toBe(ORG);
      expect(chooseZone('x.example.org', ZONES, overrides)).toBe(NOT_EXAMPLE);
    });

    it('does not apply a wildcard key to the apex', () => {
      expect(chooseZone('dev.example.org', ZONES, { '*.dev.example.org': 'ZORG' })).toBe(DEV);
    });

    it('accepts keys and ids in any spelling Route 53 uses', () => {
      expect(chooseZone('www.example.org', ZONES, { 'Example.ORG.': '/hostedzone/ZDEV' })).toBe(DEV);
    });

    it('may send a name to a zone of another domain, for a delegated challenge', () => {
      expect(chooseZone('www.example.org', ZONES, { 'www.example.org': 'ZNOT' })).toBe(NOT_EXAMPLE);
    });

    it('refuses an override id that is not among the zones', () => {
      expect(() => chooseZone('www.example.org', ZONES, { 'example.org': 'ZMISSING' })).toThrow(
        /ZMISSING, which is not among the hosted zones/,
      );
    });

    it('refuses an override pointing at a private zone', () => {
      expect(() => chooseZone('www.example.org', ZONES, { 'example.org': 'ZPRIV' })).toThrow(/private zone/);
    });

    it('refuses an override key that is not a DNS name', () => {
      expect(() => chooseZone('www.example.org', ZONES, { 'bad key': 'ZORG' })).toThrow(/"bad key"/);
    });

    it('refuses two spellings of one key mapped to different zones', () => {
      expect(() =>
        chooseZone('www.example.org', ZONES, { 'example.org': 'ZORG', 'EXAMPLE.org.': 'ZDEV' }),
      ).toThrow(/both/);
    });
  });

  describe('properties', () => {
    const label = fc.constantFrom('a', 'b', 'c', 'ab', 'ba');
    const name = fc.array(label, { minLength: 1, maxLength: 4 }).map((labels) => labels.join('.'));
    const zones = fc.uniqueArray(fc.record({ name, privateZone: fc.boolean() }), {
      selector: (candidate) => candidate.name,
      maxLength: 8,
    });

    it('chooses the longest public zone that is a whole-label suffix of the base name, or refuses', () => {
      fc.assert(
        fc.property(name, fc.boolean(), zones, (base, wildcard, specs) => {
          const hosted = specs.map((spec, index) => zone(`Z${index}`, spec.name, spec.privateZone));
          const candidates = hosted.filter(
            (candidate) =>
              !candidate.privateZone && (base === candidate.name || base.endsWith(`.${candidate.name}`)),
          );

          let chosen: HostedZone | undefined;
          try {
            chosen = chooseZone(wildcard ? `*.${base}` : base, hosted);
          } catch (error) {
            expect(error).toBeInstanceOf(InvalidInputError);
          }

          if (candidates.length === 0) {
            expect(chosen).toBeUndefined();
            return;
          }
          const longest = Math.max(...candidates.map((candidate) => candidate.name.length));
          expect(chosen?.name.length).toBe(longest);
          expect(candidates).toContain(chosen);
        }),
      );
    });

    it('always honours an override for the base name, whatever zones exist', () => {
      fc.assert(
        fc.property(name, zones, fc.nat(), (base, specs, pick) => {
          const hosted = [...specs.map((spec, index) => zone(`Z${index}`, spec.name, spec.privateZone)), ORG];
          const publicZones = hosted.filter((candidate) => !candidate.privateZone);
          const target = publicZones[pick % publicZones.length] ?? ORG;

          expect(chooseZone(`*.${base}`, hosted, { [base]: target.id })).toBe(target);
        }),
      );
    });
  });
});
