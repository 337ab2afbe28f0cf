import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { AcmeCertificates, type AcmeCertificatesProps } from './acme-certificates.js';

export interface AcmeStackProps extends StackProps {
  readonly acme: AcmeCertificatesProps;
  /**
   * Domains for the example execution input printed as an output.
   * @default no example output
   */
  readonly exampleDomains?: readonly string[];
}

/** The deployable unit: one `AcmeCertificates` and the outputs operators need to start it. */
export class AcmeStack extends Stack {
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
    if (props.exampleDomains && props.exampleDomains.length > 0) {
      new CfnOutput(this, 'ExampleExecutionInput', {
        value: JSON.stringify({ certificateId: 'default', domains: props.exampleDomains }),
        description: 'Pass this to aws stepfunctions start-execution --input',
      });
    }
  }
}
