/**
 * `npm run demo`: one full issuance on this machine, with what `cdk deploy` would ship. A real
 * ACME CA (Debian's Pebble) and real DNS (pebble-challtestsrv); the stack synthesized with its
 * Lambda bundles and deployed into a local cloud: the synthesized Step Functions definition runs
 * every function's bundled asset as Lambda would, and AWS (KMS, Route 53, ACM, S3, DynamoDB,
 * EventBridge) is faked at the SDK boundary, every call authorized first by IAM evaluated from
 * the template's policies.
 *
 *   npm run demo -- [--domains a.example,*.a.example] [--key-type EC_P256|RSA_2048]
 *                   [--certificate-id ID] [--out DIR] [--json] [--verbose] [--renew]
 *
 * --soak N --fault-rate P runs N issuances of the names one after another with faults injected at
 * rate P into every AWS call, every exchange with the CA and every step, and reports what was lost
 * (`test/harness/soak.ts`). It needs its own Pebble (not a reused CA).
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
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import '../test/setup/polyfills.js';

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
    soak: { type: 'string' },
    'fault-rate': { type: 'string', default: '0.05' },
    seed: { type: 'string', default: '1' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(
    'npm run demo -- [--domains a.example,*.a.example] [--key-type EC_P256|RSA_2048] [--certificate-id ID] [--out DIR] [--json] [--verbose] [--renew] [--soak N --fault-rate P --seed S]\n',
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
// The functions' structured logs go to stderr with --verbose, at DEBUG.
const props = values.verbose ? { acme: { logLevel: 'DEBUG' as const } } : {};

const reuse = ['ACME_DIRECTORY_URL', 'ACME_CA_BUNDLE', 'CHALLTESTSRV_URL', 'DNS_RESOLVER'].every(
  (name) => process.env[name],
);

const { isPebbleInstalled, startPebble } = await import('../test/harness/pebble.js');
if (!reuse && !isPebbleInstalled()) ensurePebble();

const started = Date.now();
const pebble = reuse
  ? undefined
  : await startPebble({ env: { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' } });
const ca = reuse
  ? {
      directoryUrl: String(process.env.ACME_DIRECTORY_URL),
      caBundlePath: String(process.env.ACME_CA_BUNDLE),
      challtestsrvUrl: String(process.env.CHALLTESTSRV_URL),
      dnsResolver: String(process.env.DNS_RESOLVER),
    }
  : (pebble as NonNullable<typeof pebble>);
say(reuse ? `Using the running CA at ${ca.directoryUrl}` : `Started Pebble at ${ca.directoryUrl}`);

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
const deployment = await deployLocally(ca, aws, { props, echoLogs: values.verbose });
try {
  const run = await runLocalIssuance({
    deployment,
    input: { certificateId: values['certificate-id'], domains, keyType: values['key-type'] },
  });
  if (run.execution.status !== 'SUCCEEDED') {
    fail(`issuance failed: ${run.execution.error?.name}: ${run.execution.error?.cause}`);
  }
  const { certificateArn } = run.execution.output as { certificateArn: string };
  const imported = aws.acm.certificates.get(certificateArn);
  if (!imported) fail(`ACM has no certificate at ${certificateArn}`);
  const leaf = new X509Certificate(imported.certificatePem);
  const outDir = resolve(values.out);
  mkdirSync(outDir, { recursive: true });
  const fullchainPath = resolve(outDir, 'fullchain.pem');
  writeFileSync(fullchainPath, `${imported.certificatePem.trim()}\n${imported.chainPem.trim()}\n`);
  const leftoverTxt = await countLeftoverTxt(ca.dnsResolver, domains);
  const renewal = values.renew ? await renewLater() : undefined;

  const summary = {
    artifact: 'bundles',
    domains,
    certificateArn,
    serial: leaf.serialNumber.toLowerCase(),
    notAfter: new Date(leaf.validTo).toISOString(),
    durationMs: Date.now() - started,
    executionMs: run.execution.durationMs,
    acmeRequests: run.acmeRequests,
    kmsSignCalls: run.kmsSignCalls,
    route53ChangeCalls: run.route53ChangeCalls,
    route53GetChangeCalls: run.route53GetChangeCalls,
    acmCalls: run.acmCalls,
    stateTransitions: run.execution.stateTransitions,
    iamAuthorizedCalls: run.iamAuthorizedCalls,
    iamDenials: deployment.cloud.iam.denials.length,
    lambdaColdStarts: Object.values(deployment.cloud.lambda.coldStarts).reduce(
      (sum, count) => sum + count,
      0,
    ),
    steps: run.execution.steps.map((step) => ({ name: step.name, ms: step.ms, runs: step.runs })),
    txtRecordsLeft: leftoverTxt,
    fullchainPath,
    ...(renewal ? { renewal } : {}),
  };
  if (values.json) {
    realStdoutWrite(`${JSON.stringify(summary)}\n`);
  } else {
    const lines = [
      '',
      `Issued a certificate for ${domains.join(', ')}`,
      `  ACM ARN         ${certificateArn}`,
      `  serial          ${summary.serial}`,
      `  not after       ${summary.notAfter}`,
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
      `  State transitions ${summary.stateTransitions}`,
      `  AWS calls authorized by IAM ${summary.iamAuthorizedCalls} (denied ${summary.iamDenials})`,
      `  Lambda cold starts ${summary.lambdaColdStarts} (the bundled assets of the cloud assembly)`,
      `  TXT records left ${summary.txtRecordsLeft}`,
      `  Total           ${summary.durationMs} ms`,
      '',
      ...(renewal
        ? [
            `Renewed after moving the clock to ${renewal.clockMovedTo} (the recorded renewal time)`,
            `  ACM ARN         ${renewal.certificateArn}${renewal.certificateArn === certificateArn ? ' (same ARN)' : ''}`,
            `  serial          ${renewal.serial}`,
            `  ACME requests   ${renewal.acmeRequests}`,
            `  event           ${renewal.event}`,
            '',
          ]
        : []),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
} finally {
  await deployment.cloud.shutdown();
  await aws.restore();
  await pebble?.stop();
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
    return {
      clockMovedTo: new Date().toISOString(),
      certificateArn: output.certificateArn,
      serial: output.certificate?.serial ?? '',
      acmeRequests: renewed.acmeRequests,
      iamAuthorizedCalls: renewed.iamAuthorizedCalls,
      event: aws.eventBridge.events.at(-1)?.detailType ?? 'none',
    };
  } finally {
    globalThis.Date = RealDate;
  }
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
