import * as iam from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { LETS_ENCRYPT_STAGING } from '../../lib/steps.js';
import { synthStack } from './template.js';

/** The actions of every identity statement a grant added, sorted. */
const actionsOf = (grant: iam.Grant) =>
  grant.principalStatements.flatMap((statement) => statement.actions).sort();

describe('grant methods', () => {
  it('return the iam.Grant of what they added, as aws-cdk constructs do', () => {
    let read: iam.Grant | undefined;
    let sign: iam.Grant | undefined;
    synthStack(
      {
        directoryUrl: LETS_ENCRYPT_STAGING,
        hostedZoneIds: ['Z111'],
        certificates: [{ id: 'signer', domains: ['sign.example.org'], kmsKey: true }],
      },
      (stack) => {
        const workload = new iam.Role(stack, 'Workload', {
          assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
        });
        read = stack.certificates.grantReadCertificates(workload);
        sign = stack.certificates.grantCertificateKeyUse('signer', workload);
      },
    );
    expect(read?.success).toBe(true);
    expect(actionsOf(read as iam.Grant)).toEqual(['kms:Decrypt', 's3:GetObject', 's3:ListBucket']);
    expect(sign?.success).toBe(true);
    expect(actionsOf(sign as iam.Grant)).toEqual([
      'kms:Decrypt',
      'kms:GetPublicKey',
      'kms:Sign',
      's3:GetObject',
      's3:ListBucket',
    ]);
  });
});
