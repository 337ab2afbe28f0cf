import {
  type CloudFormationClient,
  DescribeStacksCommand,
  type DescribeStacksCommandOutput,
} from '@aws-sdk/client-cloudformation';
import { explainAwsError } from './aws-errors.js';
import { AwsCallError } from './errors.js';

/** The stack name `cdk deploy` uses unless `-c stackName=…` says otherwise. */
export const DEFAULT_STACK_NAME = 'AcmeCertificates';

/** The outputs of the deployed stack that the CLI reads. */
export type StackOutputKey =
  | 'StateMachineArn'
  | 'RenewalsStateMachineArn'
  | 'RegistryTableName'
  | 'CertificateStoreBucket';

/** A deployed stack, as far as the CLI needs it. */
export interface DeployedStack {
  readonly name: string;
  readonly id: string;
  /** The region the stack (and so its state machines and table) lives in, from its stack id. */
  readonly region: string;
  readonly status: string;
  readonly outputs: Readonly<Record<string, string>>;
}

/**
 * Finds the deployed stack by name through `DescribeStacks`. A missing stack, missing credentials
 * or a refused call becomes an `AwsCallError` that says what to do.
 */
export async function findStack(client: CloudFormationClient, stackName: string): Promise<DeployedStack> {
  let stack: DescribeStacksCommandOutput;
  try {
    stack = await client.send(new DescribeStacksCommand({ StackName: stackName }));
  } catch (error) {
    const message = (error as { message?: unknown } | undefined)?.message;
    if (typeof message === 'string' && /does not exist/.test(message)) {
      throw new AwsCallError(
        `Stack ${stackName} was not found in this account and region. Deploy it with \`npx cdk deploy\`, or point the CLI at it with --stack NAME and --region REGION.`,
        { cause: error },
      );
    }
    throw explainAwsError(error, 'cloudformation:DescribeStacks', `stack ${stackName}`);
  }
  const found = stack.Stacks?.[0];
  if (!found?.StackId) {
    throw new AwsCallError(`DescribeStacks returned no stack named ${stackName}.`);
  }
  const outputs: Record<string, string> = {};
  for (const output of found.Outputs ?? []) {
    if (output.OutputKey && output.OutputValue !== undefined) outputs[output.OutputKey] = output.OutputValue;
  }
  return {
    name: found.StackName ?? stackName,
    id: found.StackId,
    region: found.StackId.split(':')[3] ?? '',
    status: found.StackStatus ?? 'UNKNOWN',
    outputs,
  };
}

/**
 * The value of one output, or an `AwsCallError` naming the output and the fix: a stack deployed
 * before the output existed needs `cdk deploy` of the current version.
 */
export function requireOutput(stack: DeployedStack, key: StackOutputKey): string {
  const value = stack.outputs[key];
  if (value) return value;
  throw new AwsCallError(
    `Stack ${stack.name} (${stack.status}) has no ${key} output. It was deployed by an older version or did not finish deploying: run \`npx cdk deploy\` with this version, then retry.`,
  );
}
