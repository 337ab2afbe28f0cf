import {
  ArnFormat,
  type CfnElement,
  Duration,
  Names,
  RemovalPolicy,
  Stack,
  Token,
  Validations,
} from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct, type IConstruct } from 'constructs';
import { STATE_MACHINE_LOG_PREFIX } from './monitoring.js';

/** What the renewal schedule runs, and when. */
export interface RenewalScheduleProps {
  /** The planner function (`lambdas/plan-renewals`). */
  readonly planner: lambda.IFunction;
  /** The issuance state machine each due certificate runs through. */
  readonly issuance: sfn.IStateMachine;
  /**
   * When the planner runs.
   * @default every day
   */
  readonly schedule?: events.Schedule;
  /**
   * Renewals running at the same time; the CA's and Route 53's rate limits are the reason to keep
   * it modest.
   * @default 5
   */
  readonly maxConcurrency?: number;
  /**
   * Registry records the planner reads per page. Each page runs in its own execution, so a fleet
   * of any size stays within the 25,000-event history and 256 KB payload limits.
   * @default 200
   */
  readonly pageSize?: number;
}

/**
 * The fleet: a schedule that runs the planner, and a Standard state machine that renews the due
 * certificates through the issuance state machine with bounded concurrency. Each page of the
 * registry is one execution, which starts the next page's execution before it ends. Execution
 * names are the certificate id and the day, so a second run on the same day starts nothing twice.
 */
export class RenewalSchedule extends Construct {
  /** The fleet's state machine: one execution per registry page of due certificates. */
  readonly stateMachine: sfn.StateMachine;
  /** The EventBridge rule that starts the fleet on the renewal schedule. */
  readonly rule: events.Rule;
  /** Scheduled runs EventBridge could not start (throttling, permissions); alarmed on. */
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: RenewalScheduleProps) {
    super(scope, id);
    const stateMachineName = Names.uniqueResourceName(this, { maxLength: 80 });
    const selfArn = Stack.of(this).formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: stateMachineName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });

    const plan = new tasks.LambdaInvoke(this, 'PlanRenewals', {
      lambdaFunction: props.planner,
      payloadResponseOnly: true,
      retryOnServiceExceptions: true,
      comment: 'Runs lambdas/plan-renewals: lists the due certificates of one registry page',
    });
    plan.addRetry({
      errors: ['AwsTransientError'],
      interval: Duration.seconds(5),
      backoffRate: 2,
      maxAttempts: 4,
      jitterStrategy: sfn.JitterType.FULL,
    });

    const renew = new tasks.StepFunctionsStartExecution(this, 'RenewCertificate', {
      stateMachine: props.issuance,
      integrationPattern: sfn.IntegrationPattern.RUN_JOB,
      name: sfn.JsonPath.stringAt('$.executionName'),
      input: sfn.TaskInput.fromJsonPathAt('$.input'),
      comment: 'One issuance; its own Cleanup records and announces the outcome',
    });
    // A failed renewal has already been recorded, announced and scheduled for a retry by the
    // issuance's Cleanup; ExecutionAlreadyExists means it ran earlier today. Neither stops the fleet.
    renew.addCatch(
      new sfn.Pass(this, 'RenewalDidNotComplete', {
        comment: 'Recorded by the issuance itself; see its execution and the failure event',
      }),
      { resultPath: '$.failure' },
    );
    const renewDue = new sfn.Map(this, 'RenewDue', {
      itemsPath: '$.due',
      maxConcurrency: props.maxConcurrency ?? 5,
      resultPath: sfn.JsonPath.DISCARD,
    });
    renewDue.itemProcessor(renew);

    const nextPage = new tasks.CallAwsService(this, 'StartNextPage', {
      service: 'sfn',
      action: 'startExecution',
      parameters: {
        StateMachineArn: sfn.JsonPath.stringAt('$$.StateMachine.Id'),
        Input: sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt('$.next')),
      },
      iamResources: [selfArn],
      iamAction: 'states:StartExecution',
      resultPath: sfn.JsonPath.DISCARD,
      comment: 'Continues with the next registry page in a fresh execution',
    });
    const nextInput = new sfn.Pass(this, 'NextPageInput', {
      parameters: { 'cursor.$': '$.cursor', 'forecast.$': '$.forecast', 'pageSize.$': '$.pageSize' },
      resultPath: '$.next',
    });
    const done = new sfn.Succeed(this, 'FleetPageDone');
    const morePages = new sfn.Choice(this, 'MorePages?')
      .when(sfn.Condition.isPresent('$.cursor'), nextInput.next(nextPage).next(done))
      .otherwise(done);

    this.stateMachine = new sfn.StateMachine(this, 'Renewals', {
      stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      comment: 'Scheduled renewals: plan one registry page, renew what is due, continue with the next page',
      definitionBody: sfn.DefinitionBody.fromChainable(plan.next(renewDue).next(morePages)),
      timeout: Duration.hours(12),
      logs: {
        destination: new logs.LogGroup(this, 'RenewalsLogs', {
          // The state machine's own name: unique per stack name and construct path.
          logGroupName: `${STATE_MACHINE_LOG_PREFIX}${stateMachineName}`,
          retention: logs.RetentionDays.THREE_MONTHS,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
        level: sfn.LogLevel.ALL,
        includeExecutionData: false,
      },
      tracingEnabled: true,
    });

    this.deadLetterQueue = new sqs.Queue(this, 'ScheduleDeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const isTheDeadLetterQueue =
      'This queue is itself the dead-letter queue of the schedule’s target: it holds runs EventBridge could not start, and an alarm fires on any message in it.';
    Validations.of(this.deadLetterQueue).acknowledge(
      { id: 'AwsSolutions-SQS3', reason: isTheDeadLetterQueue },
      { id: 'Serverless-SQSRedrivePolicy', reason: isTheDeadLetterQueue },
    );
    this.rule = new events.Rule(this, 'Schedule', {
      description: 'Runs the ACME renewal planner',
      schedule: props.schedule ?? events.Schedule.rate(Duration.days(1)),
      targets: [
        new targets.SfnStateMachine(this.stateMachine, {
          input: events.RuleTargetInput.fromObject({ pageSize: props.pageSize ?? 200 }),
          deadLetterQueue: this.deadLetterQueue,
          retryAttempts: 10,
          maxEventAge: Duration.hours(6),
        }),
      ],
    });

    const stack = Stack.of(this);
    // cdk-nag names a finding by the resource as CloudFormation will see it: the logical ID as
    // rendered, which honours an `overrideLogicalId` (the issuance state machine pins its own).
    const logicalIdOf = (construct: IConstruct) =>
      stack.resolve((construct.node.defaultChild as CfnElement).logicalId) as string;
    const rendered = (value: string, pseudo: string) => (Token.isUnresolved(value) ? pseudo : value);
    Validations.of(this.stateMachine.role).acknowledge(
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'Logging to CloudWatch (logs:CreateLogDelivery and the other vended-log delivery actions) and X-Ray tracing support no resource-level permissions.',
      },
      {
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:${rendered(stack.region, '<AWS::Region>')}:${rendered(stack.account, '<AWS::AccountId>')}:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${logicalIdOf(props.issuance)}"}]}]}*]`,
        reason:
          'StartExecution.sync must describe and stop the executions it starts in the issuance state machine; their names are chosen per certificate and day at run time.',
      },
      {
        id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule]',
        reason:
          'The managed rule Step Functions uses to learn when a .sync child execution ends; the ARN is fixed by the service and not a wildcard.',
      },
      {
        id: `AwsSolutions-IAM5[Resource::<${logicalIdOf(props.planner)}.Arn>:*]`,
        reason: 'lambda:InvokeFunction on versions and aliases of the planner, as granted by LambdaInvoke.',
      },
    );
  }
}
