import '../setup/polyfills.js';
import { randomUUID } from 'node:crypto';
import { App } from 'aws-cdk-lib';
import { StateMachine } from 'aws-local-stepfunctions';
import { AcmeStack, type AcmeStackProps } from '../../lib/acme-stack.js';

/**
 * Runs the real, synthesized state machine locally: the ASL comes out of `cdk synth`, and every
 * Task is bound to the handler of the function it invokes (found through the function's
 * `ACME_STEP` environment variable), so the test exercises what `cdk deploy` would ship.
 */

const FAKE_ACCOUNT = '123456789012';
const FAKE_REGION = 'us-east-1';

type CfnValue = unknown;
/** One entry of the local execution's event log (the library does not export the type). */
export type EventLog =
  ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;
interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

export interface SynthesizedWorkflow {
  /** The state machine's name in this local account. */
  readonly name: string;
  /** The Amazon States Language definition, with function ARNs resolved to fake ones. */
  readonly definition: Record<string, unknown> & { States: Record<string, Record<string, unknown>> };
  /** Handler folder (`lambdas/<folder>/handler.ts`) per Task state name. */
  readonly taskHandlers: Readonly<Record<string, string>>;
  /** The environment variables of the functions, with CloudFormation references resolved to stand-ins. */
  readonly environment: Readonly<Record<string, string>>;
  readonly waitStates: readonly string[];
  readonly template: { Resources: Record<string, CfnResource> };
}

/**
 * Synthesizes the stack without bundling and extracts what a local run of one of its state
 * machines needs: the issuance (default) or the scheduled renewals.
 */
export function synthesizeWorkflow(
  props: Partial<AcmeStackProps> = {},
  which: 'Issuance' | 'Renewals' = 'Issuance',
): SynthesizedWorkflow {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new AcmeStack(app, 'AcmeLocal', {
    acme: { directoryUrl: 'https://acme.invalid/directory', ...props.acme },
    env: { account: FAKE_ACCOUNT, region: FAKE_REGION },
  });
  const template = app.synth().getStackArtifact(stack.artifactId).template as {
    Resources: Record<string, CfnResource>;
  };
  const machines = Object.entries(template.Resources)
    .filter(([logicalId, r]) => r.Type === 'AWS::StepFunctions::StateMachine' && logicalId.includes(which))
    .map(([, r]) => r);
  if (machines.length !== 1) throw new Error(`Expected one state machine, found ${machines.length}`);
  const definitionString = resolve(machines[0]?.Properties?.DefinitionString, template);
  const definition = JSON.parse(String(definitionString)) as SynthesizedWorkflow['definition'];

  const taskHandlers: Record<string, string> = {};
  const waitStates: string[] = [];
  for (const [name, state] of Object.entries(definition.States)) {
    if (state.Type === 'Wait') waitStates.push(name);
    if (state.Type !== 'Task') continue;
    // Other integrations (such as starting an execution) are bound by the caller.
    if (!String(state.Resource).includes(':function:')) continue;
    const logicalId = String(state.Resource).split(':function:')[1];
    const fn = logicalId ? template.Resources[logicalId] : undefined;
    const variables = (fn?.Properties?.Environment as { Variables?: Record<string, CfnValue> } | undefined)
      ?.Variables;
    const step = variables?.ACME_STEP;
    if (typeof step !== 'string') throw new Error(`Task ${name} does not invoke one of our step functions`);
    taskHandlers[name] = step;
  }

  const environment: Record<string, string> = {};
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const variables = (
      resource.Properties?.Environment as { Variables?: Record<string, CfnValue> } | undefined
    )?.Variables;
    for (const [key, value] of Object.entries(variables ?? {})) {
      if (key !== 'ACME_STEP') environment[key] = String(resolve(value, template));
    }
  }
  return { name: which, definition, taskHandlers, environment, waitStates, template };
}

/** Resolves the intrinsic functions CDK uses in definitions and environments to stand-in values. */
function resolve(value: CfnValue, template: { Resources: Record<string, CfnResource> }): CfnValue {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((item) => resolve(item, template));
  const object = value as Record<string, CfnValue>;
  if ('Fn::Join' in object) {
    const [separator, parts] = object['Fn::Join'] as [string, CfnValue[]];
    return parts.map((part) => resolve(part, template)).join(separator);
  }
  if ('Fn::GetAtt' in object) {
    const [logicalId, attribute] = object['Fn::GetAtt'] as [string, string];
    const type = template.Resources[logicalId]?.Type;
    if (type === 'AWS::Lambda::Function')
      return `arn:aws:lambda:${FAKE_REGION}:${FAKE_ACCOUNT}:function:${logicalId}`;
    return `arn:aws:stand-in:${FAKE_REGION}:${FAKE_ACCOUNT}:${logicalId}/${attribute}`;
  }
  if ('Ref' in object) {
    const ref = String(object.Ref);
    if (ref === 'AWS::Partition') return 'aws';
    if (ref === 'AWS::Region') return FAKE_REGION;
    if (ref === 'AWS::AccountId') return FAKE_ACCOUNT;
    if (ref === 'AWS::URLSuffix') return 'amazonaws.com';
    return ref.toLowerCase();
  }
  return Object.fromEntries(Object.entries(object).map(([key, item]) => [key, resolve(item, template)]));
}

export interface StepTiming {
  readonly name: string;
  readonly ms: number;
  readonly runs: number;
}

export interface LocalExecution {
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly output?: unknown;
  readonly error?: { readonly name: string; readonly cause: string };
  readonly events: readonly EventLog[];
  /** States entered plus retries: what Step Functions Standard bills. */
  readonly stateTransitions: number;
  /** Task time per step, in order of first entry. */
  readonly steps: readonly StepTiming[];
  readonly durationMs: number;
}

export interface RunOptions {
  readonly input: unknown;
  /** Replaces or adds Lambda environment variables (for example the fake KMS key id). */
  readonly environment?: Readonly<Record<string, string>>;
  /** Milliseconds each Wait state and Retry pause lasts locally. @default 10 */
  readonly pauseMs?: number;
  /** The execution id the state machine passes on (`$$.Execution.Id`). @default a fresh one */
  readonly executionId?: string;
  /** Local stand-ins for Tasks that are not our Lambdas (other service integrations), by state name. */
  readonly extraHandlers?: Readonly<Record<string, (input: unknown) => Promise<unknown>>>;
  /** Wraps each bound handler, e.g. to crash a step once. */
  readonly wrapHandler?: (
    stateName: string,
    handler: (input: unknown) => Promise<unknown>,
  ) => (input: unknown) => Promise<unknown>;
}

/** Executes the synthesized definition once, with every Task bound to its real handler. */
export async function runWorkflow(
  workflow: SynthesizedWorkflow,
  options: RunOptions,
): Promise<LocalExecution> {
  const environment = { ...workflow.environment, ...options.environment };
  const restoreEnvironment = applyEnvironment(environment);
  try {
    const taskResourceLocalHandlers: Record<string, (input: unknown) => Promise<unknown>> = {};
    for (const [stateName, folder] of Object.entries(workflow.taskHandlers)) {
      const module = (await import(`../../lambdas/${folder}/handler.ts`)) as {
        handler: (input: unknown) => Promise<unknown>;
      };
      taskResourceLocalHandlers[stateName] = options.wrapHandler
        ? options.wrapHandler(stateName, module.handler)
        : module.handler;
    }
    Object.assign(taskResourceLocalHandlers, options.extraHandlers);
    const pauseMs = options.pauseMs ?? 10;
    const waitTimeOverrides = Object.fromEntries(workflow.waitStates.map((name) => [name, pauseMs]));
    const retryIntervalOverrides = Object.fromEntries(
      Object.keys(workflow.taskHandlers).map((name) => [name, pauseMs]),
    );

    const machine = new StateMachine(workflow.definition as never, {
      validationOptions: { checkArn: false },
    });
    const started = Date.now();
    const executionId =
      options.executionId ??
      `arn:aws:states:${FAKE_REGION}:${FAKE_ACCOUNT}:execution:AcmeLocal:${randomUUID()}`;
    const execution = machine.run(options.input as never, {
      context: {
        // `$$.StateMachine.Id` lets the renewals machine start its own next page.
        StateMachine: {
          Id: `arn:aws:states:${FAKE_REGION}:${FAKE_ACCOUNT}:stateMachine:${workflow.name}`,
          Name: workflow.name,
        },
        Execution: {
          Id: executionId,
          Input: options.input,
          Name: executionId.split(':').at(-1),
          StartTime: new Date().toISOString(),
        },
      } as never,
      overrides: {
        taskResourceLocalHandlers: taskResourceLocalHandlers as never,
        waitTimeOverrides,
        retryIntervalOverrides,
      },
    });
    const events: EventLog[] = [];
    const collecting = (async () => {
      for await (const event of execution.eventLogs) events.push(event);
    })();
    let output: unknown;
    let error: { name: string; cause: string } | undefined;
    try {
      output = await execution.result;
    } catch (caught) {
      // The library wraps the Fail state's error (name = Error, message = Cause) as `cause`.
      const failure = ((caught as { cause?: unknown }).cause ?? caught) as {
        name?: string;
        message?: string;
      };
      error = { name: String(failure.name ?? 'Error'), cause: String(failure.message ?? '') };
    }
    await collecting;
    return {
      status: error ? 'FAILED' : 'SUCCEEDED',
      ...(error ? { error } : { output }),
      events,
      stateTransitions: events.filter((e) => e.type === 'StateEntered' || e.type === 'StateRetried').length,
      steps: stepTimings(events, workflow.taskHandlers),
      durationMs: Date.now() - started,
    };
  } finally {
    restoreEnvironment();
  }
}

let activeRuns = 0;
let savedEnvironment: Record<string, string | undefined> = {};

/**
 * Handlers read their settings from `process.env`, as in Lambda. Concurrent local runs share
 * one process, so the environment is set by the first and restored by the last.
 */
function applyEnvironment(environment: Readonly<Record<string, string>>): () => void {
  if (activeRuns === 0) savedEnvironment = {};
  activeRuns += 1;
  for (const [key, value] of Object.entries(environment)) {
    if (!(key in savedEnvironment)) savedEnvironment[key] = process.env[key];
    process.env[key] = value;
  }
  return () => {
    activeRuns -= 1;
    if (activeRuns > 0) return;
    for (const [key, value] of Object.entries(savedEnvironment)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
}

function stepTimings(
  events: readonly EventLog[],
  taskHandlers: Readonly<Record<string, string>>,
): StepTiming[] {
  const timings = new Map<string, { ms: number; runs: number }>();
  const entered = new Map<string, number>();
  for (const event of events) {
    if (!('state' in event) || !(event.state.name in taskHandlers)) continue;
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
