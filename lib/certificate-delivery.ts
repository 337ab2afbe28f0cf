import { ArnFormat, RemovalPolicy, SecretValue, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { DeclaredDelivery } from '../lambdas/core/config/schema.js';
import type { DeliveryTargets } from '../lambdas/core/ports.js';
import { adminOnlyKeyPolicy, grantKeyUse } from './key-policy.js';
import { acknowledgeWildcard } from './nag.js';

export interface CertificateDeliveryProps {
  /** Each declared certificate's delivery, by certificate id, as the core schema resolved it. */
  readonly deliveries: Readonly<Record<string, DeclaredDelivery>>;
  /**
   * The key secrets and parameters are encrypted with.
   * @default a key created here (rotation on, retained on delete) when any certificate declares a delivery
   */
  readonly key?: kms.IKey;
}

/**
 * The value of a delivery secret until the first issuance writes the certificate. It is the
 * template's `SecretString`: CloudFormation writes it again whenever it changes, over an issued
 * certificate, so it must stay the same from one release to the next.
 */
export function pendingSecretValue(certificateId: string): string {
  return JSON.stringify({
    status: 'pending',
    certificateId,
    message:
      'No certificate has been issued yet; this secret gets a new version (AWSCURRENT) at each issuance and renewal.',
  });
}

/**
 * Where declared certificates are delivered for workloads outside ACM: one Secrets Manager secret
 * per certificate declared with `secret`, created at deploy with a "pending" value so that a
 * deployment never races the first issuance, and the Parameter Store paths of those declared with
 * `parameters` (the parameters themselves are created by the first delivery). Both are encrypted
 * with one delivery key. Only `grantDelivery`'s grantee (the DeliverCertificate step) may write
 * them; workloads read them through `grantReadSecret` and `grantReadParameters`.
 */
export class CertificateDelivery extends Construct {
  /** The key secrets and parameters are encrypted with; absent when nothing is delivered and none was given. */
  readonly key?: kms.IKey;
  /** The secret of each certificate declared with `secret`, by certificate id. */
  readonly secrets: Readonly<Record<string, secretsmanager.Secret>>;
  private readonly deliveries: Readonly<Record<string, DeclaredDelivery>>;

  constructor(scope: Construct, id: string, props: CertificateDeliveryProps) {
    super(scope, id);
    this.deliveries = props.deliveries;
    const declared = Object.entries(props.deliveries);
    const created =
      props.key === undefined && declared.length > 0
        ? new kms.Key(this, 'DeliveryKey', {
            description:
              'Encrypts the certificates and private keys delivered to Secrets Manager and Parameter Store',
            enableKeyRotation: true,
            policy: adminOnlyKeyPolicy(),
            removalPolicy: RemovalPolicy.RETAIN,
          })
        : undefined;
    const key = props.key ?? created;
    if (key) this.key = key;

    // Secret adds "any principal of the account, through Secrets Manager" to the policy of a key
    // it is given as a construct. Ours gets a reference instead, so that its policy keeps naming
    // each grantee, plus the one statement CloudFormation needs (below).
    const secretKey = created ? kms.Key.fromKeyArn(this, 'DeliveryKeyReference', created.keyArn) : props.key;
    const secrets: Record<string, secretsmanager.Secret> = {};
    for (const [certificateId, delivery] of declared) {
      if (delivery.secretName === undefined) continue;
      const secret = new secretsmanager.Secret(this, `Secret-${certificateId}`, {
        secretName: delivery.secretName,
        description: `The certificate "${certificateId}", its chain and private key (JSON), written by acme-aws at each issuance and renewal`,
        encryptionKey: secretKey,
        // Not secret: it says the certificate is pending. See pendingSecretValue.
        secretStringValue: SecretValue.unsafePlainText(pendingSecretValue(certificateId)),
      });
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'The secret holds an ACME certificate and its key: each renewal writes a new version (AWSCURRENT, the previous one kept as AWSPREVIOUS), which is its rotation. A Secrets Manager rotation Lambda would have nothing to do.',
      });
      secrets[certificateId] = secret;
    }
    this.secrets = secrets;

    const names = declared.flatMap(([, delivery]) => delivery.secretName ?? []);
    if (created && names.length > 0) {
      // CloudFormation writes each secret's pending value at deploy, as the deploying principal,
      // whom synth cannot name: the key policy's root statement allows no usage. This lets the
      // account's principals whose IAM policies allow it encrypt through Secrets Manager, for
      // these secrets only (by the encryption context Secrets Manager always sets). Reading still
      // takes secretsmanager:GetSecretValue on the secret.
      const stack = Stack.of(this);
      created.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'CreateDeliverySecretsAtDeploy',
          principals: [new iam.AccountRootPrincipal()],
          actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
          resources: ['*'],
          conditions: {
            StringEquals: {
              'kms:ViaService': this.viaService('secretsmanager'),
              'kms:CallerAccount': stack.account,
            },
            StringLike: {
              'kms:EncryptionContext:SecretARN': names.map((name) =>
                stack.formatArn({
                  service: 'secretsmanager',
                  resource: 'secret',
                  resourceName: `${name}-??????`,
                  arnFormat: ArnFormat.COLON_RESOURCE_NAME,
                }),
              ),
            },
          },
        }),
      );
    }
  }

  /** Whether the certificate `certificateId` declares a delivery. */
  delivers(certificateId: string): boolean {
    return this.deliveries[certificateId] !== undefined;
  }

  /**
   * What the registry holds for the certificate `certificateId` (its record's `config.delivery`):
   * the secret's ARN, the parameter path and tier, and the key the parameters are encrypted with.
   * Undefined when it declares no delivery.
   */
  targets(certificateId: string): DeliveryTargets | undefined {
    const delivery = this.deliveries[certificateId];
    if (!delivery) return undefined;
    const secret = this.secrets[certificateId];
    return {
      ...(secret ? { secretArn: secret.secretArn } : {}),
      ...(delivery.parameterPath !== undefined
        ? {
            parameterPath: delivery.parameterPath,
            parameterTier: delivery.parameterTier ?? 'Standard',
            ...(this.key ? { parameterKeyArn: this.key.keyArn } : {}),
          }
        : {}),
    };
  }

  /**
   * Lets `grantee` write every declared delivery, and nothing else: `secretsmanager:PutSecretValue`
   * on exactly the declared secrets, `ssm:PutParameter` under exactly the declared paths, and the
   * delivery key only through those services (`kms:GenerateDataKey` and `kms:Decrypt` through
   * Secrets Manager; `kms:Encrypt` through Parameter Store, plus `kms:GenerateDataKey` when a path
   * is on the Advanced tier, whose values Parameter Store envelope-encrypts).
   */
  grantDelivery(grantee: iam.IGrantable): iam.Grant {
    let grant = iam.Grant.drop(grantee, 'the certificate deliveries');
    const key = this.key;
    const secretArns = Object.values(this.secrets).map((secret) => secret.secretArn);
    if (secretArns.length > 0) {
      grant = grant.combine(
        iam.Grant.addToPrincipal({
          grantee,
          actions: ['secretsmanager:PutSecretValue'],
          resourceArns: secretArns,
        }),
      );
      if (key) {
        grant = grant.combine(
          grantKeyUse(key, grantee, ['kms:GenerateDataKey', 'kms:Decrypt'], this.through('secretsmanager')),
        );
      }
    }
    const paths = Object.values(this.deliveries).filter((delivery) => delivery.parameterPath !== undefined);
    if (paths.length > 0) {
      const parameters = paths.map((delivery) => this.parameterArn(`${delivery.parameterPath}/*`));
      grant = grant.combine(
        iam.Grant.addToPrincipal({ grantee, actions: ['ssm:PutParameter'], resourceArns: parameters }),
      );
      this.acknowledgeParameters(grantee, parameters);
      if (key) {
        const advanced = paths.some((delivery) => delivery.parameterTier === 'Advanced');
        grant = grant.combine(
          grantKeyUse(
            key,
            grantee,
            advanced ? ['kms:Encrypt', 'kms:GenerateDataKey'] : ['kms:Encrypt'],
            this.through('ssm'),
          ),
        );
      }
    }
    return grant;
  }

  /**
   * Lets `grantee` read the secret of the certificate `certificateId`: `GetSecretValue` and
   * `DescribeSecret` on exactly that secret, and `kms:Decrypt` through Secrets Manager.
   */
  grantReadSecret(certificateId: string, grantee: iam.IGrantable): iam.Grant {
    const secret = this.secrets[certificateId];
    if (!secret) {
      throw new Error(
        `AcmeCertificates: grantReadSecret("${certificateId}"): no certificate with that id is declared with secret (declared with secret: ${Object.keys(this.secrets).join(', ') || 'none'}). Add secret: true to its declaration.`,
      );
    }
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
      resourceArns: [secret.secretArn],
    });
    return this.key
      ? grant.combine(grantKeyUse(this.key, grantee, ['kms:Decrypt'], this.through('secretsmanager')))
      : grant;
  }

  /**
   * Lets `grantee` read the parameters of the certificate `certificateId`: `ssm:GetParameter`,
   * `GetParameters` and `GetParametersByPath` on its path and the parameters under it, and
   * `kms:Decrypt` through Parameter Store.
   */
  grantReadParameters(certificateId: string, grantee: iam.IGrantable): iam.Grant {
    const path = this.deliveries[certificateId]?.parameterPath;
    if (path === undefined) {
      const declared = Object.entries(this.deliveries)
        .filter(([, delivery]) => delivery.parameterPath !== undefined)
        .map(([id]) => id);
      throw new Error(
        `AcmeCertificates: grantReadParameters("${certificateId}"): no certificate with that id is declared with parameters (declared with parameters: ${declared.join(', ') || 'none'}). Add parameters: { path } to its declaration.`,
      );
    }
    const parameters = this.parameterArn(`${path}/*`);
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['ssm:GetParameter', 'ssm:GetParameters', 'ssm:GetParametersByPath'],
      resourceArns: [this.parameterArn(path), parameters],
    });
    this.acknowledgeParameters(grantee, [parameters]);
    return this.key
      ? grant.combine(grantKeyUse(this.key, grantee, ['kms:Decrypt'], this.through('ssm')))
      : grant;
  }

  /** The ARN of a parameter name or pattern (`/a/b/*`), without the leading `/` as ARNs spell it. */
  private parameterArn(name: string): string {
    return Stack.of(this).formatArn({ service: 'ssm', resource: 'parameter', resourceName: name.slice(1) });
  }

  private viaService(service: string): string {
    return `${service}.${Stack.of(this).region}.amazonaws.com`;
  }

  private through(service: string): Record<string, unknown> {
    return { StringEquals: { 'kms:ViaService': this.viaService(service) } };
  }

  private acknowledgeParameters(grantee: iam.IGrantable, parameters: readonly string[]): void {
    const principal = grantee.grantPrincipal;
    const scope = Construct.isConstruct(principal)
      ? principal
      : Construct.isConstruct(grantee)
        ? grantee
        : undefined;
    if (!scope) return;
    for (const parameter of parameters) {
      acknowledgeWildcard(
        scope,
        parameter,
        'The parameters under one declared certificate path only (certificate, chain, privateKey, fullchain).',
      );
    }
  }
}
