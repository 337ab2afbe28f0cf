import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { AcmeCertificates, type AcmeCertificatesProps } from './acme-certificates.js';

/** A stack's props, and those of the `AcmeCertificates` it holds. */
export interface AcmeStackProps extends StackProps {
  /** The props of the stack's `AcmeCertificates`. */
  readonly acme: AcmeCertificatesProps;
  /**
   * Domains for the example execution input printed as an output.
   * @default no example output
   */
  readonly exampleDomains?: readonly string[];
}

/** The deployable unit: one `AcmeCertificates` and the outputs operators need to start it. */
export class AcmeStack extends Stack {
  /** The stack's one `AcmeCertificates`. */
  readonly certificates: AcmeCertificates;

  constructor(scope: Construct, id: string, props: AcmeStackProps) {
    super(scope, id, props);
    this.certificates = new AcmeCertificates(this, 'Certificates', props.acme);
    new CfnOutput(this, 'StateMachineArn', {
      value: this.certificates.stateMachine.stateMachineArn,
      description: 'Start an execution of this state machine to issue or renew a certificate',
    });
    new CfnOutput(this, 'CertificateStoreBucket', {
      value: this.certificates.certificateStore.bucketName,
      description: 'Issued chains (and encrypted keys) under certificates/<certificateId>/',
    });
    new CfnOutput(this, 'AccountKeyId', { value: this.certificates.accountKey.keyId });
    new CfnOutput(this, 'RenewalsStateMachineArn', {
      value: this.certificates.renewals.stateMachine.stateMachineArn,
      description: 'The scheduled fleet renewal; start it with {} to run the planner now',
    });
    new CfnOutput(this, 'RegistryTableName', {
      value: this.certificates.registry.tableName,
      description: 'One item per certificate: configuration, status, ARNs, next renewal',
    });
    if (this.certificates.monitoring.topic) {
      new CfnOutput(this, 'NotificationTopicArn', { value: this.certificates.monitoring.topic.topicArn });
    }
    const persistRecords = this.certificates.externalPersistRecords;
    if (persistRecords.length > 0) {
      const ids = [...new Set(persistRecords.map((record) => record.certificateId))];
      new CfnOutput(this, 'PersistRecordsToCreate', {
        // An output value holds 4,096 characters: past that, the CLI lists the rest.
        value: truncate(
          persistRecords.map((record) => `${record.recordName} TXT (${record.certificateId})`).join(', '),
          4000,
        ),
        description: `dns-persist-01 records to create in DNS this stack does not write; their values: ${ids
          .map((id) => `acme-aws persist-record ${id}`)
          .join('; ')}`.slice(0, 1024),
      });
    }
    if (props.exampleDomains && props.exampleDomains.length > 0) {
      new CfnOutput(this, 'ExampleExecutionInput', {
        value: JSON.stringify({ certificateId: 'default', domains: props.exampleDomains }),
        description: 'Pass this to aws stepfunctions start-execution --input',
      });
    }
  }
}

function truncate(text: string, length: number): string {
  return text.length <= length ? text : `${text.slice(0, length - 1)}…`;
}
