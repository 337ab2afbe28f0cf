import { Duration, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

/**
 * Days before a dns-persist-01 record's `persistUntil` that its alarm fires: time for an operator
 * to publish a new value, which must stand on every authoritative server before it counts.
 */
export const PERSIST_RECORD_ALARM_DAYS = 30;
/** Where the Lambdas publish their metrics (Powertools' namespace and service dimension). */
export const METRICS_NAMESPACE = 'AcmeAws';
export const METRICS_SERVICE = 'acme-aws';
/** The `source` of the events the workflow puts on the default bus. */
export const EVENT_SOURCE = 'acme-aws';
/**
 * The `detail-type` of the event DeliverCertificate puts per secret or parameter written (the
 * core's `EVENT_DELIVERED`, which a test holds it to: the core's module is not imported here,
 * since the library ships without the Lambdas' dependencies).
 */
export const EVENT_DELIVERED = 'Certificate Delivered';
/**
 * The prefix of the state machines' log groups. AWS recommends it for vended logs: delivery to
 * it needs no CloudWatch Logs resource policy, whose size limit many log groups would reach.
 */
export const STATE_MACHINE_LOG_PREFIX = '/aws/vendedlogs/states/';

/** The state machines to watch, and where and when to raise the alarm. */
export interface MonitoringProps {
  /** The issuance state machine, whose failed executions are counted and reported. */
  readonly issuance: sfn.IStateMachine;
  /** The renewal fleet's state machine, shown on the dashboard beside the issuances. */
  readonly renewals: sfn.IStateMachine;
  /** Scheduled runs that could not be started. */
  readonly scheduleDeadLetters: sqs.IQueue;
  /**
   * Status-change events of ended executions whose cleanup failed after Lambda's retries: their
   * TXT values or lock may still be there.
   * @default no alarm
   */
  readonly cleanupDeadLetters?: sqs.IQueue;
  /**
   * Alarm when any managed certificate is within this many days of expiry.
   * @default 14
   */
  readonly expiryAlarmDays?: number;
  /**
   * Alarm when a certificate's renewal has failed this many times in a row.
   * @default 3
   */
  readonly failureAlarmThreshold?: number;
  /**
   * Days between planner runs; the "planner not running" alarm allows one missed day more.
   * @default 1
   */
  readonly scheduleIntervalDays?: number;
  /**
   * Email addresses subscribed to failures and alarms (each must confirm the subscription).
   * @default no email
   */
  readonly notificationEmails?: readonly string[];
  /**
   * Create the SNS topic even without emails, to subscribe other endpoints later.
   * @default true when notificationEmails are given
   */
  readonly createTopic?: boolean;
}

/**
 * Failures are loud: renewal failures go from EventBridge to an optional SNS topic, and alarms
 * fire when a certificate nears expiry, when a renewal keeps failing, or when the planner stops
 * running at all (the one failure that would otherwise make no noise). A dashboard shows it all.
 */
export class Monitoring extends Construct {
  /** Where renewal failures and alarms are sent; created when emails are given or `createTopic` is set. */
  readonly topic?: sns.Topic;
  /** Fires when a certificate is closer to expiry than `expiryAlarmDays` (renewals are not keeping up). */
  readonly expiryAlarm: cloudwatch.Alarm;
  /** Fires when issuance executions fail `failureAlarmThreshold` times or more in a day. */
  readonly failureAlarm: cloudwatch.Alarm;
  /** Fires when the renewal planner has not run for a day: the failure that would otherwise make no noise. */
  readonly plannerAlarm: cloudwatch.Alarm;
  /** Fires when EventBridge could not start a scheduled renewal run (its dead-letter queue has messages). */
  readonly scheduleAlarm: cloudwatch.Alarm;
  /** Fires when the cleanup after an ended execution failed (only with `cleanupDeadLetters`). */
  readonly cleanupAlarm?: cloudwatch.Alarm;
  /**
   * Fires when a dns-persist-01 record a certificate relies on reaches its `persistUntil` within
   * {@link PERSIST_RECORD_ALARM_DAYS} days: after it, the CA stops honouring the record.
   */
  readonly persistRecordAlarm: cloudwatch.Alarm;
  /** Issuances, renewals, failures, days to expiry and the alarms, on one CloudWatch dashboard. */
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const emails = props.notificationEmails ?? [];
    if (props.createTopic ?? emails.length > 0) {
      this.topic = new sns.Topic(this, 'Notifications', {
        displayName: 'ACME certificate renewals',
        enforceSSL: true,
      });
      Validations.of(this.topic).acknowledge({
        id: 'AwsSolutions-SNS2',
        reason:
          'Notifications carry certificate ids, names, ARNs and CA error texts, never keys; encrypting the topic would need a key whose policy admits EventBridge and CloudWatch, for no secret to protect.',
      });
      for (const email of emails) this.topic.addSubscription(new subscriptions.EmailSubscription(email));
      new events.Rule(this, 'RenewalFailures', {
        description: 'Certificate renewal failures and revocations to the notification topic',
        eventPattern: {
          source: [EVENT_SOURCE],
          detailType: ['Certificate Renewal Failed', 'Certificate Revoked'],
        },
        targets: [new targets.SnsTopic(this.topic)],
      });
    }

    const metric = (metricName: string, statistic: string) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: METRICS_SERVICE },
        statistic,
        period: Duration.days(1),
      });
    const expiryDays = props.expiryAlarmDays ?? 14;
    this.expiryAlarm = new cloudwatch.Alarm(this, 'CertificateNearExpiry', {
      alarmDescription: `A managed certificate expires within ${expiryDays} days: its renewals are failing or not running.`,
      metric: metric('MinDaysToExpiry', 'Minimum'),
      threshold: expiryDays,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const failures = props.failureAlarmThreshold ?? 3;
    this.failureAlarm = new cloudwatch.Alarm(this, 'RenewalFailingRepeatedly', {
      alarmDescription: `A certificate's renewal has failed ${failures} or more times in a row; see the Certificate Renewal Failed events.`,
      metric: metric('MaxConsecutiveFailures', 'Maximum'),
      threshold: failures,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const interval = Math.max(1, Math.ceil(props.scheduleIntervalDays ?? 1));
    this.plannerAlarm = new cloudwatch.Alarm(this, 'RenewalsNotRunning', {
      alarmDescription:
        'The renewal schedule has not completed a run when it should have: no certificate is being renewed.',
      metric: props.renewals.metricSucceeded({ period: Duration.days(1), statistic: 'Sum' }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: interval + 1,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    this.scheduleAlarm = new cloudwatch.Alarm(this, 'ScheduledRunNotStarted', {
      alarmDescription:
        'EventBridge could not start a scheduled renewal run; the message in the dead-letter queue says why.',
      metric: props.scheduleDeadLetters.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.persistRecordAlarm = new cloudwatch.Alarm(this, 'PersistRecordExpiring', {
      alarmDescription: `A dns-persist-01 record a certificate relies on reaches its persistUntil within ${PERSIST_RECORD_ALARM_DAYS} days; the CA stops honouring it then. Replace it with a later persistUntil, or none (acme-aws persist-record <id> prints the value).`,
      metric: metric('MinPersistRecordDaysLeft', 'Minimum'),
      threshold: PERSIST_RECORD_ALARM_DAYS,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const alarms = [
      this.expiryAlarm,
      this.failureAlarm,
      this.plannerAlarm,
      this.scheduleAlarm,
      this.persistRecordAlarm,
    ];
    if (props.cleanupDeadLetters) {
      this.cleanupAlarm = new cloudwatch.Alarm(this, 'EndedExecutionNotCleanedUp', {
        alarmDescription:
          'The cleanup after a failed, timed-out or stopped issuance execution failed: its TXT values or its lock may remain (the next run of the certificate removes them). The message in the dead-letter queue names the execution.',
        metric: props.cleanupDeadLetters.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(5),
        }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarms.push(this.cleanupAlarm);
    }
    if (this.topic) {
      for (const alarm of alarms) {
        alarm.addAlarmAction(new actions.SnsAction(this.topic));
        alarm.addOkAction(new actions.SnsAction(this.topic));
      }
    }

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.days(14),
    });
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({
        title: 'Alarms',
        alarms,
        width: 24,
        height: 3,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Days to the nearest expiry',
        left: [metric('MinDaysToExpiry', 'Minimum')],
        leftAnnotations: [{ value: expiryDays, label: 'alarm', color: cloudwatch.Color.RED }],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Issuances',
        left: [metric('IssuanceSucceeded', 'Sum'), metric('IssuanceFailed', 'Sum')],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Issuance duration (s)',
        left: [metric('IssuanceDuration', 'p50'), metric('IssuanceDuration', 'Maximum')],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Certificates due and failure streaks',
        left: [metric('CertificatesDue', 'Sum')],
        right: [metric('MaxConsecutiveFailures', 'Maximum')],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Workflow executions',
        left: [
          props.issuance.metricSucceeded({ period: Duration.days(1) }),
          props.issuance.metricFailed({ period: Duration.days(1) }),
          props.renewals.metricSucceeded({ period: Duration.days(1) }),
          props.renewals.metricFailed({ period: Duration.days(1) }),
        ],
        width: 12,
      }),
    );
  }
}
