import type { LocalIssuanceResult } from '../harness/local-issuance.js';

/** Captures what the handlers write (structured logs go to stdout and stderr, as in Lambda). */
export function captureOutput(): { lines: string[]; stop(): void } {
  const lines: string[] = [];
  const originals = { out: process.stdout.write, err: process.stderr.write };
  const tap =
    (original: typeof process.stdout.write) =>
    (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      lines.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return (original as (...args: unknown[]) => boolean).call(process.stdout, chunk, ...rest);
    };
  process.stdout.write = tap(originals.out) as typeof process.stdout.write;
  process.stderr.write = tap(originals.err) as typeof process.stderr.write;
  return {
    lines,
    stop() {
      process.stdout.write = originals.out;
      process.stderr.write = originals.err;
    },
  };
}

/** Every state's input and output, as Step Functions would keep them in the execution history. */
export function statePayloads(run: Pick<LocalIssuanceResult, 'execution'>): string {
  return JSON.stringify(
    run.execution.events.map((event) => ('state' in event ? [event.state.input, event.state.output] : event)),
  );
}
