import { randomBytes, randomUUID } from 'node:crypto';
import {
  GetParameterCommand,
  type GetParameterCommandInput,
  type GetParameterCommandOutput,
  GetParameterHistoryCommand,
  type GetParameterHistoryCommandInput,
  type GetParameterHistoryCommandOutput,
  PutParameterCommand,
  type PutParameterCommandInput,
  type PutParameterCommandOutput,
  SSMClient,
  SSMServiceException,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { FakeCommandRunner, type ServiceExceptionClass } from './fake-support.js';

/**
 * An in-memory AWS Systems Manager Parameter Store at the SDK boundary, for unit tests and the
 * local cloud. It serves PutParameter, GetParameter and GetParameterHistory with the service's
 * rules and error names:
 *
 * - Names ("Requirements and constraints for parameter names",
 *   https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-su-create.html,
 *   and the PutParameter API reference,
 *   https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html):
 *   case sensitive; only `a-zA-Z0-9_.-` and `/` between hierarchy levels; a name in a hierarchy
 *   starts with `/`; no `aws` or `ssm` prefix; at most 1011 characters (`ValidationException`);
 *   at most 15 hierarchy levels (`HierarchyLevelLimitExceededException`).
 * - Tiers ("Managing parameter tiers",
 *   https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html):
 *   a standard parameter's value is at most 4 KB (4,096 bytes), an advanced one's 8 KB (8,192
 *   bytes), refused with `ValidationException`; `Intelligent-Tiering` picks Advanced only when
 *   the value needs it; an advanced parameter can't be changed back to standard
 *   (`ValidationException`); a parameter updated without `Tier` keeps its tier.
 * - Versions: a new parameter is version 1 and every successful put adds one; an existing
 *   parameter without `Overwrite` fails with `ParameterAlreadyExists`; the type can't change
 *   (`HierarchyTypeMismatchException`); Parameter Store keeps the 100 most recent versions and
 *   deletes the oldest when a new one is created, unless the oldest has a label:
 *   `ParameterMaxVersionLimitExceeded` (API reference, "Errors").
 * - SecureString ("AWS KMS encryption for Parameter Store SecureString parameters",
 *   https://docs.aws.amazon.com/kms/latest/developerguide/services-parameter-store.html): the
 *   value is encrypted under `KeyId` (the AWS managed key `alias/aws/ssm` when none is given);
 *   GetParameter answers the ciphertext unless `WithDecryption` is true; `KeyId` on any other
 *   type is refused (`ValidationException`). The fake keeps the key of every version.
 * - GetParameter of a missing parameter fails with `ParameterNotFound`, of a missing version or
 *   label (`name:3`, `name:label`) with `ParameterVersionNotFound`.
 *
 * Tests read what was stored through the fake's own methods (`parameter`, `valueOf`).
 */

const ACCOUNT = '123456789012';
/** The AWS managed key Parameter Store uses for a SecureString without `KeyId`. */
export const SSM_MANAGED_KEY = 'alias/aws/ssm';
/** "Managing parameter tiers": maximum value size per tier, in bytes. */
export const MAX_PARAMETER_VALUE_BYTES = { Standard: 4096, Advanced: 8192 } as const;
/** Parameter Store keeps the 100 most recently created versions of a parameter. */
export const MAX_PARAMETER_VERSIONS = 100;
/** The PutParameter API reference: a fully qualified name is at most 1011 characters. */
const MAX_NAME_LENGTH = 1011;
/** A hierarchy can have a maximum of 15 levels. */
const MAX_HIERARCHY_LEVELS = 15;
/** GetParameterHistory answers at most 50 versions per page. */
const HISTORY_PAGE = 50;

export type FakeParameterType = 'String' | 'StringList' | 'SecureString';
export type FakeParameterTier = 'Standard' | 'Advanced';

/** One version of a parameter. */
export interface FakeParameterVersion {
  readonly version: number;
  readonly value: string;
  readonly type: FakeParameterType;
  readonly tier: FakeParameterTier;
  /** The KMS key a SecureString version was encrypted under, as the request named it. */
  readonly keyId?: string;
  /** What GetParameter answers for a SecureString without `WithDecryption`. */
  readonly ciphertext?: string;
  readonly description?: string;
  readonly lastModifiedDate: Date;
  /** Labels attached to this version (LabelParameterVersion). */
  readonly labels: Set<string>;
}

/** One parameter, as the fake keeps it. */
export interface FakeParameter {
  readonly name: string;
  readonly arn: string;
  /** The versions Parameter Store still keeps, oldest first; the last is the current one. */
  readonly versions: FakeParameterVersion[];
}

export interface SsmFake {
  readonly region: string;
  /** Every parameter, by name. */
  readonly parameters: ReadonlyMap<string, FakeParameter>;
  /** Calls per command (`PutParameter`, `GetParameter`), failed ones included. */
  readonly calls: Readonly<Record<string, number>>;
  /** Every request with its input, oldest first. */
  readonly requests: readonly { readonly command: string; readonly input: unknown }[];
  /** The parameter with this name (not ARN), if any. */
  parameter(name: string): FakeParameter | undefined;
  /** The current version of a parameter, or the version numbered `version`. */
  version(name: string, version?: number): FakeParameterVersion | undefined;
  /** The plaintext value of the current version, or of the version numbered `version`. */
  valueOf(name: string, version?: number): string | undefined;
  /** Arranges a parameter as PutParameter would (with `Overwrite`), and returns its new version. */
  putParameter(input: {
    readonly name: string;
    readonly value: string;
    readonly type?: FakeParameterType;
    readonly keyId?: string;
    readonly tier?: FakeParameterTier;
  }): number;
  /** Attaches a label to a version, as LabelParameterVersion does (moving it from another version). */
  labelVersion(name: string, version: number, label: string): void;
  /** Makes the next `times` calls of `command` throw an error named `errorName`. */
  failNext(command: string, errorName: string, times?: number): void;
  /** Gives `SSMClient` back its real `send`. */
  restore(): void;
}

let active: SsmFake | undefined;

/** The fake currently installed on `SSMClient`, if any. */
export function activeSsmFake(): SsmFake | undefined {
  return active;
}

/** A parameter's ARN: the name without its leading slash after `parameter/`. */
export function parameterArn(name: string, region: string, account = ACCOUNT, partition = 'aws'): string {
  return `arn:${partition}:ssm:${region}:${account}:parameter/${name.replace(/^\//, '')}`;
}

function metadata() {
  return { httpStatusCode: 200, requestId: randomUUID(), attempts: 1, totalRetryDelay: 0 };
}

/** The service's message for a name that breaks the naming rules. */
const NAME_RULES =
  'Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_';

/**
 * Replaces `send` on every `SSMClient` (including clients created before this call) with an
 * in-memory Parameter Store. Call `restore()` when done.
 */
export function installSsmFake(options: { region?: string } = {}): SsmFake {
  const region = options.region ?? 'us-east-1';
  const runner = new FakeCommandRunner(SSMServiceException as unknown as ServiceExceptionClass);
  const parameters = new Map<string, FakeParameter>();
  const mock = mockClient(SSMClient);

  const validation = (message: string): never => runner.fail({ name: 'ValidationException', message });

  const checkName = (name: string): void => {
    if (name.length === 0 || name.length > MAX_NAME_LENGTH) {
      validation(
        `1 validation error detected: Value at 'name' failed to satisfy constraint: Member must have length ${name.length === 0 ? 'greater than or equal to 1' : `less than or equal to ${MAX_NAME_LENGTH}`}`,
      );
    }
    if (name.startsWith('arn:')) validation(NAME_RULES);
    const hierarchical = name.includes('/');
    if (hierarchical && !name.startsWith('/')) {
      validation('Parameter name must be a fully qualified name.');
    }
    const levels = hierarchical ? name.slice(1).split('/') : [name];
    if (levels.some((level) => !/^[a-zA-Z0-9_.-]+$/.test(level))) validation(NAME_RULES);
    if (/^(aws|ssm)/i.test(levels[0] ?? '')) validation(NAME_RULES);
    if (levels.length > MAX_HIERARCHY_LEVELS) {
      runner.fail({
        name: 'HierarchyLevelLimitExceededException',
        message: `A hierarchy can have a maximum of ${MAX_HIERARCHY_LEVELS} levels.`,
      });
    }
  };

  /** `name`, `name:3` or `name:label`, as GetParameter accepts it. */
  const select = (
    reference: string | undefined,
  ): { parameter: FakeParameter; version: FakeParameterVersion } => {
    const text = reference ?? '';
    const colon = text.lastIndexOf(':');
    const name = colon > 0 && !text.startsWith('arn:') ? text.slice(0, colon) : text;
    const selector = colon > 0 && !text.startsWith('arn:') ? text.slice(colon + 1) : undefined;
    const arnName = name.startsWith('arn:') ? (name.split(':parameter/')[1] ?? '') : undefined;
    const parameter =
      arnName === undefined
        ? parameters.get(name)
        : (parameters.get(`/${arnName}`) ?? parameters.get(arnName));
    if (!parameter)
      return runner.fail({ name: 'ParameterNotFound', message: `Parameter ${name} not found.` });
    const version =
      selector === undefined
        ? parameter.versions.at(-1)
        : /^\d+$/.test(selector)
          ? parameter.versions.find((candidate) => candidate.version === Number(selector))
          : parameter.versions.find((candidate) => candidate.labels.has(selector));
    if (!version) {
      return runner.fail({
        name: 'ParameterVersionNotFound',
        message: `Systems Manager could not find version ${selector} of ${name}. Verify the version and try again.`,
      });
    }
    return { parameter, version };
  };

  const put = (input: PutParameterCommandInput): { version: number; tier: FakeParameterTier } => {
    const name = input.Name ?? '';
    checkName(name);
    const value = input.Value ?? '';
    if (value.length === 0) {
      validation(
        "1 validation error detected: Value at 'value' failed to satisfy constraint: Member must have length greater than or equal to 1",
      );
    }
    const existing = parameters.get(name);
    const latest = existing?.versions.at(-1);
    if (existing && !input.Overwrite) {
      runner.fail({
        name: 'ParameterAlreadyExists',
        message:
          'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.',
      });
    }
    const type = (input.Type ?? latest?.type) as FakeParameterType | undefined;
    if (!type) validation('A parameter type is required when you create a parameter.');
    if (type !== 'String' && type !== 'StringList' && type !== 'SecureString') {
      return runner.fail({
        name: 'UnsupportedParameterType',
        message: `Parameter type ${type} is not supported.`,
      });
    }
    if (latest && latest.type !== type) {
      runner.fail({
        name: 'HierarchyTypeMismatchException',
        message: `The parameter type can't be changed from ${latest.type} to ${type}. You must create a new, unique parameter.`,
      });
    }
    if (input.KeyId !== undefined && type !== 'SecureString') {
      validation('KeyId is required for SecureString type parameter only.');
    }
    const bytes = Buffer.byteLength(value, 'utf8');
    const requested = input.Tier;
    let tier: FakeParameterTier;
    if (requested === 'Advanced') tier = 'Advanced';
    else if (requested === 'Standard') tier = 'Standard';
    else if (requested === 'Intelligent-Tiering' || requested === undefined) {
      tier =
        latest?.tier === 'Advanced' || (requested !== undefined && bytes > MAX_PARAMETER_VALUE_BYTES.Standard)
          ? 'Advanced'
          : 'Standard';
    } else {
      return validation(
        `1 validation error detected: Value '${requested}' at 'tier' failed to satisfy constraint: Member must satisfy enum value set: [Standard, Advanced, Intelligent-Tiering]`,
      );
    }
    if (latest?.tier === 'Advanced' && tier === 'Standard') {
      validation(
        "This parameter uses the advanced-parameter tier. You can't downgrade a parameter from the advanced-parameter tier to the standard-parameter tier. If necessary, you can delete the advanced parameter and recreate it as a standard parameter.",
      );
    }
    if (tier === 'Standard' && bytes > MAX_PARAMETER_VALUE_BYTES.Standard) {
      validation(
        'Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier. For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html',
      );
    }
    if (tier === 'Advanced' && bytes > MAX_PARAMETER_VALUE_BYTES.Advanced) {
      validation(
        `1 validation error detected: Value at 'value' failed to satisfy constraint: Member must have length less than or equal to ${MAX_PARAMETER_VALUE_BYTES.Advanced}`,
      );
    }
    const parameter = existing ?? { name, arn: parameterArn(name, region), versions: [] };
    if (parameter.versions.length >= MAX_PARAMETER_VERSIONS) {
      const oldest = parameter.versions[0] as FakeParameterVersion;
      if (oldest.labels.size > 0) {
        runner.fail({
          name: 'ParameterMaxVersionLimitExceeded',
          message: `You attempted to create a new version of ${name} by calling the PutParameter API with the overwrite flag. Version ${oldest.version}, the oldest version, can't be deleted because it has a label associated with it. Move the label to another version of the parameter, and try again.`,
        });
      }
      parameter.versions.shift();
    }
    const secure = type === 'SecureString';
    const version: FakeParameterVersion = {
      version: (latest?.version ?? 0) + 1,
      value,
      type,
      tier,
      ...(secure
        ? {
            keyId: input.KeyId ?? latest?.keyId ?? SSM_MANAGED_KEY,
            ciphertext: randomBytes(48 + bytes).toString('base64'),
          }
        : {}),
      ...((input.Description ?? latest?.description) !== undefined
        ? { description: (input.Description ?? latest?.description) as string }
        : {}),
      lastModifiedDate: new Date(),
      labels: new Set(),
    };
    parameter.versions.push(version);
    parameters.set(name, parameter);
    return { version: version.version, tier };
  };

  mock.onAnyCommand().callsFake(() =>
    runner.fail({
      name: 'UnsupportedOperationException',
      message: 'The SSM fake does not support this command',
    }),
  );

  mock.on(PutParameterCommand).callsFake((input: PutParameterCommandInput) =>
    runner.run('PutParameter', input, (): PutParameterCommandOutput => {
      const { version, tier } = put(input);
      return { $metadata: metadata(), Version: version, Tier: tier };
    }),
  );

  mock.on(GetParameterCommand).callsFake((input: GetParameterCommandInput) =>
    runner.run('GetParameter', input, (): GetParameterCommandOutput => {
      const { parameter, version } = select(input.Name);
      const selector = input.Name?.startsWith('arn:')
        ? undefined
        : input.Name?.slice(parameter.name.length + 1);
      return {
        $metadata: metadata(),
        Parameter: {
          Name: parameter.name,
          Type: version.type,
          Value:
            version.type === 'SecureString' && !input.WithDecryption ? version.ciphertext : version.value,
          Version: version.version,
          LastModifiedDate: version.lastModifiedDate,
          ARN: parameter.arn,
          DataType: 'text',
          ...(selector ? { Selector: `:${selector}` } : {}),
        },
      };
    }),
  );

  mock.on(GetParameterHistoryCommand).callsFake((input: GetParameterHistoryCommandInput) =>
    runner.run('GetParameterHistory', input, (): GetParameterHistoryCommandOutput => {
      const parameter = parameters.get(input.Name ?? '');
      if (!parameter)
        return runner.fail({ name: 'ParameterNotFound', message: `Parameter ${input.Name} not found.` });
      const pageSize = input.MaxResults ?? HISTORY_PAGE;
      if (pageSize < 1 || pageSize > HISTORY_PAGE) {
        return validation(
          `1 validation error detected: Value '${pageSize}' at 'maxResults' failed to satisfy constraint: Member must have value ${pageSize < 1 ? 'greater than or equal to 1' : `less than or equal to ${HISTORY_PAGE}`}`,
        );
      }
      const start = input.NextToken ? Number(Buffer.from(input.NextToken, 'base64url').toString()) : 0;
      if (!Number.isInteger(start) || start < 0) {
        return runner.fail({ name: 'InvalidNextToken', message: 'The specified token is not valid.' });
      }
      const page = parameter.versions.slice(start, start + pageSize);
      const next = start + pageSize < parameter.versions.length ? start + pageSize : undefined;
      return {
        $metadata: metadata(),
        Parameters: page.map((version) => ({
          Name: parameter.name,
          Type: version.type,
          ...(version.keyId ? { KeyId: version.keyId } : {}),
          LastModifiedDate: version.lastModifiedDate,
          LastModifiedUser: `arn:aws:sts::${ACCOUNT}:assumed-role/local/session`,
          ...(version.description ? { Description: version.description } : {}),
          Value:
            version.type === 'SecureString' && !input.WithDecryption ? version.ciphertext : version.value,
          Version: version.version,
          Labels: [...version.labels],
          Tier: version.tier,
          Policies: [],
          DataType: 'text',
        })),
        ...(next !== undefined ? { NextToken: Buffer.from(String(next)).toString('base64url') } : {}),
      };
    }),
  );

  const versionOf = (name: string, number?: number) => {
    const versions = parameters.get(name)?.versions;
    return number === undefined
      ? versions?.at(-1)
      : versions?.find((candidate) => candidate.version === number);
  };

  const fake: SsmFake = {
    region,
    parameters,
    calls: runner.calls,
    requests: runner.requests,
    parameter: (name) => parameters.get(name),
    version: versionOf,
    valueOf: (name, number) => versionOf(name, number)?.value,
    putParameter(input) {
      return put({
        Name: input.name,
        Value: input.value,
        Type: input.type ?? 'String',
        Overwrite: true,
        ...(input.keyId ? { KeyId: input.keyId } : {}),
        ...(input.tier ? { Tier: input.tier } : {}),
      }).version;
    },
    labelVersion(name, number, label) {
      const parameter = parameters.get(name);
      const target = parameter?.versions.find((candidate) => candidate.version === number);
      if (!parameter || !target) throw new Error(`The SSM fake has no version ${number} of ${name}`);
      for (const version of parameter.versions) version.labels.delete(label);
      target.labels.add(label);
    },
    failNext: (command, errorName, times) => runner.failNext(command, errorName, times),
    restore: () => {
      mock.restore();
      if (active === fake) active = undefined;
    },
  };
  active = fake;
  return fake;
}
