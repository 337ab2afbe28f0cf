import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, type IConstruct } from 'constructs';
import { ISSUANCE_TIMEOUT_SECONDS } from '../lambdas/core/workflow/wait-budget.js';
import { BUNDLE_HANDLER, checkLambdaRuntime, DEFAULT_LAMBDA_RUNTIME, stepCode } from './lambda-bundle.js';
import { keepLogicalId } from './logical-ids.js';
import { acknowledgeWildcard } from './nag.js';
import { STEP_HANDLERS, type StepName } from './steps.js';

export interface StepFunctionsProps {
  /** Configuration every function reads: the CA, the keys, the store, the registry, logging. */
  readonly environment: Readonly<Record<string, string>>;
  /**
   * How long the Lambdas wait for one ACME or AWS call before giving up.
   * @default Duration.seconds(60)
   */
  readonly timeout?: Duration;
  /**
   * The Node.js runtime of every function.
   * @default lambda.Runtime.NODEJS_24_X
   */
  readonly runtime?: lambda.Runtime;
  /**
   * Where the ended-execution cleanup's events go when it failed even after Lambda's retries.
   * @default no dead-letter queue
   */
  readonly cleanupDeadLetters?: sqs.IQueue;
}

/** How one function differs from the recipe. */
export interface StepFunctionOptions {
  /**
   * The function's timeout.
   * @default the construct's `timeout`
   */
  readonly timeout?: Duration;
  /**
   * Where failed asynchronous invocations go.
   * @default none: the function is invoked synchronously, and its caller sees the failure
   */
  readonly deadLetterQueue?: sqs.IQueue;
}

/**
 * One Lambda function per workflow step, all built by one recipe: the bundled handler, a role of
 * its own that may write only to the step's own log group, active tracing, and the cdk-nag
 * acknowledgments the recipe needs. Permissions beyond logging are granted by the composing
 * construct, from the per-step tables.
 */
export class StepFunctions extends Construct {
  /** The state machine's steps, by name. */
  readonly functions: Readonly<Record<StepName, lambda.Function>>;
  /**
   * Cleans up after an issuance execution that ended without its Cleanup (timed out, stopped, or
   * failed past its Catch).
   */
  readonly endedExecutionCleanup: lambda.Function;
  /** Lists the certificates that are due, for the renewal schedule. */
  readonly planner: lambda.Function;
  /** The timeout of a function whose step sets none of its own. */
  readonly timeout: Duration;
  /** The runtime of every function. */
  readonly runtime: lambda.Runtime;
  private readonly environment: Readonly<Record<string, string>>;
  /** Where the functions were built before this construct existed; their log groups keep those IDs. */
  private readonly home: IConstruct;

  constructor(scope: Construct, id: string, props: StepFunctionsProps) {
    super(scope, id);
    this.home = scope;
    this.environment = props.environment;
    this.timeout = props.timeout ?? Duration.seconds(60);
    this.runtime = checkLambdaRuntime(props.runtime ?? DEFAULT_LAMBDA_RUNTIME);
    // Following 100 CNAMEs, or asking every authoritative server when some time out, takes
    // longer than one CA call.
    const slow = Duration.seconds(Math.max(this.timeout.toSeconds(), 180));
    this.functions = Object.fromEntries(
      (Object.keys(STEP_HANDLERS) as StepName[]).map((step) => [
        step,
        this.buildFunction(this, step, STEP_HANDLERS[step], {
          ...(step === 'CreateOrder' || step === 'WaitForDnsSync' ? { timeout: slow } : {}),
        }),
      ]),
    ) as Record<StepName, lambda.Function>;
    this.endedExecutionCleanup = this.buildFunction(
      this,
      'CleanupEndedExecution',
      'cleanup-ended-execution',
      {
        ...(props.cleanupDeadLetters ? { deadLetterQueue: props.cleanupDeadLetters } : {}),
      },
    );
    // The lock expires when the execution that took it can no longer be running.
    this.functions.RegisterAccount.addEnvironment('LOCK_TTL_SECONDS', String(ISSUANCE_TIMEOUT_SECONDS));
    this.planner = this.buildFunction(this, 'PlanRenewals', 'plan-renewals');
  }

  /**
   * Builds one function of `lambdas/<folder>` by the recipe, in `scope` (this construct, or a
   * sibling that owns the function, such as the declared certificates' sync).
   */
  buildFunction(
    scope: Construct,
    step: string,
    folder: string,
    options: StepFunctionOptions = {},
  ): lambda.Function {
    const logGroup = new logs.LogGroup(scope, `${step}Logs`, {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // A replaced log group takes the step's last month of logs with it: keep its ID from before the split.
    keepLogicalId(logGroup, this.home, `${step}Logs`);
    // Our own role instead of AWSLambdaBasicExecutionRole: it writes to this step's log group
    // only, and cannot create log groups anywhere.
    const role = new iam.Role(scope, `${step}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Runs ${step} of the ACME workflow`,
    });
    logGroup.grantWrite(role);
    const fn = new lambda.Function(scope, `${step}Function`, {
      description: `ACME workflow: ${step}`,
      code: stepCode(folder),
      handler: BUNDLE_HANDLER,
      runtime: this.runtime,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: options.timeout ?? this.timeout,
      environment: { ...this.environment, ACME_STEP: folder },
      role,
      logGroup,
      tracing: lambda.Tracing.ACTIVE,
      ...(options.deadLetterQueue ? { deadLetterQueue: options.deadLetterQueue } : {}),
    });
    acknowledgeWildcard(
      role,
      '*',
      'Active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions.',
    );
    if (!options.deadLetterQueue) {
      Validations.of(fn).acknowledge({
        id: 'Serverless-LambdaDLQ',
        reason:
          'Step Functions invokes every step synchronously (RequestResponse); a DLQ only receives failed asynchronous invocations. Failures reach the Catch that runs Cleanup, and the execution history.',
      });
    }
    const pinnedRuntime =
      'The runtime is pinned to nodejs22.x, which the bundles target and the tests run against; moving to a newer runtime is a reviewed change, not one a rule release should force.';
    Validations.of(fn).acknowledge(
      { id: 'AwsSolutions-L1', reason: pinnedRuntime },
      { id: 'Serverless-LambdaLatestVersion', reason: pinnedRuntime },
    );
    return fn;
  }
}
