import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct, type IConstruct } from 'constructs';
import { adminOnlyKeyPolicy, grantKeyUse } from './key-policy.js';
import { keepLogicalId } from './logical-ids.js';
import { acknowledgeWildcard } from './nag.js';

/** What a grantee may do under one prefix of the certificate store. */
export type StoreAccess = 'read' | 'write';

/**
 * Everything the workflow keeps between steps and runs: the KMS-encrypted bucket of issued chains
 * and keys (with its access logs), and the registry table of accounts and certificates. The table
 * lives here rather than beside the functions because it shares the bucket's life cycle: both are
 * retained on delete, both must keep their logical IDs across updates (a replaced table or bucket
 * is lost state), and both are reached by the steps only through this construct's grants.
 */
export class CertificateStore extends Construct {
  /** Encrypts the certificate store. */
  readonly storeKey: kms.Key;
  /** Server access logs of the certificate store: who read or wrote which object, kept a year. */
  readonly accessLogs: s3.Bucket;
  /** Issued chains and encrypted private keys, so an import can be retried without reissuing. */
  readonly bucket: s3.Bucket;
  /** One item per CA account and per certificate: locks, pending orders, issued and imported state. */
  readonly registry: dynamodb.Table;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.storeKey = new kms.Key(this, 'StoreKey', {
      description: 'Encrypts issued certificates and their private keys in the certificate store',
      enableKeyRotation: true,
      policy: adminOnlyKeyPolicy(),
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // A replaced store key could not decrypt the objects already stored: keep its ID from before the split.
    keepLogicalId(this.storeKey, scope, 'StoreKey');
    this.accessLogs = new s3.Bucket(this, 'AccessLogs', {
      // S3 delivers server access logs only to SSE-S3 buckets, not SSE-KMS.
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(365) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // A replaced bucket starts empty: keep the ID from before the split.
    keepLogicalId(this.accessLogs, scope, 'AccessLogs');
    Validations.of(this.accessLogs).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'This is the access-log bucket of the certificate store; logging its own requests would need another log bucket, and so on. It is private, TLS-only and written only by the S3 logging service.',
    });
    this.bucket = new s3.Bucket(this, 'CertificateStore', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.storeKey,
      bucketKeyEnabled: true,
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(90) }],
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'certificate-store/',
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // A replaced bucket starts empty: keep the ID from before the split.
    keepLogicalId(this.bucket, scope, 'CertificateStore');
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyObjectsNotEncryptedWithKms',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:PutObject'],
        resources: [this.bucket.arnForObjects('*')],
        conditions: { StringNotEquals: { 's3:x-amz-server-side-encryption': 'aws:kms' } },
      }),
    );
    // A bucket has one policy: under a new ID, CloudFormation would put the new policy and then
    // delete "the old one", leaving the bucket with none. Keep both policies' IDs.
    for (const [bucket, formerPath] of [
      [this.accessLogs, 'AccessLogs/Policy'],
      [this.bucket, 'CertificateStore/Policy'],
    ] as const) {
      if (bucket.policy) keepLogicalId(bucket.policy, scope, formerPath);
    }

    this.registry = new dynamodb.Table(this, 'Registry', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // The registry holds URLs, serials and ARNs, never keys; the AWS managed key keeps the
      // store key's Decrypt away from every step that only needs the registry.
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // A replaced table is lost state (locks, orders, every certificate's record): keep its ID.
    keepLogicalId(this.registry, scope, 'Registry');
  }

  /**
   * Grants exactly the object and key actions a grantee needs under one prefix of the store,
   * instead of the `s3:GetObject*`-style wildcards of `Bucket.grantRead`; the store key's policy
   * lists readers for `kms:Decrypt` and writers for `kms:GenerateDataKey`, nobody else either.
   */
  grantObjects(grantee: iam.IGrantable, prefix: string, access: readonly StoreAccess[]): iam.Grant {
    const objects = [this.bucket.arnForObjects(prefix)];
    // The store key is only ever used by S3 on the caller's behalf (SSE-KMS), never directly.
    const throughS3 = { StringEquals: { 'kms:ViaService': `s3.${Stack.of(this).region}.amazonaws.com` } };
    let grant = iam.Grant.drop(grantee, `objects under ${prefix}`);
    if (access.includes('read')) {
      grant = grant
        .combine(iam.Grant.addToPrincipal({ grantee, actions: ['s3:GetObject'], resourceArns: objects }))
        // Without ListBucket, S3 answers a missing object with 403 instead of 404, and a first
        // run could not tell "not there yet" from "not allowed".
        .combine(
          iam.Grant.addToPrincipal({
            grantee,
            actions: ['s3:ListBucket'],
            resourceArns: [this.bucket.bucketArn],
            conditions: { StringLike: { 's3:prefix': [prefix] } },
          }),
        )
        .combine(grantKeyUse(this.storeKey, grantee, ['kms:Decrypt'], throughS3));
    }
    if (access.includes('write')) {
      grant = grant
        .combine(iam.Grant.addToPrincipal({ grantee, actions: ['s3:PutObject'], resourceArns: objects }))
        .combine(grantKeyUse(this.storeKey, grantee, ['kms:GenerateDataKey'], throughS3));
    }
    return grant;
  }

  /** Grants DynamoDB `actions` on the registry table, and nothing else. */
  grantRegistry(grantee: iam.IGrantable, ...actions: string[]): iam.Grant {
    return this.registry.grant(grantee, ...actions);
  }

  /** Acknowledges the one wildcard an object grant needs: the objects under `prefix`. */
  acknowledgeObjects(scope: IConstruct, prefix: string): void {
    acknowledgeWildcard(
      scope,
      this.bucket.arnForObjects(prefix),
      `Objects under ${prefix.replace('/*', '/')} only: their keys carry the certificate id and serial, unknown at deploy time.`,
    );
  }
}
