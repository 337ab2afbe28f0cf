import { describe, expect, it } from 'vitest';
import { usePebbleWorkflow } from '../harness/e2e-fixture.js';

// Pebble 2.4's directory and newAccount, as the harness groups requests by endpoint.
const DIRECTORY_GET = 'GET /dir';
const NEW_ACCOUNT = 'POST /sign-me-up';

describe('the CA directory kept across executions', () => {
  const e2e = usePebbleWorkflow();

  it('fetches the directory on the first issuance of a deployment only, and keeps it in the registry', async () => {
    const domains = ['example.org', '*.example.org'];
    await e2e.install([...domains, 'api.example.org']);

    const first = await e2e.run({ certificateId: 'web', domains });
    const second = await e2e.run({ certificateId: 'web', domains });
    const other = await e2e.run({ certificateId: 'api', domains: ['api.example.org'] });

    for (const run of [first, second, other]) {
      expect(run.execution.error).toBeUndefined();
      expect(run.execution.status).toBe('SUCCEEDED');
    }
    expect(first.acmeRequestsByPath[DIRECTORY_GET]).toBe(1);
    // Counted by answer: the fixture's Pebble refuses some nonces, and a badNonce is retried.
    expect(first.acmeResponsesByStatus[`${NEW_ACCOUNT} 201`]).toBe(1);
    expect(second.acmeRequestsByPath[DIRECTORY_GET]).toBeUndefined();
    expect(second.acmeRequestsByPath[NEW_ACCOUNT]).toBeUndefined();
    expect(other.acmeRequestsByPath[DIRECTORY_GET]).toBeUndefined();
    const kept = (await e2e.registryItems<{ pk: string; directoryUrl?: string; body?: string }>()).filter(
      (item) => item.pk.startsWith('DIRECTORY#'),
    );
    expect(kept).toHaveLength(1);
    expect(JSON.parse(kept[0]?.body ?? '{}')).toHaveProperty('newOrder');
  });
});
