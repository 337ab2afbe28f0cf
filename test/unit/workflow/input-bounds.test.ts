import { describe, expect, it } from 'vitest';
import type { AcmeDirectory } from '../../../lambdas/core/acme/types.js';
import { InvalidInputError } from '../../../lambdas/core/errors.js';
import type {
  CertificateRecord,
  CertificateRecordChanges,
  CertificateRegistry,
} from '../../../lambdas/core/ports.js';
import {
  MAX_DOMAINS,
  MAX_PREFERRED_CHAIN_LENGTH,
  MAX_PROFILE_LENGTH,
  MAX_REGIONS,
  MAX_URL_LENGTH,
  MAX_ZONE_ENTRIES,
  parseAccountRequest,
  parseDirectoryUrl,
  parseDomains,
  parseIssuanceRequest,
} from '../../../lambdas/core/workflow/input.js';
import { registerAccount } from '../../../lambdas/core/workflow/register-account.js';
import { ScriptedTransport } from '../../support/scripted-transport.js';
import { createTestSigner } from '../../support/test-signer.js';
import { TEST_WORKFLOW_CONFIG } from '../../support/workflow-config.js';

const issue = { action: 'issue', certificateId: 'web', domains: ['example.org'] };

function refusal(input: unknown): InvalidInputError {
  try {
    parseIssuanceRequest(input, TEST_WORKFLOW_CONFIG);
  } catch (error) {
    if (error instanceof InvalidInputError) return error;
    throw error;
  }
  throw new Error('the input was accepted');
}

describe('directoryUrl', () => {
  it.each([
    ['htps://acme-v02.api.letsencrypt.org/directory'],
    ['http://acme-v02.api.letsencrypt.org/directory'],
    ['acme-v02.api.letsencrypt.org/directory'],
    ['https://'],
  ])('refuses %s, which is not an https URL, naming the field and an example', (directoryUrl) => {
    const error = refusal({ ...issue, directoryUrl });

    expect(error.message).toContain('directoryUrl');
    expect(error.message).toContain('https');
    expect(error.message).toContain('https://acme-v02.api.letsencrypt.org/directory');
  });

  it('refuses a URL longer than the bound, without repeating it', () => {
    const error = refusal({ ...issue, directoryUrl: `https://ca.example/${'a'.repeat(MAX_URL_LENGTH)}` });

    expect(error.message).toContain(`at most ${MAX_URL_LENGTH}`);
    expect(error.message.length).toBeLessThan(300);
  });

  it('refuses a non-https directory for an account action too', () => {
    expect(() =>
      parseAccountRequest(
        { action: 'rollover-account-key', directoryUrl: 'http://ca.example/dir' },
        TEST_WORKFLOW_CONFIG,
      ),
    ).toThrow(/directoryUrl .* is not an https URL/);
  });

  it('accepts an https directory', () => {
    expect(parseDirectoryUrl('https://localhost:14000/dir', 'directoryUrl')).toBe(
      'https://localhost:14000/dir',
    );
  });
});

describe('bounded strings', () => {
  it('refuses a 200 KB preferredChain with a short message naming the bound', () => {
    const error = refusal({ ...issue, preferredChain: 'R'.repeat(200_000) });

    expect(error.message).toContain(`at most ${MAX_PREFERRED_CHAIN_LENGTH}`);
    expect(error.message.length).toBeLessThan(400);
  });

  it('accepts a preferredChain of the longest common name', () => {
    const request = parseIssuanceRequest(
      { ...issue, preferredChain: 'R'.repeat(MAX_PREFERRED_CHAIN_LENGTH) },
      TEST_WORKFLOW_CONFIG,
    );

    expect(request.config?.preferredChain).toHaveLength(MAX_PREFERRED_CHAIN_LENGTH);
  });

  it.each([['p'.repeat(MAX_PROFILE_LENGTH + 1)], ['short lived'], ['']])(
    'refuses the profile %j',
    (profile) => {
      const error = refusal({ ...issue, profile });

      expect(error.message).toContain('profile');
      expect(error.message.length).toBeLessThan(400);
    },
  );

  it('repeats no more than a few dozen characters of a bad value in any message', () => {
    const huge = 'x'.repeat(100_000);

    for (const input of [
      { ...issue, action: huge },
      { ...issue, keyType: huge },
      { ...issue, certificateId: huge },
      { ...issue, kmsKeyArn: huge },
      { ...issue, [huge]: 1 },
    ]) {
      expect(refusal(input).message.length).toBeLessThan(600);
    }
  });

  it('refuses more regions than the bound', () => {
    const regions = Array.from({ length: MAX_REGIONS + 1 }, (_, index) => `us-test-${index % 10}`);

    expect(refusal({ ...issue, regions }).message).toContain(`1 to ${MAX_REGIONS}`);
  });

  it('refuses an execution id longer than an ARN may be', () => {
    expect(refusal({ ...issue, execution: { id: 'e'.repeat(5000) } }).message).toContain('execution.id');
  });
});

describe('prototype keys', () => {
  it.each([
    ['{"__proto__":"Z0123456789ABC"}', '__proto__'],
    ['{"constructor":"Z0123456789ABC"}', 'constructor'],
    ['{"prototype":"Z0123456789ABC","example.org":"Z1"}', 'prototype'],
  ])('refuses hostedZoneIds %s, naming the key', (json, key) => {
    const error = refusal({ ...issue, hostedZoneIds: JSON.parse(json) });

    expect(error.message).toContain(`hostedZoneIds has the key "${key}"`);
  });

  it('refuses a __proto__ key in zoneRoles', () => {
    const zoneRoles = JSON.parse('{"__proto__":"arn:aws:iam::111122223333:role/acme-dns"}');

    expect(refusal({ ...issue, zoneRoles }).message).toContain('zoneRoles has the key "__proto__"');
  });

  it('refuses a __proto__ field of the input itself as unknown', () => {
    expect(refusal(JSON.parse('{"domains":["example.org"],"__proto__":{"force":true}}')).message).toContain(
      'Unknown input field "__proto__"',
    );
  });
});

describe('hostedZoneIds', () => {
  it('normalizes names and zone ids, keeping names that are not among the domains (CNAME targets)', () => {
    const request = parseIssuanceRequest(
      { ...issue, hostedZoneIds: { 'Example.ORG.': '/hostedzone/ZORG', 'validation.example.net': 'ZNET' } },
      TEST_WORKFLOW_CONFIG,
    );

    expect(request.config?.hostedZoneIds).toEqual({
      'example.org': 'ZORG',
      'validation.example.net': 'ZNET',
    });
  });

  it.each([
    [{ 'exa mple.org': 'ZORG' }, 'is not a DNS name'],
    [{ 'example.org': 'not a zone' }, 'must be a hosted zone id'],
    [{ 'example.org': 'ZA', 'EXAMPLE.org': 'ZB' }, 'maps example.org to both ZA and ZB'],
  ])('refuses %j', (hostedZoneIds, message) => {
    expect(refusal({ ...issue, hostedZoneIds }).message).toContain(message);
  });

  it('refuses more entries than the bound', () => {
    const hostedZoneIds = Object.fromEntries(
      Array.from({ length: MAX_ZONE_ENTRIES + 1 }, (_, index) => [`n${index}.example.org`, 'ZORG']),
    );

    expect(refusal({ ...issue, hostedZoneIds }).message).toContain(`at most ${MAX_ZONE_ENTRIES}`);
  });
});

describe('parseDomains, the rule the CLI shares', () => {
  it('accepts 100 names and refuses 101, saying what to do', () => {
    const names = Array.from({ length: MAX_DOMAINS + 1 }, (_, index) => `n${index}.example.org`);

    expect(parseDomains(names.slice(0, MAX_DOMAINS))).toHaveLength(MAX_DOMAINS);
    expect(() => parseDomains(names)).toThrow(
      'domains has 101 names; ACME CAs accept at most 100 per certificate',
    );
  });

  it('counts names after duplicates are dropped', () => {
    const names = Array.from({ length: MAX_DOMAINS }, (_, index) => `n${index}.example.org`);

    expect(parseDomains([...names, 'N0.example.org.'])).toHaveLength(MAX_DOMAINS);
  });
});

describe('RegisterAccount writes nothing for input it refuses', () => {
  const CA = 'https://ca.example';
  const DIRECTORY: AcmeDirectory = {
    newNonce: `${CA}/new-nonce`,
    newAccount: `${CA}/new-account`,
    newOrder: `${CA}/new-order`,
    revokeCert: `${CA}/revoke-cert`,
    meta: { profiles: { classic: 'the default' } },
  };
  const recorded: CertificateRecord = {
    certificateId: 'web',
    config: { domains: ['example.org'], keyType: 'EC_P256', regions: ['eu-west-1'] },
  };

  async function run(input: Record<string, unknown>, transport = new ScriptedTransport()) {
    const writes: { method: string; changes?: CertificateRecordChanges }[] = [];
    const registry = {
      get: async () => recorded,
      acquireLock: async () => {
        writes.push({ method: 'acquireLock' });
        return true;
      },
      releaseLock: async () => {},
      update: async (_id: string, changes: CertificateRecordChanges) => {
        writes.push({ method: 'update', changes });
      },
      getAccount: async () => ({ directoryUrl: `${CA}/directory`, accountUrl: `${CA}/acct/1` }),
      getDirectory: async () => undefined,
      putDirectory: async () => {},
      putAccount: async () => {
        writes.push({ method: 'putAccount' });
      },
    } as unknown as CertificateRegistry;
    const error = await registerAccount(
      { ...input, execution: { id: 'exec-1' } },
      {
        transport,
        signer: await createTestSigner(),
        registry,
        clock: { now: () => new Date('2030-03-01T12:00:00Z') },
        config: TEST_WORKFLOW_CONFIG,
        log: { debug: () => {}, info: () => {}, warn: () => {} },
      },
    ).catch((caught: unknown) => caught);
    return { error, writes, transport };
  }

  it('refuses an issue with directoryUrl htps://… before the lock, the configuration or any CA request', async () => {
    const { error, writes, transport } = await run({ ...issue, directoryUrl: 'htps://ca.example/directory' });

    expect(error).toBeInstanceOf(InvalidInputError);
    expect(writes).toEqual([]);
    expect(transport.requests).toEqual([]);
  });

  it('keeps the recorded configuration when the CA does not offer the profile asked for', async () => {
    const transport = new ScriptedTransport().expect('GET', `${CA}/directory`, { body: DIRECTORY });

    const { error, writes } = await run(
      { ...issue, directoryUrl: `${CA}/directory`, profile: 'shortlived' },
      transport,
    );

    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as Error).message).toContain('does not offer the profile "shortlived"; it offers classic');
    expect(writes.filter((write) => write.changes?.config)).toEqual([]);
  });

  it('records the configuration once the CA’s directory has answered', async () => {
    const transport = new ScriptedTransport().expect('GET', `${CA}/directory`, { body: DIRECTORY });

    const { error, writes } = await run(
      { ...issue, directoryUrl: `${CA}/directory`, profile: 'classic' },
      transport,
    );

    expect(error).toMatchObject({ accountUrl: `${CA}/acct/1` });
    expect(writes.map((write) => write.method)).toEqual(['acquireLock', 'update']);
    expect(writes[1]?.changes?.config).toMatchObject({ profile: 'classic', directoryUrl: `${CA}/directory` });
  });
});
