import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { AcmeClient } from '../../../lambdas/core/acme/client.js';
import type { AcmeDirectory } from '../../../lambdas/core/acme/types.js';
import { AcmeAwsError, AcmeProblemError } from '../../../lambdas/core/errors.js';
import type { Signer } from '../../../lambdas/core/ports.js';
import { ScriptedTransport } from '../../support/scripted-transport.js';
import { createTestSigner } from '../../support/test-signer.js';

const DIRECTORY: AcmeDirectory = {
  newNonce: 'https://ca.test/nonce',
  newAccount: 'https://ca.test/account',
  newOrder: 'https://ca.test/order',
};
const ORDER_URL = 'https://ca.test/order/1';

/** The class each RFC 8555 error type must become; badNonce is left out because it is retried. */
const EXPECTED_NAMES: Record<string, string> = {
  rateLimited: 'RateLimitedError',
  accountDoesNotExist: 'AccountDoesNotExistError',
  unauthorized: 'UnauthorizedError',
  rejectedIdentifier: 'RejectedIdentifierError',
  malformed: 'MalformedError',
  orderNotReady: 'OrderNotReadyError',
  externalAccountRequired: 'ExternalAccountRequiredError',
  serverInternal: 'AcmeServerError',
  caa: 'AcmeProblemError',
  dns: 'AcmeProblemError',
};

async function failureOf(signer: Signer, status: number, body: string): Promise<unknown> {
  const transport = new ScriptedTransport().expect('POST', ORDER_URL, {
    status,
    headers: { 'content-type': 'application/problem+json' },
    body,
  });
  const client = new AcmeClient({
    directoryUrl: 'https://ca.test/directory',
    transport,
    signer,
    directory: DIRECTORY,
    accountUrl: 'https://ca.test/account/1',
    nonce: 'nonce-0',
  });
  try {
    await client.getOrder(ORDER_URL);
  } catch (error) {
    return error;
  }
  throw new Error('the request did not fail');
}

describe('problem documents (property-based)', () => {
  let signer: Signer;
  beforeAll(async () => {
    signer = await createTestSigner();
  });

  it('turns every well-formed problem into the typed error for its type, keeping detail and subproblems', async () => {
    const identifier = fc.record({ type: fc.constant('dns'), value: fc.domain() });
    const subproblem = fc.record({
      type: fc
        .constantFrom(...Object.keys(EXPECTED_NAMES))
        .map((type) => `urn:ietf:params:acme:error:${type}`),
      detail: fc.string({ maxLength: 40 }),
      identifier,
    });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...Object.keys(EXPECTED_NAMES)),
        fc.string({ maxLength: 80 }),
        fc.integer({ min: 400, max: 499 }),
        fc.array(subproblem, { maxLength: 4 }),
        async (shortType, detail, status, subproblems) => {
          const error = await failureOf(
            signer,
            status,
            JSON.stringify({ type: `urn:ietf:params:acme:error:${shortType}`, detail, status, subproblems }),
          );
          expect(error).toBeInstanceOf(AcmeProblemError);
          const problem = error as AcmeProblemError;
          expect(problem.name).toBe(EXPECTED_NAMES[shortType]);
          expect(problem.detail).toBe(detail);
          expect(problem.status).toBe(status);
          expect(problem.subproblems).toHaveLength(subproblems.length);
          for (const sub of subproblems) expect(problem.message).toContain(sub.identifier.value);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('never crashes on a malformed or hostile problem body: the result is always one of our typed errors', async () => {
    const body = fc.oneof(
      fc.string(),
      fc.json(),
      fc.jsonValue().map((value) => JSON.stringify(value)),
      fc
        .record(
          {
            type: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
            detail: fc.oneof(fc.string(), fc.object()),
            status: fc.oneof(fc.integer(), fc.string()),
            subproblems: fc.oneof(fc.array(fc.jsonValue()), fc.string(), fc.object()),
          },
          { requiredKeys: [] },
        )
        .map((value) => JSON.stringify(value)),
    );
    await fc.assert(
      fc.asyncProperty(body, fc.integer({ min: 400, max: 599 }), async (text, status) => {
        const error = await failureOf(signer, status, text);
        expect(error).toBeInstanceOf(AcmeAwsError);
        expect((error as Error).name).not.toBe('BadNonceError');
      }),
      { numRuns: 300 },
    );
  });
});
