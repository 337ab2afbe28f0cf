import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Construct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { AcmeCertificates } from '../../lib/acme-certificates.js';
import { type CfnResource, type SynthesizedStack, synthEveryFeature } from './template.js';

/**
 * The logical IDs of the resources that hold state, or have a fixed physical name, as they were
 * deployed before `AcmeCertificates` was split into sub-constructs. CloudFormation replaces a
 * resource whose logical ID changes: a new account key loses the ACME account, a new table or
 * bucket starts empty, a new bucket policy is deleted with the old one, and a log group with a
 * fixed name cannot be created while the old one still exists. These IDs must never change.
 */
const EVERY_FEATURE_STATEFUL: Readonly<Record<string, string>> = {
  CertificatesAccountKey248F5D9E: 'AWS::KMS::Key',
  CertificatesAccountKey2FAB8967A: 'AWS::KMS::Key',
  CertificatesCertificateKeysigner92475641: 'AWS::KMS::Key',
  CertificatesStoreKey5AAC9F7F: 'AWS::KMS::Key',
  // Delivery (issue 16): the key encrypts the delivered versions, and the secret has a fixed name.
  CertificatesDeliveryDeliveryKey9F026615: 'AWS::KMS::Key',
  CertificatesDeliverySecretweb930331A3: 'AWS::SecretsManager::Secret',
  CertificatesAccessLogs26C90CAE: 'AWS::S3::Bucket',
  CertificatesAccessLogsPolicyD4C08B62: 'AWS::S3::BucketPolicy',
  CertificatesCertificateStore9EA9E31A: 'AWS::S3::Bucket',
  CertificatesCertificateStorePolicyAA0A4349: 'AWS::S3::BucketPolicy',
  CertificatesRegistry7AB0F0E7: 'AWS::DynamoDB::Table',
  CertificatesIssuance9C2E109F: 'AWS::StepFunctions::StateMachine',
  CertificatesIssuanceLogsB8046CEB: 'AWS::Logs::LogGroup',
  CertificatesManageAccountLogs2504B3F7: 'AWS::Logs::LogGroup',
  CertificatesRegisterAccountLogsA3B29822: 'AWS::Logs::LogGroup',
  CertificatesRevokeCertificateLogs7E320B24: 'AWS::Logs::LogGroup',
  CertificatesCreateOrderLogsEA2DA670: 'AWS::Logs::LogGroup',
  CertificatesDeliverCertificateLogsA5301EAA: 'AWS::Logs::LogGroup',
  CertificatesPublishChallengesLogs17E64814: 'AWS::Logs::LogGroup',
  CertificatesWaitForDnsSyncLogs65447FCC: 'AWS::Logs::LogGroup',
  CertificatesAnswerChallengesLogs47856F94: 'AWS::Logs::LogGroup',
  CertificatesWaitForAuthorizationsLogsCF04A6DF: 'AWS::Logs::LogGroup',
  CertificatesFinalizeLogs94969EB4: 'AWS::Logs::LogGroup',
  CertificatesWaitForCertificateLogs0AF9CE58: 'AWS::Logs::LogGroup',
  CertificatesImportToAcmLogs98ADEF38: 'AWS::Logs::LogGroup',
  CertificatesCleanupLogs84F8A72A: 'AWS::Logs::LogGroup',
  CertificatesCleanupEndedExecutionLogs875F1543: 'AWS::Logs::LogGroup',
  CertificatesPlanRenewalsLogs8975175B: 'AWS::Logs::LogGroup',
  CertificatesSyncDeclaredCertificatesLogsB585C341: 'AWS::Logs::LogGroup',
  CertificatesRenewalsB58C6698: 'AWS::StepFunctions::StateMachine',
  CertificatesRenewalsRenewalsLogsE4C70CD1: 'AWS::Logs::LogGroup',
};

const STATEFUL_TYPES = new Set(Object.values(EVERY_FEATURE_STATEFUL));

function statefulIds(resources: Readonly<Record<string, CfnResource>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(resources)
      .filter(([, resource]) => STATEFUL_TYPES.has(resource.Type))
      .map(([id, resource]) => [id, resource.Type]),
  );
}

describe('logical IDs of stateful resources', () => {
  let everyFeature: SynthesizedStack;
  beforeAll(() => {
    everyFeature = synthEveryFeature();
  });

  it('keeps every key, bucket, bucket policy, table, log group and state machine under its deployed ID', () => {
    expect(statefulIds(everyFeature.resources)).toEqual(EVERY_FEATURE_STATEFUL);
  });

  it('keeps the fixed name of the issuance log group', () => {
    expect(everyFeature.resources.CertificatesIssuanceLogsB8046CEB?.Properties?.LogGroupName).toBe(
      '/aws/vendedlogs/states/TestCertificates52B45318-Issuance',
    );
  });

  it('keeps the deployed IDs wherever the construct sits in the tree', () => {
    const app = new App({ builtinCloudFormationValidation: false });
    const stack = new Stack(app, 'Other', { env: { account: '123456789012', region: 'us-east-1' } });
    new AcmeCertificates(new Construct(stack, 'Platform'), 'Acme', { hostedZoneIds: ['Z1'] });
    const resources = Template.fromStack(stack).toJSON().Resources as Record<string, CfnResource>;
    expect(statefulIds(resources)).toMatchObject({
      PlatformAcmeAccountKey65E4E6BC: 'AWS::KMS::Key',
      PlatformAcmeStoreKey0CBC0604: 'AWS::KMS::Key',
      PlatformAcmeAccessLogsA5B11222: 'AWS::S3::Bucket',
      PlatformAcmeAccessLogsPolicyB7C09037: 'AWS::S3::BucketPolicy',
      PlatformAcmeCertificateStore3B02283D: 'AWS::S3::Bucket',
      PlatformAcmeCertificateStorePolicy8C95918E: 'AWS::S3::BucketPolicy',
      PlatformAcmeRegistry265DB837: 'AWS::DynamoDB::Table',
      PlatformAcmeIssuance432DB9E4: 'AWS::StepFunctions::StateMachine',
    });
  });
});
