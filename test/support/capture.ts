import type { LocalIssuanceResult } from '../harness/local-issuance.js';

/** Every state's input and output, as Step Functions would keep them in the execution history. */
export function statePayloads(run: Pick<LocalIssuanceResult, 'execution'>): string {
  return JSON.stringify(
    run.execution.events.map((event) => ('state' in event ? [event.state.input, event.state.output] : event)),
  );
}
