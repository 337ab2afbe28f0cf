import { X509Certificate } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DnsChallenge } from '../../lambdas/core/state.js';
import { installStsFake, type StsFake } from '../fakes/sts-fake.js';
import { ChalltestsrvClient } from '../harness/challtestsrv.js';
import { usePebbleWorkflow } from '../harness/e2e-fixture.js';
import type { LocalIssuanceResult } from '../harness/local-issuance.js';

/**
 * dns-01 layouts that other ACME clients get wrong: a `_acme-challenge` CNAME into a validation
 * zone, zones in other AWS accounts, name servers that lag behind Route 53's INSYNC, and many
 * names across several zones. Pebble validates through challtestsrv (which serves the CNAMEs);
 * the workflow checks the Route 53 fake's own name servers.
 */

const PARTNER_ACCOUNT = '210987654321';
const CHALLENGE_REQUEST = /^POST \/chalZ/;

function sans(pem: string): string[] {
  return (new X509Certificate(pem).subjectAltName ?? '')
    .split(', ')
    .map((entry) => entry.replace(/^DNS:/, ''))
    .sort();
}

/** The steps that reach hosted zones, and so assume the roles of zones in other accounts. */
const DNS_STEPS = ['create-order', 'publish-challenges', 'wait-for-dns-sync', 'cleanup'];

/** The challenges CreateOrder put in the state, from the execution's events. */
function challengesOf(run: LocalIssuanceResult): DnsChallenge[] {
  for (const event of run.execution.events) {
    if (event.type === 'StateExited' && 'state' in event && event.state.name === 'CreateOrder') {
      return ((event.state.output as { challenges?: DnsChallenge[] }).challenges ?? []) as DnsChallenge[];
    }
  }
  return [];
}

describe('dns-01 layouts through the synthesized state machine against Pebble', () => {
  const e2e = usePebbleWorkflow({ pebble: { env: { PEBBLE_WFE_NONCEREJECT: '0' } } });
  let challtestsrv: ChalltestsrvClient;
  let sts: StsFake | undefined;
  const cnames: string[] = [];

  beforeAll(() => {
    challtestsrv = new ChalltestsrvClient(e2e.pebble.challtestsrvUrl);
  });
  afterEach(async () => {
    sts?.restore();
    sts = undefined;
    for (const name of cnames.splice(0)) await challtestsrv.clearCname(name);
  });

  async function delegate(name: string, target: string): Promise<void> {
    cnames.push(name);
    await challtestsrv.setCname(name, target);
  }

  /**
   * What the zone's account sets up for its role, as the README asks: Route 53 access to the zone
   * and its changes, and a trust policy naming the deployed stack's DNS step roles.
   */
  function partnerGrants(roleArn: string, zoneId: string): void {
    const stepRoles = e2e.cloud.lambda.functions
      .filter((fn) => DNS_STEPS.includes(fn.environment.ACME_STEP ?? ''))
      .map((fn) => fn.roleArn);
    e2e.cloud.iam.putRole({
      arn: roleArn,
      name: roleArn.split('/').at(-1) ?? '',
      account: PARTNER_ACCOUNT,
      trustPolicy: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { AWS: stepRoles }, Action: 'sts:AssumeRole' }],
      },
      policies: [
        {
          name: 'acme-dns',
          document: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Action: [
                  'route53:GetHostedZone',
                  'route53:ListResourceRecordSets',
                  'route53:ChangeResourceRecordSets',
                ],
                Resource: `arn:aws:route53:::hostedzone/${zoneId}`,
              },
              { Effect: 'Allow', Action: 'route53:GetChange', Resource: 'arn:aws:route53:::change/*' },
            ],
          },
        },
      ],
    });
  }

  it('writes a delegated challenge at its CNAME target in the validation zone, and Pebble validates through the CNAME', async () => {
    const aws = await e2e.install(['app.example.com']);
    const validationZone = aws.route53.addZone({ name: 'validation.example.net' });
    // The CNAME target is no `_acme-challenge` name: only a validation zone lets the workflow write it.
    await e2e.redeploy({ acme: { validationZoneIds: [validationZone] } });
    await delegate('_acme-challenge.app.example.com', 'app.validation.example.net');

    const run = await e2e.run({
      certificateId: 'delegated',
      domains: ['app.example.com', '*.app.example.com'],
    });

    expect(run.execution.error).toBeUndefined();
    expect(run.execution.status).toBe('SUCCEEDED');
    const [certificate] = [...aws.acm.certificates.values()];
    expect(sans(certificate?.certificatePem ?? '')).toEqual(['*.app.example.com', 'app.example.com']);
    expect(challengesOf(run)).toEqual([
      expect.objectContaining({
        zoneId: validationZone,
        zoneName: 'validation.example.net',
        recordName: 'app.validation.example.net',
        delegatedFrom: '_acme-challenge.app.example.com',
      }),
      expect.objectContaining({ recordName: 'app.validation.example.net' }),
    ]);
    const [published, removed] = aws.route53.changeBatches;
    expect(aws.route53.changeBatches).toHaveLength(2);
    expect(published?.zoneId).toBe(validationZone);
    expect(published?.changes.map((change) => change.ResourceRecordSet?.Name)).toEqual([
      'app.validation.example.net.',
    ]);
    expect(published?.changes[0]?.ResourceRecordSet?.ResourceRecords).toHaveLength(2);
    expect(removed).toMatchObject({ zoneId: validationZone, changes: [{ Action: 'DELETE' }] });
    expect(aws.route53.txtValues('app.validation.example.net')).toEqual([]);
  });

  it('publishes, polls and cleans up a zone in another account through its role', async () => {
    sts = installStsFake();
    const role = sts.addRole(`arn:aws:iam::${PARTNER_ACCOUNT}:role/acme-dns-shop`);
    const aws = await e2e.install([], { sts, props: { acme: { zoneRoleArns: [role] } } });
    aws.route53.useAccounts(sts);
    const partnerZone = aws.route53.addZone({ name: 'partner.example', account: PARTNER_ACCOUNT });
    partnerGrants(role, partnerZone);

    const run = await e2e.run({
      certificateId: 'partner',
      domains: ['shop.partner.example'],
      zoneRoles: { [partnerZone]: role },
    });

    expect(run.execution.error).toBeUndefined();
    expect(run.execution.status).toBe('SUCCEEDED');
    expect(aws.route53.changeBatches.map((batch) => [batch.zoneId, batch.account])).toEqual([
      [partnerZone, PARTNER_ACCOUNT],
      [partnerZone, PARTNER_ACCOUNT],
    ]);
    expect(aws.route53.calls.GetHostedZone).toBe(1);
    // One role session per execution environment: each step is its own function, and a warm
    // environment keeps its client (WaitForDnsSync polls again without assuming the role again)
    // until the credentials expire.
    const dnsFunctions = e2e.cloud.lambda.functions
      .filter((fn) => DNS_STEPS.includes(fn.environment.ACME_STEP ?? ''))
      .map((fn) => fn.functionName);
    const count = (counts: Readonly<Record<string, number>>) =>
      dnsFunctions.reduce((sum, name) => sum + (counts[name] ?? 0), 0);
    const environments = count(e2e.cloud.lambda.coldStarts);
    expect(environments).toBe(DNS_STEPS.length);
    expect(count(e2e.cloud.lambda.invocations)).toBeGreaterThan(environments);
    expect(sts.calls.AssumeRole).toBe(environments);
    expect(aws.route53.txtValues('_acme-challenge.shop.partner.example')).toEqual([]);
  });

  it('follows a CNAME into a validation zone that lives in another account', async () => {
    sts = installStsFake();
    const role = sts.addRole(`arn:aws:iam::${PARTNER_ACCOUNT}:role/acme-dns-validation`);
    const aws = await e2e.install(['api.example.com'], { sts, props: { acme: { zoneRoleArns: [role] } } });
    aws.route53.useAccounts(sts);
    const validationZone = aws.route53.addZone({ name: 'acme.partner.example', account: PARTNER_ACCOUNT });
    partnerGrants(role, validationZone);
    await delegate('_acme-challenge.api.example.com', 'api.acme.partner.example');

    const run = await e2e.run({
      certificateId: 'api',
      domains: ['api.example.com'],
      zoneRoles: { [validationZone]: role },
    });

    expect(run.execution.error).toBeUndefined();
    expect(run.execution.status).toBe('SUCCEEDED');
    expect(aws.route53.changeBatches.map((batch) => [batch.zoneId, batch.account])).toEqual([
      [validationZone, PARTNER_ACCOUNT],
      [validationZone, PARTNER_ACCOUNT],
    ]);
  });

  it('answers no challenge until every authoritative name server has the TXT values', async () => {
    const aws = await e2e.install(['lagging.example.org']);
    const nameServers = aws.nameServers;
    if (!nameServers) throw new Error('installLocalAws started no name servers');
    nameServers.freeze(2);
    const polls: boolean[] = [];
    let answeredWhileLagging = false;

    const run = await e2e.run(
      { certificateId: 'lagging', domains: ['lagging.example.org'] },
      {
        wrapTask: (stateName, perform) => async (input) => {
          if (stateName === 'AnswerChallenges' && polls.at(-1) !== true) answeredWhileLagging = true;
          const output = await perform(input);
          if (stateName === 'WaitForDnsSync') {
            polls.push((output as { dnsInSync: boolean }).dnsInSync);
            // Route 53 reports INSYNC on the second poll; the frozen server catches up after it.
            if (polls.length === 2) nameServers.thaw(2);
          }
          return output;
        },
      },
    );

    expect(run.execution.error).toBeUndefined();
    expect(run.execution.status).toBe('SUCCEEDED');
    expect(polls).toEqual([false, false, true]);
    expect(run.route53GetChangeCalls).toBe(3);
    expect(answeredWhileLagging).toBe(false);
    expect(nameServers.queries[2]).toBeGreaterThanOrEqual(2);
  });

  it('fails after the poll bound naming the record and the server that lacks it, without asking the CA to validate', async () => {
    const aws = await e2e.install(['stuck.example.org']);
    aws.nameServers?.freeze(1);
    // The template leaves the poll bound at its default; an operator lowers it on the functions.
    e2e.cloud.configureFunctions({ MAX_POLLS: '4' });

    const run = await e2e.run({ certificateId: 'stuck', domains: ['stuck.example.org'] });

    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error?.name).toBe('PollingTimeoutError');
    const cause = run.execution.error?.cause ?? '';
    expect(cause).toContain('_acme-challenge.stuck.example.org (zone example.org)');
    expect(cause).toContain(`${aws.nameServers?.addresses[1]}: answers 0 of 1 values`);
    expect(cause).not.toContain(`${aws.nameServers?.addresses[0]}:`);
    expect(Object.keys(run.acmeRequestsByPath).filter((key) => CHALLENGE_REQUEST.test(key))).toEqual([]);
    expect(aws.route53.txtValues('_acme-challenge.stuck.example.org')).toEqual([]);
  });

  it('publishes 36 names across three zones with one change batch per zone, and cleans up with one more each', async () => {
    const domains = ['example.org', 'example.net', 'example.com'].flatMap((zone) => [
      zone,
      `*.${zone}`,
      ...Array.from({ length: 10 }, (_, index) => `host-${index}.many.${zone}`),
    ]);
    const aws = await e2e.install(domains);

    const run = await e2e.run({ certificateId: 'many', domains });

    expect(run.execution.error).toBeUndefined();
    expect(run.execution.status).toBe('SUCCEEDED');
    const [certificate] = [...aws.acm.certificates.values()];
    expect(sans(certificate?.certificatePem ?? '')).toHaveLength(36);
    expect(run.route53ChangeCalls).toBe(6);
    const byZone = new Map<string, string[][]>();
    for (const batch of aws.route53.changeBatches) {
      byZone.set(batch.zoneId, [
        ...(byZone.get(batch.zoneId) ?? []),
        batch.changes.map((change) => change.Action ?? ''),
      ]);
    }
    expect([...byZone.keys()].sort()).toEqual([...aws.zones.values()].sort());
    for (const [, batches] of byZone) {
      // 11 record sets per zone: the apex and its wildcard share one.
      expect(batches).toEqual([Array(11).fill('UPSERT'), Array(11).fill('DELETE')]);
    }
    for (const domain of domains) {
      expect(aws.route53.txtValues(`_acme-challenge.${domain.replace(/^\*\./, '')}`)).toEqual([]);
    }
  });
});
