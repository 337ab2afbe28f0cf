import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planTxtChanges } from '../../../lambdas/core/dns/plan.js';
import { InvalidInputError } from '../../../lambdas/core/errors.js';

describe('planTxtChanges', () => {
  it('puts an apex and its wildcard into one record set with both values', () => {
    const plan = planTxtChanges([
      { zoneId: 'Z1', recordName: '_acme-challenge.example.org', value: 'wildcard-value' },
      { zoneId: 'Z1', recordName: '_acme-challenge.example.org', value: 'apex-value' },
    ]);

    expect(plan).toEqual([
      {
        zoneId: 'Z1',
        records: [{ name: '_acme-challenge.example.org', values: ['apex-value', 'wildcard-value'] }],
      },
    ]);
  });

  it('makes one batch per zone with one record per name', () => {
    const plan = planTxtChanges([
      { zoneId: 'Z2', recordName: '_acme-challenge.other.net', value: 'c' },
      { zoneId: 'Z1', recordName: '_acme-challenge.b.example.org', value: 'b' },
      { zoneId: 'Z1', recordName: '_acme-challenge.a.example.org', value: 'a' },
    ]);

    expect(plan).toEqual([
      {
        zoneId: 'Z1',
        records: [
          { name: '_acme-challenge.a.example.org', values: ['a'] },
          { name: '_acme-challenge.b.example.org', values: ['b'] },
        ],
      },
      { zoneId: 'Z2', records: [{ name: '_acme-challenge.other.net', values: ['c'] }] },
    ]);
  });

  it('treats names differing only in case or trailing dot as one record and drops repeated values', () => {
    const plan = planTxtChanges([
      { zoneId: 'Z1', recordName: '_ACME-challenge.Example.org.', value: 'v' },
      { zoneId: 'Z1', recordName: '_acme-challenge.example.org', value: 'v' },
    ]);

    expect(plan).toEqual([
      { zoneId: 'Z1', records: [{ name: '_acme-challenge.example.org', values: ['v'] }] },
    ]);
  });

  it('plans nothing for no challenges', () => {
    expect(planTxtChanges([])).toEqual([]);
  });

  it('refuses one record name planned in two zones', () => {
    expect(() =>
      planTxtChanges([
        { zoneId: 'Z1', recordName: '_acme-challenge.example.org', value: 'a' },
        { zoneId: 'Z2', recordName: '_acme-challenge.example.org', value: 'b' },
      ]),
    ).toThrow(InvalidInputError);
  });

  it('gives the same plan for any order of the same challenges, keeping every value once', () => {
    const challenge = fc.record({
      zoneId: fc.constantFrom('Z1', 'Z2', 'Z3'),
      recordName: fc.constantFrom('a', 'b', 'c', 'd'),
      value: fc.constantFrom('v1', 'v2', 'v3'),
    });
    // Each name lives in one zone, as chooseZone guarantees.
    const consistent = fc
      .array(challenge, { maxLength: 20 })
      .map((list) => list.map((item) => ({ ...item, zoneId: `Z-${item.recordName}` })));

    fc.assert(
      fc.property(consistent, fc.func(fc.integer()), (challenges, order) => {
        const shuffled = [...challenges].sort((a, b) => order(a) - order(b));

        const plan = planTxtChanges(challenges);

        expect(planTxtChanges(shuffled)).toEqual(plan);
        const planned = plan.flatMap((zone) =>
          zone.records.flatMap((record) =>
            record.values.map((value) => `${zone.zoneId} ${record.name} ${value}`),
          ),
        );
        expect(new Set(planned).size).toBe(planned.length);
        expect(new Set(planned)).toEqual(
          new Set(challenges.map((c) => `${c.zoneId} ${c.recordName} ${c.value}`)),
        );
      }),
    );
  });
});
