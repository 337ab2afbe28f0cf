import { Duration, Names, RemovalPolicy } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { TRANSIENT_ERROR_NAMES } from '../lambdas/core/errors.js';
import { CA_FALLBACK_ERROR_NAMES } from '../lambdas/core/workflow/ca-fallback.js';
import { ACCOUNT_ACTIONS } from '../lambdas/core/workflow/input.js';
import { ISSUANCE_TIMEOUT_SECONDS } from '../lambdas/core/workflow/wait-budget.js';
import { keepLogicalId } from './logical-ids.js';
import { STATE_MACHINE_LOG_PREFIX } from './monitoring.js';
import { acknowledgeWildcard } from './nag.js';
import { STEP_HANDLERS, type StepName } from './steps.js';

/**
 * Errors Lambda reports for an invocation whose execution environment failed rather than the
 * handler ("Troubleshoot invocation issues in Lambda"): the process exited, the sandbox timed out,
 * or the error was not reported at all.
 */
const PLATFORM_ERRORS = ['Runtime.ExitError', 'Sandbox.Timedout', 'Lambda.Unknown'];

export interface IssuanceStateMachineProps {
  /** The function behind each Task. */
  readonly functions: Readonly<Record<StepName, lambda.IFunction>>;
  /**
   * Runs for every execution that failed, timed out or was stopped, since such an execution may
   * have ended without its Cleanup.
   * @default no cleanup after ended executions
   */
  readonly endedExecutionCleanup?: lambda.IFunction;
  /**
   * Where the ended-execution events go that the cleanup could not take.
   * @default none
   */
  readonly cleanupDeadLetters?: sqs.IQueue;
}

/**
 * The Standard state machine that sequences one issuance or renewal: account, order, dns-01 in
 * Route 53, finalize, import into ACM, delivery to the declared secret and parameters, and a
 * Cleanup that every failure goes through. It times out at the core's `ISSUANCE_TIMEOUT_SECONDS`,
 * which the wait budget plans within and the certificate's lock outlasts by nothing. A rule hands every execution that ended otherwise
 * (failed past its Catch, timed out, stopped) to the ended-execution cleanup.
 */
export class IssuanceStateMachine extends Construct {
  /** The state machine; executions start with `{ certificateId, domains }` or an account action. */
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: IssuanceStateMachineProps) {
    super(scope, id);
    const fns = props.functions;
    const failed = new sfn.Fail(this, 'IssuanceFailed', {
      comment: 'The step that failed, and the ACME problem or AWS error it raised',
      errorPath: '$.error.Error',
      causePath: '$.error.Cause',
    });
    const cleanupFailed = new sfn.Fail(this, 'CleanupFailed', {
      comment: 'TXT records could not be removed; the earlier outcome is in the execution history',
      errorPath: '$.cleanupError.Error',
      causePath: '$.cleanupError.Cause',
    });
    const succeeded = new sfn.Succeed(this, 'Issued');

    const cleanup = this.task('Cleanup', fns.Cleanup);
    // Cleanup is idempotent, and a failed Cleanup leaves TXT records and the lock behind, so it
    // is worth retrying whatever went wrong.
    cleanup.addRetry({
      errors: ['States.ALL'],
      interval: Duration.seconds(5),
      backoffRate: 2,
      maxAttempts: 3,
      jitterStrategy: sfn.JitterType.FULL,
    });
    cleanup.addCatch(cleanupFailed, { resultPath: '$.cleanupError' });
    cleanup.next(
      new sfn.Choice(this, 'Outcome').when(sfn.Condition.isPresent('$.error'), failed).otherwise(succeeded),
    );

    const step = (name: StepName, firstCatch?: (task: tasks.LambdaInvoke) => void): tasks.LambdaInvoke => {
      const task = this.task(name, fns[name]);
      // Catchers are tried in order: a specific one must come before the catch-all.
      firstCatch?.(task);
      task.addCatch(cleanup, { resultPath: '$.error' });
      return task;
    };
    const pause = (pauseId: string) =>
      new sfn.Wait(this, pauseId, { time: sfn.WaitTime.secondsPath('$.retryAfterSeconds') });

    const prepare = new sfn.Pass(this, 'Prepare', {
      comment: 'Adds the execution id, which holds the per-certificate lock, and its start time',
      parameters: { 'id.$': '$$.Execution.Id', 'startedAt.$': '$$.Execution.StartTime' },
      resultPath: '$.execution',
    });
    const registerAccount = step('RegisterAccount');
    const revokeCertificate = step('RevokeCertificate');
    // With several CAs, a CA that cannot take the order (unreachable after the retries, rate
    // limiting past the renewal window, refused by its CAA records) hands the run to
    // RegisterAccount at the next CA, with the execution's own input; none is left: Cleanup.
    const noOtherCa = new sfn.Pass(this, 'NoOtherCa', {
      comment: 'Every CA of the list failed: the last failure is the run’s',
      inputPath: '$.caFailure',
      resultPath: '$.error',
    });
    noOtherCa.next(cleanup);
    const nextCa = new sfn.Pass(this, 'NextCa', {
      comment: 'Starts over at RegisterAccount with the next CA of the list',
      parameters: { 'input.$': 'States.JsonMerge($$.Execution.Input, $.caFallback.next, false)' },
      outputPath: '$.input',
    });
    const anotherCa = new sfn.Choice(this, 'AnotherCa?')
      .when(sfn.Condition.isPresent('$.caFallback.next'), nextCa)
      .otherwise(noOtherCa);
    const createOrder = step('CreateOrder', (task) =>
      task.addCatch(anotherCa, { errors: [...CA_FALLBACK_ERROR_NAMES], resultPath: '$.caFailure' }),
    );
    const publishChallenges = step('PublishChallenges');
    const waitForDnsSync = step('WaitForDnsSync');
    const answerChallenges = step('AnswerChallenges');
    const waitForAuthorizations = step('WaitForAuthorizations');
    const finalize = step('Finalize');
    const waitForCertificate = step('WaitForCertificate');
    const importToAcm = step('ImportToAcm');
    const deliverCertificate = step('DeliverCertificate');

    const dnsPause = pause('PauseForDnsSync').next(waitForDnsSync);
    const dnsInSync = new sfn.Choice(this, 'DnsInSync?')
      .when(sfn.Condition.booleanEquals('$.dnsInSync', true), answerChallenges)
      .otherwise(dnsPause);
    const authorizationsPause = pause('PauseForAuthorizations').next(waitForAuthorizations);
    const orderReady = new sfn.Choice(this, 'OrderReady?')
      .when(
        sfn.Condition.or(
          sfn.Condition.stringEquals('$.order.status', 'ready'),
          sfn.Condition.stringEquals('$.order.status', 'processing'),
          sfn.Condition.stringEquals('$.order.status', 'valid'),
        ),
        finalize,
      )
      .otherwise(authorizationsPause);
    const certificatePause = pause('PauseForCertificate').next(waitForCertificate);
    const certificateReady = new sfn.Choice(this, 'CertificateReady?')
      .when(sfn.Condition.isPresent('$.certificate'), importToAcm)
      .when(sfn.Condition.stringEquals('$.order.status', 'valid'), waitForCertificate)
      .otherwise(certificatePause);

    const skipped = new sfn.Succeed(this, 'Skipped', {
      comment:
        'Nothing to do: another execution holds this certificate, or it is not due; $.skipped says which',
    });
    // A revoke revokes first, then renews in the same run so ACM gets the replacement.
    const revoke = new sfn.Choice(this, 'Revoke?')
      .when(sfn.Condition.stringEquals('$.action', 'revoke'), revokeCertificate)
      .otherwise(createOrder);
    const proceed = new sfn.Choice(this, 'Proceed?')
      .when(sfn.Condition.isPresent('$.skipped'), skipped)
      .otherwise(revoke);
    const alreadyIssued = new sfn.Choice(this, 'AlreadyIssued?')
      .when(sfn.Condition.isPresent('$.certificate'), importToAcm)
      .otherwise(publishChallenges);

    // Account actions concern the CA account, not a certificate: ManageAccount runs them alone.
    const manageAccount = this.task('ManageAccount', fns.ManageAccount);
    manageAccount.addCatch(
      new sfn.Fail(this, 'AccountActionFailed', {
        comment: 'The account action failed; the ACME problem or AWS error says why',
        errorPath: '$.error.Error',
        causePath: '$.error.Cause',
      }),
      { resultPath: '$.error' },
    );
    manageAccount.next(
      new sfn.Succeed(this, 'AccountUpdated', {
        comment: 'The account action is done; the output says what changed',
      }),
    );
    const accountAction = new sfn.Choice(this, 'AccountAction?')
      .when(
        // A missing or non-string path would fail the comparison itself, so it is tested first.
        sfn.Condition.and(
          sfn.Condition.isPresent('$.action'),
          sfn.Condition.isString('$.action'),
          sfn.Condition.or(
            ...ACCOUNT_ACTIONS.map((action) => sfn.Condition.stringEquals('$.action', action)),
          ),
        ),
        manageAccount,
      )
      .otherwise(registerAccount);

    prepare.next(accountAction);
    registerAccount.next(proceed);
    nextCa.next(registerAccount);
    revokeCertificate.next(createOrder);
    createOrder.next(alreadyIssued);
    publishChallenges.next(dnsInSync);
    waitForDnsSync.next(dnsInSync);
    answerChallenges.next(orderReady);
    waitForAuthorizations.next(orderReady);
    finalize.next(certificateReady);
    waitForCertificate.next(certificateReady);
    // ImportToAcm sets `deliver` when the certificate's record has delivery targets. A failed
    // delivery goes through Cleanup like any failed step; the certificate stays in the store and
    // in ACM, and the next run delivers it without a new order.
    importToAcm.next(
      new sfn.Choice(this, 'Deliver?')
        .when(sfn.Condition.isPresent('$.deliver'), deliverCertificate)
        .otherwise(cleanup),
    );
    deliverCertificate.next(cleanup);

    const logGroup = new logs.LogGroup(this, 'IssuanceLogs', {
      // Unique per stack name and construct path (of the composing construct, as before the
      // split), so two stacks never collide.
      logGroupName: `${STATE_MACHINE_LOG_PREFIX}${Names.uniqueResourceName(scope, { maxLength: 200 })}-Issuance`,
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // It has a fixed name: under a new ID, CloudFormation would create the "new" group before
    // deleting the old one, and fail because the name exists.
    keepLogicalId(logGroup, scope, 'IssuanceLogs');
    this.stateMachine = new sfn.StateMachine(this, 'Issuance', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      comment: 'One ACME issuance or renewal: account, order, dns-01 in Route 53, finalize, import into ACM',
      definitionBody: sfn.DefinitionBody.fromChainable(prepare),
      timeout: Duration.seconds(ISSUANCE_TIMEOUT_SECONDS),
      logs: {
        destination: logGroup,
        // Every state transition is logged, but never the input and output that travel between
        // them: those hold order URLs, object keys and CA answers that belong in the history only.
        level: sfn.LogLevel.ALL,
        includeExecutionData: false,
      },
      tracingEnabled: true,
    });
    // A replaced state machine gets a new ARN (the stack output, operators' scripts, the renewal
    // schedule) and strands the executions still running on the old one: keep its ID.
    keepLogicalId(this.stateMachine, scope, 'Issuance');
    acknowledgeWildcard(
      this.stateMachine.role,
      '*',
      'Logging to CloudWatch (logs:CreateLogDelivery and the other vended-log delivery actions) and X-Ray tracing support no resource-level permissions.',
    );
    for (const fn of Object.values(fns)) {
      acknowledgeWildcard(
        this.stateMachine.role,
        `${fn.functionArn}:*`,
        'lambda:InvokeFunction on versions and aliases of this construct’s own step functions, as granted by LambdaInvoke.',
      );
    }
    if (props.endedExecutionCleanup) {
      new events.Rule(this, 'EndedExecutions', {
        description:
          'Cleans up after an issuance execution that failed, timed out or was stopped: removes its TXT values, records the failure, puts its event and releases its lock',
        eventPattern: {
          source: ['aws.states'],
          detailType: ['Step Functions Execution Status Change'],
          detail: {
            status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
            stateMachineArn: [this.stateMachine.stateMachineArn],
          },
        },
        targets: [
          new targets.LambdaFunction(props.endedExecutionCleanup, {
            retryAttempts: 10,
            maxEventAge: Duration.hours(6),
            ...(props.cleanupDeadLetters ? { deadLetterQueue: props.cleanupDeadLetters } : {}),
          }),
        ],
      });
    }
  }

  /** One Lambda Task, with the retries every step shares. */
  private task(name: StepName, fn: lambda.IFunction): tasks.LambdaInvoke {
    const task = new tasks.LambdaInvoke(this, name, {
      lambdaFunction: fn,
      payloadResponseOnly: true,
      retryOnServiceExceptions: true,
      comment: `Runs lambdas/${STEP_HANDLERS[name]}`,
    });
    task.addRetry({
      errors: [...TRANSIENT_ERROR_NAMES],
      interval: Duration.seconds(2),
      backoffRate: 2,
      maxAttempts: 5,
      jitterStrategy: sfn.JitterType.FULL,
    });
    // The function's environment died under it (out of memory, a crash, its timeout), which says
    // nothing about the request: every step resumes from the registry and the store, so running
    // it again is safe, and is what the service would do for an asynchronous invocation.
    task.addRetry({
      errors: PLATFORM_ERRORS,
      interval: Duration.seconds(1),
      backoffRate: 2,
      maxAttempts: 2,
      jitterStrategy: sfn.JitterType.FULL,
    });
    return task;
  }
}
