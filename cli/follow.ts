import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { awsCall } from './aws-errors.js';

/** One visit to one state, as the execution history shows it. */
export interface StepRecord {
  readonly name: string;
  /** `Task`, `Pass`, `Choice`, `Wait`, `Succeed`, `Fail`, `Map`, `Parallel`. */
  readonly type: string;
  readonly enteredAt: Date;
  exitedAt?: Date;
  /** Failed attempts (retried or caught), oldest first. */
  readonly failures: { readonly error: string; readonly cause: string; readonly at: Date }[];
}

/** What happened, as it happens; `elapsedMs` counts from the execution's start. */
export type ProgressEvent =
  | {
      readonly kind: 'entered';
      readonly step: StepRecord;
      readonly elapsedMs: number;
      /** Wait states driven by `$.retryAfterSeconds`: how long they wait. */
      readonly waitSeconds?: number;
    }
  | {
      readonly kind: 'failed';
      readonly step: StepRecord;
      readonly error: string;
      readonly cause: string;
      readonly elapsedMs: number;
    }
  | { readonly kind: 'retrying'; readonly step: StepRecord; readonly elapsedMs: number };

/** The execution once it has ended. */
export interface FollowResult {
  /** `SUCCEEDED`, `FAILED`, `TIMED_OUT` or `ABORTED`. */
  readonly status: string;
  readonly startDate: Date;
  readonly stopDate?: Date;
  readonly output?: string;
  readonly error?: string;
  readonly cause?: string;
  readonly steps: readonly StepRecord[];
}

export interface FollowOptions {
  readonly sleep: (ms: number) => Promise<void>;
  readonly pollIntervalMs: number;
  readonly onProgress: (event: ProgressEvent) => void;
}

const STATE_EVENT = /^(\w+?)State(Entered|Exited)$/;
const TASK_FAILED = new Set(['TaskFailed', 'TaskTimedOut', 'LambdaFunctionFailed', 'LambdaFunctionTimedOut']);
const TASK_SCHEDULED = new Set(['TaskScheduled', 'LambdaFunctionScheduled']);
const EXECUTION_ENDED = new Set([
  'ExecutionSucceeded',
  'ExecutionFailed',
  'ExecutionTimedOut',
  'ExecutionAborted',
]);
const HISTORY_PAGE_SIZE = 100;

function failureOf(event: HistoryEvent): { error: string; cause: string } {
  const details =
    event.taskFailedEventDetails ??
    event.taskTimedOutEventDetails ??
    event.lambdaFunctionFailedEventDetails ??
    event.lambdaFunctionTimedOutEventDetails;
  return { error: details?.error ?? 'UnknownError', cause: details?.cause ?? '' };
}

function waitSecondsOf(input: string | undefined): number | undefined {
  if (input === undefined) return undefined;
  try {
    const seconds = (JSON.parse(input) as { retryAfterSeconds?: unknown }).retryAfterSeconds;
    return typeof seconds === 'number' ? seconds : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The events after `lastSeenId`, oldest first. Reads the history newest first and stops at the
 * first event already seen, so each poll costs one page however long the history grows.
 */
async function eventsAfter(
  sfn: SFNClient,
  executionArn: string,
  lastSeenId: number,
): Promise<HistoryEvent[]> {
  const fresh: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await awsCall('states:GetExecutionHistory', executionArn, () =>
      sfn.send(
        new GetExecutionHistoryCommand({
          executionArn,
          reverseOrder: true,
          maxResults: HISTORY_PAGE_SIZE,
          includeExecutionData: true,
          ...(nextToken ? { nextToken } : {}),
        }),
      ),
    );
    for (const event of page.events ?? []) {
      if ((event.id ?? 0) <= lastSeenId) return fresh.reverse();
      fresh.push(event);
    }
    nextToken = page.nextToken;
  } while (nextToken);
  return fresh.reverse();
}

/**
 * Follows an execution until it ends: polls `DescribeExecution`, reads the history events that
 * are new since the last poll, and reports each state entered, each failed attempt and each retry
 * as it happens. Returns the final status with every step. Sleeps only between polls of a running
 * execution, through `options.sleep`.
 */
export async function followExecution(
  sfn: SFNClient,
  executionArn: string,
  options: FollowOptions,
): Promise<FollowResult> {
  const steps: StepRecord[] = [];
  let lastSeenId = 0;
  let current: StepRecord | undefined;
  let failedSinceScheduled = false;

  for (;;) {
    const description: DescribeExecutionCommandOutput = await awsCall(
      'states:DescribeExecution',
      executionArn,
      () => sfn.send(new DescribeExecutionCommand({ executionArn })),
    );
    const startDate = description.startDate ?? new Date(0);
    const elapsed = (at: Date) => at.getTime() - startDate.getTime();

    for (const event of await eventsAfter(sfn, executionArn, lastSeenId)) {
      lastSeenId = Math.max(lastSeenId, event.id ?? 0);
      const type = event.type ?? '';
      const at = event.timestamp ?? startDate;
      const stateEvent = STATE_EVENT.exec(type);
      if (stateEvent?.[2] === 'Entered') {
        // A caught failure leaves its state without an Exited event: the next state closes it.
        if (current && !current.exitedAt) current.exitedAt = at;
        const input = event.stateEnteredEventDetails?.input;
        current = {
          name: event.stateEnteredEventDetails?.name ?? '?',
          type: stateEvent[1] ?? 'State',
          enteredAt: at,
          failures: [],
        };
        steps.push(current);
        failedSinceScheduled = false;
        const waitSeconds = current.type === 'Wait' ? waitSecondsOf(input) : undefined;
        options.onProgress({
          kind: 'entered',
          step: current,
          elapsedMs: elapsed(at),
          ...(waitSeconds !== undefined ? { waitSeconds } : {}),
        });
      } else if (stateEvent?.[2] === 'Exited') {
        if (current) current.exitedAt = at;
      } else if (TASK_FAILED.has(type) && current) {
        const failure = { ...failureOf(event), at };
        current.failures.push(failure);
        failedSinceScheduled = true;
        options.onProgress({ kind: 'failed', step: current, ...failure, elapsedMs: elapsed(at) });
      } else if (TASK_SCHEDULED.has(type) && current && failedSinceScheduled) {
        failedSinceScheduled = false;
        options.onProgress({ kind: 'retrying', step: current, elapsedMs: elapsed(at) });
      } else if (EXECUTION_ENDED.has(type) && current && !current.exitedAt) {
        current.exitedAt = at;
      }
    }

    if (description.status !== 'RUNNING' && description.status !== 'PENDING_REDRIVE') {
      return {
        status: description.status ?? 'UNKNOWN',
        startDate,
        ...(description.stopDate ? { stopDate: description.stopDate } : {}),
        ...(description.output !== undefined ? { output: description.output } : {}),
        ...(description.error !== undefined ? { error: description.error } : {}),
        ...(description.cause !== undefined ? { cause: description.cause } : {}),
        steps,
      };
    }
    await options.sleep(options.pollIntervalMs);
  }
}
