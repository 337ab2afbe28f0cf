import { randomUUID } from 'node:crypto';
import {
  CloudFormationClient,
  CloudFormationServiceException,
  DescribeStacksCommand,
  type DescribeStacksCommandInput,
  type DescribeStacksCommandOutput,
  type Stack,
  type StackStatus,
} from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { FakeCommandRunner, type ServiceExceptionClass } from './fake-support.js';

/**
 * An in-memory AWS CloudFormation at the SDK boundary, holding stacks and their outputs, for code
 * that finds a deployed stack's resources through `DescribeStacks`. It answers as CloudFormation
 * does: a stack is found by name or by stack id; a name finds only a live stack (a deleted one is
 * found by its id alone); an unknown stack fails with `ValidationError` "Stack with id … does not
 * exist", the error code the query protocol gives it.
 */

const ACCOUNT = '123456789012';

export interface FakeStackOptions {
  readonly name: string;
  /** Output values by key. @default none */
  readonly outputs?: Readonly<Record<string, string>>;
  /** @default 'CREATE_COMPLETE' */
  readonly status?: StackStatus;
  /** Region in the stack id. @default the fake's region */
  readonly region?: string;
}

export interface CloudFormationFake {
  /** Calls per command (`DescribeStacks`), failed ones included. */
  readonly calls: Readonly<Record<string, number>>;
  /** Every request with its input, oldest first. */
  readonly requests: readonly { readonly command: string; readonly input: unknown }[];
  /** Adds a stack, or replaces the live stack of that name, and returns its stack id. */
  putStack(options: FakeStackOptions): string;
  /** Marks the live stack `name` as deleted (`DELETE_COMPLETE`, findable by id only). */
  deleteStack(name: string): void;
  /** Makes the next `times` calls of `command` throw an error named `errorName`. */
  failNext(command: string, errorName: string, times?: number): void;
  /** Gives `CloudFormationClient` back its real `send`. */
  restore(): void;
}

/**
 * Replaces `send` on every `CloudFormationClient` with an in-memory CloudFormation supporting
 * DescribeStacks. Call `restore()` when done.
 */
export function installCloudFormationFake(options: { region?: string } = {}): CloudFormationFake {
  const region = options.region ?? 'us-east-1';
  const runner = new FakeCommandRunner(CloudFormationServiceException as unknown as ServiceExceptionClass);
  const stacks: Stack[] = [];
  const mock = mockClient(CloudFormationClient);
  const ok = () => ({ httpStatusCode: 200, requestId: randomUUID(), attempts: 1, totalRetryDelay: 0 });

  const live = (stack: Stack) => stack.StackStatus !== 'DELETE_COMPLETE';

  mock.onAnyCommand().callsFake(async () => {
    throw new Error(
      'The CloudFormation fake supports only DescribeStacks; extend test/fakes/cloudformation-fake.ts first',
    );
  });

  mock.on(DescribeStacksCommand).callsFake((input: DescribeStacksCommandInput) =>
    runner.run('DescribeStacks', input, (): DescribeStacksCommandOutput => {
      if (input.StackName === undefined) {
        return { $metadata: ok(), Stacks: structuredClone(stacks.filter(live)) };
      }
      const wanted = input.StackName;
      const found = wanted.startsWith('arn:')
        ? stacks.find((stack) => stack.StackId === wanted)
        : stacks.find((stack) => stack.StackName === wanted && live(stack));
      if (!found) {
        return runner.fail({ name: 'ValidationError', message: `Stack with id ${wanted} does not exist` });
      }
      return { $metadata: ok(), Stacks: [structuredClone(found)] };
    }),
  );

  return {
    get calls() {
      return runner.calls;
    },
    get requests() {
      return runner.requests;
    },
    putStack(stackOptions) {
      const existing = stacks.findIndex((stack) => stack.StackName === stackOptions.name && live(stack));
      if (existing >= 0) stacks.splice(existing, 1);
      const stackId = `arn:aws:cloudformation:${stackOptions.region ?? region}:${ACCOUNT}:stack/${stackOptions.name}/${randomUUID()}`;
      stacks.push({
        StackId: stackId,
        StackName: stackOptions.name,
        StackStatus: stackOptions.status ?? 'CREATE_COMPLETE',
        CreationTime: new Date(),
        Outputs: Object.entries(stackOptions.outputs ?? {}).map(([OutputKey, OutputValue]) => ({
          OutputKey,
          OutputValue,
        })),
      });
      return stackId;
    },
    deleteStack(name) {
      const stack = stacks.find((candidate) => candidate.StackName === name && live(candidate));
      if (!stack) throw new Error(`The CloudFormation fake has no live stack named ${name}`);
      stack.StackStatus = 'DELETE_COMPLETE';
      stack.DeletionTime = new Date();
    },
    failNext: (command, errorName, times) => runner.failNext(command, errorName, times),
    restore: () => mock.restore(),
  };
}
