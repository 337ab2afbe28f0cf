import { describe, expect, it } from 'vitest';
import { jwkThumbprint } from '../../../lambdas/core/acme/key-authorization.js';
import type { AcmeDirectory } from '../../../lambdas/core/acme/types.js';
import { AcmeProtocolError, MalformedError } from '../../../lambdas/core/errors.js';
import type { CertificateRecord } from '../../../lambdas/core/ports.js';
import {
  DIRECTORY_MAX_AGE_MS,
  MAX_KEPT_DIRECTORY_BYTES,
} from '../../../lambdas/core/workflow/directory-cache.js';
import { registerAccount } from '../../../lambdas/core/workflow/register-account.js';
import { ACCOUNT_URL, CA, DIRECTORY, DIRECTORY_URL } from '../../support/acme-fixtures.js';
import { problemReply, ScriptedTransport } from '../../support/scripted-transport.js';
import { createTestSigner } from '../../support/test-signer.js';
import { TEST_WORKFLOW_CONFIG } from '../../support/workflow-config.js';
import { SILENT_LOG } from '../../support/workflow-fixtures.js';
import { MemoryRegistry } from '../fakes/memory-registry.js';

const NOW = new Date('2030-03-01T12:00:00.000Z');
const HOUR_MS = 60 * 60 * 1000;
const ISSUE = { certificateId: 'web', domains: ['example.org'], execution: { id: 'exec-1' } };

function ago(ms: number): string {
  return new Date(NOW.getTime() - ms).toISOString();
}

/** A registry keeping `directory` as fetched at `fetchedAt`, and the certificate's `record`. */
async function setup(options: {
  kept?: { directory: AcmeDirectory | string; fetchedAt: string };
  record?: Omit<CertificateRecord, 'certificateId'>;
  recordedAccount?: boolean;
}) {
  const signer = await createTestSigner();
  const registry = new MemoryRegistry(options.record ? [{ certificateId: 'web', ...options.record }] : []);
  if (options.kept) {
    const { directory, fetchedAt } = options.kept;
    registry.directories.set(DIRECTORY_URL, {
      directoryUrl: DIRECTORY_URL,
      body: typeof directory === 'string' ? directory : JSON.stringify(directory),
      fetchedAt,
    });
  }
  if (options.recordedAccount ?? true) {
    registry.accounts.set(await jwkThumbprint(await signer.publicJwk()), {
      directoryUrl: DIRECTORY_URL,
      accountUrl: ACCOUNT_URL,
    });
  }
  const transport = new ScriptedTransport();
  const deps = {
    transport,
    signer,
    registry,
    clock: { now: () => NOW },
    config: TEST_WORKFLOW_CONFIG,
    log: SILENT_LOG,
  };
  return { deps, registry, transport };
}

describe('RegisterAccount: the directory kept across executions', () => {
  it('fetches the directory when none is kept, and keeps it with the time it was fetched', async () => {
    const { deps, registry, transport } = await setup({});
    transport.expect('GET', DIRECTORY_URL, { body: DIRECTORY });

    const state = await registerAccount(ISSUE, deps);

    expect(state.directory).toEqual(DIRECTORY);
    expect(transport.requests.map((request) => `${request.method} ${request.url}`)).toEqual([
      `GET ${DIRECTORY_URL}`,
    ]);
    expect(registry.directories.get(DIRECTORY_URL)).toEqual({
      directoryUrl: DIRECTORY_URL,
      body: JSON.stringify(DIRECTORY),
      fetchedAt: NOW.toISOString(),
    });
  });

  it('sends the CA nothing for a recorded account when the kept directory is less than a day old', async () => {
    const fetchedAt = ago(DIRECTORY_MAX_AGE_MS - 1);
    const { deps, registry, transport } = await setup({ kept: { directory: DIRECTORY, fetchedAt } });

    const state = await registerAccount(ISSUE, deps);

    expect(transport.requests).toEqual([]);
    expect(state).toMatchObject({ directory: DIRECTORY, accountUrl: ACCOUNT_URL });
    expect(registry.directories.get(DIRECTORY_URL)?.fetchedAt).toBe(fetchedAt);
  });

  it('registers a new account at the kept directory’s newAccount without fetching the directory', async () => {
    const { deps, transport } = await setup({
      kept: { directory: DIRECTORY, fetchedAt: ago(HOUR_MS) },
      recordedAccount: false,
    });
    transport.expect('HEAD', DIRECTORY.newNonce, { status: 200 }).expect('POST', DIRECTORY.newAccount, {
      status: 201,
      headers: { location: `${CA}/acct/9` },
      body: { status: 'valid' },
    });

    const state = await registerAccount(ISSUE, deps);

    expect(state.accountUrl).toBe(`${CA}/acct/9`);
    expect(transport.pending).toBe(0);
    expect(transport.requests.filter((request) => request.url === DIRECTORY_URL)).toEqual([]);
  });

  it.each([
    ['a day old', ago(DIRECTORY_MAX_AGE_MS)],
    ['a week old', ago(7 * 24 * HOUR_MS)],
    ['dated after now', new Date(NOW.getTime() + HOUR_MS).toISOString()],
    ['dated with no time', 'yesterday'],
  ])('fetches the directory again when the kept one is %s, and keeps the new one', async (_, fetchedAt) => {
    const moved = { ...DIRECTORY, newOrder: `${CA}/v2/new-order` };
    const { deps, registry, transport } = await setup({ kept: { directory: DIRECTORY, fetchedAt } });
    transport.expect('GET', DIRECTORY_URL, { body: moved });

    const state = await registerAccount(ISSUE, deps);

    expect(state.directory).toEqual(moved);
    expect(registry.directories.get(DIRECTORY_URL)).toEqual({
      directoryUrl: DIRECTORY_URL,
      body: JSON.stringify(moved),
      fetchedAt: NOW.toISOString(),
    });
  });

  it.each([
    ['MalformedError', 'urn:ietf:params:acme:error:malformed: Resource not found'],
    ['AcmeProtocolError', `POST ${DIRECTORY.newOrder} answered HTTP 404 without an ACME problem document`],
  ])('fetches the directory again after a run failed with %s since it was kept', async (name, message) => {
    const { deps, registry, transport } = await setup({
      kept: { directory: DIRECTORY, fetchedAt: ago(2 * HOUR_MS) },
      record: { lastError: { name, message, at: ago(HOUR_MS), executionId: 'exec-0' } },
    });
    transport.expect('GET', DIRECTORY_URL, { body: DIRECTORY });

    await registerAccount(ISSUE, deps);

    expect(transport.pending).toBe(0);
    expect(registry.directories.get(DIRECTORY_URL)?.fetchedAt).toBe(NOW.toISOString());
  });

  it('uses the kept directory when it was fetched after the failure, so one failure costs one fetch', async () => {
    const { deps, transport } = await setup({
      kept: { directory: DIRECTORY, fetchedAt: ago(HOUR_MS) },
      record: {
        lastError: {
          name: 'MalformedError',
          message: 'malformed',
          at: ago(2 * HOUR_MS),
          executionId: 'exec-0',
        },
      },
    });

    await registerAccount(ISSUE, deps);

    expect(transport.requests).toEqual([]);
  });

  it('uses the kept directory after a failure no moved URL explains', async () => {
    const { deps, transport } = await setup({
      kept: { directory: DIRECTORY, fetchedAt: ago(2 * HOUR_MS) },
      record: {
        lastError: { name: 'RateLimitedError', message: 'too many', at: ago(HOUR_MS), executionId: 'exec-0' },
      },
    });

    await registerAccount(ISSUE, deps);

    expect(transport.requests).toEqual([]);
  });

  it('fails on the 404 of a moved newNonce without retrying, and the next run fetches the directory and succeeds', async () => {
    const moved = { ...DIRECTORY, newNonce: `${CA}/v2/new-nonce`, newAccount: `${CA}/v2/new-account` };
    const { deps, registry, transport } = await setup({
      kept: { directory: DIRECTORY, fetchedAt: ago(HOUR_MS) },
      recordedAccount: false,
    });
    transport.expect('HEAD', DIRECTORY.newNonce, { status: 404, headers: { 'content-type': 'text/plain' } });

    const failure = await registerAccount(ISSUE, deps).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(AcmeProtocolError);
    expect(transport.pending).toBe(0);
    expect(transport.requests).toHaveLength(1);

    // What Cleanup does for the failed execution.
    await registry.releaseLock('web', 'exec-1');
    await registry.update('web', {
      lastError: {
        name: (failure as Error).name,
        message: (failure as Error).message,
        at: NOW.toISOString(),
      },
    });
    transport
      .expect('GET', DIRECTORY_URL, { body: moved })
      .expect('HEAD', moved.newNonce, { status: 200 })
      .expect('POST', moved.newAccount, {
        status: 201,
        headers: { location: `${CA}/acct/9` },
        body: { status: 'valid' },
      });

    const state = await registerAccount({ ...ISSUE, execution: { id: 'exec-2' } }, deps);

    expect(state).toMatchObject({ directory: moved, accountUrl: `${CA}/acct/9` });
    expect(transport.pending).toBe(0);
    expect(JSON.parse(registry.directories.get(DIRECTORY_URL)?.body ?? '{}')).toEqual(moved);
  });

  it('fails on a malformed answer once per run, fetching the directory once on the next run only', async () => {
    const { deps, registry, transport } = await setup({
      kept: { directory: DIRECTORY, fetchedAt: ago(HOUR_MS) },
      recordedAccount: false,
    });
    const malformed = problemReply('malformed', { status: 400, detail: 'the request is malformed' });
    transport
      .expect('HEAD', DIRECTORY.newNonce, { status: 200 })
      .expect('POST', DIRECTORY.newAccount, malformed);

    const first = await registerAccount(ISSUE, deps).catch((error: unknown) => error);
    await registry.releaseLock('web', 'exec-1');
    await registry.update('web', {
      lastError: { name: (first as Error).name, message: (first as Error).message, at: NOW.toISOString() },
    });
    transport
      .expect('GET', DIRECTORY_URL, { body: DIRECTORY })
      .expect('HEAD', DIRECTORY.newNonce, { status: 200 })
      .expect('POST', DIRECTORY.newAccount, malformed);
    const second = await registerAccount({ ...ISSUE, execution: { id: 'exec-2' } }, deps).catch(
      (error: unknown) => error,
    );

    expect(first).toBeInstanceOf(MalformedError);
    expect(second).toBeInstanceOf(MalformedError);
    expect(transport.pending).toBe(0);
    expect(transport.requests.filter((request) => request.url === DIRECTORY_URL)).toHaveLength(1);
  });

  it('fetches the directory when the kept one does not offer the profile asked for, then proceeds with it', async () => {
    const withProfile = { ...DIRECTORY, meta: { profiles: { shortlived: 'six days' } } };
    const { deps, registry, transport } = await setup({
      kept: { directory: DIRECTORY, fetchedAt: ago(HOUR_MS) },
    });
    transport.expect('GET', DIRECTORY_URL, { body: withProfile });

    const state = await registerAccount({ ...ISSUE, profile: 'shortlived' }, deps);

    expect(state).toMatchObject({ profile: 'shortlived', directory: withProfile });
    expect(JSON.parse(registry.directories.get(DIRECTORY_URL)?.body ?? '{}')).toEqual(withProfile);
  });

  it('uses the kept directory when it offers the profile asked for', async () => {
    const withProfile = { ...DIRECTORY, meta: { profiles: { shortlived: 'six days' } } };
    const { deps, transport } = await setup({ kept: { directory: withProfile, fetchedAt: ago(HOUR_MS) } });

    await registerAccount({ ...ISSUE, profile: 'shortlived' }, deps);

    expect(transport.requests).toEqual([]);
  });

  it.each([
    ['JSON that does not parse', '{"newNonce":'],
    [
      'a directory without newOrder',
      JSON.stringify({ newNonce: DIRECTORY.newNonce, newAccount: DIRECTORY.newAccount }),
    ],
    ['a relative newNonce', JSON.stringify({ ...DIRECTORY, newNonce: '/new-nonce' })],
  ])('fetches and replaces a kept directory holding %s', async (_, body) => {
    const { deps, registry, transport } = await setup({ kept: { directory: body, fetchedAt: ago(HOUR_MS) } });
    transport.expect('GET', DIRECTORY_URL, { body: DIRECTORY });

    const state = await registerAccount(ISSUE, deps);

    expect(state.directory).toEqual(DIRECTORY);
    expect(registry.directories.get(DIRECTORY_URL)?.body).toBe(JSON.stringify(DIRECTORY));
  });

  it('uses a directory too large to keep for this run without keeping it', async () => {
    const large = { ...DIRECTORY, meta: { website: `${CA}/${'a'.repeat(MAX_KEPT_DIRECTORY_BYTES)}` } };
    const { deps, registry, transport } = await setup({});
    transport.expect('GET', DIRECTORY_URL, { body: large });

    const state = await registerAccount(ISSUE, deps);

    expect(state.directory).toEqual(large);
    expect(registry.directories.size).toBe(0);
  });
});
