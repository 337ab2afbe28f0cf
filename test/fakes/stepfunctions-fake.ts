import { randomUUID } from 'node:crypto';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandInput,
  type DescribeExecutionCommandOutput,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  type ExecutionListItem,
  type ExecutionStatus,
  GetExecutionHistoryCommand,
  type GetExecutionHistoryCommandInput,
  type GetExecutionHistoryCommandOutput,
  type HistoryEvent,
  InvalidArn,
  InvalidExecutionInput,
  InvalidName,
  InvalidToken,
  ListExecutionsCommand,
  type ListExecutionsCommandInput,
  type ListExecutionsCommandOutput,
  SFNClient,
  SFNServiceException,
  StartExecutionCommand,
  type StartExecutionCommandInput,
  type StartExecutionCommandOutput,
  StateMachineDoesNotExist,
  ValidationException,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { FakeCommandRunner, type ServiceExceptionClass } from './fake-support.js';

/**
 * An in-memory AWS Step Functions (standard workflows) at the SDK boundary, for the operator CLI's
 * tests. It does not interpret state machine definitions: a test scripts what an execution does
 * (`onStart`), as a list of states with their durations, and the fake turns the script into the
 * history Step Functions would record, with sequential event ids, `previousEventId`s and
 * timestamps. Time comes from an injectable clock: an event exists once the clock has reached it,
 * and an execution is `RUNNING` until its last event has happened, so a poller with a fake sleep
 * sees the execution progress without any real waiting.
 *
 * Faithful where callers depend on it:
 * - `StartExecution` validates the name (1–80 characters, none of the characters Step Functions
 *   refuses) and that the input is JSON; a name already used by that state machine fails with
 *   `ExecutionAlreadyExists`, unless the execution is still running with the same input, in which
 *   case the original answer is returned (idempotent start);
 * - `ListExecutions` is newest first, filters by status and pages with `maxResults`/`nextToken`;
 * - `GetExecutionHistory` pages the same way, in either order, and honours `includeExecutionData`;
 * - unknown ARNs fail with `StateMachineDoesNotExist`/`ExecutionDoesNotExist`, malformed ones with
 *   `InvalidArn`, foreign page tokens with `InvalidToken`, each as the SDK's modeled class.
 */

const ACCOUNT = '123456789012';
const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1000;
const MAX_NAME_LENGTH = 80;
/** Whitespace, brackets, wildcards, the special characters and control characters Step Functions refuses in names. */
const FORBIDDEN_NAME_CHARACTERS = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\p{Cc}]/u;
const STATE_MACHINE_ARN = /^arn:aws:states:([a-z0-9-]+):(\d{12}):stateMachine:([A-Za-z0-9_.-]+)$/;
const EXECUTION_ARN = /^arn:aws:states:([a-z0-9-]+):(\d{12}):execution:([A-Za-z0-9_.-]+):(.+)$/;

/** The kinds of state the fake can script, named as in the Amazon States Language. */
export type ScriptedStateType = 'Task' | 'Pass' | 'Choice' | 'Wait' | 'Succeed' | 'Fail';

/** One visit of an execution to one state. */
export interface ScriptedState {
  readonly name: string;
  readonly type: ScriptedStateType;
  /** Time spent in the state. @default 0 */
  readonly ms?: number;
  /**
   * Task only: failed attempts before the outcome, each followed by a retry after `retryAfterMs`
   * (the Retry's interval). @default none
   */
  readonly retries?: readonly {
    readonly error: string;
    readonly cause: string;
    readonly retryAfterMs?: number;
  }[];
  /** Task only: the task fails with this error, which a Catch sends to the next state. @default succeeds */
  readonly failure?: { readonly error: string; readonly cause: string };
  /** The state's output (`Succeed`: the execution's output). @default the state's input */
  readonly output?: unknown;
  /** `Fail` only: the execution's error and cause. */
  readonly error?: string;
  readonly cause?: string;
}

/**
 * What one execution does. The last state must be `Succeed` or `Fail` for the execution to end;
 * a script without one leaves the execution running forever, like a stuck workflow.
 */
export interface ExecutionScript {
  readonly states: readonly ScriptedState[];
}

/** An execution as the fake keeps it; tests may read it. */
export interface FakeExecution {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly input: string;
  readonly startDate: Date;
  /** The whole history, including events whose time has not come yet. */
  readonly events: readonly HistoryEvent[];
  /** Status once the script has run to its end; `RUNNING` for a script that never ends. */
  readonly finalStatus: ExecutionStatus;
  readonly stopDate?: Date;
  readonly output?: string;
  readonly error?: string;
  readonly cause?: string;
}

/** An execution that ended before the test began, for listings. */
export interface PastExecution {
  readonly name: string;
  readonly status: ExecutionStatus;
  readonly startDate: Date;
  readonly stopDate?: Date;
  readonly input?: unknown;
  readonly output?: unknown;
  readonly error?: string;
  readonly cause?: string;
}

export interface InstallStepFunctionsFakeOptions {
  /** The fake's notion of now. @default the system clock */
  readonly now?: () => Date;
  /** Region of the ARNs the fake creates. @default 'us-east-1' */
  readonly region?: string;
}

export interface StepFunctionsFake {
  /** Calls per command (`StartExecution`, `DescribeExecution`, ...), failed ones included. */
  readonly calls: Readonly<Record<string, number>>;
  /** Every request with its input, oldest first. */
  readonly requests: readonly { readonly command: string; readonly input: unknown }[];
  /** Every execution, started or added, oldest first. */
  readonly executions: readonly FakeExecution[];
  /** Creates a standard state machine and returns its ARN. */
  createStateMachine(name: string): string;
  /**
   * Scripts the executions `StartExecution` starts on `stateMachineArn`. The script gets the
   * parsed input and the execution name. Without a script, an execution runs forever.
   */
  onStart(stateMachineArn: string, script: (input: unknown, name: string) => ExecutionScript): void;
  /** Adds an execution that ended (or started) in the past, for `ListExecutions`. */
  addExecution(stateMachineArn: string, execution: PastExecution): FakeExecution;
  /** The inputs of every `command` request so far, oldest first. */
  inputsOf<T>(command: string): T[];
  /** Makes the next `times` calls of `command` throw an error named `errorName`. */
  failNext(command: string, errorName: string, times?: number): void;
  /** Gives `SFNClient` back its real `send`. */
  restore(): void;
}

type ModeledExceptionClass = new (options: {
  $metadata: SFNServiceException['$metadata'];
  message: string;
}) => SFNServiceException;

const MODELED_EXCEPTIONS: Readonly<Record<string, ModeledExceptionClass>> = {
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  InvalidArn,
  InvalidExecutionInput,
  InvalidName,
  InvalidToken,
  StateMachineDoesNotExist,
  ValidationException,
};

function metadata(status = 400): SFNServiceException['$metadata'] {
  return { httpStatusCode: status, requestId: randomUUID(), attempts: 1, totalRetryDelay: 0 };
}

/** The error the SDK deserializes for `name`: its modeled class when it has one. */
function sfnError(name: string, message: string): SFNServiceException {
  const Modeled = MODELED_EXCEPTIONS[name];
  if (Modeled) return new Modeled({ $metadata: metadata(), message });
  const ServiceException = SFNServiceException as unknown as ServiceExceptionClass;
  return new ServiceException({
    name,
    $fault: 'client',
    $metadata: metadata(),
    message,
  }) as SFNServiceException;
}

function fail(name: string, message: string): never {
  throw sfnError(name, message);
}

function pageSize(maxResults: number | undefined): number {
  if (maxResults === undefined || maxResults === 0) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(maxResults) || maxResults < 0 || maxResults > MAX_PAGE_SIZE) {
    fail(
      'ValidationException',
      `1 validation error detected: Value '${maxResults}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to ${MAX_PAGE_SIZE}`,
    );
  }
  return maxResults;
}

/** Page tokens name what they page through, so a token cannot be replayed against another listing. */
function encodeToken(scope: string, offset: number): string {
  return Buffer.from(JSON.stringify({ scope, offset }), 'utf8').toString('base64url');
}

function decodeToken(token: string | undefined, scope: string): number {
  if (token === undefined) return 0;
  try {
    const decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
      scope?: unknown;
      offset?: unknown;
    };
    if (decoded.scope === scope && typeof decoded.offset === 'number') return decoded.offset;
  } catch {
    // Falls through to the same error as a token for another listing.
  }
  return fail('InvalidToken', `Invalid Token: '${token}'`);
}

function page<T>(items: readonly T[], scope: string, input: { maxResults?: number; nextToken?: string }) {
  const size = pageSize(input.maxResults);
  const offset = decodeToken(input.nextToken, scope);
  const slice = items.slice(offset, offset + size);
  const next = offset + size < items.length ? encodeToken(scope, offset + size) : undefined;
  return { slice, next };
}

/** Turns a script into the history Step Functions records for it. */
function historyOf(
  script: ExecutionScript,
  input: string,
  startDate: Date,
  region: string,
): Pick<FakeExecution, 'events' | 'finalStatus' | 'stopDate' | 'output' | 'error' | 'cause'> {
  const events: HistoryEvent[] = [];
  let time = startDate.getTime();
  const push = (type: HistoryEvent['type'], details: Partial<HistoryEvent> = {}) => {
    const id = events.length + 1;
    events.push({
      id,
      ...(id > 1 ? { previousEventId: id - 1 } : { previousEventId: 0 }),
      timestamp: new Date(time),
      type,
      ...details,
    });
  };
  push('ExecutionStarted', {
    executionStartedEventDetails: { input, roleArn: `arn:aws:iam::${ACCOUNT}:role/StateMachineRole` },
  });

  let data = input;
  const taskResource = { resourceType: 'lambda', resource: 'invoke' };
  for (const state of script.states) {
    const entered = { name: state.name, input: data };
    const output = state.output === undefined ? data : JSON.stringify(state.output);
    const exited = { name: state.name, output };
    const ms = state.ms ?? 0;
    switch (state.type) {
      case 'Task': {
        push('TaskStateEntered', { stateEnteredEventDetails: entered });
        for (const retry of state.retries ?? []) {
          push('TaskScheduled', {
            taskScheduledEventDetails: { ...taskResource, region, parameters: data },
          });
          push('TaskStarted', { taskStartedEventDetails: taskResource });
          push('TaskFailed', {
            taskFailedEventDetails: { ...taskResource, error: retry.error, cause: retry.cause },
          });
          time += retry.retryAfterMs ?? 0;
        }
        push('TaskScheduled', { taskScheduledEventDetails: { ...taskResource, region, parameters: data } });
        push('TaskStarted', { taskStartedEventDetails: taskResource });
        time += ms;
        if (state.failure) {
          // A caught error goes straight to the Catch's next state: no TaskStateExited.
          push('TaskFailed', {
            taskFailedEventDetails: {
              ...taskResource,
              error: state.failure.error,
              cause: state.failure.cause,
            },
          });
        } else {
          push('TaskSucceeded', { taskSucceededEventDetails: { ...taskResource, output } });
          push('TaskStateExited', { stateExitedEventDetails: exited });
        }
        break;
      }
      case 'Pass':
      case 'Choice':
      case 'Wait':
        push(`${state.type}StateEntered`, { stateEnteredEventDetails: entered });
        time += ms;
        push(`${state.type}StateExited`, { stateExitedEventDetails: exited });
        break;
      case 'Succeed':
        push('SucceedStateEntered', { stateEnteredEventDetails: entered });
        time += ms;
        push('SucceedStateExited', { stateExitedEventDetails: exited });
        push('ExecutionSucceeded', { executionSucceededEventDetails: { output } });
        return { events, finalStatus: 'SUCCEEDED', stopDate: new Date(time), output };
      case 'Fail': {
        push('FailStateEntered', { stateEnteredEventDetails: entered });
        time += ms;
        const error = state.error ?? 'States.Fail';
        const cause = state.cause ?? '';
        push('ExecutionFailed', { executionFailedEventDetails: { error, cause } });
        return { events, finalStatus: 'FAILED', stopDate: new Date(time), error, cause };
      }
    }
    data = output;
  }
  return { events, finalStatus: 'RUNNING' };
}

function withoutData(event: HistoryEvent): HistoryEvent {
  const copy = structuredClone(event);
  if (copy.executionStartedEventDetails) delete copy.executionStartedEventDetails.input;
  if (copy.executionSucceededEventDetails) delete copy.executionSucceededEventDetails.output;
  if (copy.stateEnteredEventDetails) delete copy.stateEnteredEventDetails.input;
  if (copy.stateExitedEventDetails) delete copy.stateExitedEventDetails.output;
  if (copy.taskSucceededEventDetails) delete copy.taskSucceededEventDetails.output;
  if (copy.taskScheduledEventDetails) copy.taskScheduledEventDetails.parameters = '';
  return copy;
}

/**
 * Replaces `send` on every `SFNClient` with an in-memory Step Functions supporting
 * StartExecution, DescribeExecution, GetExecutionHistory and ListExecutions. Call `restore()`
 * when done.
 */
export function installStepFunctionsFake(options: InstallStepFunctionsFakeOptions = {}): StepFunctionsFake {
  const now = options.now ?? (() => new Date());
  const region = options.region ?? 'us-east-1';
  const runner = new FakeCommandRunner(SFNServiceException as unknown as ServiceExceptionClass);
  const stateMachines = new Map<string, { scripts?: (input: unknown, name: string) => ExecutionScript }>();
  const executions: FakeExecution[] = [];
  const mock = mockClient(SFNClient);

  const run = async <T>(command: string, input: unknown, handler: () => T): Promise<T> => {
    try {
      return await runner.run(command, input, handler);
    } catch (error) {
      // Injected failures arrive as generic service exceptions; the SDK would model them.
      if (error instanceof SFNServiceException) {
        const Modeled = MODELED_EXCEPTIONS[error.name];
        if (Modeled && error.constructor !== Modeled) throw sfnError(error.name, error.message);
      }
      throw error;
    }
  };

  const stateMachineArnOf = (name: string) => `arn:aws:states:${region}:${ACCOUNT}:stateMachine:${name}`;

  const knownStateMachine = (arn: string | undefined) => {
    if (!arn || !STATE_MACHINE_ARN.test(arn)) return fail('InvalidArn', `Invalid Arn: '${arn ?? ''}'`);
    const machine = stateMachines.get(arn);
    if (!machine) return fail('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    return machine;
  };

  const knownExecution = (arn: string | undefined): FakeExecution => {
    if (!arn || !EXECUTION_ARN.test(arn)) return fail('InvalidArn', `Invalid Arn: '${arn ?? ''}'`);
    const execution = executions.find((candidate) => candidate.executionArn === arn);
    if (!execution) return fail('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    return execution;
  };

  /** The events that have happened by now. */
  const visibleEvents = (execution: FakeExecution) =>
    execution.events.filter((event) => (event.timestamp?.getTime() ?? 0) <= now().getTime());

  const statusOf = (execution: FakeExecution): ExecutionStatus =>
    execution.stopDate && execution.stopDate.getTime() <= now().getTime() ? execution.finalStatus : 'RUNNING';

  const executionArnOf = (stateMachineArn: string, name: string) =>
    stateMachineArn.replace(':stateMachine:', ':execution:').concat(`:${name}`);

  const validateName = (name: string) => {
    if (name.length < 1 || name.length > MAX_NAME_LENGTH || FORBIDDEN_NAME_CHARACTERS.test(name)) {
      fail('InvalidName', `Invalid Name: '${name}'`);
    }
  };

  const addExecution = (stateMachineArn: string, past: PastExecution): FakeExecution => {
    knownStateMachine(stateMachineArn);
    validateName(past.name);
    const executionArn = executionArnOf(stateMachineArn, past.name);
    if (executions.some((execution) => execution.executionArn === executionArn)) {
      throw new Error(`The Step Functions fake already has an execution named ${past.name}`);
    }
    const input = JSON.stringify(past.input ?? {});
    const ended = past.status !== 'RUNNING';
    const stopDate = ended ? (past.stopDate ?? past.startDate) : undefined;
    const output = past.output === undefined ? undefined : JSON.stringify(past.output);
    const events: HistoryEvent[] = [
      {
        id: 1,
        previousEventId: 0,
        timestamp: past.startDate,
        type: 'ExecutionStarted',
        executionStartedEventDetails: { input },
      },
    ];
    const last = { id: 2, previousEventId: 1, timestamp: stopDate };
    if (past.status === 'SUCCEEDED') {
      events.push({ ...last, type: 'ExecutionSucceeded', executionSucceededEventDetails: { output } });
    } else if (past.status === 'FAILED') {
      events.push({
        ...last,
        type: 'ExecutionFailed',
        executionFailedEventDetails: { error: past.error, cause: past.cause },
      });
    } else if (past.status === 'TIMED_OUT') {
      events.push({ ...last, type: 'ExecutionTimedOut', executionTimedOutEventDetails: {} });
    } else if (past.status === 'ABORTED') {
      events.push({ ...last, type: 'ExecutionAborted', executionAbortedEventDetails: {} });
    }
    const execution: FakeExecution = {
      executionArn,
      stateMachineArn,
      name: past.name,
      input,
      startDate: past.startDate,
      events,
      finalStatus: past.status,
      ...(stopDate ? { stopDate } : {}),
      ...(output !== undefined ? { output } : {}),
      ...(past.error !== undefined ? { error: past.error } : {}),
      ...(past.cause !== undefined ? { cause: past.cause } : {}),
    };
    executions.push(execution);
    return execution;
  };

  mock.onAnyCommand().callsFake(async () => {
    throw new Error(
      'The Step Functions fake supports only StartExecution, DescribeExecution, GetExecutionHistory and ListExecutions; extend test/fakes/stepfunctions-fake.ts first',
    );
  });

  mock.on(StartExecutionCommand).callsFake((input: StartExecutionCommandInput) =>
    run('StartExecution', input, (): StartExecutionCommandOutput => {
      const stateMachineArn = input.stateMachineArn ?? '';
      const machine = knownStateMachine(stateMachineArn);
      const name = input.name ?? randomUUID();
      validateName(name);
      const rawInput = input.input ?? '{}';
      let parsed: unknown;
      try {
        parsed = JSON.parse(rawInput);
      } catch {
        return fail('InvalidExecutionInput', `Invalid State Machine Execution Input: '${rawInput}'`);
      }
      const executionArn = executionArnOf(stateMachineArn, name);
      const existing = executions.find((execution) => execution.executionArn === executionArn);
      if (existing) {
        // A running execution started again with the same input answers as the first start did.
        if (statusOf(existing) === 'RUNNING' && existing.input === rawInput) {
          return { $metadata: metadata(200), executionArn, startDate: existing.startDate };
        }
        return fail('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
      }
      const startDate = now();
      const script = machine.scripts?.(parsed, name) ?? { states: [] };
      executions.push({
        executionArn,
        stateMachineArn,
        name,
        input: rawInput,
        startDate,
        ...historyOf(script, rawInput, startDate, region),
      });
      return { $metadata: metadata(200), executionArn, startDate };
    }),
  );

  mock.on(DescribeExecutionCommand).callsFake((input: DescribeExecutionCommandInput) =>
    run('DescribeExecution', input, (): DescribeExecutionCommandOutput => {
      const execution = knownExecution(input.executionArn);
      const status = statusOf(execution);
      const ended = status !== 'RUNNING';
      return {
        $metadata: metadata(200),
        executionArn: execution.executionArn,
        stateMachineArn: execution.stateMachineArn,
        name: execution.name,
        status,
        startDate: execution.startDate,
        input: execution.input,
        ...(ended && execution.stopDate ? { stopDate: execution.stopDate } : {}),
        ...(ended && execution.output !== undefined ? { output: execution.output } : {}),
        ...(ended && execution.error !== undefined ? { error: execution.error } : {}),
        ...(ended && execution.cause !== undefined ? { cause: execution.cause } : {}),
      };
    }),
  );

  mock.on(GetExecutionHistoryCommand).callsFake((input: GetExecutionHistoryCommandInput) =>
    run('GetExecutionHistory', input, (): GetExecutionHistoryCommandOutput => {
      const execution = knownExecution(input.executionArn);
      const events = visibleEvents(execution);
      const ordered = input.reverseOrder ? [...events].reverse() : events;
      const scope = `${execution.executionArn}:${input.reverseOrder ? 'reverse' : 'forward'}`;
      const { slice, next } = page(ordered, scope, input);
      const withData = input.includeExecutionData ?? true;
      return {
        $metadata: metadata(200),
        events: slice.map((event) => (withData ? structuredClone(event) : withoutData(event))),
        ...(next ? { nextToken: next } : {}),
      };
    }),
  );

  mock.on(ListExecutionsCommand).callsFake((input: ListExecutionsCommandInput) =>
    run('ListExecutions', input, (): ListExecutionsCommandOutput => {
      if (input.mapRunArn !== undefined) {
        fail('ValidationException', 'The Step Functions fake does not list Map Run executions');
      }
      const stateMachineArn = input.stateMachineArn ?? '';
      knownStateMachine(stateMachineArn);
      const items: ExecutionListItem[] = executions
        .filter((execution) => execution.stateMachineArn === stateMachineArn)
        .filter((execution) => execution.startDate.getTime() <= now().getTime())
        .map((execution) => {
          const status = statusOf(execution);
          return {
            executionArn: execution.executionArn,
            stateMachineArn,
            name: execution.name,
            status,
            startDate: execution.startDate,
            ...(status !== 'RUNNING' && execution.stopDate ? { stopDate: execution.stopDate } : {}),
          };
        })
        .filter((item) => input.statusFilter === undefined || item.status === input.statusFilter)
        // Newest first, as Step Functions lists them.
        .sort((a, b) => (b.startDate?.getTime() ?? 0) - (a.startDate?.getTime() ?? 0));
      const { slice, next } = page(items, `${stateMachineArn}:${input.statusFilter ?? ''}`, input);
      return { $metadata: metadata(200), executions: slice, ...(next ? { nextToken: next } : {}) };
    }),
  );

  return {
    get calls() {
      return runner.calls;
    },
    get requests() {
      return runner.requests;
    },
    get executions() {
      return executions;
    },
    createStateMachine(name) {
      const arn = stateMachineArnOf(name);
      if (stateMachines.has(arn)) throw new Error(`The Step Functions fake already has ${name}`);
      stateMachines.set(arn, {});
      return arn;
    },
    onStart(stateMachineArn, script) {
      const machine = stateMachines.get(stateMachineArn);
      if (!machine) throw new Error(`The Step Functions fake has no state machine ${stateMachineArn}`);
      machine.scripts = script;
    },
    addExecution,
    inputsOf: (command) => runner.inputsOf(command),
    failNext: (command, errorName, times) => runner.failNext(command, errorName, times),
    restore: () => mock.restore(),
  };
}
