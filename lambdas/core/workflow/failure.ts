/**
 * What a failed step's error says, for people: the Catch hands Cleanup the state's `Error` and
 * `Cause`, and for a Lambda function error the Cause is Lambda's error payload as JSON
 * (`errorType`, `errorMessage` and the stack `trace`). The registry's `lastError` and the failure
 * event carry only the message; the trace stays in the execution history.
 */
export function failureMessage(cause: string | undefined): string {
  if (cause === undefined) return '';
  try {
    const payload = JSON.parse(cause) as { errorMessage?: unknown } | null;
    if (typeof payload?.errorMessage === 'string') return payload.errorMessage;
  } catch {
    // Not JSON: a Step Functions error such as States.Timeout carries its Cause as plain text.
  }
  return cause;
}
