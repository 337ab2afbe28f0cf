/**
 * `npm run demo`: one full issuance on this machine, with what `cdk deploy` would ship. A real
 * ACME CA (Debian's Pebble) and real DNS (pebble-challtestsrv); the stack synthesized with its
 * Lambda bundles and deployed into a local cloud: the synthesized Step Functions definition runs
 * every function's bundled asset as Lambda would, and AWS (KMS, Route 53, ACM, S3, DynamoDB,
 * EventBridge, Secrets Manager, Parameter Store) is faked at the SDK boundary, every call
 * authorized first by IAM evaluated from the template's policies.
 *
 *   npm run demo -- [--domains a.example,*.a.example] [--key-type EC_P256|RSA_2048]
 *                   [--certificate-id ID] [--out DIR] [--json] [--verbose] [--renew] [--deliver]
 *                   [--challenge dns-01|dns-persist-01] [--fallback-ca]
 *
 * --soak N --fault-rate P runs N issuances of the names one after another with faults injected at
 * rate P into every AWS call, every exchange with the CA and every step, and reports what was lost
 * (`test/harness/soak.ts`). It needs its own Pebble (not a reused CA).
 *
 * --deliver declares the certificate in the stack (`certificates: [{ id, domains, keyType,
 * secret: true, parameters: { path: '/acme-demo/<id>' } }]`), so the deployment creates its secret
 * (pending until the first issuance), and starts `{"action":"renew","certificateId":ID}` as the
 * schedule would: the first run issues, imports into ACM, then DeliverCertificate writes a new
 * secret version and the SecureString parameters `<path>/certificate|chain|privateKey`. The
 * summary adds `delivered` (`{ target, name, version }` per target, from the registry record), and
 * DIR gets what a workload would read: `secret.json` (the secret's AWSCURRENT value) and
 * `parameters/<part>.pem`, both readable by the owner only; the key is never printed. With
 * --renew, the renewal writes the secret's second version (the first kept as AWSPREVIOUS).
 *
 * --challenge dns-persist-01 (draft-ietf-acme-dns-persist-02) declares the certificate with
 * `challenge: 'dns-persist-01'`. Debian's Pebble does not offer that challenge, so the demo starts
 * its own Pebble with `PEBBLE_VA_ALWAYS_VALID=1` (and no authorization reuse, so every order is
 * validated anew) behind the validating proxy of `test/harness/dns-persist-ca.ts`, which offers
 * dns-persist-01 and judges the records from DNS. A SETUP issuance (`renew` of the id, the first)
 * writes the persistent record `_validation-persist.<name>`; the measured one is a forced renewal
 * (`{"action":"renew","certificateId":ID,"force":true}`), which finds the record in place and makes
 * no Route 53 call. The summary says `"challenge": "dns-persist-01"`, counts the measured run alone
 * (its `lambdaColdStarts` and `iamDenials` too) and adds `setup` (`route53ChangeCalls`, `records`: each name with its values) and `validations`
 * (how the CA validated each name in the measured run). Not with a reused CA, nor with --soak.
 * Without the flag (or with `dns-01`) the summary says `"challenge": "dns-01"` and nothing changes.
 *
 * --fallback-ca deploys with `certificateAuthorities: [first, second]`, where the first CA is down:
 * its directory URL is a loopback port nobody listens on (`freeTcpPort()`), so every connection is
 * refused, as with a CA whose endpoint is gone; no proxy stands in for it. The second is the demo's
 * Pebble. RegisterAccount finds the first unreachable and the same execution moves on to the
 * second. The summary adds `certificateAuthorities` (the list as configured) and `firstCaAttempts`
 * (`{ requests, answered }`: what the functions sent the first CA), and reads `issuedBy`
 * from the registry record (`issued.directoryUrl`) and `fallbackUsed` from the `Certificate Issued`
 * (or `Renewed`) event; the two must agree on the issuing CA. Not with a reused CA, --soak or
 * --challenge dns-persist-01. Without the flag the summary still says `issuedBy` (the one CA) and
 * `fallbackUsed: false`.
 *
 * --renew then moves the clock past the certificate's recorded renewal time and runs a
 * scheduled-style `renew` (not forced), which re-imports into the same ACM ARN.
 *
 * Reuses a running CA when ACME_DIRECTORY_URL, ACME_CA_BUNDLE, CHALLTESTSRV_URL and DNS_RESOLVER
 * are all set; otherwise starts its own on loopback.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import '../test/setup/polyfills.js';
import { CHALLENGE_TYPES, type ChallengeType } from '../lambdas/core/config/fields.js';
import type { CertificateKeyType } from '../lib/declared-certificates.js';
import type { PebbleEnvironment } from '../test/harness/pebble.js';

const realStdoutWrite = process.stdout.write.bind(process.stdout);

function fail(message: string): never {
  process.stderr.write(`demo: ${message}\n`);
  process.exit(1);
}

const { values } = parseArgs({
  options: {
    domains: { type: 'string', default: 'example.org,*.example.org' },
    'key-type': { type: 'string', default: 'EC_P256' },
    'certificate-id': { type: 'string', default: 'demo' },
    out: { type: 'string', default: '.demo' },
    json: { type: 'boolean', default: false },
    verbose: { type: 'boolean', short: 'v', default: false },
    renew: { type: 'boolean', default: false },
    deliver: { type: 'boolean', default: false },
    challenge: { type: 'string', default: 'dns-01' },
    'fallback-ca': { type: 'boolean', default: false },
    soak: { type: 'string' },
    'fault-rate': { type: 'string', default: '0.05' },
    seed: { type: 'string', default: '1' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(
    [
      'npm run demo -- [--domains a.example,*.a.example] [--key-type EC_P256|RSA_2048] [--certificate-id ID] [--out DIR] [--json] [--verbose] [--renew] [--deliver] [--challenge dns-01|dns-persist-01] [--fallback-ca] [--soak N --fault-rate P --seed S]',
      '',
      '  --challenge dns-persist-01',
      "             declare the certificate with challenge: 'dns-persist-01' and start Pebble (always-valid)",
      '             behind a proxy that offers and validates dns-persist-01 (draft-ietf-acme-dns-persist-02).',
      '             A setup issuance writes _validation-persist.<name>; the measured one is a forced renewal',
      '             with no Route 53 call. The summary adds `setup` (its Route 53 changes and the records)',
      '             and `validations`. Needs its own Pebble: not with ACME_DIRECTORY_URL etc., nor --soak.',
      '             dns-01 (the default) is the usual per-order TXT record.',
      '  --fallback-ca',
      '             deploy with certificateAuthorities [first, second], the first a loopback port nobody',
      "             listens on (unreachable), the second the demo's Pebble; the run falls back to the second.",
      '             The summary adds `certificateAuthorities` and `firstCaAttempts` ({ requests, answered }),',
      "             and reports `issuedBy` (the registry's issued.directoryUrl) and `fallbackUsed` (the",
      '             Certificate Issued event). Needs its own Pebble: not with ACME_DIRECTORY_URL etc.,',
      '             nor --soak, nor --challenge dns-persist-01.',
      '  --deliver  declare the certificate with secret: true and parameters: { path: /acme-demo/<id> },',
      '             renew it as the schedule would (the first run issues), and report `delivered`:',
      '             { target: secretsmanager|ssm, name, version } per target; writes DIR/secret.json',
      '             and DIR/parameters/<part>.pem as a workload would read them (the key is never printed).',
      "             With --renew, shows the secret's second version (AWSCURRENT, AWSPREVIOUS).",
      '  --renew    move the clock past the recorded renewal time and run a scheduled renew.',
      '',
    ].join('\n'),
  );
  process.exit(0);
}
const domains = values.domains
  .split(',')
  .map((domain) => domain.trim())
  .filter(Boolean);
if (domains.length === 0) fail('--domains needs at least one name, e.g. --domains example.org,*.example.org');
const say = (line: string) => process.stderr.write(`${line}\n`);

// In --json mode stdout carries exactly one JSON object; handler logs go to stderr.
if (values.json) {
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) =>
    (process.stderr.write as (...args: unknown[]) => boolean)(chunk, ...rest)) as typeof process.stdout.write;
}
if (values.deliver && values.soak !== undefined) fail('--deliver does not combine with --soak');
if (!(CHALLENGE_TYPES as readonly string[]).includes(values.challenge))
  fail(`--challenge takes ${CHALLENGE_TYPES.join(' or ')} (got ${values.challenge})`);
const challenge = values.challenge as ChallengeType;
const persist = challenge === 'dns-persist-01';
if (persist && values.soak !== undefined) fail('--challenge dns-persist-01 does not combine with --soak');
const fallbackCa = values['fallback-ca'];
if (fallbackCa && values.soak !== undefined) fail('--fallback-ca does not combine with --soak');
if (fallbackCa && persist)
  fail(
    '--fallback-ca does not combine with --challenge dns-persist-01 (whose CA is a single Pebble behind the proxy that validates it)',
  );
const certificateId = values['certificate-id'];
/** Where --deliver puts the certificate's parameters. */
const parameterPath = `/acme-demo/${certificateId}`;
// The functions' structured logs go to stderr with --verbose, at DEBUG. With --deliver the
// certificate is declared in the stack, with its delivery targets; with dns-persist-01, with its
// challenge (only a declared certificate gets the permission to write its persistent record).
const declared = values.deliver || persist;
const props = {
  acme: {
    ...(values.verbose ? { logLevel: 'DEBUG' as const } : {}),
    ...(declared
      ? {
          certificates: [
            {
              id: certificateId,
              domains,
              keyType: values['key-type'] as CertificateKeyType,
              ...(values.deliver ? { secret: true, parameters: { path: parameterPath } } : {}),
              ...(persist ? { challenge } : {}),
            },
          ],
        }
      : {}),
  },
};

const CA_VARIABLES = ['ACME_DIRECTORY_URL', 'ACME_CA_BUNDLE', 'CHALLTESTSRV_URL', 'DNS_RESOLVER'];
const reuse = CA_VARIABLES.every((name) => process.env[name]);
const caVariablesSet = CA_VARIABLES.filter((name) => process.env[name]);
if (persist && caVariablesSet.length > 0) {
  fail(
    `--challenge dns-persist-01 needs its own Pebble (always-valid, behind the proxy that offers and validates dns-persist-01) and cannot use a running CA: unset ${caVariablesSet.join(', ')}`,
  );
}
if (fallbackCa && caVariablesSet.length > 0) {
  fail(
    `--fallback-ca needs its own Pebble (the CA it falls back to) and cannot use a running CA: unset ${caVariablesSet.join(', ')}`,
  );
}

const { isPebbleInstalled, startPebble } = await import('../test/harness/pebble.js');
if (!reuse && !isPebbleInstalled()) ensurePebble();

const started = Date.now();
const pebble = reuse
  ? undefined
  : await startPebble({
      env: {
        PEBBLE_VA_NOSLEEP: '1',
        PEBBLE_WFE_NONCEREJECT: '0',
        // Pebble validates nothing itself: the proxy in front of it is the CA's validator. Without
        // authorization reuse the measured renewal is validated anew, so it shows dns-persist-01.
        ...(persist ? { PEBBLE_VA_ALWAYS_VALID: '1', PEBBLE_AUTHZREUSE: '0' } : {}),
      },
    });
const persistCa = persist && pebble ? await startPersistCa(pebble) : undefined;
const ca = reuse
  ? {
      directoryUrl: String(process.env.ACME_DIRECTORY_URL),
      caBundlePath: String(process.env.ACME_CA_BUNDLE),
      challtestsrvUrl: String(process.env.CHALLTESTSRV_URL),
      dnsResolver: String(process.env.DNS_RESOLVER),
    }
  : (persistCa?.proxy ?? (pebble as NonNullable<typeof pebble>));
say(
  reuse
    ? `Using the running CA at ${ca.directoryUrl}`
    : persistCa
      ? `Started Pebble (always-valid) behind the dns-persist-01 validator at ${ca.directoryUrl}`
      : `Started Pebble at ${ca.directoryUrl}`,
);
const certificateAuthorities = fallbackCa ? await fallbackList() : undefined;
if (certificateAuthorities) {
  say(
    `CAs in order of preference: ${certificateAuthorities.map((entry) => entry.directoryUrl).join(', ')} (the first: nobody listens on its port)`,
  );
}

if (values.soak !== undefined) {
  const runs = Number(values.soak);
  const faultRate = Number(values['fault-rate']);
  if (!Number.isInteger(runs) || runs < 1)
    fail(`--soak needs a number of runs, e.g. --soak 20 (got ${values.soak})`);
  if (!(faultRate >= 0 && faultRate <= 1))
    fail(`--fault-rate needs a rate from 0 to 1, e.g. 0.05 (got ${values['fault-rate']})`);
  if (!pebble) fail('--soak needs its own Pebble: unset ACME_DIRECTORY_URL and the other CA variables');
  const { runSoak } = await import('../test/harness/soak.js');
  const soak = await runSoak({
    pebble,
    runs,
    faultRate,
    domains,
    seed: Number(values.seed),
    onRun: (index, status) => say(`soak run ${index + 1}/${runs}: ${status}`),
  });
  const summary = {
    artifact: 'bundles',
    domains,
    faultRate,
    soak: {
      runs: soak.runs,
      issued: soak.issued,
      failedClean: soak.failedClean,
      faultsInjected: soak.faultsInjected,
      orphanedTxtValues: soak.orphanedTxtValues,
      lostCertificates: soak.lostCertificates,
      lostNewOrderResponses: soak.lostNewOrderResponses,
    },
    ordersAtCa: soak.ordersAtCa,
    failedUnclean: soak.failedUnclean,
    certificatesLeftAtCa: soak.certificatesLeftAtCa,
    nextRuns: soak.nextRuns,
    nextRunsIssued: soak.nextRunsIssued,
    ordersByNextRuns: soak.ordersByNextRuns,
    faultsByKind: soak.faultsByKind,
    seed: soak.seed,
    durationMs: soak.durationMs,
    failures: soak.failures,
  };
  if (values.json) realStdoutWrite(`${JSON.stringify(summary)}\n`);
  else process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  await pebble.stop();
  process.exit(0);
}

const { installLocalAws, deployLocally, runLocalIssuance } = await import(
  '../test/harness/local-issuance.js'
);
const aws = installLocalAws(ca, domains);
const deployment = await deployLocally(ca, aws, {
  props: certificateAuthorities ? { acme: { ...props.acme, certificateAuthorities } } : props,
  echoLogs: values.verbose,
});
try {
  // A declared certificate is issued as the schedule would start it: a `renew` of its id, which
  // issues it the first time. An undeclared one is issued from the input's names and key type.
  // With dns-persist-01 that first issuance is the setup, which writes the persistent records;
  // the measured run is then a forced renewal that finds them in place.
  const setup = persist ? await runPersistSetup() : undefined;
  const validationsBefore = persistCa?.ca.validations.length ?? 0;
  // The deployment's running totals, so that after a setup run the summary counts the measured run alone.
  const coldStartsBefore = setup ? deploymentColdStarts() : 0;
  const denialsBefore = setup ? deployment.cloud.iam.denials.length : 0;
  const eventsBefore = aws.eventBridge.events.length;
  const httpBefore = deployment.cloud.httpRequests.length;
  const run = await runLocalIssuance({
    deployment,
    input: persist
      ? { action: 'renew', certificateId, force: true }
      : declared
        ? { action: 'renew', certificateId }
        : { certificateId, domains, keyType: values['key-type'] },
  });
  if (run.execution.status !== 'SUCCEEDED') {
    fail(`issuance failed: ${run.execution.error?.name}: ${run.execution.error?.cause}`);
  }
  const validations = persistCa?.ca.validations
    .slice(validationsBefore)
    .map(({ identifier, wildcard, type, outcome }) => ({
      name: wildcard ? `*.${identifier}` : identifier,
      type,
      outcome,
    }));
  const { certificateArn } = run.execution.output as { certificateArn: string };
  const issuer = await issuingCa(eventsBefore);
  const firstCaAttempts = certificateAuthorities
    ? attemptsAt(certificateAuthorities[0]?.directoryUrl, httpBefore)
    : undefined;
  const imported = aws.acm.certificates.get(certificateArn);
  if (!imported) fail(`ACM has no certificate at ${certificateArn}`);
  const leaf = new X509Certificate(imported.certificatePem);
  const outDir = resolve(values.out);
  mkdirSync(outDir, { recursive: true });
  const fullchainPath = resolve(outDir, 'fullchain.pem');
  writeFileSync(fullchainPath, `${imported.certificatePem.trim()}\n${imported.chainPem.trim()}\n`);
  const leftoverTxt = await countLeftoverTxt(ca.dnsResolver, domains);
  const delivered = values.deliver ? await deliveredTargets(run.execution.output) : undefined;
  const renewal = values.renew ? await renewLater() : undefined;
  const workload = values.deliver ? await writeWorkloadFiles(outDir) : undefined;

  const summary = {
    artifact: 'bundles',
    challenge,
    domains,
    certificateArn,
    serial: leaf.serialNumber.toLowerCase(),
    notAfter: new Date(leaf.validTo).toISOString(),
    issuedBy: issuer.issuedBy,
    fallbackUsed: issuer.fallbackUsed,
    ...(certificateAuthorities ? { certificateAuthorities } : {}),
    ...(firstCaAttempts ? { firstCaAttempts } : {}),
    durationMs: Date.now() - started,
    executionMs: run.execution.durationMs,
    acmeRequests: run.acmeRequests,
    kmsSignCalls: run.kmsSignCalls,
    route53ChangeCalls: run.route53ChangeCalls,
    route53GetChangeCalls: run.route53GetChangeCalls,
    acmCalls: run.acmCalls,
    stateTransitions: run.execution.stateTransitions,
    iamAuthorizedCalls: run.iamAuthorizedCalls,
    iamDenials: deployment.cloud.iam.denials.length - denialsBefore,
    lambdaColdStarts: deploymentColdStarts() - coldStartsBefore,
    steps: run.execution.steps.map((step) => ({ name: step.name, ms: step.ms, runs: step.runs })),
    txtRecordsLeft: leftoverTxt,
    fullchainPath,
    ...(setup ? { setup } : {}),
    ...(validations ? { validations } : {}),
    ...(delivered ? { delivered } : {}),
    ...(workload ? { workload } : {}),
    ...(renewal ? { renewal } : {}),
  };
  if (values.json) {
    realStdoutWrite(`${JSON.stringify(summary)}\n`);
  } else {
    const lines = [
      '',
      ...(setup
        ? [
            `Setup issuance (dns-persist-01): ${setup.route53ChangeCalls} Route 53 change(s) wrote the persistent records`,
            ...setup.records.flatMap((record) =>
              record.values.map((value) => `  ${record.name.padEnd(34)} TXT "${value}"`),
            ),
            '',
            'Measured: a forced renewal with the records in place',
          ]
        : []),
      `Issued a certificate for ${domains.join(', ')} (${challenge})`,
      `  ACM ARN         ${certificateArn}`,
      `  serial          ${summary.serial}`,
      `  not after       ${summary.notAfter}`,
      `  issued by       ${summary.issuedBy}${
        firstCaAttempts
          ? ` (${summary.fallbackUsed ? 'a fallback' : 'no fallback'}: the first CA, ${certificateAuthorities?.[0]?.directoryUrl}, answered ${firstCaAttempts.answered} of ${firstCaAttempts.requests} request(s))`
          : ''
      }`,
      `  written to      ${fullchainPath}`,
      '',
      'Steps (Lambda time, local):',
      ...summary.steps.map(
        (step) =>
          `  ${step.name.padEnd(24)} ${String(step.ms).padStart(6)} ms${step.runs > 1 ? `  (${step.runs} runs)` : ''}`,
      ),
      '',
      `  ACME requests   ${summary.acmeRequests}`,
      `  KMS Sign calls  ${summary.kmsSignCalls}`,
      `  Route 53 changes ${summary.route53ChangeCalls} (GetChange polls ${summary.route53GetChangeCalls})`,
      ...(validations
        ? [
            `  CA validations  ${validations.map((entry) => `${entry.name} ${entry.type} ${entry.outcome}`).join(', ')}`,
          ]
        : []),
      `  State transitions ${summary.stateTransitions}`,
      `  AWS calls authorized by IAM ${summary.iamAuthorizedCalls} (denied ${summary.iamDenials})`,
      `  Lambda cold starts ${summary.lambdaColdStarts} (the bundled assets of the cloud assembly)`,
      `  TXT records left ${summary.txtRecordsLeft}`,
      `  Total           ${summary.durationMs} ms`,
      '',
      ...(delivered && workload
        ? [
            `Delivered (DeliverCertificate, after ImportToAcm) to ${delivered.length} targets:`,
            ...delivered.map(
              (target) => `  ${target.target.padEnd(15)} ${target.name}  version ${target.version}`,
            ),
            '',
          ]
        : []),
      ...(renewal
        ? [
            `Renewed after moving the clock to ${renewal.clockMovedTo} (the recorded renewal time)`,
            `  ACM ARN         ${renewal.certificateArn}${renewal.certificateArn === certificateArn ? ' (same ARN)' : ''}`,
            `  serial          ${renewal.serial}`,
            `  ACME requests   ${renewal.acmeRequests}`,
            `  event           ${renewal.event}`,
            ...(renewal.delivered
              ? renewal.delivered.map(
                  (target) => `  delivered       ${target.target} ${target.name}  version ${target.version}`,
                )
              : []),
            '',
          ]
        : []),
      ...(workload
        ? [
            `What a workload reads now${renewal ? ', after the renewal' : ''} (the key is not printed):`,
            `  secret          ${workload.secretPath} (serial ${workload.secretSerial}; AWSPREVIOUS: ${workload.previous})`,
            ...workload.secretStages.map(
              (entry) => `  version         ${entry.versionId} ${entry.stages.join(', ')}`,
            ),
            ...workload.parameters.map(
              (parameter) => `  parameter       ${parameter.name} v${parameter.version} → ${parameter.path}`,
            ),
            '',
          ]
        : []),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
} finally {
  await deployment.cloud.shutdown();
  await aws.restore();
  await persistCa?.proxy.stop();
  await pebble?.stop();
}

/**
 * `--fallback-ca`'s list: first a CA that is down (a loopback port nobody listens on, so every
 * connection is refused), then the demo's Pebble.
 */
async function fallbackList(): Promise<{ readonly directoryUrl: string }[]> {
  const { freeTcpPort } = await import('../test/harness/loopback-ports.js');
  return [
    { directoryUrl: `https://127.0.0.1:${await freeTcpPort()}/dir` },
    { directoryUrl: ca.directoryUrl },
  ];
}

/**
 * Which CA issued the measured run's certificate, as the workflow recorded it: the registry's
 * `issued.directoryUrl`, which the run's `Certificate Issued` or `Certificate Renewed` event must
 * name too, and whether that event says a CA other than the first issued.
 */
async function issuingCa(eventsBefore: number): Promise<{ issuedBy: string; fallbackUsed: boolean }> {
  const recorded = (await registryRecord())?.issued?.directoryUrl;
  if (!recorded) fail('the registry records no issuing CA (issued.directoryUrl) for the certificate');
  const event = aws.eventBridge.events
    .slice(eventsBefore)
    .findLast((entry) => ['Certificate Issued', 'Certificate Renewed'].includes(entry.detailType));
  if (!event) fail('the run published no Certificate Issued or Certificate Renewed event');
  if (event.detail.issuedBy !== recorded) {
    fail(
      `the registry says ${recorded} issued the certificate, the ${event.detailType} event says ${String(event.detail.issuedBy)}`,
    );
  }
  return { issuedBy: recorded, fallbackUsed: event.detail.fallbackUsed === true };
}

/** The requests the functions sent to `directoryUrl`'s host since `since`, and how many it answered. */
function attemptsAt(directoryUrl: string | undefined, since: number) {
  if (!directoryUrl) return undefined;
  const host = new URL(directoryUrl).host;
  const exchanges = deployment.cloud.httpRequests.slice(since).filter((exchange) => exchange.host === host);
  return { requests: exchanges.length, answered: exchanges.filter((exchange) => exchange.status > 0).length };
}

/** Lambda execution environments the deployment has started so far. */
function deploymentColdStarts(): number {
  return Object.values(deployment.cloud.lambda.coldStarts).reduce((sum, count) => sum + count, 0);
}

/** Puts the proxy that offers and validates dns-persist-01 in front of `pebble` (always-valid). */
async function startPersistCa(environment: PebbleEnvironment) {
  const { startCaProxy } = await import('../test/harness/ca-proxy.js');
  const { extendWithDnsPersist } = await import('../test/harness/dns-persist-ca.js');
  const proxy = await startCaProxy(environment);
  return { proxy, ca: extendWithDnsPersist(proxy, environment.dnsResolver) };
}

/**
 * The first issuance of the declared certificate, which writes its persistent records: what it
 * cost in Route 53, and the records as Route 53 now holds them.
 */
async function runPersistSetup() {
  const { validationDomainName } = await import('../lambdas/core/acme/dns-persist.js');
  const setupRun = await runLocalIssuance({ deployment, input: { action: 'renew', certificateId } });
  if (setupRun.execution.status !== 'SUCCEEDED') {
    fail(`the setup issuance failed: ${setupRun.execution.error?.name}: ${setupRun.execution.error?.cause}`);
  }
  const records = [...new Set(domains.map(validationDomainName))].map((name) => ({
    name,
    values: aws.route53.txtValues(name),
  }));
  if (records.some((record) => record.values.length === 0)) {
    fail(
      `the setup issuance wrote no persistent record at ${records
        .filter((record) => record.values.length === 0)
        .map((record) => record.name)
        .join(', ')}`,
    );
  }
  return {
    executionMs: setupRun.execution.durationMs,
    acmeRequests: setupRun.acmeRequests,
    route53ChangeCalls: setupRun.route53ChangeCalls,
    route53GetChangeCalls: setupRun.route53GetChangeCalls,
    stateTransitions: setupRun.execution.stateTransitions,
    records,
  };
}

/**
 * Moves this process's clock just past the renewal time the registry recorded, then starts the
 * same `renew` the schedule would (not forced): the certificate is due, so it is renewed and
 * re-imported into the same ARN.
 */
async function renewLater() {
  const record = (await aws.dynamodb.items(deployment.stack.registryTable)).find(
    (item) => item.certificateId === values['certificate-id'],
  );
  const renewAt = new Date(String(record?.nextRenewalAt));
  if (Number.isNaN(renewAt.getTime())) fail('the registry recorded no renewal time');
  // The local Lambda environments follow this process's clock.
  const offset = renewAt.getTime() + 60_000 - Date.now();
  const RealDate = Date;
  class ShiftedDate extends RealDate {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(RealDate.now() + offset);
      else super(...(args as [string]));
    }
    static override now(): number {
      return RealDate.now() + offset;
    }
  }
  globalThis.Date = ShiftedDate as DateConstructor;
  try {
    const renewed = await runLocalIssuance({
      deployment,
      input: { action: 'renew', certificateId: values['certificate-id'] },
    });
    if (renewed.execution.status !== 'SUCCEEDED') {
      fail(`renewal failed: ${renewed.execution.error?.name}: ${renewed.execution.error?.cause}`);
    }
    const output = renewed.execution.output as {
      certificateArn?: string;
      skipped?: string;
      certificate?: { serial: string };
    };
    if (!output.certificateArn) fail(`the renewal did nothing: ${output.skipped}`);
    const delivered = values.deliver ? await deliveredTargets(renewed.execution.output) : undefined;
    return {
      clockMovedTo: new Date().toISOString(),
      certificateArn: output.certificateArn,
      serial: output.certificate?.serial ?? '',
      acmeRequests: renewed.acmeRequests,
      iamAuthorizedCalls: renewed.iamAuthorizedCalls,
      event: aws.eventBridge.events.at(-1)?.detailType ?? 'none',
      ...(delivered ? { delivered } : {}),
    };
  } finally {
    globalThis.Date = RealDate;
  }
}

/** One delivery target as the registry records it. */
interface DeliveredTarget {
  readonly target: 'secretsmanager' | 'ssm';
  readonly name: string;
  readonly version: string;
}

/** The certificate's registry record, as far as the demo reads it. */
async function registryRecord(): Promise<
  | {
      readonly nextRenewalAt?: string;
      readonly config?: {
        readonly delivery?: { readonly secretArn?: string; readonly parameterPath?: string };
      };
      readonly issued?: {
        readonly directoryUrl?: string;
        readonly delivered?: { readonly targets?: readonly DeliveredTarget[] };
      };
    }
  | undefined
> {
  return (await aws.dynamodb.items(deployment.stack.registryTable)).find(
    (item) => item.certificateId === certificateId,
  );
}

/** What the last run delivered: the registry's record of it, or else the execution output's `delivered`. */
async function deliveredTargets(output: unknown): Promise<DeliveredTarget[]> {
  const recorded = (await registryRecord())?.issued?.delivered?.targets;
  const targets = recorded ?? (output as { delivered?: DeliveredTarget[] } | undefined)?.delivered ?? [];
  if (targets.length === 0) fail('the certificate was issued but delivered to no target');
  return targets.map(({ target, name, version }) => ({ target, name, version }));
}

/**
 * Writes what a workload would read, as `aws secretsmanager get-secret-value` and
 * `aws ssm get-parameter --with-decryption` would give it: the secret's AWSCURRENT value as
 * DIR/secret.json, each parameter as DIR/parameters/<part>.pem, readable by the owner only.
 * Returns paths and version stages, never the values.
 */
async function writeWorkloadFiles(outDir: string) {
  const { secretsManager, ssm } = deployment.cloud;
  const secret = (await registryRecord())?.config?.delivery?.secretArn;
  if (!secret) fail('the registry records no secret for the certificate');
  const value = secretsManager.valueOf(secret, 'AWSCURRENT');
  if (!value) fail(`the secret ${secret} has no AWSCURRENT value`);
  const secretPath = resolve(outDir, 'secret.json');
  writeFileSync(secretPath, `${value}\n`, { mode: 0o600 });
  chmodSync(secretPath, 0o600);
  const parametersDir = resolve(outDir, 'parameters');
  mkdirSync(parametersDir, { recursive: true });
  const parameters: { name: string; version: number; path: string }[] = [];
  for (const part of ['certificate', 'chain', 'privateKey', 'fullchain']) {
    const name = `${parameterPath}/${part}`;
    const version = ssm.version(name);
    const text = ssm.valueOf(name);
    if (!version || text === undefined) continue;
    const path = resolve(parametersDir, `${part}.pem`);
    writeFileSync(path, text.endsWith('\n') ? text : `${text}\n`, { mode: 0o600 });
    chmodSync(path, 0o600);
    parameters.push({ name, version: version.version, path });
  }
  const document = JSON.parse(value) as { serial?: string; names?: string[]; privateKey?: string };
  return {
    secretArn: secret,
    secretPath,
    secretSerial: document.serial ?? '',
    secretHasPrivateKey: typeof document.privateKey === 'string',
    secretStages: Object.entries(secretsManager.versionIdsToStages(secret)).map(([versionId, stages]) => ({
      versionId,
      stages,
    })),
    // AWSPREVIOUS: the pending value the deployment wrote, or the certificate before a renewal.
    previous: previousOf(secretsManager.valueOf(secret, 'AWSPREVIOUS')),
    parametersDir,
    parameters,
  };
}

/** `serial <hex>` or `status pending` of a secret value, without its key. */
function previousOf(value: string | undefined): string | null {
  if (value === undefined) return null;
  const document = JSON.parse(value) as { serial?: string; status?: string };
  return document.serial ? `serial ${document.serial}` : `status ${document.status ?? 'unknown'}`;
}

/** Asks the CA's DNS server directly whether any challenge record is still there. */
async function countLeftoverTxt(resolverAddress: string, names: readonly string[]): Promise<number> {
  const resolver = new Resolver();
  resolver.setServers([resolverAddress]);
  let left = 0;
  for (const name of new Set(names.map((domain) => `_acme-challenge.${domain.replace(/^\*\./, '')}`))) {
    try {
      left += (await resolver.resolveTxt(name)).length;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code !== 'ENODATA' && code !== 'ENOTFOUND') throw error;
    }
  }
  return left;
}

/** Installs Debian's pebble when we can (root with apt-get), otherwise says exactly what to run. */
function ensurePebble(): void {
  const command = 'apt-get update && apt-get install -y pebble';
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
  if (!isRoot || !hasApt) {
    fail(
      `pebble is not installed. Install Debian's package, then run the demo again:\n\n  sudo sh -c '${command}'\n`,
    );
  }
  say(`pebble is not installed; installing Debian's package as root: ${command}`);
  execFileSync('sh', ['-c', command], { stdio: ['ignore', process.stderr, process.stderr] });
}
