import { describe, expect, it } from 'vitest';
import { AcmeClient } from '../../../lambdas/core/acme/client.js';
import type { AcmeOrder } from '../../../lambdas/core/acme/types.js';
import { OrderInvalidError } from '../../../lambdas/core/errors.js';
import { orderInvalidError } from '../../../lambdas/core/workflow/order-problems.js';
import {
  ACCOUNT_URL,
  CA,
  DIRECTORY,
  DIRECTORY_URL,
  JSON_HEADERS,
  ORDER_URL,
} from '../../support/acme-fixtures.js';
import { ScriptedTransport } from '../../support/scripted-transport.js';
import { createTestSigner } from '../../support/test-signer.js';

async function clientFor(transport: ScriptedTransport): Promise<AcmeClient> {
  return new AcmeClient({
    directoryUrl: DIRECTORY_URL,
    transport,
    signer: await createTestSigner(),
    directory: DIRECTORY,
    accountUrl: ACCOUNT_URL,
    nonce: 'n0',
  });
}

function invalidOrder(error?: AcmeOrder['error']): AcmeOrder {
  return {
    status: 'invalid',
    identifiers: [
      { type: 'dns', value: 'example.org' },
      { type: 'dns', value: '*.example.org' },
    ],
    authorizations: [`${CA}/authz/1`, `${CA}/authz/2`],
    finalize: `${ORDER_URL}/finalize`,
    ...(error ? { error } : {}),
  };
}

describe('orderInvalidError', () => {
  it('names each identifier with its subproblem when the order carries subproblems, without asking the CA', async () => {
    const transport = new ScriptedTransport();
    const order = invalidOrder({
      type: 'urn:ietf:params:acme:error:compound',
      detail: 'Some identifiers failed',
      subproblems: [
        {
          type: 'urn:ietf:params:acme:error:dns',
          detail: 'no TXT record found at _acme-challenge.example.org',
          identifier: { type: 'dns', value: 'example.org' },
        },
        {
          type: 'urn:ietf:params:acme:error:caa',
          detail: 'CAA record forbids issuance',
          identifier: { type: 'dns', value: '*.example.org' },
        },
      ],
    });

    const error = await orderInvalidError(await clientFor(transport), ORDER_URL, order);

    expect(error).toBeInstanceOf(OrderInvalidError);
    expect(error.type).toBe('urn:ietf:params:acme:error:compound');
    expect(error.subproblems.map((sub) => [sub.identifier?.value, sub.type, sub.detail])).toEqual([
      ['example.org', 'urn:ietf:params:acme:error:dns', 'no TXT record found at _acme-challenge.example.org'],
      ['*.example.org', 'urn:ietf:params:acme:error:caa', 'CAA record forbids issuance'],
    ]);
    expect(error.message).toContain('example.org: urn:ietf:params:acme:error:dns: no TXT record found');
    expect(error.message).toContain(
      '*.example.org: urn:ietf:params:acme:error:caa: CAA record forbids issuance',
    );
    expect(transport.requests).toHaveLength(0);
  });

  it('reads the authorizations when the order has no subproblems, naming each invalid one with its challenge error', async () => {
    const transport = new ScriptedTransport()
      .expect('POST', `${CA}/authz/1`, {
        headers: JSON_HEADERS,
        body: {
          identifier: { type: 'dns', value: 'example.org' },
          status: 'valid',
          challenges: [{ type: 'dns-01', url: `${CA}/chall/1`, status: 'valid', token: 't1' }],
        },
      })
      .expect('POST', `${CA}/authz/2`, {
        headers: JSON_HEADERS,
        body: {
          identifier: { type: 'dns', value: 'example.org' },
          wildcard: true,
          status: 'invalid',
          challenges: [
            {
              type: 'dns-01',
              url: `${CA}/chall/2`,
              status: 'invalid',
              token: 't2',
              error: { type: 'urn:ietf:params:acme:error:unauthorized', detail: 'incorrect TXT record "x"' },
            },
          ],
        },
      });

    const error = await orderInvalidError(await clientFor(transport), ORDER_URL, invalidOrder());

    expect(error.subproblems).toEqual([
      {
        type: 'urn:ietf:params:acme:error:unauthorized',
        detail: 'incorrect TXT record "x"',
        identifier: { type: 'dns', value: '*.example.org' },
      },
    ]);
    expect(error.message).toContain(`Order ${ORDER_URL} is invalid`);
    expect(error.message).toContain(
      '*.example.org: urn:ietf:params:acme:error:unauthorized: incorrect TXT record',
    );
    expect(transport.pending).toBe(0);
  });
});
