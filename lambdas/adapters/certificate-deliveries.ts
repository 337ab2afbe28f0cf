import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { CertificateDeliveries } from '../core/ports.js';
import { wrapAwsError } from './wrap-aws-error.js';

/** The SDK modules, imported on first use and never with this module (runtime.ts says why). */
const secretsManagerSdk = () => import('@aws-sdk/client-secrets-manager');
const ssmSdk = () => import('@aws-sdk/client-ssm');

export interface AwsCertificateDeliveriesOptions {
  /** Built on first use: a delivery to parameters only never imports Secrets Manager. */
  readonly secretsManager: () => Promise<SecretsManagerClient>;
  readonly ssm: () => Promise<SSMClient>;
}

/**
 * Delivery targets in Secrets Manager and Parameter Store.
 *
 * - `PutSecretValue` with a `ClientRequestToken`: Secrets Manager moves `AWSCURRENT` to the new
 *   version and `AWSPREVIOUS` to the one it replaces, and answers a repeated token with the same
 *   value with the version it already made, so a retried delivery adds none.
 * - `PutParameter` as a SecureString, overwriting, with the declared tier and key.
 *
 * Values never appear in an error message or `cause`; SDK failures are wrapped as
 * `AwsTransientError` (retried by the state machine) or `AwsRequestError`, naming the target.
 */
export class AwsCertificateDeliveries implements CertificateDeliveries {
  readonly #options: AwsCertificateDeliveriesOptions;

  constructor(options: AwsCertificateDeliveriesOptions) {
    this.#options = options;
  }

  async putSecretVersion(input: {
    readonly secretArn: string;
    readonly value: string;
    readonly requestToken: string;
  }): Promise<{ readonly versionId: string }> {
    const [{ PutSecretValueCommand }, client] = await Promise.all([
      secretsManagerSdk(),
      this.#options.secretsManager(),
    ]);
    try {
      const answer = await client.send(
        new PutSecretValueCommand({
          SecretId: input.secretArn,
          SecretString: input.value,
          ClientRequestToken: input.requestToken,
        }),
      );
      return { versionId: answer.VersionId ?? input.requestToken };
    } catch (error) {
      throw wrapAwsError(error, `Secrets Manager PutSecretValue on ${input.secretArn}`);
    }
  }

  async putParameter(input: {
    readonly name: string;
    readonly value: string;
    readonly keyArn?: string;
    readonly tier: 'Standard' | 'Advanced';
  }): Promise<{ readonly version: number }> {
    const [{ PutParameterCommand }, client] = await Promise.all([ssmSdk(), this.#options.ssm()]);
    try {
      const answer = await client.send(
        new PutParameterCommand({
          Name: input.name,
          Value: input.value,
          Type: 'SecureString',
          ...(input.keyArn ? { KeyId: input.keyArn } : {}),
          Overwrite: true,
          Tier: input.tier,
        }),
      );
      return { version: answer.Version ?? 0 };
    } catch (error) {
      throw wrapAwsError(error, `Parameter Store PutParameter on ${input.name}`);
    }
  }
}
