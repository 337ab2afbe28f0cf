import { describe, expect, it } from 'vitest';
import {
  assertOrderMatchesRequest,
  authorizationIdentifier,
} from '../../../lambdas/core/acme/order-identifiers.js';
import type { AcmeIdentifier } from '../../../lambdas/core/acme/types.js';
import { OrderMismatchError } from '../../../lambdas/core/errors.js';

const ORDER_URL = 'https://ca.example/order/1';
const dns = (value: string): AcmeIdentifier => ({ type: 'dns', value });
const ORDER = {
  identifiers: [dns('example.org'), dns('*.example.org')],
  authorizations: ['https://ca.example/authz/1', 'https://ca.example/authz/2'],
};
const requested = ['example.org', '*.example.org'];

describe('assertOrderMatchesRequest', () => {
  it('accepts an order for exactly the requested names, in any order and case, one authorization each', () => {
    expect(() =>
      assertOrderMatchesRequest(
        { ...ORDER, identifiers: [dns('*.EXAMPLE.org'), dns('Example.org')] },
        requested,
        ORDER_URL,
      ),
    ).not.toThrow();
  });

  it('refuses an order with a name nobody asked for, and one that lacks a requested name', () => {
    const check = () =>
      assertOrderMatchesRequest(
        { ...ORDER, identifiers: [dns('example.org'), dns('victim.example.net')] },
        requested,
        ORDER_URL,
      );

    expect(check).toThrow(OrderMismatchError);
    expect(check).toThrow(/missing the requested names \*\.example\.org/);
    expect(check).toThrow(/names that were not requested: "victim\.example\.net"/);
    expect(check).toThrow(/Nothing was written to DNS/);
  });

  it('refuses an identifier that is not a DNS name', () => {
    expect(() =>
      assertOrderMatchesRequest(
        {
          identifiers: [dns('example.org'), { type: 'ip', value: '192.0.2.1' } as never],
          authorizations: ORDER.authorizations,
        },
        ['example.org'],
        ORDER_URL,
      ),
    ).toThrow(/identifiers of a type other than dns: "ip" "192\.0\.2\.1"/);
  });

  it.each([
    [
      'more authorizations than identifiers',
      [...ORDER.authorizations, 'https://ca.example/authz/3'],
      /3 authorizations for 2 identifiers/,
    ],
    [
      'fewer authorizations than identifiers',
      ['https://ca.example/authz/1'],
      /1 authorizations for 2 identifiers/,
    ],
    [
      'the same authorization twice',
      ['https://ca.example/authz/1', 'https://ca.example/authz/1'],
      /listed twice/,
    ],
  ])('refuses %s', (_label, authorizations, message) => {
    expect(() => assertOrderMatchesRequest({ ...ORDER, authorizations }, requested, ORDER_URL)).toThrow(
      message,
    );
  });

  it('names at most ten of thousands of unexpected names', () => {
    const identifiers = [
      ...ORDER.identifiers,
      ...Array.from({ length: 5000 }, (_, i) => dns(`n${i}.example.net`)),
    ];

    const error = (() => {
      try {
        assertOrderMatchesRequest({ ...ORDER, identifiers }, requested, ORDER_URL);
      } catch (caught) {
        return caught as Error;
      }
      throw new Error('no error');
    })();

    expect(error.message).toContain('and 4990 more');
    expect(error.message.length).toBeLessThan(1000);
  });
});

describe('authorizationIdentifier', () => {
  it('returns the name of an authorization of the order, with *. for a wildcard', () => {
    const seen = new Set<string>();

    const apex = authorizationIdentifier({ identifier: dns('example.org') }, ORDER, seen, 'a1');
    const wildcard = authorizationIdentifier(
      { identifier: dns('Example.org'), wildcard: true },
      ORDER,
      new Set([apex]),
      'a2',
    );

    expect([apex, wildcard]).toEqual(['example.org', '*.example.org']);
  });

  it('refuses an authorization for a name that is not in the order, naming it', () => {
    const check = () =>
      authorizationIdentifier(
        { identifier: dns('victim.example.net') },
        ORDER,
        new Set(),
        'https://ca.example/authz/1',
      );

    expect(check).toThrow(OrderMismatchError);
    expect(check).toThrow(
      /The authorization https:\/\/ca\.example\/authz\/1 is for "victim\.example\.net", which is not an identifier of the order \(example\.org, \*\.example\.org\)/,
    );
  });

  it('refuses the apex authorization standing in for the wildcard (wildcard flag missing)', () => {
    expect(() =>
      authorizationIdentifier({ identifier: dns('example.org') }, ORDER, new Set(['example.org']), 'a2'),
    ).toThrow(/is a second authorization for example\.org/);
  });

  it('refuses an authorization for an identifier that is not a DNS name', () => {
    expect(() =>
      authorizationIdentifier(
        { identifier: { type: 'ip', value: 'example.org' } as never },
        ORDER,
        new Set(),
        'a1',
      ),
    ).toThrow(/is for a "ip" identifier, not a DNS name/);
  });
});
