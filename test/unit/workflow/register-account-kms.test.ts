import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../../lambdas/core/errors.js';
import type { CertificateRecord } from '../../../lambdas/core/ports.js';
import { registerAccount } from '../../../lambdas/core/workflow/register-account.js';
import { ScriptedTransport } from '../../support/scripted-transport.js';
import { createTestSigner } from '../../support/test-signer.js';
import { TEST_WORKFLOW_CONFIG } from '../../support/workflow-config.js';
import { SILENT_LOG } from '../../support/workflow-fixtures.js';
import { MemoryRegistry } from '../fakes/memory-registry.js';

const DECLARED_KEY = 'arn:aws:kms:us-east-1:123456789012:key/1111aaaa-11aa-11aa-11aa-111111111111';
const OTHER_KEY = 'arn:aws:kms:us-east-1:123456789012:key/2222bbbb-22bb-22bb-22bb-222222222222';

async function refusal(record: CertificateRecord | undefined, kmsKeyArn: string) {
  const transport = new ScriptedTransport();
  const registry = new MemoryRegistry(record ? [record] : []);
  const error = await registerAccount(
    { certificateId: 'signer', domains: ['sign.example.org'], kmsKeyArn, execution: { id: 'exec-1' } },
    {
      transport,
      signer: await createTestSigner(),
      registry,
      clock: { now: () => new Date('2030-03-01T12:00:00Z') },
      config: TEST_WORKFLOW_CONFIG,
      log: SILENT_LOG,
    },
  ).catch((caught: unknown) => caught);
  expect(transport.requests).toEqual([]);
  // Nothing may be written before the key is checked.
  expect(registry.updates).toEqual([]);
  expect(registry.records.get('signer')?.lock).toBeUndefined();
  expect(error).toBeInstanceOf(InvalidInputError);
  return (error as Error).message;
}

describe('RegisterAccount: the certificate’s KMS key', () => {
  it('refuses a key the stack declares for no certificate, before any request to the CA', async () => {
    expect(await refusal(undefined, OTHER_KEY)).toBe(
      `kmsKeyArn ${OTHER_KEY} cannot be used for certificate "signer": the stack declares no KMS key for it. Declare the certificate with kmsKey in the stack's certificates and deploy; the Finalize step may only sign with keys declared there.`,
    );
  });

  it('refuses a key other than the one declared for the certificate, naming the declared one', async () => {
    const record = {
      certificateId: 'signer',
      config: { domains: ['sign.example.org'], keyType: 'EC_P256', regions: [], kmsKeyArn: DECLARED_KEY },
    } as unknown as CertificateRecord;

    expect(await refusal(record, OTHER_KEY)).toContain(
      `is not the KMS key the stack declares for certificate "signer" (${DECLARED_KEY})`,
    );
  });
});
