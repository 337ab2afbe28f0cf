import { LOCAL_ACCOUNT, LOCAL_PARTITION, LOCAL_REGION } from './constants.js';
import type { AuthorizationRequest, PolicyDocument } from './iam.js';
import { accountOf } from './iam.js';

/**
 * What IAM authorizes for each AWS call our functions make: the action, the resource ARN, the
 * request's condition keys and the resource policy involved, as each service's page of the
 * Service Authorization Reference describes them. A call with no entry here is refused, so a new
 * SDK call cannot slip past authorization unnoticed.
 */

/** What the local cloud knows about its resources, for resource ARNs, tags and policies. */
export interface ResourceDirectory {
  /** A KMS key by key id, key ARN, alias name or alias ARN. */
  kmsKey(reference: string): { readonly arn: string; readonly policy?: PolicyDocument } | undefined;
  /** A bucket's policy and default encryption key. */
  bucket(name: string): { readonly policy?: PolicyDocument; readonly kmsKeyArn?: string } | undefined;
  /** The KMS key an existing object was encrypted with (SSE-KMS), if any. */
  objectKmsKey(bucket: string, key: string): string | undefined;
  /** The tags of an ACM certificate, by ARN. */
  certificateTags(arn: string): Readonly<Record<string, string>> | undefined;
  /** A role's trust policy, by ARN (roles of other accounts included). */
  trustPolicy(roleArn: string): PolicyDocument | undefined;
  /** A secret's ARN from its name or ARN. */
  secretArn(secretId: string): string;
  /**
   * A secret the local cloud knows: its customer managed KMS key (none for the AWS managed key
   * `aws/secretsmanager`) and the id of the version a request selects.
   */
  secret(secretId: string):
    | {
        readonly arn: string;
        readonly kmsKeyId?: string;
        versionId(selector: {
          readonly VersionId?: string;
          readonly VersionStage?: string;
        }): string | undefined;
      }
    | undefined;
  /** A Parameter Store parameter's versions (type, tier, KMS key), oldest first. */
  parameter(name: string):
    | {
        readonly versions: readonly {
          readonly version: number;
          readonly type: string;
          readonly tier: string;
          readonly keyId?: string;
          readonly labels: ReadonlySet<string>;
        }[];
      }
    | undefined;
}

/** One authorization and the error the service answers with when it is denied. */
export interface RequiredAuthorization extends AuthorizationRequest {
  /**
   * The service's access-denied error name and HTTP status, and its own message when it words the
   * denial itself (Secrets Manager's "Access to KMS is not allowed") instead of IAM's.
   */
  readonly deniedAs: { readonly name: string; readonly status: number; readonly message?: string };
}

export interface CallDescription {
  readonly client: string;
  readonly command: string;
  readonly input: unknown;
  readonly region: string;
}

const arn = (service: string, region: string, account: string, resource: string) =>
  `arn:${LOCAL_PARTITION}:${service}:${region}:${account}:${resource}`;

const DENIED = {
  KMSClient: { name: 'AccessDeniedException', status: 400 },
  S3Client: { name: 'AccessDenied', status: 403 },
  DynamoDBClient: { name: 'AccessDeniedException', status: 400 },
  Route53Client: { name: 'AccessDenied', status: 403 },
  ACMClient: { name: 'AccessDeniedException', status: 400 },
  EventBridgeClient: { name: 'AccessDeniedException', status: 400 },
  SecretsManagerClient: { name: 'AccessDeniedException', status: 400 },
  STSClient: { name: 'AccessDenied', status: 403 },
  SFNClient: { name: 'AccessDeniedException', status: 400 },
  SSMClient: { name: 'AccessDeniedException', status: 400 },
} as const satisfies Record<string, { name: string; status: number }>;

type Input = Record<string, unknown>;

function stripPrefix(id: unknown, prefix: string): string {
  return String(id ?? '').replace(new RegExp(`^/?${prefix}/`), '');
}

/** Route 53's normalized record name: lower case, no trailing dot (condition keys page of Route 53). */
function normalizedName(name: unknown): string {
  return String(name ?? '')
    .toLowerCase()
    .replace(/\.$/, '');
}

function tagContext(
  prefix: 'aws:RequestTag' | 'aws:ResourceTag',
  tags: Readonly<Record<string, string>>,
): Record<string, string> {
  return Object.fromEntries(Object.entries(tags).map(([key, value]) => [`${prefix}/${key}`, value]));
}

function kmsKeyRequest(
  directory: ResourceDirectory,
  reference: string,
  region: string,
  action: string,
  context: Record<string, string | string[]>,
  deniedAs: RequiredAuthorization['deniedAs'],
): RequiredAuthorization {
  const key = directory.kmsKey(reference);
  const keyArn = key?.arn ?? arn('kms', region, LOCAL_ACCOUNT, `key/${reference}`);
  return {
    action,
    resource: keyArn,
    resourceAccount: accountOf(keyArn),
    context: { 'kms:CallerAccount': LOCAL_ACCOUNT, ...context },
    ...(key?.policy ? { resourcePolicy: key.policy } : {}),
    deniedAs,
  };
}

/**
 * The authorizations one call needs, in the order the service checks them. S3 with SSE-KMS also
 * needs the caller's permission on the key, which S3 uses on the caller's behalf
 * (`kms:ViaService` = `s3.<region>.amazonaws.com`).
 */
export function requiredAuthorizations(
  call: CallDescription,
  directory: ResourceDirectory,
): RequiredAuthorization[] {
  const input = (call.input ?? {}) as Input;
  const region = call.region || LOCAL_REGION;
  const deniedAs = DENIED[call.client as keyof typeof DENIED];
  const command = call.command.replace(/Command$/, '');
  const unknown = () => {
    throw new Error(
      `The local cloud does not know how IAM authorizes ${call.client} ${command}; add it to test/harness/cloud/requests.ts`,
    );
  };
  if (!deniedAs) return unknown();

  switch (call.client) {
    case 'KMSClient': {
      const keyId = String(input.KeyId ?? '');
      if (command === 'Sign') {
        return [
          kmsKeyRequest(
            directory,
            keyId,
            region,
            'kms:Sign',
            {
              'kms:SigningAlgorithm': String(input.SigningAlgorithm ?? ''),
              'kms:MessageType': String(input.MessageType ?? 'RAW'),
            },
            deniedAs,
          ),
        ];
      }
      if (command === 'GetPublicKey')
        return [kmsKeyRequest(directory, keyId, region, 'kms:GetPublicKey', {}, deniedAs)];
      return unknown();
    }
    case 'S3Client': {
      const bucket = String(input.Bucket ?? '');
      const bucketInfo = directory.bucket(bucket);
      const objectArn = `arn:${LOCAL_PARTITION}:s3:::${bucket}/${String(input.Key ?? '')}`;
      const viaS3 = (keyArn: string, action: string) =>
        kmsKeyRequest(
          directory,
          keyArn,
          region,
          action,
          {
            'kms:ViaService': `s3.${region}.amazonaws.com`,
            'kms:EncryptionContext:aws:s3:arn': `arn:${LOCAL_PARTITION}:s3:::${bucket}`,
            'kms:EncryptionContextKeys': ['aws:s3:arn'],
          },
          deniedAs,
        );
      const bucketPolicy = bucketInfo?.policy ? { resourcePolicy: bucketInfo.policy } : {};
      if (command === 'PutObject') {
        const sse = input.ServerSideEncryption as string | undefined;
        const keyArn =
          (input.SSEKMSKeyId as string | undefined) ??
          (sse === 'aws:kms' || sse === undefined ? bucketInfo?.kmsKeyArn : undefined);
        return [
          {
            action: 's3:PutObject',
            resource: objectArn,
            resourceAccount: LOCAL_ACCOUNT,
            context: {
              ...(sse ? { 's3:x-amz-server-side-encryption': sse } : {}),
              ...(input.SSEKMSKeyId
                ? { 's3:x-amz-server-side-encryption-aws-kms-key-id': String(input.SSEKMSKeyId) }
                : {}),
            },
            ...bucketPolicy,
            deniedAs,
          },
          ...(keyArn ? [viaS3(keyArn, 'kms:GenerateDataKey')] : []),
        ];
      }
      if (command === 'GetObject' || command === 'HeadObject') {
        const keyArn = directory.objectKmsKey(bucket, String(input.Key ?? ''));
        return [
          {
            action: 's3:GetObject',
            resource: objectArn,
            resourceAccount: LOCAL_ACCOUNT,
            ...bucketPolicy,
            deniedAs,
          },
          ...(keyArn && command === 'GetObject' ? [viaS3(keyArn, 'kms:Decrypt')] : []),
        ];
      }
      if (command === 'ListObjectsV2') {
        return [
          {
            action: 's3:ListBucket',
            resource: `arn:${LOCAL_PARTITION}:s3:::${bucket}`,
            resourceAccount: LOCAL_ACCOUNT,
            context: { 's3:prefix': String(input.Prefix ?? '') },
            ...bucketPolicy,
            deniedAs,
          },
        ];
      }
      return unknown();
    }
    case 'DynamoDBClient': {
      const actions: Record<string, string> = {
        GetItem: 'dynamodb:GetItem',
        PutItem: 'dynamodb:PutItem',
        UpdateItem: 'dynamodb:UpdateItem',
        DeleteItem: 'dynamodb:DeleteItem',
        Query: 'dynamodb:Query',
        Scan: 'dynamodb:Scan',
      };
      const action = actions[command];
      if (!action) return unknown();
      return [
        {
          action,
          resource: arn('dynamodb', region, LOCAL_ACCOUNT, `table/${String(input.TableName ?? '')}`),
          deniedAs,
        },
      ];
    }
    case 'Route53Client': {
      const zone = `arn:${LOCAL_PARTITION}:route53:::hostedzone/${stripPrefix(input.HostedZoneId ?? input.Id, 'hostedzone')}`;
      switch (command) {
        case 'ChangeResourceRecordSets': {
          const changes = ((input.ChangeBatch as { Changes?: unknown[] } | undefined)?.Changes ?? []) as {
            Action?: string;
            ResourceRecordSet?: { Name?: string; Type?: string };
          }[];
          const unique = (values: string[]) => [...new Set(values)];
          return [
            {
              action: 'route53:ChangeResourceRecordSets',
              resource: zone,
              context: {
                'route53:ChangeResourceRecordSetsNormalizedRecordNames': unique(
                  changes.map((change) => normalizedName(change.ResourceRecordSet?.Name)),
                ),
                'route53:ChangeResourceRecordSetsRecordTypes': unique(
                  changes.map((change) => String(change.ResourceRecordSet?.Type ?? '')),
                ),
                'route53:ChangeResourceRecordSetsActions': unique(
                  changes.map((change) => String(change.Action ?? '')),
                ),
              },
              deniedAs,
            },
          ];
        }
        case 'ListResourceRecordSets':
          return [{ action: 'route53:ListResourceRecordSets', resource: zone, deniedAs }];
        case 'GetHostedZone':
          return [{ action: 'route53:GetHostedZone', resource: zone, deniedAs }];
        case 'GetChange':
          return [
            {
              action: 'route53:GetChange',
              resource: `arn:${LOCAL_PARTITION}:route53:::change/${stripPrefix(input.Id, 'change')}`,
              deniedAs,
            },
          ];
        case 'ListHostedZones':
        case 'ListHostedZonesByName':
          return [{ action: `route53:${command}`, resource: '*', deniedAs }];
        default:
          return unknown();
      }
    }
    case 'ACMClient': {
      const certificateArn = input.CertificateArn as string | undefined;
      const requestTags = Object.fromEntries(
        ((input.Tags as { Key: string; Value?: string }[] | undefined) ?? []).map((tag) => [
          tag.Key,
          tag.Value ?? '',
        ]),
      );
      const existingTags = certificateArn ? (directory.certificateTags(certificateArn) ?? {}) : {};
      const resource = certificateArn ?? '*';
      const resourceContext = tagContext('aws:ResourceTag', existingTags);
      const requestContext = {
        ...tagContext('aws:RequestTag', requestTags),
        ...(Object.keys(requestTags).length > 0 ? { 'aws:TagKeys': Object.keys(requestTags) } : {}),
      };
      switch (command) {
        case 'ImportCertificate':
          // Tags on an import need the tagging permission too ("Tagging AWS Certificate Manager
          // resources", ACM User Guide).
          return [
            {
              action: 'acm:ImportCertificate',
              resource,
              context: { ...resourceContext, ...requestContext },
              deniedAs,
            },
            ...(Object.keys(requestTags).length > 0
              ? [
                  {
                    action: 'acm:AddTagsToCertificate',
                    resource,
                    context: { ...resourceContext, ...requestContext },
                    deniedAs,
                  },
                ]
              : []),
          ];
        case 'AddTagsToCertificate':
          return [
            {
              action: 'acm:AddTagsToCertificate',
              resource,
              context: { ...resourceContext, ...requestContext },
              deniedAs,
            },
          ];
        case 'DescribeCertificate':
        case 'GetCertificate':
        case 'ListTagsForCertificate':
          return [{ action: `acm:${command}`, resource, context: resourceContext, deniedAs }];
        default:
          return unknown();
      }
    }
    case 'EventBridgeClient': {
      if (command !== 'PutEvents') return unknown();
      const entries =
        (input.Entries as { EventBusName?: string; Source?: string; DetailType?: string }[]) ?? [];
      return entries.map((entry) => {
        const bus = entry.EventBusName ?? 'default';
        return {
          action: 'events:PutEvents',
          resource: bus.startsWith('arn:') ? bus : arn('events', region, LOCAL_ACCOUNT, `event-bus/${bus}`),
          context: {
            'events:source': String(entry.Source ?? ''),
            'events:detail-type': String(entry.DetailType ?? ''),
          },
          deniedAs,
        };
      });
    }
    case 'SecretsManagerClient': {
      if (command !== 'GetSecretValue' && command !== 'DescribeSecret' && command !== 'PutSecretValue')
        return unknown();
      const secretId = String(input.SecretId ?? '');
      const secret = directory.secret(secretId);
      const secretArn = secret?.arn ?? directory.secretArn(secretId);
      const selector = {
        ...(input.VersionId !== undefined ? { VersionId: String(input.VersionId) } : {}),
        ...(input.VersionStage !== undefined ? { VersionStage: String(input.VersionStage) } : {}),
      };
      const secretRequest: RequiredAuthorization = {
        action: `secretsmanager:${command}`,
        resource: secretArn,
        resourceAccount: accountOf(secretArn),
        context: {
          'secretsmanager:SecretId': secretArn,
          ...(command === 'GetSecretValue' && selector.VersionId !== undefined
            ? { 'secretsmanager:VersionId': selector.VersionId }
            : {}),
          ...(command === 'GetSecretValue' && selector.VersionStage !== undefined
            ? { 'secretsmanager:VersionStage': selector.VersionStage }
            : {}),
        },
        deniedAs,
      };
      // A secret under a customer managed key: Secrets Manager uses the key on the caller's behalf,
      // so the caller needs kms:GenerateDataKey and kms:Decrypt on it ("Secret encryption and
      // decryption in AWS Secrets Manager", Permissions for the KMS key:
      // https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html#security-encryption-authz),
      // requested through secretsmanager.<region>.amazonaws.com with the encryption context
      // {SecretARN, SecretVersionId} ("Secrets Manager encryption context", same page). The AWS
      // managed key aws/secretsmanager needs no permission of the caller's own.
      // Note: @cloud-copilot/iam-simulate evaluates kms:EncryptionContextKeys but cannot match a
      // `kms:EncryptionContext:<key>` condition (it does not substitute the key into that
      // condition key), so a policy conditioned on one is never satisfied here.
      const keyId = secret?.kmsKeyId;
      if (!keyId || command === 'DescribeSecret' || /alias\/aws\/secretsmanager$/.test(keyId))
        return [secretRequest];
      const versionId =
        command === 'PutSecretValue'
          ? (input.ClientRequestToken as string | undefined)
          : secret.versionId(selector);
      const viaSecretsManager = (action: string) =>
        kmsKeyRequest(
          directory,
          keyId,
          region,
          action,
          {
            'kms:ViaService': `secretsmanager.${region}.amazonaws.com`,
            'kms:EncryptionContext:SecretARN': secretArn,
            ...(versionId ? { 'kms:EncryptionContext:SecretVersionId': versionId } : {}),
            'kms:EncryptionContextKeys': versionId ? ['SecretARN', 'SecretVersionId'] : ['SecretARN'],
          },
          // Secrets Manager words a refusal by KMS itself.
          { ...deniedAs, message: 'Access to KMS is not allowed' },
        );
      return command === 'PutSecretValue'
        ? [secretRequest, viaSecretsManager('kms:GenerateDataKey'), viaSecretsManager('kms:Decrypt')]
        : [secretRequest, viaSecretsManager('kms:Decrypt')];
    }
    case 'SSMClient': {
      if (command !== 'PutParameter' && command !== 'GetParameter' && command !== 'GetParameterHistory')
        return unknown();
      // GetParameter accepts `name:version` and `name:label`; IAM authorizes the parameter itself.
      const reference = String(input.Name ?? '');
      const [name = '', selector] = reference.startsWith('arn:')
        ? [`/${reference.split(':parameter/')[1] ?? ''}`]
        : reference.split(':');
      const parameterName = name.replace(/^\//, '');
      const parameterResource = arn('ssm', region, LOCAL_ACCOUNT, `parameter/${parameterName}`);
      const known = directory.parameter(name) ?? directory.parameter(parameterName);
      const latest = known?.versions.at(-1);
      const parameterRequest: RequiredAuthorization = {
        action: `ssm:${command}`,
        resource: parameterResource,
        resourceAccount: LOCAL_ACCOUNT,
        ...(command === 'PutParameter'
          ? { context: { 'ssm:Overwrite': String(Boolean(input.Overwrite)) } }
          : {}),
        deniedAs,
      };
      // A SecureString under a customer managed key: Parameter Store calls KMS on the caller's
      // behalf ("AWS KMS encryption for Parameter Store SecureString parameters":
      // https://docs.aws.amazon.com/kms/latest/developerguide/services-parameter-store.html):
      // kms:Encrypt to put a standard parameter, kms:GenerateDataKey to put an advanced one
      // (envelope encryption), kms:Decrypt to read either with decryption; through
      // ssm.<region>.amazonaws.com, with the encryption context {PARAMETER_ARN}. The AWS managed
      // key aws/ssm needs no permission of the caller's own.
      const customerKey = (keyId: string | undefined) =>
        keyId !== undefined && !/alias\/aws\/ssm$/.test(keyId) ? keyId : undefined;
      const viaSsm = (keyId: string, action: string) =>
        kmsKeyRequest(
          directory,
          keyId,
          region,
          action,
          {
            'kms:ViaService': `ssm.${region}.amazonaws.com`,
            'kms:EncryptionContext:PARAMETER_ARN': parameterResource,
            'kms:EncryptionContextKeys': ['PARAMETER_ARN'],
          },
          deniedAs,
        );
      if (command === 'PutParameter') {
        const type = input.Type ?? latest?.type;
        const keyId = customerKey(
          type === 'SecureString' ? ((input.KeyId as string | undefined) ?? latest?.keyId) : undefined,
        );
        if (!keyId) return [parameterRequest];
        const bytes = Buffer.byteLength(String(input.Value ?? ''));
        const advanced =
          input.Tier === 'Advanced' ||
          ((input.Tier === undefined || input.Tier === 'Intelligent-Tiering') &&
            latest?.tier === 'Advanced') ||
          (input.Tier === 'Intelligent-Tiering' && bytes > 4096);
        return [parameterRequest, viaSsm(keyId, advanced ? 'kms:GenerateDataKey' : 'kms:Encrypt')];
      }
      if (!input.WithDecryption) return [parameterRequest];
      const versions =
        command === 'GetParameter'
          ? (known?.versions ?? []).filter((version) =>
              selector === undefined
                ? version === latest
                : /^\d+$/.test(selector)
                  ? version.version === Number(selector)
                  : version.labels.has(selector),
            )
          : (known?.versions ?? []);
      const keys = [
        ...new Set(
          versions
            .filter((version) => version.type === 'SecureString')
            .map((version) => customerKey(version.keyId))
            .filter((keyId): keyId is string => keyId !== undefined),
        ),
      ];
      return [parameterRequest, ...keys.map((keyId) => viaSsm(keyId, 'kms:Decrypt'))];
    }
    case 'STSClient': {
      if (command !== 'AssumeRole') return unknown();
      const roleArn = String(input.RoleArn ?? '');
      const trustPolicy = directory.trustPolicy(roleArn);
      return [
        {
          action: 'sts:AssumeRole',
          resource: roleArn,
          resourceAccount: accountOf(roleArn),
          ...(trustPolicy ? { resourcePolicy: trustPolicy } : {}),
          deniedAs,
        },
      ];
    }
    default:
      return unknown();
  }
}
