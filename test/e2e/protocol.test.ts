import { X509Certificate as NodeX509Certificate, randomBytes } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rateLimitLiftsAt } from '../../lambdas/core/renewal/rate-limit.js';
import { installSecretsManagerFake, type SecretsManagerFake } from '../fakes/secrets-manager-fake.js';
import { type CaProxy, startCaProxy } from '../harness/ca-proxy.js';
import type { EventLog } from '../harness/cloud/step-functions.js';
import { usePebbleWorkflow } from '../harness/e2e-fixture.js';
import {
  deployLocally,
  installLocalAws,
  type LocalAws,
  type LocalDeployment,
  type LocalIssuanceResult,
  runLocalIssuance,
} from '../harness/local-issuance.js';
import { type PebbleEnvironment, startPebble } from '../harness/pebble.js';
import { statePayloads } from '../support/capture.js';

// Pebble 2.4's endpoints, as the request counters name them.
const NEW_ACCOUNT = 'POST /sign-me-up';
const NEW_ORDER = /^\/order-plz$/;
const ORDER = /^\/my-order\//;
const FINALIZE = /^\/finalize-order\//;
const CHALLENGE = 'POST /chalZ';

/** A network whose DNS checks ask the CA's mock DNS server, as the CA itself does. */
function caDnsNetwork(ca: { readonly dnsResolver: string }): Record<string, string> {
  return { DNS_RESOLVERS: ca.dnsResolver, DNS_AUTHORITATIVE_SERVERS: ca.dnsResolver };
}

/** The input of each entry into the Wait state `name`, in order. */
function waitInputs(events: readonly EventLog[], name: string): { retryAfterSeconds?: number }[] {
  return events
    .filter((event) => event.type === 'StateEntered' && 'state' in event && event.state.name === name)
    .map((event) => ('state' in event ? (event.state.input as { retryAfterSeconds?: number }) : {}));
}

function certificatesOf(pem: string): NodeX509Certificate[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(
    (block) => new NodeX509Certificate(block),
  );
}

function commonName(distinguishedName: string): string | undefined {
  return /^CN=(.*)$/m.exec(distinguishedName)?.[1];
}

function importedOf(aws: LocalAws, run: LocalIssuanceResult) {
  const arn = (run.execution.output as { certificateArn?: string } | undefined)?.certificateArn ?? '';
  const imported = aws.acm.certificates.get(arn);
  if (!imported) throw new Error(`nothing was imported (${run.execution.error?.cause ?? 'no error'})`);
  return imported;
}

describe('external account binding', () => {
  const kid = 'kid-acme-aws';
  const hmacKey = randomBytes(48);
  const e2e = usePebbleWorkflow({
    pebble: {
      env: { PEBBLE_WFE_NONCEREJECT: '0' },
      externalAccountMacKeys: { [kid]: hmacKey.toString('base64url') },
    },
  });
  let secrets: SecretsManagerFake | undefined;

  afterEach(() => {
    secrets?.restore();
    secrets = undefined;
  });

  it('registers with the binding read from Secrets Manager, and keeps the MAC key out of every payload and log line', async () => {
    const domains = ['eab.example.org'];
    secrets = installSecretsManagerFake();
    const secretArn = secrets.createSecret(
      'acme-aws/eab',
      JSON.stringify({ kid, hmacKey: hmacKey.toString('base64url') }),
    );
    await e2e.install(domains, {
      props: { acme: { logLevel: 'DEBUG' }, externalAccountBindingSecretArn: secretArn },
      network: caDnsNetwork(e2e.pebble),
    });

    const first = await e2e.run({ certificateId: 'eab', domains });
    const second = await e2e.run({ certificateId: 'eab', domains });

    expect(first.execution.error).toBeUndefined();
    expect(first.execution.status).toBe('SUCCEEDED');
    expect(first.acmeResponsesByStatus[`${NEW_ACCOUNT} 201`]).toBe(1);
    expect(second.execution.status).toBe('SUCCEEDED');
    expect(second.acmeRequestsByPath[NEW_ACCOUNT]).toBeUndefined();
    // Read once, when the account was created; the second run uses the recorded account.
    expect(secrets.calls.GetSecretValue).toBe(1);
    const logs = e2e.cloud.logText();
    expect(logs).toContain('"level":"DEBUG"');
    const payloads = statePayloads(first) + statePayloads(second);
    for (const form of [
      hmacKey.toString('base64url'),
      hmacKey.toString('base64'),
      hmacKey.toString('hex'),
      hmacKey.toString('base64url').slice(8, 40),
      hmacKey.toString('hex').slice(16, 64),
    ]) {
      expect(payloads, `state payloads contain ${form}`).not.toContain(form);
      expect(logs, `logs contain ${form}`).not.toContain(form);
    }
  });

  it('fails with ExternalAccountRequiredError, creating no account, when the CA requires a binding and none is configured', async () => {
    const domains = ['no-eab.example.org'];
    await e2e.install(domains, { network: caDnsNetwork(e2e.pebble) });

    const run = await e2e.run({ certificateId: 'no-eab', domains });

    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error?.name).toBe('ExternalAccountRequiredError');
    expect(run.execution.error?.cause).toContain('externalAccountBindingSecret');
    expect(run.acmeResponsesByStatus[`${NEW_ACCOUNT} 201`]).toBeUndefined();
    expect(run.acmeRequestsByPath['POST /order-plz']).toBeUndefined();
  });

  it('fails without revealing the key when the CA refuses the binding', async () => {
    const domains = ['wrong-eab.example.org'];
    secrets = installSecretsManagerFake();
    const wrongKey = randomBytes(48);
    const secretArn = secrets.createSecret(
      'acme-aws/eab',
      JSON.stringify({ kid, hmacKey: wrongKey.toString('base64url') }),
    );
    await e2e.install(domains, {
      props: { externalAccountBindingSecretArn: secretArn },
      network: caDnsNetwork(e2e.pebble),
    });

    const run = await e2e.run({ certificateId: 'wrong-eab', domains });

    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error?.name).toBe('UnauthorizedError');
    expect(run.execution.error?.cause).toContain('external account binding');
    const text = `${statePayloads(run)}${e2e.cloud.logText()}${run.execution.error?.cause}`;
    for (const form of [
      wrongKey.toString('base64url'),
      wrongKey.toString('base64'),
      wrongKey.toString('hex'),
    ]) {
      expect(text).not.toContain(form);
    }
  });
});

describe('alternate chains and key types', () => {
  const e2e = usePebbleWorkflow({
    pebble: { env: { PEBBLE_ALTERNATE_ROOTS: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' } },
  });
  let defaultRoot: NodeX509Certificate;
  let alternateRoot: NodeX509Certificate;

  beforeAll(async () => {
    defaultRoot = new NodeX509Certificate(await e2e.pebble.rootCertificatePem(0));
    alternateRoot = new NodeX509Certificate(await e2e.pebble.rootCertificatePem(1));
  });

  const issue = async (certificateId: string, domains: string[], extra: Record<string, unknown> = {}) => {
    await e2e.install(domains, { network: caDnsNetwork(e2e.pebble) });
    return e2e.run({ certificateId, domains, ...extra });
  };

  /** The root the imported chain leads to: the one that signed its topmost certificate. */
  const rootOf = (chainPem: string): NodeX509Certificate | undefined => {
    const top = certificatesOf(chainPem).at(-1);
    return [defaultRoot, alternateRoot].find((root) => top?.verify(root.publicKey));
  };

  it('imports the chain whose topmost issuer is the preferred root, fetching the alternate the CA links', async () => {
    const preferredChain = commonName(alternateRoot.subject);
    expect(preferredChain).toBeDefined();
    expect(preferredChain).not.toBe(commonName(defaultRoot.subject));

    const run = await issue('alt-chain', ['alt.example.org'], { preferredChain });

    expect(run.execution.status).toBe('SUCCEEDED');
    const imported = importedOf(e2e.aws, run);
    expect(commonName(certificatesOf(imported.chainPem).at(-1)?.issuer ?? '')).toBe(preferredChain);
    expect(rootOf(imported.chainPem)).toBe(alternateRoot);
    // The default chain, then the alternate it links to.
    expect(run.acmeResponsesByStatus['POST /certZ 200']).toBe(2);
  });

  it('keeps the default chain, with one download, when no preference is given', async () => {
    const run = await issue('default-chain', ['default.example.org']);

    expect(run.execution.status).toBe('SUCCEEDED');
    expect(rootOf(importedOf(e2e.aws, run).chainPem)).toBe(defaultRoot);
    expect(run.acmeResponsesByStatus['POST /certZ 200']).toBe(1);
  });

  it('keeps the default chain and says so when no chain matches the preference', async () => {
    const run = await issue('no-such-chain', ['nomatch.example.org'], { preferredChain: 'No Such Root' });

    expect(run.execution.status).toBe('SUCCEEDED');
    expect(rootOf(importedOf(e2e.aws, run).chainPem)).toBe(defaultRoot);
    expect((run.execution.output as { warnings?: string[] }).warnings).toEqual([
      expect.stringContaining('"No Such Root"'),
    ]);
  });

  it.each([
    ['EC_P384', 'EC_secp384r1', 'ec'],
    ['RSA_3072', 'RSA_3072', 'rsa'],
    ['RSA_4096', 'RSA_4096', 'rsa'],
  ])('issues and imports a %s certificate key', async (keyType, acmAlgorithm, keyKind) => {
    const run = await issue(
      `key-${keyType.toLowerCase()}`,
      [`${keyType.toLowerCase().replace('_', '-')}.example.org`],
      {
        keyType,
      },
    );

    expect(run.execution.error).toBeUndefined();
    expect(run.execution.status).toBe('SUCCEEDED');
    const imported = importedOf(e2e.aws, run);
    expect(imported.keyAlgorithm).toBe(acmAlgorithm);
    expect(new NodeX509Certificate(imported.certificatePem).publicKey.asymmetricKeyType).toBe(keyKind);
  });

  it('warns, in the logs and the outcome, that CloudFront refuses a P-384 key imported into us-east-1', async () => {
    const run = await issue('p384-cloudfront', ['cdn.example.org'], {
      keyType: 'EC_P384',
      regions: ['us-east-1'],
    });

    expect(run.execution.status).toBe('SUCCEEDED');
    const warnings = (run.execution.output as { warnings?: string[] }).warnings ?? [];
    expect(warnings).toEqual([expect.stringContaining('CloudFront')]);
    const warningLines = run.logs
      .split('\n')
      .filter((line) => line.includes('"level":"WARN"') && line.includes('CloudFront'));
    expect(warningLines.length).toBeGreaterThan(0);
  });
});

describe('robustness against a real CA', () => {
  let aws: LocalAws | undefined;
  let deployment: LocalDeployment | undefined;

  afterEach(async () => {
    await deployment?.cloud.shutdown();
    aws?.restore();
    aws = undefined;
    deployment = undefined;
  });

  /** Installs the AWS fakes and deploys the stack against this test's own Pebble. */
  const deployFor = async (
    pebble: PebbleEnvironment,
    domains: readonly string[],
  ): Promise<LocalDeployment> => {
    aws = installLocalAws(pebble, domains);
    deployment = await deployLocally(pebble, aws, { network: caDnsNetwork(pebble) });
    return deployment;
  };

  it('issues when Pebble rejects half of all nonces, retrying each badNonce with the nonce that came with it', async () => {
    const pebble = await startPebble({ env: { PEBBLE_WFE_NONCEREJECT: '50' } });
    try {
      const domains = ['nonces.example.org', '*.nonces.example.org'];
      const deployed = await deployFor(pebble, domains);

      // Pebble draws each rejection at random, so a run of about ten POSTs has a 1 in 1,024 chance
      // of meeting none. Issue again, as a new certificate, until a run has met at least one.
      let rejected = 0;
      for (let attempt = 1; attempt <= 3 && rejected === 0; attempt += 1) {
        const run = await runLocalIssuance({
          deployment: deployed,
          input: { certificateId: `nonces-${attempt}`, domains },
        });

        expect(run.execution.error).toBeUndefined();
        expect(run.execution.status).toBe('SUCCEEDED');
        rejected = Object.entries(run.acmeResponsesByStatus)
          .filter(([key]) => key.startsWith('POST ') && key.endsWith(' 400'))
          .reduce((sum, [, count]) => sum + count, 0);
        // A badNonce answer carries a fresh nonce, so a request's retry never needs a newNonce
        // request. A step run needs one only when it starts without a usable nonce: RegisterAccount
        // (nothing to carry yet), and a step that Step Functions retries after six rejections in a
        // row (about 1 in 64) exhausted a request's retries: it starts again from its own input.
        const registrations = run.execution.steps.find((step) => step.name === 'RegisterAccount')?.runs ?? 1;
        const stepsExhaustedByBadNonce = run.logs
          .split('\n')
          .filter(
            (line) =>
              line.includes('"message":"Step failed"') && line.includes('"errorName":"BadNonceError"'),
          ).length;
        expect(run.acmeRequestsByPath['HEAD /nonce-plz'] ?? 0).toBeLessThanOrEqual(
          registrations + stepsExhaustedByBadNonce,
        );
      }
      expect(rejected).toBeGreaterThan(0);
    } finally {
      await pebble.stop();
    }
  });

  it('reuses valid authorizations on a second issuance for the same names: no challenge is answered again', async () => {
    const pebble = await startPebble({ env: { PEBBLE_AUTHZREUSE: '100', PEBBLE_WFE_NONCEREJECT: '0' } });
    try {
      const domains = ['reuse.example.org', '*.reuse.example.org'];
      const deployed = await deployFor(pebble, domains);
      const run = () =>
        runLocalIssuance({ deployment: deployed, input: { certificateId: 'reuse', domains } });

      const first = await run();
      const second = await run();

      expect(first.execution.status).toBe('SUCCEEDED');
      expect(first.acmeRequestsByPath[CHALLENGE]).toBe(2);
      expect(second.execution.error).toBeUndefined();
      expect(second.execution.status).toBe('SUCCEEDED');
      expect(second.acmeRequestsByPath[CHALLENGE]).toBeUndefined();
      expect(second.route53ChangeCalls).toBe(0);
      const firstSerial = (first.execution.output as { certificate: { serial: string } }).certificate.serial;
      const secondSerial = (second.execution.output as { certificate: { serial: string } }).certificate
        .serial;
      expect(secondSerial).not.toBe(firstSerial);
    } finally {
      await pebble.stop();
    }
  });
});

describe('CA answers Pebble never gives, through a proxy', () => {
  const e2e = usePebbleWorkflow({ pebble: { env: { PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' } } });
  let proxy: CaProxy | undefined;

  afterEach(async () => {
    await proxy?.stop();
    proxy = undefined;
  });

  const issue = async (certificateId: string, domains: string[]) => {
    const ca = await startCaProxy(e2e.pebble);
    proxy = ca;
    await e2e.install(domains, { ca, network: caDnsNetwork(e2e.pebble) });
    return {
      proxy: ca,
      run: () => e2e.run({ certificateId, domains }),
    };
  };

  it('waits as long as Retry-After says between order polls and while the certificate is processing', async () => {
    const { proxy, run } = await issue('patience', ['patience.example.org']);
    proxy.intercept({ method: 'POST', path: ORDER, times: 1, retryAfter: 7, holdOrderAs: 'pending' });
    proxy.intercept({ method: 'POST', path: FINALIZE, times: 1, retryAfter: 5, holdOrderAs: 'processing' });

    const result = await run();

    expect(result.execution.error).toBeUndefined();
    expect(result.execution.status).toBe('SUCCEEDED');
    const authorizationPauses = waitInputs(result.execution.events, 'PauseForAuthorizations');
    // The first pause follows AnswerChallenges (the configured interval); the next one the poll.
    expect(authorizationPauses[1]?.retryAfterSeconds).toBe(7);
    expect(waitInputs(result.execution.events, 'PauseForCertificate')[0]?.retryAfterSeconds).toBe(5);
  });

  it('retries a 503 and succeeds', async () => {
    const { proxy, run } = await issue('maintenance', ['maintenance.example.org']);
    proxy.intercept({
      method: 'POST',
      path: NEW_ORDER,
      times: 1,
      answer: { status: 503, headers: { 'Retry-After': '1' }, body: 'down for maintenance' },
    });

    const result = await run();

    expect(result.execution.error).toBeUndefined();
    expect(result.execution.status).toBe('SUCCEEDED');
    expect(proxy.exchanges.filter((exchange) => NEW_ORDER.test(exchange.path)).map((e) => e.status)).toEqual([
      503, 201,
    ]);
    expect(result.execution.events.some((event) => event.type === 'StateRetried')).toBe(true);
  });

  it('stops at once on rateLimited, with one request and a message that says when the limit lifts', async () => {
    const { proxy, run } = await issue('limited', ['limited.example.org']);
    proxy.intercept({
      method: 'POST',
      path: NEW_ORDER,
      answer: {
        status: 429,
        headers: { 'Retry-After': '3600' },
        problem: {
          type: 'urn:ietf:params:acme:error:rateLimited',
          detail: 'too many certificates already issued for "limited.example.org"',
        },
      },
    });
    const before = Date.now();

    const result = await run();

    expect(result.execution.status).toBe('FAILED');
    expect(result.execution.error?.name).toBe('RateLimitedError');
    expect(proxy.count('POST', NEW_ORDER)).toBe(1);
    const cause = result.execution.error?.cause ?? '';
    expect(cause).toMatch(/retry after \d{4}-\d{2}-\d{2}T/);
    const liftsAt = rateLimitLiftsAt('RateLimitedError', cause);
    expect(liftsAt?.getTime()).toBeGreaterThanOrEqual(before + 3600_000);
    expect(liftsAt?.getTime()).toBeLessThanOrEqual(Date.now() + 3600_000);
  });
});
