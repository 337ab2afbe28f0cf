import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  InvalidExecutionInput,
  InvalidName,
  InvalidToken,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
  StateMachineDoesNotExist,
} from '@aws-sdk/client-sfn';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CloudFormationFake, installCloudFormationFake } from '../fakes/cloudformation-fake.js';
import { installStepFunctionsFake, type StepFunctionsFake } from '../fakes/stepfunctions-fake.js';
import { issuedScript } from './cli-harness.js';

const T0 = new Date('2030-03-01T12:00:00.000Z');

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe('Step Functions fake', () => {
  let now: number;
  let fake: StepFunctionsFake;
  let client: SFNClient;
  let stateMachineArn: string;

  beforeEach(() => {
    now = T0.getTime();
    fake = installStepFunctionsFake({ now: () => new Date(now) });
    client = new SFNClient({ region: 'us-east-1' });
    stateMachineArn = fake.createStateMachine('Issuance');
    fake.onStart(stateMachineArn, () => issuedScript('web'));
  });

  afterEach(() => {
    fake.restore();
  });

  const start = (name: string, input = '{"certificateId":"web"}') =>
    client.send(new StartExecutionCommand({ stateMachineArn, name, input }));

  const history = async (
    executionArn: string,
    options: { reverseOrder?: boolean; maxResults?: number } = {},
  ) => {
    const events: HistoryEvent[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const page = await client.send(new GetExecutionHistoryCommand({ executionArn, nextToken, ...options }));
      events.push(...(page.events ?? []));
      nextToken = page.nextToken;
      pages += 1;
    } while (nextToken);
    return { events, pages };
  };

  it('refuses a second execution with the same name once the first has ended or with another input', async () => {
    const first = await start('web-issue-1');
    const again = await start('web-issue-1');
    expect(again.executionArn).toBe(first.executionArn);

    const otherInput = await rejection(start('web-issue-1', '{"certificateId":"api"}'));
    expect(otherInput).toBeInstanceOf(ExecutionAlreadyExists);

    now += 60_000;
    const afterEnd = await rejection(start('web-issue-1'));
    expect(afterEnd).toBeInstanceOf(ExecutionAlreadyExists);
    expect((afterEnd as Error).name).toBe('ExecutionAlreadyExists');
  });

  it('validates names, input and the state machine like Step Functions', async () => {
    expect(await rejection(start('has space'))).toBeInstanceOf(InvalidName);
    expect(await rejection(start('a:b'))).toBeInstanceOf(InvalidName);
    expect(await rejection(start('x'.repeat(81)))).toBeInstanceOf(InvalidName);
    expect(await rejection(start('tab\u0001'))).toBeInstanceOf(InvalidName);
    expect(await rejection(start('ok', '{not json'))).toBeInstanceOf(InvalidExecutionInput);
    const missing = stateMachineArn.replace('Issuance', 'Missing');
    expect(
      await rejection(client.send(new StartExecutionCommand({ stateMachineArn: missing, name: 'x' }))),
    ).toBeInstanceOf(StateMachineDoesNotExist);
    expect(
      await rejection(
        client.send(
          new DescribeExecutionCommand({
            executionArn: `${stateMachineArn}:nope`.replace(':stateMachine:', ':execution:'),
          }),
        ),
      ),
    ).toBeInstanceOf(ExecutionDoesNotExist);
  });

  it('records the history in order, with sequential ids, previous ids and timestamps', async () => {
    const { executionArn = '' } = await start('web-issue-1');
    now += 60_000;

    const { events } = await history(executionArn);

    expect(events.map((event) => event.id)).toEqual(events.map((_, index) => index + 1));
    expect(events.slice(1).every((event, index) => event.previousEventId === index + 1)).toBe(true);
    const times = events.map((event) => event.timestamp?.getTime() ?? 0);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(events[0]?.type).toBe('ExecutionStarted');
    expect(events.at(-1)?.type).toBe('ExecutionSucceeded');
    expect(events.slice(0, 8).map((event) => event.type)).toEqual([
      'ExecutionStarted',
      'PassStateEntered',
      'PassStateExited',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskSucceeded',
      'TaskStateExited',
    ]);
  });

  it('shows only the events that have happened, and RUNNING until the last one', async () => {
    const { executionArn = '' } = await start('web-issue-1');
    now += 5000;

    const early = await history(executionArn);
    const running = await client.send(new DescribeExecutionCommand({ executionArn }));
    expect(running.status).toBe('RUNNING');
    expect(running.output).toBeUndefined();
    expect(early.events.every((event) => (event.timestamp?.getTime() ?? 0) <= now)).toBe(true);
    expect(early.events.at(-1)?.type).not.toBe('ExecutionSucceeded');

    now += 60_000;
    const done = await client.send(new DescribeExecutionCommand({ executionArn }));
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output ?? '{}')).toMatchObject({ certificate: { serial: '03ab5f2e9c' } });
  });

  it('pages the history with nextToken, in either order, and rejects foreign tokens', async () => {
    const { executionArn = '' } = await start('web-issue-1');
    now += 60_000;
    const whole = await history(executionArn);

    const paged = await history(executionArn, { maxResults: 7 });
    const reversed = await history(executionArn, { maxResults: 7, reverseOrder: true });

    expect(paged.pages).toBe(Math.ceil(whole.events.length / 7));
    expect(paged.events).toEqual(whole.events);
    expect(reversed.events).toEqual([...whole.events].reverse());
    const page = await client.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 7 }));
    const foreign = await rejection(
      client.send(
        new GetExecutionHistoryCommand({
          executionArn,
          maxResults: 7,
          reverseOrder: true,
          nextToken: page.nextToken,
        }),
      ),
    );
    expect(foreign).toBeInstanceOf(InvalidToken);
  });

  it('leaves inputs and outputs out of the history when includeExecutionData is false', async () => {
    const { executionArn = '' } = await start('web-issue-1');
    now += 60_000;

    const page = await client.send(
      new GetExecutionHistoryCommand({ executionArn, includeExecutionData: false }),
    );

    expect(page.events?.[0]?.executionStartedEventDetails?.input).toBeUndefined();
    expect(page.events?.some((event) => event.stateEnteredEventDetails?.input !== undefined)).toBe(false);
  });

  it('lists executions newest first, by status, page by page', async () => {
    await start('first');
    now += 1000;
    await start('second');
    now += 60_000;
    fake.addExecution(stateMachineArn, {
      name: 'failed-one',
      status: 'FAILED',
      startDate: new Date(now - 500),
      stopDate: new Date(now - 100),
      error: 'OrderInvalidError',
      cause: 'no TXT record',
    });

    const all = await client.send(new ListExecutionsCommand({ stateMachineArn }));
    const failed = await client.send(new ListExecutionsCommand({ stateMachineArn, statusFilter: 'FAILED' }));
    const firstPage = await client.send(new ListExecutionsCommand({ stateMachineArn, maxResults: 2 }));
    const secondPage = await client.send(
      new ListExecutionsCommand({ stateMachineArn, maxResults: 2, nextToken: firstPage.nextToken }),
    );

    expect(all.executions?.map((execution) => execution.name)).toEqual(['failed-one', 'second', 'first']);
    expect(failed.executions?.map((execution) => execution.name)).toEqual(['failed-one']);
    expect(firstPage.executions?.map((execution) => execution.name)).toEqual(['failed-one', 'second']);
    expect(secondPage.executions?.map((execution) => execution.name)).toEqual(['first']);
    expect(secondPage.nextToken).toBeUndefined();
    const description = await client.send(
      new DescribeExecutionCommand({ executionArn: failed.executions?.[0]?.executionArn }),
    );
    expect(description).toMatchObject({
      status: 'FAILED',
      error: 'OrderInvalidError',
      cause: 'no TXT record',
    });
  });
});

describe('CloudFormation fake', () => {
  let fake: CloudFormationFake;
  const client = new CloudFormationClient({ region: 'us-east-1' });

  beforeEach(() => {
    fake = installCloudFormationFake();
  });

  afterEach(() => {
    fake.restore();
  });

  it('finds a stack by name or id, with its outputs', async () => {
    const stackId = fake.putStack({ name: 'AcmeCertificates', outputs: { StateMachineArn: 'arn:sm' } });

    const byName = await client.send(new DescribeStacksCommand({ StackName: 'AcmeCertificates' }));
    const byId = await client.send(new DescribeStacksCommand({ StackName: stackId }));

    expect(byName.Stacks?.[0]).toMatchObject({
      StackId: stackId,
      StackStatus: 'CREATE_COMPLETE',
      Outputs: [{ OutputKey: 'StateMachineArn', OutputValue: 'arn:sm' }],
    });
    expect(byId.Stacks?.[0]?.StackName).toBe('AcmeCertificates');
  });

  it('answers an unknown or deleted stack name with ValidationError, and finds a deleted stack by id', async () => {
    const stackId = fake.putStack({ name: 'Old' });
    fake.deleteStack('Old');

    const unknown = await rejection(client.send(new DescribeStacksCommand({ StackName: 'Nope' })));
    const deleted = await rejection(client.send(new DescribeStacksCommand({ StackName: 'Old' })));
    const byId = await client.send(new DescribeStacksCommand({ StackName: stackId }));

    expect(unknown).toMatchObject({ name: 'ValidationError', message: 'Stack with id Nope does not exist' });
    expect(deleted).toMatchObject({ name: 'ValidationError' });
    expect(byId.Stacks?.[0]?.StackStatus).toBe('DELETE_COMPLETE');
  });
});
