import { Duration } from 'aws-cdk-lib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TRANSIENT_ERROR_NAMES } from '../../lambdas/core/errors.js';
import { rateLimitLiftsAt } from '../../lambdas/core/renewal/rate-limit.js';
import { advertiseCaaIdentities, startCaProxy } from '../harness/ca-proxy.js';
import { ChalltestsrvClient } from '../harness/challtestsrv.js';
import type { StackPropsForTest } from '../harness/cloud/assembly.js';
import type { DeployedStack } from '../harness/cloud/cloud.js';
import {
  deployLocally,
  installLocalAws,
  type LocalAws,
  type LocalCa,
  type LocalDeployment,
  runLocalIssuance,
} from '../harness/local-issuance.js';
import { startPebble } from '../harness/pebble.js';
import { problem, type ScriptedCa, STALL, startScriptedCa } from '../harness/scripted-ca.js';

/**
 * Error names survive bundling, and a timeout is reported as Lambda reports it: every name a Retry or Catch of the synthesized state machines
 * matches, and every name our code compares against, is the `errorType` that the shipped bundle
 * really reports when that error happens. Each error is provoked for real: a CA that answers with
 * the problem, a CA that is not there, CAA records naming another CA, AWS that throttles; the bundle runs in the local Lambda
 * exactly as the state machine invokes it, under the template's IAM.
 */

const INPUT = {
  certificateId: 'names',
  domains: ['names.example.org'],
  execution: {
    id: 'arn:aws:states:us-east-1:123456789012:execution:Issuance:names',
    startedAt: new Date().toISOString(),
  },
};

/** The names of our errors that `ErrorEquals` lists in a definition (not the service's `States.*`, `Lambda.*`, `Runtime.*` or `Sandbox.*`). */
function matchedErrorNames(stack: DeployedStack): string[] {
  const names = new Set<string>();
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (typeof value === 'object' && value !== null) {
      for (const [key, item] of Object.entries(value)) {
        if (key === 'ErrorEquals') for (const name of item as string[]) names.add(name);
        else visit(item);
      }
    }
  };
  visit(stack.stateMachine('Issuance').definition);
  visit(stack.stateMachine('Renewals').definition);
  return [...names].filter((name) => !/^(States|Lambda|Runtime|Sandbox)\./.test(name)).sort();
}

describe('errors of the shipped bundles, as Lambda reports them', () => {
  let ca: ScriptedCa;
  let aws: LocalAws | undefined;
  let deployment: LocalDeployment | undefined;

  beforeAll(async () => {
    ca = await startScriptedCa();
  });
  afterAll(async () => {
    await ca?.stop();
  });
  afterEach(async () => {
    await deployment?.cloud.shutdown();
    await aws?.restore();
    aws = undefined;
    deployment = undefined;
  });

  async function deploy(target: LocalCa, props?: StackPropsForTest): Promise<LocalDeployment> {
    aws = installLocalAws(target, INPUT.domains);
    deployment = await deployLocally(target, aws, props ? { props } : {});
    return deployment;
  }

  /** What the RegisterAccount bundle reports for one run, as Lambda hands it to Step Functions. */
  async function registerAccountError(
    local: LocalDeployment,
  ): Promise<{ errorType: string; errorMessage: string }> {
    const fn = local.cloud.lambda.functions.find(
      (candidate) => candidate.environment.ACME_STEP === 'register-account',
    );
    if (!fn) throw new Error('no RegisterAccount function deployed');
    const outcome = await local.cloud.lambda.invoke(fn.functionArn, INPUT);
    if (outcome.ok) throw new Error(`RegisterAccount succeeded: ${JSON.stringify(outcome.payload)}`);
    return outcome.error;
  }

  /** Each error provoked for real, and the name the bundle reported. */
  async function provoke(): Promise<Map<string, { errorType: string; errorMessage: string }>> {
    const reported = new Map<string, { errorType: string; errorMessage: string }>();
    const local = await deploy(ca);
    ca.answerPosts(() => problem('badNonce', 400, 'JWS has an invalid anti-replay nonce'));
    reported.set('badNonce', await registerAccountError(local));
    ca.answerPosts(() => problem('serverInternal', 500, 'the CA fell over'));
    reported.set('serverInternal', await registerAccountError(local));
    ca.answerPosts(() => problem('rateLimited', 429, 'too many new accounts', { 'retry-after': '3600' }));
    reported.set('rateLimited', await registerAccountError(local));
    local.aws.dynamodb.failNext('GetItem', 'ThrottlingException', 10);
    reported.set('throttled', await registerAccountError(local));
    await local.cloud.shutdown();
    await aws?.restore();

    // A CA that is not there at all: nothing listens on the discard port.
    const absent = await deploy({ ...ca, directoryUrl: 'https://127.0.0.1:9/directory' });
    reported.set('unreachable', await registerAccountError(absent));
    await absent.cloud.shutdown();
    await aws?.restore();

    // CreateOrder's reasons to take the next CA, as its Catch receives them: a rate limit past
    // the renewal window of a first issuance.
    reported.set('caUnavailable', await createOrderFallbackError());
    await deployment?.cloud.shutdown();
    await aws?.restore();
    aws = undefined;
    deployment = undefined;
    // And CAA records that name another CA only, against a real CA with real DNS.
    reported.set('caaForbids', await caaRefusal());
    return reported;
  }

  /** What CreateOrder's Catch records when the names' CAA records allow another CA only. */
  async function caaRefusal(): Promise<{ errorType: string; errorMessage: string }> {
    const pebble = await startPebble({ env: { PEBBLE_WFE_NONCEREJECT: '0' } });
    const proxy = await startCaProxy(pebble);
    try {
      advertiseCaaIdentities(proxy, ['pebble.test']);
      await new ChalltestsrvClient(pebble.challtestsrvUrl).addCaa(INPUT.domains[0] ?? '', [
        { tag: 'issue', value: 'other-ca.example' },
      ]);
      const local = await deploy(proxy);
      const run = await runLocalIssuance({
        deployment: local,
        input: { certificateId: 'names', domains: INPUT.domains },
      });
      return caFailureOf(run);
    } finally {
      await proxy.stop();
      await pebble.stop();
    }
  }

  /** The failure CreateOrder's Catch recorded for the state machine's `AnotherCa?` choice. */
  function caFailureOf(run: Awaited<ReturnType<typeof runLocalIssuance>>): {
    errorType: string;
    errorMessage: string;
  } {
    const entered = run.execution.events.find(
      (event) => event.type === 'StateEntered' && 'state' in event && event.state.name === 'AnotherCa?',
    );
    const input = (entered && 'state' in entered ? entered.state.input : undefined) as
      | { caFailure?: { Error?: string; Cause?: string } }
      | undefined;
    const cause = JSON.parse(input?.caFailure?.Cause ?? '{}') as { errorMessage?: string };
    return { errorType: input?.caFailure?.Error ?? 'none', errorMessage: cause.errorMessage ?? '' };
  }

  /**
   * The error CreateOrder hands to the next CA when the first rate-limits newOrder, read from
   * the `caFailure` the state machine's Catch recorded: two CAs, the second not there.
   */
  async function createOrderFallbackError(): Promise<{ errorType: string; errorMessage: string }> {
    const base = ca.directoryUrl.replace(/\/directory$/, '');
    ca.answerPosts((path) => {
      if (path === '/new-account') {
        return { status: 201, headers: { location: `${base}/acct/1` }, body: { status: 'valid' } };
      }
      return problem('rateLimited', 429, 'too many new orders', { 'retry-after': '86400' });
    });
    const local = await deploy(ca, {
      acme: {
        certificateAuthorities: [
          { directoryUrl: ca.directoryUrl },
          { directoryUrl: 'https://127.0.0.1:9/directory' },
        ],
      },
    });
    const run = await runLocalIssuance({
      deployment: local,
      input: { certificateId: 'names', domains: INPUT.domains },
    });
    return caFailureOf(run);
  }

  it('reports every name the state machines and the code match on, as the bundle throws it', async () => {
    const reported = await provoke();

    expect(reported.get('badNonce')?.errorType).toBe('BadNonceError');
    expect(reported.get('serverInternal')?.errorType).toBe('AcmeServerError');
    expect(reported.get('rateLimited')?.errorType).toBe('RateLimitedError');
    expect(reported.get('throttled')?.errorType).toBe('AwsTransientError');
    expect(reported.get('unreachable')?.errorType).toBe('AcmeConnectionError');
    expect(reported.get('caUnavailable')?.errorType).toBe('CaUnavailableError');
    expect(reported.get('caaForbids')?.errorType).toBe('CaaForbidsIssuanceError');
    const thrown = new Set([...reported.values()].map((error) => error.errorType));

    // Every name a Retry or Catch matches is one the bundles really throw.
    const matched = matchedErrorNames(deployment?.stack as DeployedStack);
    expect(matched.length).toBeGreaterThan(0);
    for (const name of matched) expect(thrown, `ErrorEquals "${name}"`).toContain(name);
    // The core's transient list (what Retry is built from) names thrown errors only.
    for (const name of TRANSIENT_ERROR_NAMES)
      expect(thrown, `TRANSIENT_ERROR_NAMES "${name}"`).toContain(name);
    // Cleanup's check for a rate limit recognizes the name and the Cause the bundle produces.
    const rateLimited = reported.get('rateLimited');
    const cause = JSON.stringify({
      errorType: rateLimited?.errorType,
      errorMessage: rateLimited?.errorMessage,
    });
    expect(rateLimitLiftsAt(String(rateLimited?.errorType), cause)).toBeInstanceOf(Date);
  });

  it('lets the synthesized Retry match a transient error from the bundle, then carries its name to the Fail state', async () => {
    const local = await deploy(ca);
    ca.answerPosts(() => problem('serverInternal', 500, 'the CA fell over'));

    const run = await runLocalIssuance({
      deployment: local,
      input: { certificateId: 'names', domains: INPUT.domains },
    });

    const retried = run.execution.events.filter(
      (event) => event.type === 'StateRetried' && 'state' in event && event.state.name === 'RegisterAccount',
    );
    expect(retried.length).toBeGreaterThanOrEqual(4);
    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error?.name).toBe('AcmeServerError');
    expect(JSON.parse(String(run.execution.error?.cause))).toMatchObject({
      errorType: 'AcmeServerError',
      errorMessage: expect.stringContaining('the CA fell over'),
      trace: expect.arrayContaining([expect.stringContaining('AcmeServerError')]),
    });
  });

  it('fails with Sandbox.Timedout as Lambda reports it, and the Catch still runs Cleanup', async () => {
    const local = await deploy(ca, { acme: { functionTimeout: Duration.seconds(2) } });
    ca.answerPosts(() => STALL);

    const run = await runLocalIssuance({
      deployment: local,
      input: { certificateId: 'slow', domains: INPUT.domains },
    });

    expect(run.execution.status).toBe('FAILED');
    expect(run.execution.error?.name).toBe('Sandbox.Timedout');
    expect(JSON.parse(String(run.execution.error?.cause))).toEqual({
      errorType: 'Sandbox.Timedout',
      errorMessage: expect.stringMatching(
        /^RequestId: [0-9a-f-]{36} Error: Task timed out after 2\.00 seconds$/,
      ),
    });
    expect(run.execution.steps.map((step) => step.name)).toEqual(['RegisterAccount', 'Cleanup']);
  });
});
