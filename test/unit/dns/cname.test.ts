import { describe, expect, it } from 'vitest';
import { followCnames, MAX_CNAME_HOPS } from '../../../lambdas/core/dns/cname.js';
import { InvalidInputError } from '../../../lambdas/core/errors.js';
import { FakeDnsResolver } from '../../fakes/dns-resolver-fake.js';

describe('followCnames', () => {
  it('ends at the name itself when it has no CNAME', async () => {
    const resolver = new FakeDnsResolver();

    const chain = await followCnames('_acme-challenge.example.org', resolver);

    expect(chain).toEqual({ target: '_acme-challenge.example.org', names: ['_acme-challenge.example.org'] });
  });

  it('follows a delegated challenge name into a validation zone', async () => {
    const resolver = new FakeDnsResolver().setCname(
      '_acme-challenge.app.example.com',
      'app.validation.example.net',
    );

    const chain = await followCnames('_acme-challenge.app.example.com', resolver);

    expect(chain.target).toBe('app.validation.example.net');
    expect(chain.names).toEqual(['_acme-challenge.app.example.com', 'app.validation.example.net']);
  });

  it('follows a chain to its end and reads targets in any case, with or without the trailing dot', async () => {
    const resolver = new FakeDnsResolver()
      .setCname('_acme-challenge.a.example.com', 'Hop.Example.NET.')
      .setCname('hop.example.net', 'final.validation.example.net.');

    const chain = await followCnames('_acme-challenge.A.example.com.', resolver);

    expect(chain.names).toEqual([
      '_acme-challenge.a.example.com',
      'hop.example.net',
      'final.validation.example.net',
    ]);
  });

  it('refuses a loop, naming every name in it', async () => {
    const resolver = new FakeDnsResolver()
      .setCname('_acme-challenge.a.example.com', 'b.example.net')
      .setCname('b.example.net', '_acme-challenge.a.example.com');

    const error = await followCnames('_acme-challenge.a.example.com', resolver).catch((caught) => caught);

    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.message).toContain(
      '_acme-challenge.a.example.com → b.example.net → _acme-challenge.a.example.com',
    );
  });

  it(`refuses a chain longer than ${MAX_CNAME_HOPS} CNAMEs`, async () => {
    const resolver = new FakeDnsResolver().setCname('_acme-challenge.a.example.com', 'hop1.example.net');
    for (let hop = 1; hop <= MAX_CNAME_HOPS; hop += 1) {
      resolver.setCname(`hop${hop}.example.net`, `hop${hop + 1}.example.net`);
    }

    await expect(followCnames('_acme-challenge.a.example.com', resolver)).rejects.toThrow(/longer than 10/);
  });

  it(`accepts exactly ${MAX_CNAME_HOPS} CNAMEs`, async () => {
    const resolver = new FakeDnsResolver().setCname('_acme-challenge.a.example.com', 'hop1.example.net');
    for (let hop = 1; hop < MAX_CNAME_HOPS; hop += 1) {
      resolver.setCname(`hop${hop}.example.net`, `hop${hop + 1}.example.net`);
    }

    const chain = await followCnames('_acme-challenge.a.example.com', resolver);

    expect(chain.target).toBe(`hop${MAX_CNAME_HOPS}.example.net`);
  });

  it('ends the chain where a lookup fails and reports the failure', async () => {
    const resolver = new FakeDnsResolver()
      .setCname('_acme-challenge.a.example.com', 'b.example.net')
      .fail('CNAME b.example.net', 'ETIMEOUT');

    const chain = await followCnames('_acme-challenge.a.example.com', resolver);

    expect(chain.target).toBe('b.example.net');
    expect(chain.lookupFailure).toMatch(/ETIMEOUT/);
  });
});
