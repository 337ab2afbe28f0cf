import { randomBytes } from 'node:crypto';
import {
  AssumeRoleCommand,
  type AssumeRoleCommandInput,
  type AssumeRoleCommandOutput,
  STSClient,
  STSServiceException,
} from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { FakeCommandRunner, type ServiceExceptionClass } from './fake-support.js';

/**
 * An in-memory AWS STS at the SDK boundary, and the one place that knows which account a set of
 * credentials belongs to. `AssumeRole` checks the role exists and trusts the caller's account,
 * validates what STS validates (ARN, session name, duration against the role's maximum session)
 * and returns temporary credentials that expire; the Route 53 fake asks {@link StsFake.accountOf}
 * which account a client's credentials act in, so a zone in another account is reachable only
 * through its role, and only until those credentials expire.
 */

/** The account the Lambda functions run in; any credentials STS did not issue act in it. */
export const HOME_ACCOUNT = '123456789012';

const ROLE_ARN = /^arn:aws:iam::(\d{12}):role\/([\w+=,.@/-]{1,512})$/;
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;
const MIN_DURATION_SECONDS = 900;

export interface FakeRoleOptions {
  /** Accounts whose principals the trust policy lets assume the role. @default [HOME_ACCOUNT] */
  readonly trustedAccounts?: readonly string[];
  /** The role's maximum session duration. @default 3600 */
  readonly maxSessionSeconds?: number;
}

export interface StsFakeOptions {
  /** Time source for issuing and expiring credentials. @default the system clock */
  readonly now?: () => Date;
}

/** Credentials as SDK clients resolve them. */
export interface FakeCallerCredentials {
  readonly accessKeyId: string;
  readonly sessionToken?: string;
}

interface Role {
  readonly arn: string;
  readonly account: string;
  readonly trustedAccounts: readonly string[];
  readonly maxSessionSeconds: number;
}

interface IssuedCredentials {
  readonly account: string;
  readonly roleArn: string;
  readonly sessionName: string;
  readonly sessionToken: string;
  readonly expiration: Date;
}

/** Installs the fake behind every `STSClient`; call `restore()` in `afterEach`. */
export function installStsFake(options: StsFakeOptions = {}): StsFake {
  return new StsFake(options);
}

export class StsFake {
  readonly stub = mockClient(STSClient);
  private readonly runner: FakeCommandRunner = new FakeCommandRunner(
    STSServiceException as unknown as ServiceExceptionClass,
  );
  private readonly roles = new Map<string, Role>();
  private readonly issued = new Map<string, IssuedCredentials>();
  private readonly now: () => Date;

  constructor(options: StsFakeOptions) {
    this.now = options.now ?? (() => new Date());
    this.stub.onAnyCommand().callsFake((input: unknown) => {
      throw new Error(`The STS fake does not implement this command: ${JSON.stringify(input)}`);
    });
    this.stub.on(AssumeRoleCommand).callsFake(async (input: AssumeRoleCommandInput, getClient) => {
      const caller = this.accountOf(await getClient().config.credentials());
      return this.runner.run('AssumeRole', input, () => this.assumeRole(input, caller));
    });
  }

  /** Calls per command, failed ones included. */
  get calls(): Readonly<Record<string, number>> {
    return this.runner.calls;
  }

  /** Every `AssumeRole` input, oldest first. */
  get assumeRoleRequests(): AssumeRoleCommandInput[] {
    return this.runner.inputsOf<AssumeRoleCommandInput>('AssumeRole');
  }

  /** Creates an IAM role (its account is the one in the ARN) and returns its ARN. */
  addRole(roleArn: string, options: FakeRoleOptions = {}): string {
    const match = ROLE_ARN.exec(roleArn);
    if (!match?.[1]) throw new Error(`not a role ARN: ${roleArn}`);
    this.roles.set(roleArn, {
      arn: roleArn,
      account: match[1],
      trustedAccounts: options.trustedAccounts ?? [HOME_ACCOUNT],
      maxSessionSeconds: options.maxSessionSeconds ?? 3600,
    });
    return roleArn;
  }

  /** Makes the next `times` calls of `command` fail with an STS error called `errorName`. */
  failNext(command: 'AssumeRole', errorName: string, times = 1): void {
    this.runner.failNext(command, errorName, times);
  }

  /**
   * The account that `credentials` act in: the role's account for credentials this fake issued,
   * the home account for any others (the Lambda's own). Throws the error AWS services answer
   * with for credentials that expired or that STS never issued.
   */
  accountOf(credentials: FakeCallerCredentials): string {
    const issued = this.issued.get(credentials.accessKeyId);
    if (issued === undefined) {
      if (credentials.accessKeyId.startsWith('ASIA')) {
        this.runner.fail({
          name: 'InvalidClientTokenId',
          httpStatusCode: 403,
          message: 'The security token included in the request is invalid.',
        });
      }
      return HOME_ACCOUNT;
    }
    if (credentials.sessionToken !== issued.sessionToken) {
      this.runner.fail({
        name: 'InvalidClientTokenId',
        httpStatusCode: 403,
        message: 'The security token included in the request is invalid.',
      });
    }
    if (this.now() >= issued.expiration) {
      this.runner.fail({
        name: 'ExpiredToken',
        httpStatusCode: 403,
        message: 'The security token included in the request is expired',
      });
    }
    return issued.account;
  }

  /**
   * Records credentials that STS issued outside `AssumeRole`, such as the session credentials
   * Lambda gives a function's role, so that services recognize them.
   */
  recognize(
    accessKeyId: string,
    session: Omit<IssuedCredentials, 'expiration'> & { expiration?: Date },
  ): void {
    this.issued.set(accessKeyId, { ...session, expiration: session.expiration ?? new Date(8.64e15) });
  }

  /** The role session that credentials STS issued belong to, or `undefined` for others. */
  sessionOf(accessKeyId: string): { roleArn: string; account: string; sessionName: string } | undefined {
    const issued = this.issued.get(accessKeyId);
    return issued
      ? { roleArn: issued.roleArn, account: issued.account, sessionName: issued.sessionName }
      : undefined;
  }

  /** The accounts a role's trust policy lets assume it, or `undefined` for a role STS does not know. */
  trustedAccountsOf(roleArn: string): readonly string[] | undefined {
    return this.roles.get(roleArn)?.trustedAccounts;
  }

  /** Puts the real `STSClient.send` back. */
  restore(): void {
    this.stub.restore();
  }

  private assumeRole(input: AssumeRoleCommandInput, callerAccount: string): AssumeRoleCommandOutput {
    const problems: string[] = [];
    if (!input.RoleArn || input.RoleArn.length < 20) {
      problems.push(
        "Value at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20",
      );
    }
    if (!input.RoleSessionName || !SESSION_NAME.test(input.RoleSessionName)) {
      problems.push(
        `Value '${input.RoleSessionName}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*`,
      );
    }
    const duration = input.DurationSeconds ?? 3600;
    if (duration < MIN_DURATION_SECONDS || duration > 43_200) {
      problems.push(
        `Value '${duration}' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200`,
      );
    }
    if (problems.length > 0) {
      this.runner.fail({
        name: 'ValidationError',
        message: `${problems.length} validation error${problems.length > 1 ? 's' : ''} detected: ${problems.join('; ')}`,
      });
    }

    const role = this.roles.get(input.RoleArn ?? '');
    if (role === undefined || !role.trustedAccounts.includes(callerAccount)) {
      this.runner.fail({
        name: 'AccessDenied',
        httpStatusCode: 403,
        message: `User: arn:aws:sts::${callerAccount}:assumed-role/AcmeStep/function is not authorized to perform: sts:AssumeRole on resource: ${input.RoleArn}`,
      });
    }
    if (duration > role.maxSessionSeconds) {
      this.runner.fail({
        name: 'ValidationError',
        message: 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
      });
    }

    const accessKeyId = `ASIA${randomBytes(8).toString('hex').toUpperCase()}`;
    const sessionToken = randomBytes(32).toString('base64');
    const expiration = new Date(this.now().getTime() + duration * 1000);
    this.issued.set(accessKeyId, {
      account: role.account,
      roleArn: role.arn,
      sessionName: input.RoleSessionName ?? '',
      sessionToken,
      expiration,
    });
    const roleName = role.arn.split(':role/')[1]?.split('/').at(-1) ?? '';
    return {
      $metadata: { httpStatusCode: 200 },
      Credentials: {
        AccessKeyId: accessKeyId,
        SecretAccessKey: randomBytes(30).toString('base64'),
        SessionToken: sessionToken,
        Expiration: expiration,
      },
      AssumedRoleUser: {
        AssumedRoleId: `AROA${randomBytes(8).toString('hex').toUpperCase()}:${input.RoleSessionName}`,
        Arn: `arn:aws:sts::${role.account}:assumed-role/${roleName}/${input.RoleSessionName}`,
      },
    };
  }
}
