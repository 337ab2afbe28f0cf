import { generateKeyPairSync } from 'node:crypto';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { accountPartitionKey, directoryPartitionKey } from '../../lambdas/adapters/dynamodb-registry.js';
import { evaluatePersistRecords, hashedAccountUri } from '../../lambdas/core/acme/dns-persist.js';
import { jwkThumbprint } from '../../lambdas/core/acme/key-authorization.js';
import type { EcPublicJwk } from '../../lambdas/core/ports.js';
import { type CliHarness, STACK_NAME, setUpCli, T0, TABLE_NAME } from './cli-harness.js';

let cli: CliHarness;
let thumbprint: string;
let fetched: string[];

const DIRECTORY = 'https://acme.example/directory';
const ACCOUNT_URL = 'https://acme.example/acct/1';
const ACCOUNT_HASH_PREFIX = 'https://acme.example/acct-hash/';

/** A directory as a CA that offers dns-persist-01 publishes it (draft §3.2). */
const PERSIST_DIRECTORY = {
  newNonce: 'https://acme.example/new-nonce',
  newAccount: 'https://acme.example/new-account',
  newOrder: 'https://acme.example/new-order',
  meta: {
    issuerDomainNames: ['acme.example', 'ca.example'],
    accountHashPrefix: ACCOUNT_HASH_PREFIX,
  },
};

beforeAll(async () => {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  thumbprint = await jwkThumbprint(publicKey.export({ format: 'jwk' }) as EcPublicJwk);
});

beforeEach(() => {
  cli = setUpCli();
  fetched = [];
  // The CA: any request fails the test's expectations unless a test serves a directory.
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string | URL) => {
      fetched.push(String(url));
      return new Response('not found', { status: 404 });
    }),
  );
});

afterEach(async () => {
  vi.unstubAllGlobals();
  await cli.restore();
});

function serveDirectory(directory: unknown): void {
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string | URL) => {
      fetched.push(String(url));
      return Response.json(directory);
    }),
  );
}

async function seedCertificate(
  certificateId: string,
  domains: readonly string[],
  extra: Record<string, unknown> = {},
): Promise<void> {
  await cli.dynamodb.putItem(TABLE_NAME, {
    pk: `CERT#${certificateId}`,
    certificateId,
    status: 'imported',
    config: {
      domains,
      keyType: 'EC_P256',
      regions: ['us-east-1'],
      challenge: 'dns-persist-01',
      directoryUrl: DIRECTORY,
      ...extra,
    },
  });
}

async function seedAccount(fields: Record<string, unknown> = {}): Promise<void> {
  await cli.dynamodb.putItem(TABLE_NAME, {
    pk: accountPartitionKey(DIRECTORY, thumbprint),
    directoryUrl: DIRECTORY,
    accountUrl: ACCOUNT_URL,
    status: 'valid',
    updatedAt: '2030-02-01T10:00:00.000Z',
    keyThumbprint: thumbprint,
    ...fields,
  });
}

async function keepDirectory(directory: unknown): Promise<void> {
  await cli.dynamodb.putItem(TABLE_NAME, {
    pk: directoryPartitionKey(DIRECTORY),
    directoryUrl: DIRECTORY,
    body: JSON.stringify(directory),
    fetchedAt: new Date(T0.getTime() - 3_600_000).toISOString(),
  });
}

/** The hashed account URI the CA recomputes for `domain` (draft §4.1 item 3). */
function accountUriFor(domain: string): string {
  return hashedAccountUri({
    accountHashPrefix: ACCOUNT_HASH_PREFIX,
    accountUrl: ACCOUNT_URL,
    accountKeyThumbprint: thumbprint,
    domain,
  });
}

describe('acme-aws persist-record', () => {
  it('prints one record with policy=wildcard for a name and its wildcard, from the kept directory', async () => {
    await seedCertificate('web', ['example.org', '*.example.org']);
    await seedAccount();
    await keepDirectory(PERSIST_DIRECTORY);

    const result = await cli.run('persist-record', 'web');

    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines.slice(0, 5)).toEqual([
      `Certificate web in stack ${STACK_NAME} (us-east-1): the dns-persist-01 record to create at your DNS provider`,
      `  CA       ${DIRECTORY}`,
      `  account  ${ACCOUNT_URL}`,
      '',
      `_validation-persist.example.org. 300 IN TXT "acme.example; accounturi=${accountUriFor('example.org')}; policy=wildcard"`,
    ]);
    expect(lines.filter((line) => line.includes(' IN TXT '))).toHaveLength(1);
    expect(result.stdout).toContain('Keep them for as long as the certificate is renewed');
    expect(fetched).toEqual([]);
    expect(cli.stepFunctions.requests).toEqual([]);
  });

  it('writes no policy for a single name, and one record per further name', async () => {
    await seedCertificate('api', ['api.example.org']);
    await seedCertificate('shop', ['shop.example.org', '*.shop.example.org', 'static.example.org']);
    await seedAccount();
    await keepDirectory(PERSIST_DIRECTORY);

    const single = await cli.run('persist-record', 'api');
    const several = await cli.run('persist-record', 'shop');

    expect(single.code).toBe(0);
    expect(single.stdout.split('\n').filter((line) => line.includes(' IN TXT '))).toEqual([
      `_validation-persist.api.example.org. 300 IN TXT "acme.example; accounturi=${accountUriFor('api.example.org')}"`,
    ]);
    expect(several.code).toBe(0);
    expect(several.stdout.split('\n').filter((line) => line.includes(' IN TXT '))).toEqual([
      `_validation-persist.shop.example.org. 300 IN TXT "acme.example; accounturi=${accountUriFor('shop.example.org')}; policy=wildcard"`,
      `_validation-persist.static.example.org. 300 IN TXT "acme.example; accounturi=${accountUriFor('static.example.org')}"`,
    ]);
  });

  it('prints the stack, certificate, CA, account and records as one JSON document under --json', async () => {
    await seedCertificate('web', ['example.org', '*.example.org', 'www.example.org']);
    await seedAccount();
    await keepDirectory(PERSIST_DIRECTORY);

    const result = await cli.run('persist-record', 'web', '--json');

    expect(result.code).toBe(0);
    expect(result.json()).toEqual({
      stack: STACK_NAME,
      certificateId: 'web',
      directoryUrl: DIRECTORY,
      accountUrl: ACCOUNT_URL,
      records: [
        {
          name: '_validation-persist.example.org',
          type: 'TXT',
          value: `acme.example; accounturi=${accountUriFor('example.org')}; policy=wildcard`,
        },
        {
          name: '_validation-persist.www.example.org',
          type: 'TXT',
          value: `acme.example; accounturi=${accountUriFor('www.example.org')}`,
        },
      ],
    });
    expect(result.stderr).toBe('');
  });

  it('prints values that authorize the account for every name, as the CA judges them', async () => {
    const domains = ['example.org', '*.example.org', 'www.example.org'];
    await seedCertificate('web', domains);
    await seedAccount();
    await keepDirectory(PERSIST_DIRECTORY);

    const result = await cli.run('persist-record', 'web', '--json');

    const { records } = result.json<{ records: { name: string; value: string }[] }>();
    for (const identifier of domains) {
      const name = `_validation-persist.${identifier.replace(/^\*\./, '')}`;
      const values = records.filter((record) => record.name === name).map((record) => record.value);
      const verdict = evaluatePersistRecords(values, {
        identifier,
        issuerDomainNames: PERSIST_DIRECTORY.meta.issuerDomainNames,
        accountHashPrefix: ACCOUNT_HASH_PREFIX,
        accountUrl: ACCOUNT_URL,
        accountKeyThumbprints: [thumbprint],
        now: T0,
      });
      expect(verdict, identifier).toMatchObject({ authorized: true });
    }
  });

  it("fetches the CA's directory when none is kept, and takes the stack's CA from its only account", async () => {
    await seedCertificate('web', ['example.org'], { directoryUrl: undefined });
    await seedAccount();
    serveDirectory(PERSIST_DIRECTORY);

    const result = await cli.run('persist-record', 'web', '--json');

    expect(result.code).toBe(0);
    expect(fetched).toEqual([DIRECTORY]);
    expect(result.json()).toMatchObject({
      directoryUrl: DIRECTORY,
      accountUrl: ACCOUNT_URL,
      records: [
        {
          name: '_validation-persist.example.org',
          value: `acme.example; accounturi=${accountUriFor('example.org')}`,
        },
      ],
    });
  });

  it('says that the first issuance registers the account when the stack has none yet, exit 3', async () => {
    await seedCertificate('web', ['example.org', '*.example.org']);
    await keepDirectory(PERSIST_DIRECTORY);

    const result = await cli.run('persist-record', 'web');

    expect(result.code).toBe(3);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`No valid CA account at ${DIRECTORY} in stack ${STACK_NAME}`);
    expect(result.stderr).toContain('The first issuance registers one: acme-aws renew web');
    expect(result.stderr).not.toContain('at runPersistRecordCommand');
  });

  it('does not use a deactivated account, and says so', async () => {
    await seedCertificate('web', ['example.org']);
    await seedAccount({ status: 'deactivated' });
    await keepDirectory(PERSIST_DIRECTORY);

    const result = await cli.run('persist-record', 'web', '--json');

    expect(result.code).toBe(3);
    expect(result.json()).toEqual({
      error: {
        name: 'PersistRecordUnavailableError',
        message: expect.stringContaining(`${ACCOUNT_URL} is deactivated`),
        exitCode: 3,
      },
    });
  });

  it('refuses a CA whose directory has no accountHashPrefix, kept or fetched, exit 3', async () => {
    const withoutPrefix = {
      ...PERSIST_DIRECTORY,
      meta: { issuerDomainNames: PERSIST_DIRECTORY.meta.issuerDomainNames },
    };
    await seedCertificate('web', ['example.org']);
    await seedAccount();
    await keepDirectory(withoutPrefix);
    serveDirectory(withoutPrefix);

    const result = await cli.run('persist-record', 'web');

    expect(result.code).toBe(3);
    expect(fetched).toEqual([DIRECTORY]);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(
      `The CA at ${DIRECTORY} does not offer dns-persist-01 at directory level: its directory lacks meta.accountHashPrefix`,
    );
  });

  it('names an unknown certificate and where to find the known ones, exit 3', async () => {
    await seedAccount();

    const result = await cli.run('persist-record', 'nope');

    expect(result.code).toBe(3);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(
      `No certificate nope in stack ${STACK_NAME} (us-east-1): acme-aws status lists them.`,
    );
    expect(fetched).toEqual([]);
  });

  it('asks for the certificate id with exit 2 before any AWS call', async () => {
    const result = await cli.run('persist-record');

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('persist-record needs a certificate id: acme-aws persist-record <id>');
    expect(cli.cloudFormation.requests).toEqual([]);
    expect(cli.dynamodb.requests).toEqual([]);
  });
});
