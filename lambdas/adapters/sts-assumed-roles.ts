import type { AssumeRoleCommandOutput, STSClient } from '@aws-sdk/client-sts';
import { AwsRequestError } from '../core/errors.js';
import { wrapAwsError } from './wrap-aws-error.js';

/** The STS SDK, imported on first use and never with this module (runtime.ts says why). */
const sdk = () => import('@aws-sdk/client-sts');

/** Temporary credentials as AWS SDK clients take them. */
export interface RoleCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly expiration: Date;
}

/** How {@link AssumedRoleClients} assumes roles and builds clients. */
export interface AssumedRoleClientsOptions<Client> {
  /** Built once per Lambda module, in the function's own account. */
  readonly sts: STSClient;
  /** Builds a client that signs with the role's credentials (e.g. `new Route53Client({ credentials })`). */
  readonly createClient: (credentials: RoleCredentials) => Client;
  /** Shown in CloudTrail of the role's account. @default 'acme-aws-dns01' */
  readonly sessionName?: string;
  /** Lifetime of the credentials; at most the role's maximum session duration. @default 3600 */
  readonly durationSeconds?: number;
  /** A client is replaced this long before its credentials expire. @default 300 */
  readonly refreshBeforeExpirySeconds?: number;
  /** Time source; tests use a fake clock. @default the system clock */
  readonly now?: () => Date;
}

interface CachedClient<Client> {
  readonly client: Client;
  readonly refreshAt: number;
}

/**
 * One SDK client per IAM role, for resources in other AWS accounts (a Route 53 zone owned by
 * another team). The role is assumed once with STS `AssumeRole` and its client reused, across
 * invocations of a warm Lambda too, until its credentials are about to expire; then the role is
 * assumed again and a fresh client takes over. Concurrent callers share one `AssumeRole`.
 *
 * STS refusals become `AwsRequestError` naming the role (an unknown role and a trust policy that
 * does not name this function both read as AccessDenied); throttling becomes `AwsTransientError`.
 */
export class AssumedRoleClients<Client> {
  private readonly cache = new Map<string, Promise<CachedClient<Client>>>();
  private readonly sts: STSClient;
  private readonly createClient: (credentials: RoleCredentials) => Client;
  private readonly sessionName: string;
  private readonly durationSeconds: number;
  private readonly refreshMs: number;
  private readonly now: () => Date;

  constructor(options: AssumedRoleClientsOptions<Client>) {
    this.sts = options.sts;
    this.createClient = options.createClient;
    this.sessionName = options.sessionName ?? 'acme-aws-dns01';
    this.durationSeconds = options.durationSeconds ?? 3600;
    this.refreshMs = (options.refreshBeforeExpirySeconds ?? 300) * 1000;
    this.now = options.now ?? (() => new Date());
  }

  /** The client for `roleArn`, assuming the role when there is no client or its credentials are ending. */
  async clientFor(roleArn: string): Promise<Client> {
    const cached = this.cache.get(roleArn);
    if (cached) {
      const entry = await cached.catch(() => undefined);
      if (entry && this.now().getTime() < entry.refreshAt) return entry.client;
      // The replaced client is not destroyed: a request still running on it may finish.
      if (this.cache.get(roleArn) === cached) this.cache.delete(roleArn);
      return this.clientFor(roleArn);
    }
    const assumed = this.assume(roleArn);
    this.cache.set(roleArn, assumed);
    assumed.catch(() => {
      if (this.cache.get(roleArn) === assumed) this.cache.delete(roleArn);
    });
    return (await assumed).client;
  }

  private async assume(roleArn: string): Promise<CachedClient<Client>> {
    const { AssumeRoleCommand } = await sdk();
    let response: AssumeRoleCommandOutput;
    try {
      response = await this.sts.send(
        new AssumeRoleCommand({
          RoleArn: roleArn,
          RoleSessionName: this.sessionName,
          DurationSeconds: this.durationSeconds,
        }),
      );
    } catch (error) {
      throw wrapAwsError(
        error,
        `STS AssumeRole of ${roleArn} (its trust policy must let this function's role assume it)`,
      );
    }
    const credentials = response.Credentials;
    if (
      !credentials?.AccessKeyId ||
      !credentials.SecretAccessKey ||
      !credentials.SessionToken ||
      !credentials.Expiration
    ) {
      throw new AwsRequestError(`STS AssumeRole of ${roleArn} returned no complete credentials.`);
    }
    const expiration = new Date(credentials.Expiration);
    return {
      client: this.createClient({
        accessKeyId: credentials.AccessKeyId,
        secretAccessKey: credentials.SecretAccessKey,
        sessionToken: credentials.SessionToken,
        expiration,
      }),
      refreshAt: expiration.getTime() - this.refreshMs,
    };
  }
}
