import { createPrivateKey, createPublicKey, X509Certificate as NodeX509Certificate } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { describe, expect, it } from 'vitest';
import { usePebbleWorkflow } from '../harness/e2e-fixture.js';

// Pebble 2.4's directory paths for newAccount and newOrder.
const PEBBLE_NEW_ACCOUNT_PATH = '/sign-me-up';
const PEBBLE_NEW_ORDER_PATH = '/order-plz';

function pemCertificates(pem: string): NodeX509Certificate[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(
    (block) => new NodeX509Certificate(block),
  );
}

function dnsNames(certificate: NodeX509Certificate): string[] {
  return (certificate.subjectAltName ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4))
    .sort();
}

async function txtAt(resolverAddress: string, name: string): Promise<string[]> {
  const resolver = new Resolver();
  resolver.setServers([resolverAddress]);
  try {
    return (await resolver.resolveTxt(name)).map((chunks) => chunks.join(''));
  } catch (error) {
    if ((error as { code?: string }).code === 'ENODATA' || (error as { code?: string }).code === 'ENOTFOUND')
      return [];
    throw error;
  }
}

describe('issuance through the synthesized state machine against Pebble', () => {
  const e2e = usePebbleWorkflow();

  it('issues example.org + *.example.org into ACM, chained to Pebble’s root, and removes every TXT record', async () => {
    const domains = ['example.org', '*.example.org'];
    const aws = await e2e.install(domains);

    const run = await e2e.run({ certificateId: 'web', domains });

    expect(run.execution.error).toBeUndefined();
    expect(run.execution.status).toBe('SUCCEEDED');
    const output = run.execution.output as { certificateArn: string };
    const imported = aws.acm.certificates.get(output.certificateArn);
    expect(imported).toBeDefined();
    if (!imported) return;

    const leaf = new NodeX509Certificate(imported.certificatePem);
    expect(dnsNames(leaf)).toEqual(['*.example.org', 'example.org']);
    const chain = pemCertificates(imported.chainPem);
    expect(chain.length).toBeGreaterThan(0);
    expect(chain.some((certificate) => certificate.fingerprint256 === leaf.fingerprint256)).toBe(false);
    const root = new NodeX509Certificate(await e2e.pebble.rootCertificatePem());
    const path = [leaf, ...chain];
    for (let index = 0; index < path.length - 1; index += 1) {
      const [child, issuer] = [path[index], path[index + 1]];
      expect(child?.verify((issuer as NodeX509Certificate).publicKey)).toBe(true);
    }
    expect(path.at(-1)?.verify(root.publicKey)).toBe(true);

    const keyFromAcm = createPublicKey(createPrivateKey(imported.privateKeyPem)).export({ format: 'jwk' });
    expect(leaf.publicKey.export({ format: 'jwk' })).toEqual(keyFromAcm);

    const [published] = aws.route53.changeBatches;
    expect(published?.changes).toHaveLength(1);
    expect(published?.changes[0]).toMatchObject({
      Action: 'UPSERT',
      ResourceRecordSet: { Name: expect.stringMatching(/^_acme-challenge\.example\.org\.?$/), Type: 'TXT' },
    });
    const values =
      published?.changes[0]?.ResourceRecordSet?.ResourceRecords?.map((record) => record.Value) ?? [];
    expect(values).toHaveLength(2);
    for (const value of values) expect(value).toMatch(/^"[A-Za-z0-9_-]{43}"$/);

    expect(aws.route53.txtValues('_acme-challenge.example.org')).toEqual([]);
    expect(await txtAt(e2e.pebble.dnsResolver, '_acme-challenge.example.org')).toEqual([]);
    expect(run.route53ChangeCalls).toBe(2);

    const keyDer = createPrivateKey(imported.privateKeyPem).export({ format: 'der', type: 'pkcs8' });
    const payloads = JSON.stringify(
      run.execution.events.map((event) =>
        'state' in event ? [event.state.input, event.state.output] : event,
      ),
    );
    expect(payloads).not.toContain('PRIVATE KEY');
    expect(payloads).not.toContain(keyDer.toString('base64').slice(0, 40));
    expect(payloads).not.toContain(keyDer.toString('hex').slice(0, 40));
    expect(run.execution.steps.map((step) => step.name)).toEqual(
      expect.arrayContaining(['RegisterAccount', 'CreateOrder', 'Finalize', 'ImportToAcm', 'Cleanup']),
    );
  });

  it('renews into the same ACM ARN on a second run, reusing the recorded account', async () => {
    const domains = ['renew.example.org'];
    const aws = await e2e.install(domains);
    const first = await e2e.run({ certificateId: 'api', domains });
    expect(first.execution.status).toBe('SUCCEEDED');

    const second = await e2e.run({ certificateId: 'api', domains });

    expect(second.execution.status).toBe('SUCCEEDED');
    const firstArn = (first.execution.output as { certificateArn: string }).certificateArn;
    const secondArn = (second.execution.output as { certificateArn: string }).certificateArn;
    expect(secondArn).toBe(firstArn);
    expect(aws.acm.certificates.get(firstArn)?.importCount).toBe(2);
    expect(aws.acm.certificates.size).toBe(1);
    const newAccountRequests = Object.entries(second.acmeRequestsByPath)
      .filter(([path]) => path.includes(PEBBLE_NEW_ACCOUNT_PATH))
      .reduce((sum, [, count]) => sum + count, 0);
    expect(newAccountRequests).toBe(0);
  });

  it('issues with an RSA 2048 key when asked', async () => {
    const domains = ['rsa.example.org'];
    const aws = await e2e.install(domains);

    const run = await e2e.run({ certificateId: 'rsa', domains, keyType: 'RSA_2048' });

    expect(run.execution.status).toBe('SUCCEEDED');
    const imported = aws.acm.certificates.get(
      (run.execution.output as { certificateArn: string }).certificateArn,
    );
    const leaf = new NodeX509Certificate(imported?.certificatePem ?? '');
    expect(leaf.publicKey.asymmetricKeyType).toBe('rsa');
    expect(leaf.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('publishes one change batch per hosted zone when names span two zones', async () => {
    const domains = ['a.example.org', '*.example.org', 'api.example.net'];
    const aws = await e2e.install(domains);

    const run = await e2e.run({ certificateId: 'multi', domains });

    expect(run.execution.status).toBe('SUCCEEDED');
    expect(aws.zones.size).toBe(2);
    expect(run.route53ChangeCalls).toBe(4);
    const imported = aws.acm.certificates.get(
      (run.execution.output as { certificateArn: string }).certificateArn,
    );
    expect(dnsNames(new NodeX509Certificate(imported?.certificatePem ?? ''))).toEqual([
      '*.example.org',
      'a.example.org',
      'api.example.net',
    ]);
  });

  it('fails with the identifier and the CA’s detail when validation fails, and still cleans up DNS', async () => {
    const domains = ['broken.example.org'];
    const aws = await e2e.install(domains);

    const run = await e2e.run(
      { certificateId: 'broken', domains },
      {
        wrapTask: (stateName, perform) =>
          stateName === 'PublishChallenges'
            ? (input) => {
                const state = input as { challenges: { value: string }[] };
                return perform({
                  ...state,
                  challenges: state.challenges.map((c) => ({ ...c, value: 'not-the-digest' })),
                });
              }
            : perform,
      },
    );

    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error?.name).toBe('OrderInvalidError');
    expect(run.execution.error?.cause).toContain('broken.example.org');
    expect(run.execution.steps.map((step) => step.name)).toContain('Cleanup');
    expect(aws.route53.txtValues('_acme-challenge.broken.example.org')).toEqual([]);
    expect(await txtAt(e2e.pebble.dnsResolver, '_acme-challenge.broken.example.org')).toEqual([]);
    expect(aws.acm.certificates.size).toBe(0);
  });

  it('refuses a name outside every hosted zone before ordering anything', async () => {
    await e2e.install(['example.org']);

    const run = await e2e.run({ certificateId: 'stray', domains: ['example.org', 'elsewhere.test'] });

    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error?.name).toBe('InvalidInputError');
    expect(run.execution.error?.cause).toContain('elsewhere.test');
    const orders = Object.entries(run.acmeRequestsByPath).filter(([path]) =>
      path.includes(PEBBLE_NEW_ORDER_PATH),
    );
    expect(orders).toEqual([]);
  });

  it('refuses malformed input with a clear error before any CA request', async () => {
    await e2e.install(['example.org']);

    const run = await e2e.run({ certificateId: 'x', domains: 'example.org' });

    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error?.name).toBe('InvalidInputError');
    expect(run.execution.error?.cause).toMatch(/domains must be a list/);
    expect(run.acmeRequests).toBe(0);
  });
});
