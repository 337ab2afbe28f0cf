import { MAX_PROBLEM_DETAIL_LENGTH, MAX_PROBLEM_TYPE_LENGTH, truncateText } from '../acme/bounds.js';
import type { IssuanceState, KeyType } from '../state.js';
import { cleanup } from './cleanup.js';
import type { StepDeps } from './deps.js';
import { retryTransient } from './retry-transient.js';

/** Pauses between attempts of the cleanup within one invocation (well inside its 60 s timeout). */
const CLEANUP_RETRY_PAUSES_MS = [500, 1000, 2000, 4000];

/** The statuses of an execution that may have ended before its Cleanup state ran. */
export const ENDED_WITHOUT_CLEANUP = ['FAILED', 'TIMED_OUT', 'ABORTED'] as const;

/**
 * The `detail` of a "Step Functions Execution Status Change" event ("Monitoring Step Functions
 * using EventBridge", Step Functions Developer Guide): dates are epoch milliseconds, and `input`
 * is the execution's input as a JSON string (null when it is too large to be included).
 */
export interface ExecutionStatusChange {
  readonly executionArn: string;
  readonly stateMachineArn?: string;
  readonly status: string;
  readonly startDate?: number;
  readonly stopDate?: number | null;
  readonly input?: string | null;
  readonly error?: string | null;
  readonly cause?: string | null;
}

/** What the rule's Lambda did, for its log and its tests. */
export interface EndedExecutionOutcome {
  readonly executionArn: string;
  readonly certificateId?: string;
  /**
   * `cleaned-up`: the execution still held the certificate's lock or had TXT values noted, and
   * they were removed, the outcome recorded and announced, and the lock released;
   * `nothing-left`: its own Cleanup had done all of it; `not-a-certificate-run`: an account
   * action, or an input without a certificate id; `ignored`: a status that needs nothing.
   */
  readonly result: 'cleaned-up' | 'nothing-left' | 'not-a-certificate-run' | 'ignored';
}

/**
 * Runs the Cleanup of an issuance execution that ended without one: timed out, stopped
 * (StopExecution) or failed in a way its Catch could not handle (its Cleanup itself failing, or a
 * state's data over the quota). The EventBridge rule on the state machine's status changes invokes
 * it for FAILED, TIMED_OUT and ABORTED executions.
 *
 * The registry says what the execution left: the lock it holds, and the TXT values it noted before
 * writing them. Cleanup's own rules then apply, as if the execution had reached it with the error
 * `ExecutionTimedOut`, `ExecutionAborted` or the execution's own error: the values are removed
 * under their record set leases, the failure is counted once (or a certificate the execution
 * delivered before it was killed is recorded as delivered), the event is put and the lock is
 * released. An execution whose Cleanup already ran left neither, and nothing happens. Safe to
 * repeat, as EventBridge and Lambda may deliver an event more than once.
 */
export async function cleanupEndedExecution(
  event: { readonly detail?: ExecutionStatusChange } | null,
  deps: Pick<StepDeps, 'dns' | 'leases' | 'registry' | 'events' | 'metrics' | 'clock' | 'log'>,
): Promise<EndedExecutionOutcome> {
  const detail = event?.detail;
  if (!detail || typeof detail.executionArn !== 'string') {
    throw new TypeError(
      'Expected a "Step Functions Execution Status Change" event with detail.executionArn; check the rule that invokes this function.',
    );
  }
  const executionArn = detail.executionArn;
  if (!(ENDED_WITHOUT_CLEANUP as readonly string[]).includes(detail.status)) {
    return { executionArn, result: 'ignored' };
  }
  const input = parseInput(detail.input);
  const certificateId = typeof input?.certificateId === 'string' ? input.certificateId : undefined;
  if (!certificateId) {
    deps.log.info('The execution that ended worked on no certificate; nothing to clean up', {
      executionArn,
      status: detail.status,
    });
    return { executionArn, result: 'not-a-certificate-run' };
  }
  const record = await deps.registry.get(certificateId);
  const holdsLock = record?.lock?.executionId === executionArn;
  const noted = (record?.publishedTxt ?? []).filter((value) => value.executionId === executionArn);
  if (!record || (!holdsLock && noted.length === 0)) {
    return { executionArn, certificateId, result: 'nothing-left' };
  }
  deps.log.warn('An issuance execution ended before its Cleanup; cleaning up after it', {
    executionArn,
    status: detail.status,
    holdsLock,
    txtValues: noted.length,
  });
  const state: IssuanceState = {
    certificateId,
    action: input?.action === 'issue' || input?.action === 'revoke' ? input.action : 'renew',
    domains: record.config?.domains ?? [],
    // Only what Cleanup reads matters; the rest completes the state's shape from the record.
    keyType: (record.config?.keyType ?? 'EC_P256') as KeyType,
    regions: record.config?.regions ?? [],
    directoryUrl: record.config?.directoryUrl ?? '',
    retryAfterSeconds: 0,
    polls: 0,
    ...(record.config?.kmsKeyArn ? { kmsKeyArn: record.config.kmsKeyArn } : {}),
    execution: {
      id: executionArn,
      ...(typeof detail.startDate === 'number'
        ? { startedAt: new Date(detail.startDate).toISOString() }
        : {}),
    },
    error: endedWith(detail),
  };
  // Nothing else will clean up after this execution until the certificate's next run: each
  // transient failure is retried here before Lambda's own retries of the event.
  await retryTransient(
    () => cleanup(state, deps),
    CLEANUP_RETRY_PAUSES_MS,
    (error, pauseMs) =>
      deps.log.warn('Cleanup after the ended execution failed; trying again', {
        error: error.message,
        pauseMs,
      }),
  );
  return { executionArn, certificateId, result: 'cleaned-up' };
}

/** The error a killed execution is recorded with: what the state machine's Cleanup would have seen. */
function endedWith(detail: ExecutionStatusChange): { Error: string; Cause: string } {
  switch (detail.status) {
    case 'TIMED_OUT':
      return {
        Error: 'ExecutionTimedOut',
        Cause:
          'The issuance execution reached the state machine’s timeout before it finished; its TXT values were removed and its lock released after it ended. The next run resumes the order.',
      };
    case 'ABORTED':
      return {
        Error: 'ExecutionAborted',
        Cause:
          'The issuance execution was stopped (StopExecution) before it finished; its TXT values were removed and its lock released after it ended. The next run resumes the order.',
      };
    default:
      return {
        Error: truncateText(detail.error || 'ExecutionFailed', MAX_PROBLEM_TYPE_LENGTH),
        Cause: truncateText(
          detail.cause || 'The issuance execution failed before its Cleanup could record why.',
          MAX_PROBLEM_DETAIL_LENGTH,
        ),
      };
  }
}

function parseInput(input: string | null | undefined): Record<string, unknown> | undefined {
  if (typeof input !== 'string') return undefined;
  try {
    const parsed: unknown = JSON.parse(input);
    return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
