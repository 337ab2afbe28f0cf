import { describe, expect, it, vi } from 'vitest';
import { PollingTimeoutError } from '../../../lambdas/core/errors.js';
import type { DnsChallenge, IssuanceState } from '../../../lambdas/core/state.js';
import { cleanup } from '../../../lambdas/core/workflow/cleanup.js';
import type { WorkflowConfig } from '../../../lambdas/core/workflow/deps.js';
import { parseIssuanceRequest } from '../../../lambdas/core/workflow/input.js';
import { publishChallenges } from '../../../lambdas/core/workflow/publish-challenges.js';
import { waitForDnsSync } from '../../../lambdas/core/workflow/wait-for-dns-sync.js';
import { FakeDnsResolver } from '../../fakes/dns-resolver-fake.js';
import { SILENT_LOG } from '../../support/workflow-fixtures.js';
import { MemoryDnsZones } from '../fakes/memory-dns-zones.js';
import { MemoryRecordSetLeases } from '../fakes/memory-record-set-leases.js';
import { MemoryRegistry } from '../fakes/memory-registry.js';

const ROLE = 'arn:aws:iam::210987654321:role/acme-dns';
const config: WorkflowConfig = {
  defaultDirectoryUrl: 'https://acme.invalid/directory',
  defaultRegion: 'us-east-1',
  managedByTag: 'acme-aws',
  dnsPollSeconds: 10,
  orderPollSeconds: 3,
  maxPolls: 3,
  lockTtlSeconds: 3600,
};
const log = SILENT_LOG;

function challenge(overrides: Partial<DnsChallenge> = {}): DnsChallenge {
  return {
    identifier: 'example.org',
    authorizationUrl: 'https://acme.invalid/authz/1',
    challengeUrl: 'https://acme.invalid/chall/1',
    zoneId: 'ZORG',
    zoneName: 'example.org',
    recordName: '_acme-challenge.example.org',
    value: 'value-1',
    ...overrides,
  };
}

function state(overrides: Partial<IssuanceState> = {}): IssuanceState {
  return {
    certificateId: 'web',
    action: 'issue',
    domains: ['example.org'],
    keyType: 'EC_P256',
    regions: ['us-east-1'],
    directoryUrl: 'https://acme.invalid/directory',
    retryAfterSeconds: 10,
    polls: 0,
    ...overrides,
  };
}

describe('zones in other accounts', () => {
  const challenges = [
    challenge(),
    challenge({
      identifier: 'app.example.com',
      zoneId: 'ZPARTNER',
      zoneName: 'validation.example.net',
      recordName: 'app.validation.example.net',
      delegatedFrom: '_acme-challenge.app.example.com',
      value: 'value-2',
    }),
  ];

  it('publishes, polls and cleans up a zone listed in zoneRoles through its role, and the others directly', async () => {
    const dns = new MemoryDnsZones();
    const resolver = new FakeDnsResolver();
    resolver.setNameServers('example.org');
    resolver.setNameServers('validation.example.net');
    resolver.setTxtEverywhere('example.org', '_acme-challenge.example.org', ['value-1']);
    resolver.setTxtEverywhere('validation.example.net', 'app.validation.example.net', ['value-2']);
    const start = state({ challenges, zoneRoles: { ZPARTNER: ROLE } });

    const leases = new MemoryRecordSetLeases();
    const registry = new MemoryRegistry();
    const published = await publishChallenges(start, {
      dns,
      leases,
      registry,
      clock: leases.clock,
      config,
      log,
    });
    const synced = await waitForDnsSync(published, { dns, resolver, config, log });
    await cleanup(synced, {
      dns,
      leases,
      log,
      registry,
      events: {} as never,
      metrics: {} as never,
      clock: { now: () => new Date() },
    });

    expect(synced.dnsInSync).toBe(true);
    expect(dns.calls.map(({ method, id, roleArn }) => [method, id, roleArn])).toEqual([
      ['publishTxt', 'ZORG', undefined],
      ['publishTxt', 'ZPARTNER', ROLE],
      ['isChangeInSync', 'C-ZORG', undefined],
      ['isChangeInSync', 'C-ZPARTNER', ROLE],
      ['removeTxt', 'ZORG', undefined],
      ['removeTxt', 'ZPARTNER', ROLE],
    ]);
  });
});

describe('waitForDnsSync', () => {
  const published = state({
    challenges: [challenge(), challenge({ identifier: '*.example.org', value: 'value-w' })],
    dnsChanges: [{ zoneId: 'ZORG', changeId: 'C1' }],
    polls: 0,
  });

  function resolverWith(values: Record<string, string[]>) {
    const resolver = new FakeDnsResolver();
    resolver.setNameServers('example.org', 2);
    for (const [address, answer] of Object.entries(values)) {
      resolver.setTxt(address, '_acme-challenge.example.org', answer);
    }
    return resolver;
  }

  it('does not ask DNS while Route 53 still reports the change PENDING', async () => {
    const dns = new MemoryDnsZones();
    dns.inSync = false;
    const resolver = resolverWith({});

    const next = await waitForDnsSync(published, { dns, resolver, config, log });

    expect(next).toMatchObject({ dnsInSync: false, polls: 1 });
    expect(resolver.queries).toEqual([]);
  });

  it('keeps waiting after INSYNC until every authoritative server answers every value', async () => {
    const dns = new MemoryDnsZones();
    const lagging = resolverWith({ '192.0.2.1': ['value-1', 'value-w'], '192.0.2.2': ['value-1'] });
    const caughtUp = resolverWith({
      '192.0.2.1': ['value-1', 'value-w'],
      '192.0.2.2': ['value-w', 'value-1'],
    });

    const first = await waitForDnsSync(published, { dns, resolver: lagging, config, log });
    const second = await waitForDnsSync(first, { dns, resolver: caughtUp, config, log });

    expect(first).toMatchObject({ dnsInSync: false, polls: 1 });
    expect(second).toMatchObject({ dnsInSync: true, polls: 0 });
  });

  it('logs which record it is waiting for', async () => {
    const info = vi.fn();

    await waitForDnsSync(published, {
      dns: new MemoryDnsZones(),
      resolver: resolverWith({}),
      config,
      log: { ...log, info },
    });

    expect(info).toHaveBeenCalledWith(
      'Checked DNS propagation',
      expect.objectContaining({ inSync: false, waitingFor: 'authoritative name servers', recordsMissing: 1 }),
    );
  });

  it('fails after maxPolls naming the record and each server that lacks it', async () => {
    const resolver = resolverWith({ '192.0.2.1': ['value-1', 'value-w'], '192.0.2.2': ['value-1'] });

    const error = await waitForDnsSync(
      { ...published, polls: config.maxPolls - 1 },
      { dns: new MemoryDnsZones(), resolver, config, log },
    ).catch((caught) => caught);

    expect(error).toBeInstanceOf(PollingTimeoutError);
    expect(error.message).toContain('_acme-challenge.example.org (zone example.org)');
    expect(error.message).toContain('ns2.example.org (192.0.2.2): answers 1 of 2 values');
    expect(error.message).not.toContain('ns1.example.org');
  });

  it('fails after maxPolls naming the changes when Route 53 never reports INSYNC', async () => {
    const dns = new MemoryDnsZones();
    dns.inSync = false;

    await expect(
      waitForDnsSync(
        { ...published, polls: config.maxPolls - 1 },
        { dns, resolver: resolverWith({}), config, log },
      ),
    ).rejects.toThrow(/C1 were not INSYNC after 3 polls/);
  });
});

describe('zoneRoles in the execution input', () => {
  const issue = { action: 'issue', certificateId: 'web', domains: ['example.org'] };

  it('keeps roles by bare zone id in the certificate configuration', () => {
    const request = parseIssuanceRequest({ ...issue, zoneRoles: { '/hostedzone/ZPARTNER1': ROLE } }, config);

    expect(request.config?.zoneRoles).toEqual({ ZPARTNER1: ROLE });
  });

  it.each([
    [['ZPARTNER1'], /map a hosted zone id to an IAM role ARN/],
    [{ 'example.org': ROLE }, /"example.org", which is not a hosted zone id/],
    [{ ZPARTNER1: 'acme-dns' }, /zoneRoles\["ZPARTNER1"\] must be the ARN of an IAM role/],
    [{ ZPARTNER1: 'arn:aws:iam::210987654321:user/alice' }, /must be the ARN of an IAM role/],
  ])('refuses %j', (zoneRoles, message) => {
    expect(() => parseIssuanceRequest({ ...issue, zoneRoles }, config)).toThrow(message);
  });

  it('is part of the declared configuration, so renew refuses it', () => {
    expect(() =>
      parseIssuanceRequest({ action: 'renew', certificateId: 'web', zoneRoles: { ZPARTNER1: ROLE } }, config),
    ).toThrow(/"zoneRoles" is not allowed/);
  });
});
