import { describe, expect, it } from 'vitest';
import { DeploymentError } from '../harness/cloud/cloud.js';
import { MAX_PAYLOAD_BYTES } from '../harness/cloud/step-functions.js';
import { usePebbleWorkflow } from '../harness/e2e-fixture.js';

/**
 * AWS's quotas hold locally as on AWS: a state payload over 256 KiB ends the execution with
 * States.DataLimitExceeded (which no Catch catches, so nothing after it runs), and a function
 * whose environment variables exceed 4 KB does not deploy.
 */
describe('AWS quotas the local cloud applies', () => {
  const e2e = usePebbleWorkflow();

  it('ends the execution with States.DataLimitExceeded when a step returns more than 256 KiB, and no Catch runs', async () => {
    const domains = ['big.example.org'];
    await e2e.install(domains);

    const run = await e2e.run(
      { certificateId: 'big', domains },
      {
        wrapTask: (stateName, perform) =>
          stateName === 'CreateOrder'
            ? async (input) => ({
                ...((await perform(input)) as Record<string, unknown>),
                padding: 'x'.repeat(MAX_PAYLOAD_BYTES),
              })
            : perform,
      },
    );

    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error?.name).toBe('States.DataLimitExceeded');
    expect(run.execution.error?.cause).toContain(
      "The state/task 'CreateOrder' returned a result with a size exceeding",
    );
    expect(run.execution.steps.map((step) => step.name)).not.toContain('Cleanup');
  });

  it('refuses an execution input over 256 KiB', async () => {
    const domains = ['input.example.org'];
    await e2e.install(domains);

    await expect(
      e2e.run({ certificateId: 'input', domains, note: 'x'.repeat(MAX_PAYLOAD_BYTES) }),
    ).rejects.toMatchObject({ name: 'States.DataLimitExceeded' });
  });

  it('fails a deployment whose function environment exceeds 4 KB, with Lambda’s message', async () => {
    await e2e.install(['env.example.org']);

    expect(() => e2e.cloud.configureFunctions({ EXTRA_SETTING: 'x'.repeat(4096) }, 'cleanup')).toThrow(
      DeploymentError,
    );
    expect(() => e2e.cloud.configureFunctions({ EXTRA_SETTING: 'x'.repeat(4096) }, 'cleanup')).toThrow(
      /exceeded the 4KB limit/,
    );
  });

  it('deploys 60 certificates whose keys stay in KMS with every function environment under 4 KB', async () => {
    const certificates = Array.from({ length: 60 }, (_, index) => ({
      id: `signer-${index}`,
      domains: [`signer-${index}.kms.example.org`],
      kmsKey: true,
    }));

    await e2e.install(['kms.example.org'], { props: { acme: { certificates } } });

    const sizes = e2e.cloud.lambda.functions.map((fn) =>
      Buffer.byteLength(
        Object.entries(fn.environment)
          .map(([key, value]) => key + value)
          .join(''),
      ),
    );
    expect(Math.max(...sizes)).toBeLessThanOrEqual(4096);
    expect(await e2e.registryItems()).toHaveLength(60);
  });
});
