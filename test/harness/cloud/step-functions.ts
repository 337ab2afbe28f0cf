import { randomUUID } from 'node:crypto';
import { StateMachine } from 'aws-local-stepfunctions';
import type { FunctionError } from '../lambda/protocol.js';
import type { DeployedStateMachine, LocalCloud } from './cloud.js';
import { LOCAL_ACCOUNT, LOCAL_PARTITION, LOCAL_REGION } from './constants.js';
import { type EventEnvelope, eventEnvelope } from './event-rules.js';

/**
 * Step Functions for the local cloud: a deployed state machine's definition, as synthesized, run
 * by `aws-local-stepfunctions` (JSONPath), with its Tasks performed as the service performs them
 * under the state machine's role:
 *
 * - A Lambda Task is authorized (`lambda:InvokeFunction` for the state machine's role) and
 *   invokes the function in the local Lambda. A function error becomes the state's error: its
 *   `errorType` is the Error, and the Cause is the JSON of the error payload (`errorType`,
 *   `errorMessage`, `trace`), which is what Retry and Catch see on AWS. A denied invoke is
 *   `Lambda.AWSLambdaException` ("Error handling in Step Functions"; Lambda errors are reported as
 *   `Lambda.<ErrorName>`: https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html).
 * - `states:startExecution` (`.sync:2` or not, and the `aws-sdk:sfn:startExecution` form) is
 *   authorized (`states:StartExecution`) and starts an execution of the target state machine.
 * - Payloads are held to the service quota of 256 KiB per state input and output
 *   ("Step Functions service quotas"). Exceeding it is `States.DataLimitExceeded`, which
 *   `States.ALL` does not catch ("Error names" in "Handling errors in Step Functions workflows":
 *   https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
 */

/** The payload quota of a state's input, output and a task's result, in bytes of UTF-8. */
export const MAX_PAYLOAD_BYTES = 256 * 1024;

/** One entry of an execution's event log (the library does not export the type). */
export type EventLog =
  ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

export interface StepTiming {
  readonly name: string;
  readonly ms: number;
  readonly runs: number;
}

export interface LocalExecution {
  readonly executionArn: string;
  readonly status: ExecutionStatus;
  readonly output?: unknown;
  readonly error?: { readonly name: string; readonly cause: string };
  readonly events: readonly EventLog[];
  /** States entered plus retries: what Step Functions Standard bills. */
  readonly stateTransitions: number;
  /** Task time per step, in order of first entry. */
  readonly steps: readonly StepTiming[];
  readonly durationMs: number;
}

/** How an execution ended, as DescribeExecution and the status change event say it. */
export type ExecutionStatus = 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/**
 * An execution ended from outside while a Task runs: `ABORTED` as by StopExecution, `TIMED_OUT`
 * as when the state machine's `TimeoutSeconds` runs out. `before` ends it as the Task starts;
 * `after` lets the Task's work happen (a Lambda invoked before the stop still runs to its end)
 * and ends the execution before its result is recorded.
 */
export interface Interruption {
  readonly state: string;
  readonly when: 'before' | 'after';
  readonly status: 'ABORTED' | 'TIMED_OUT';
}

/** A Task as the runner performs it; a wrapper can make it fail once, for example. */
export type TaskPerformer = (input: unknown) => Promise<unknown>;

export interface ExecutionOptions {
  readonly input: unknown;
  /** The execution's name. @default a fresh UUID */
  readonly name?: string;
  /** Milliseconds each Wait state and Retry pause lasts locally. @default 10 */
  readonly pauseMs?: number;
  /** Wraps each Task, e.g. to crash a step once. */
  readonly wrapTask?: (stateName: string, perform: TaskPerformer) => TaskPerformer;
  /** Ends the execution from outside at a Task (StopExecution, or the execution's timeout). */
  readonly interrupt?: Interruption;
}

/** An error as Step Functions carries it: `name` is the Error, `message` the Cause. */
function stateError(name: string, cause: string, options: { terminal?: boolean } = {}): Error {
  const error = Object.assign(new Error(cause), { name });
  // aws-local-stepfunctions skips Retry and Catch for these, as the service does for terminal errors.
  if (options.terminal) Object.assign(error, { isCatchable: false, isRetryable: false });
  return error;
}

/**
 * The longest `cause` an execution's history events hold (`LambdaFunctionFailedEventDetails`,
 * `TaskFailedEventDetails`: "Length Constraints: Maximum length of 32768"), and of an `error` 256.
 */
export const MAX_CAUSE_CHARACTERS = 32_768;
const MAX_ERROR_CHARACTERS = 256;

/** The Cause Step Functions records for a Lambda function error: the error payload as JSON, cut to the quota. */
export function lambdaErrorCause(error: FunctionError): string {
  return JSON.stringify({
    errorType: error.errorType,
    errorMessage: error.errorMessage,
    ...(error.trace ? { trace: error.trace } : {}),
  }).slice(0, MAX_CAUSE_CHARACTERS);
}

function checkSize(stateName: string, value: unknown, what: 'input' | 'result'): void {
  const bytes = Buffer.byteLength(JSON.stringify(value ?? null));
  if (bytes <= MAX_PAYLOAD_BYTES) return;
  throw stateError(
    'States.DataLimitExceeded',
    what === 'result'
      ? `The state/task '${stateName}' returned a result with a size exceeding the maximum number of bytes service limit.`
      : `The state '${stateName}' has an input with a size exceeding the maximum number of bytes service limit.`,
    { terminal: true },
  );
}

export class LocalStepFunctions {
  readonly #cloud: LocalCloud;
  /** Finished and running executions, by ARN. */
  readonly executions = new Map<
    string,
    { readonly name: string; readonly stateMachineArn: string; result?: LocalExecution }
  >();
  /** Names `StartExecution` refused because an execution of that state machine already had them. */
  readonly refused: string[] = [];
  /** Executions started without waiting (`startExecution` without `.sync`), not yet run. */
  readonly started: { readonly stateMachineArn: string; readonly name: string; readonly input: unknown }[] =
    [];

  constructor(cloud: LocalCloud) {
    this.#cloud = cloud;
  }

  /** Runs one execution of a deployed state machine to its end. */
  async run(machine: DeployedStateMachine, options: ExecutionOptions): Promise<LocalExecution> {
    const name = options.name ?? randomUUID();
    const executionArn = `arn:${LOCAL_PARTITION}:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:execution:${machine.name}:${name}`;
    if ([...this.executions.values()].some((e) => e.stateMachineArn === machine.arn && e.name === name)) {
      this.refused.push(name);
      throw stateError(
        'StepFunctions.ExecutionAlreadyExistsException',
        `Execution Already Exists: '${executionArn}'`,
      );
    }
    const record: { name: string; stateMachineArn: string; result?: LocalExecution } = {
      name,
      stateMachineArn: machine.arn,
    };
    this.executions.set(executionArn, record);
    const pauseMs = options.pauseMs ?? 10;
    const tasks: Record<string, TaskPerformer> = {};
    let interrupted: Interruption['status'] | undefined;
    let abortExecution = () => {};
    const taskStates: string[] = [];
    const waitStates: string[] = [];
    forEachState(machine.definition.States, (stateName, state) => {
      if (state.Type === 'Wait') waitStates.push(stateName);
      if (state.Type !== 'Task') return;
      taskStates.push(stateName);
      const performer = this.#performer(machine, state, options.pauseMs);
      // A wrapper stands in for what the step does, so the service's checks apply to its result too.
      const perform = options.wrapTask ? options.wrapTask(stateName, performer) : performer;
      tasks[stateName] = async (input) => {
        checkSize(stateName, input, 'input');
        const interruption = options.interrupt?.state === stateName ? options.interrupt : undefined;
        if (interruption?.when === 'after') await perform(input).catch(() => undefined);
        if (interruption) {
          interrupted = interruption.status;
          abortExecution();
          // The execution is over; this Task never reports back.
          return new Promise(() => {});
        }
        const result = await perform(input);
        checkSize(stateName, result, 'result');
        return result;
      };
    });

    checkSize(machine.name, options.input, 'input');
    const interpreter = new StateMachine(machine.definition as never, {
      validationOptions: { checkArn: false },
    });
    const started = Date.now();
    const startDate = new Date();
    const execution = interpreter.run(options.input as never, {
      context: {
        StateMachine: { Id: machine.arn, Name: machine.name },
        Execution: {
          Id: executionArn,
          Input: options.input,
          Name: name,
          StartTime: new Date().toISOString(),
        },
      } as never,
      overrides: {
        taskResourceLocalHandlers: tasks as never,
        waitTimeOverrides: Object.fromEntries(waitStates.map((state) => [state, pauseMs])),
        retryIntervalOverrides: Object.fromEntries(taskStates.map((state) => [state, pauseMs])),
      },
    });
    abortExecution = () => execution.abort();
    const events: EventLog[] = [];
    let oversized: string | undefined;
    const collecting = (async () => {
      for await (const event of execution.eventLogs) {
        events.push(event);
        // Any state's output (a Pass or a merged ResultPath included) is held to the same quota.
        if (event.type === 'StateExited' && !oversized) {
          const bytes = Buffer.byteLength(JSON.stringify(event.state.output ?? null));
          if (bytes > MAX_PAYLOAD_BYTES) {
            oversized = event.state.name;
            execution.abort();
          }
        }
      }
    })();
    let output: unknown;
    let error: { name: string; cause: string } | undefined;
    try {
      output = await execution.result;
    } catch (caught) {
      const failure = ((caught as { cause?: unknown }).cause ?? caught) as {
        name?: string;
        message?: string;
      };
      error = { name: String(failure.name ?? 'Error'), cause: String(failure.message ?? '') };
      if ((caught as Error).name === 'ExecutionTimeoutError') interrupted = 'TIMED_OUT';
    }
    await collecting;
    if (oversized) {
      error = {
        name: 'States.DataLimitExceeded',
        cause: `The state '${oversized}' has an output with a size exceeding the maximum number of bytes service limit.`,
      };
    }
    const status: ExecutionStatus = interrupted ?? (error ? 'FAILED' : 'SUCCEEDED');
    const result: LocalExecution = {
      executionArn,
      status,
      ...(interrupted ? {} : error ? { error } : { output }),
      events,
      stateTransitions: events.filter((e) => e.type === 'StateEntered' || e.type === 'StateRetried').length,
      steps: stepTimings(events, new Set(taskStates)),
      durationMs: Date.now() - started,
    };
    record.result = result;
    // Step Functions sends every status change to EventBridge; rules on it run before this returns
    // here (on AWS, within seconds).
    await this.#cloud.deliverEvent(
      executionStatusChange(machine, { executionArn, name, input: options.input, startDate, result }),
    );
    return result;
  }

  #performer(
    machine: DeployedStateMachine,
    state: Record<string, unknown>,
    pauseMs: number | undefined,
  ): TaskPerformer {
    const resource = String(state.Resource);
    const caller = this.#cloud.iam.session(machine.roleArn, randomUUID().replaceAll('-', ''));
    if (resource.includes(':lambda:') && resource.includes(':function:')) {
      return async (input) => {
        const decision = await this.#cloud.iam.authorize(caller, {
          action: 'lambda:InvokeFunction',
          resource: resource,
        });
        if (!decision.allowed) {
          throw stateError(
            'Lambda.AWSLambdaException',
            `${decision.message} (Service: Lambda, Status Code: 403, Error Code: AccessDeniedException, Request ID: ${randomUUID()})`,
          );
        }
        const outcome = await this.#cloud.lambda.invoke(resource, input);
        if (!outcome.ok)
          throw stateError(
            outcome.error.errorType.slice(0, MAX_ERROR_CHARACTERS),
            lambdaErrorCause(outcome.error),
          );
        return outcome.payload;
      };
    }
    const startExecution =
      /:states:::(?:states:startExecution(\.sync:2|\.sync)?|aws-sdk:sfn:startExecution)$/.exec(resource);
    if (startExecution) {
      const wait = Boolean(startExecution[1]);
      return async (parameters) => {
        const {
          StateMachineArn: target,
          Name: name,
          Input: input,
        } = parameters as {
          StateMachineArn: string;
          Name?: string;
          Input?: unknown;
        };
        const decision = await this.#cloud.iam.authorize(caller, {
          action: 'states:StartExecution',
          resource: target,
        });
        if (!decision.allowed) throw stateError('StepFunctions.AccessDeniedException', decision.message);
        const childInput = typeof input === 'string' ? JSON.parse(input) : (input ?? {});
        const machineOf = this.#cloud.stateMachineByArn(target);
        if (!wait) {
          const executionName = name ?? randomUUID();
          this.started.push({ stateMachineArn: target, name: executionName, input: childInput });
          return {
            ExecutionArn: `arn:${LOCAL_PARTITION}:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:execution:${machineOf.name}:${executionName}`,
            StartDate: new Date().toISOString(),
          };
        }
        const child = await this.run(machineOf, {
          input: childInput,
          ...(name ? { name } : {}),
          ...(pauseMs !== undefined ? { pauseMs } : {}),
        });
        const description = {
          ExecutionArn: child.executionArn,
          StateMachineArn: target,
          Name: name,
          Status: child.status,
          ...(child.status === 'SUCCEEDED'
            ? { Output: child.output }
            : { Error: child.error?.name, Cause: child.error?.cause }),
        };
        // What StartExecution.sync:2 reports when the child execution fails.
        if (child.status === 'FAILED') throw stateError('States.TaskFailed', JSON.stringify(description));
        return description;
      };
    }
    return async () => {
      throw stateError('States.Runtime', `The local cloud cannot perform the Task resource ${resource}`);
    };
  }
}

/**
 * The "Step Functions Execution Status Change" event ("Monitoring Step Functions using
 * EventBridge" in the Step Functions Developer Guide): source `aws.states`, the execution ARN as
 * its resource, and the execution's status, dates (epoch milliseconds), input, output, error and
 * cause in `detail`.
 */
function executionStatusChange(
  machine: DeployedStateMachine,
  execution: {
    readonly executionArn: string;
    readonly name: string;
    readonly input: unknown;
    readonly startDate: Date;
    readonly result: LocalExecution;
  },
): EventEnvelope {
  const { result } = execution;
  return eventEnvelope({
    source: 'aws.states',
    detailType: 'Step Functions Execution Status Change',
    resources: [execution.executionArn],
    detail: {
      executionArn: execution.executionArn,
      stateMachineArn: machine.arn,
      name: execution.name,
      status: result.status,
      startDate: execution.startDate.getTime(),
      stopDate: execution.startDate.getTime() + result.durationMs,
      input: JSON.stringify(execution.input),
      inputDetails: { included: true },
      output: result.status === 'SUCCEEDED' ? JSON.stringify(result.output) : null,
      outputDetails: { included: true },
      error: result.error?.name ?? null,
      cause: result.error?.cause ?? null,
    },
  });
}

/** Visits every state of a definition, those inside Map and Parallel states included. */
export function forEachState(
  states: Record<string, Record<string, unknown>>,
  visit: (name: string, state: Record<string, unknown>) => void,
): void {
  for (const [name, state] of Object.entries(states)) {
    visit(name, state);
    const processor = (state.ItemProcessor ?? state.Iterator) as
      | { States?: Record<string, Record<string, unknown>> }
      | undefined;
    if (processor?.States) forEachState(processor.States, visit);
    for (const branch of (state.Branches as
      | { States: Record<string, Record<string, unknown>> }[]
      | undefined) ?? [])
      forEachState(branch.States, visit);
  }
}

function stepTimings(events: readonly EventLog[], tasks: ReadonlySet<string>): StepTiming[] {
  const timings = new Map<string, { ms: number; runs: number }>();
  const entered = new Map<string, number>();
  for (const event of events) {
    if (!('state' in event) || !tasks.has(event.state.name)) continue;
    const name = event.state.name;
    if (event.type === 'StateEntered') entered.set(name, event.timestamp);
    if (event.type === 'StateExited' || event.type === 'StateFailed') {
      const start = entered.get(name) ?? event.timestamp;
      const timing = timings.get(name) ?? { ms: 0, runs: 0 };
      timings.set(name, { ms: timing.ms + (event.timestamp - start), runs: timing.runs + 1 });
    }
  }
  return [...timings].map(([name, timing]) => ({ name, ...timing }));
}
