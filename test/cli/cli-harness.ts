import type { CliEnvironment } from '../../cli/environment.js';
import { sdkClients } from '../../cli/environment.js';
import { runCli } from '../../cli/main.js';
import { type CloudFormationFake, installCloudFormationFake } from '../fakes/cloudformation-fake.js';
import { type DynamoDbFake, installDynamoDbFake } from '../fakes/dynamodb-fake.js';
import {
  type ExecutionScript,
  installStepFunctionsFake,
  type ScriptedState,
  type StepFunctionsFake,
} from '../fakes/stepfunctions-fake.js';

/**
 * The CLI in-process against faked CloudFormation, Step Functions and DynamoDB, sharing one fake
 * clock: the CLI's sleep advances it, and the Step Functions fake reveals history events as the
 * clock reaches them, so following an execution takes no real time.
 */

export const STACK_NAME = 'AcmeCertificates';
export const TABLE_NAME = 'AcmeCertificates-Registry';
export const BUCKET_NAME = 'acmecertificates-store';
export const T0 = new Date('2030-03-01T12:00:00.000Z');

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout parsed as the one JSON document `--json` promises. */
  json<T = Record<string, unknown>>(): T;
}

export interface CliHarness {
  readonly cloudFormation: CloudFormationFake;
  readonly stepFunctions: StepFunctionsFake;
  readonly dynamodb: DynamoDbFake;
  readonly issuanceArn: string;
  readonly renewalsArn: string;
  /** Every sleep the CLI asked for, in milliseconds. */
  readonly sleeps: readonly number[];
  now(): Date;
  advance(ms: number): void;
  run(...argv: string[]): Promise<CliRun>;
  /** Restores every faked client and stops the DynamoDB fake's dynalite. */
  restore(): Promise<void>;
}

export interface CliHarnessOptions {
  /** Stack outputs; `undefined` values are left out. @default all four */
  readonly outputs?: Partial<Record<string, string | undefined>>;
  /** Deploy the stack at all. @default true */
  readonly deployStack?: boolean;
}

export function setUpCli(options: CliHarnessOptions = {}): CliHarness {
  let now = T0.getTime();
  const sleeps: number[] = [];
  const cloudFormation = installCloudFormationFake();
  const stepFunctions = installStepFunctionsFake({ now: () => new Date(now) });
  const dynamodb = installDynamoDbFake({ tables: [TABLE_NAME] });
  const issuanceArn = stepFunctions.createStateMachine('IssuanceA1B2C3');
  const renewalsArn = stepFunctions.createStateMachine('RenewalsD4E5F6');
  const outputs = {
    StateMachineArn: issuanceArn,
    RenewalsStateMachineArn: renewalsArn,
    RegistryTableName: TABLE_NAME,
    CertificateStoreBucket: BUCKET_NAME,
    ...options.outputs,
  };
  if (options.deployStack ?? true) {
    cloudFormation.putStack({
      name: STACK_NAME,
      outputs: Object.fromEntries(
        Object.entries(outputs).filter((entry): entry is [string, string] => entry[1] !== undefined),
      ),
    });
  }

  return {
    cloudFormation,
    stepFunctions,
    dynamodb,
    issuanceArn,
    renewalsArn,
    sleeps,
    now: () => new Date(now),
    advance(ms) {
      now += ms;
    },
    async run(...argv) {
      let stdout = '';
      let stderr = '';
      const env: CliEnvironment = {
        stdout: (text) => {
          stdout += text;
        },
        stderr: (text) => {
          stderr += text;
        },
        now: () => new Date(now),
        sleep: async (ms) => {
          sleeps.push(ms);
          now += ms;
        },
        pollIntervalMs: 2000,
        clients: sdkClients(),
      };
      const code = await runCli(argv, env);
      return {
        code,
        stdout,
        stderr,
        json: <T>() => JSON.parse(stdout) as T,
      };
    },
    async restore() {
      cloudFormation.restore();
      stepFunctions.restore();
      await dynamodb.restore();
    },
  };
}

const task = (name: string, ms: number, extra: Partial<ScriptedState> = {}): ScriptedState => ({
  name,
  type: 'Task',
  ms,
  ...extra,
});
const choice = (name: string): ScriptedState => ({ name, type: 'Choice' });

/** What ImportToAcm leaves in the state, and so the execution's output. */
export function issuedOutput(certificateId: string, regions: readonly string[] = ['us-east-1']) {
  const certificateArns = Object.fromEntries(
    regions.map((region) => [region, `arn:aws:acm:${region}:123456789012:certificate/${certificateId}-0001`]),
  );
  return {
    certificateId,
    certificateArn: certificateArns[regions[0] ?? 'us-east-1'],
    certificateArns,
    certificate: {
      storeKey: `certificates/${certificateId}/03ab/fullchain.pem`,
      serial: '03ab5f2e9c',
      notAfter: '2030-05-30T11:59:59.000Z',
    },
  };
}

/** The Lambda error JSON Step Functions puts in a caught error's cause. */
export function lambdaCause(errorType: string, errorMessage: string): string {
  return JSON.stringify({
    errorType,
    errorMessage,
    trace: [`${errorType}: ${errorMessage}`, '    at handler'],
  });
}

/** The issuance state machine's path to `Issued`, with a DNS and an authorization wait. */
export function issuedScript(certificateId: string, regions?: readonly string[]): ExecutionScript {
  return {
    states: [
      { name: 'Prepare', type: 'Pass' },
      task('RegisterAccount', 1500),
      choice('LockTaken?'),
      task('CreateOrder', 2500),
      choice('AlreadyIssued?'),
      task('PublishChallenges', 900, { output: { certificateId, retryAfterSeconds: 10 } }),
      choice('DnsInSync?'),
      { name: 'PauseForDnsSync', type: 'Wait', ms: 10_000 },
      task('WaitForDnsSync', 400),
      choice('DnsInSync?'),
      task('AnswerChallenges', 1200),
      choice('OrderReady?'),
      task('Finalize', 3000),
      choice('CertificateReady?'),
      task('WaitForCertificate', 1100),
      choice('CertificateReady?'),
      task('ImportToAcm', 1300),
      task('Cleanup', 700, { output: issuedOutput(certificateId, regions) }),
      choice('Outcome'),
      { name: 'Issued', type: 'Succeed' },
    ],
  };
}

export const ORDER_INVALID_MESSAGE =
  'Order https://acme.example/order/42 is invalid: example.org: urn:ietf:params:acme:error:dns: No TXT record found at _acme-challenge.example.org';

/** An issuance whose authorization fails: the Catch runs Cleanup, then `IssuanceFailed`. */
export function failedScript(): ExecutionScript {
  const cause = lambdaCause('OrderInvalidError', ORDER_INVALID_MESSAGE);
  return {
    states: [
      { name: 'Prepare', type: 'Pass' },
      task('RegisterAccount', 1500, {
        retries: [
          { error: 'AcmeServerError', cause: lambdaCause('AcmeServerError', 'HTTP 503'), retryAfterMs: 2000 },
        ],
      }),
      choice('LockTaken?'),
      task('CreateOrder', 2500),
      choice('AlreadyIssued?'),
      task('PublishChallenges', 900),
      choice('DnsInSync?'),
      task('AnswerChallenges', 1200),
      choice('OrderReady?'),
      { name: 'PauseForAuthorizations', type: 'Wait', ms: 5000 },
      task('WaitForAuthorizations', 800, { failure: { error: 'OrderInvalidError', cause } }),
      task('Cleanup', 700),
      choice('Outcome'),
      { name: 'IssuanceFailed', type: 'Fail', error: 'OrderInvalidError', cause },
    ],
  };
}

/** Another run holds the lock (or the certificate is not due): the execution changes nothing. */
export function skippedScript(skipped: string): ExecutionScript {
  return {
    states: [
      { name: 'Prepare', type: 'Pass' },
      task('RegisterAccount', 1500, { output: { certificateId: 'web', skipped } }),
      choice('LockTaken?'),
      { name: 'AlreadyInProgress', type: 'Succeed' },
    ],
  };
}
