/**
 * Exit codes and the errors that carry them. A command returns 0 or 1 itself (the execution's
 * outcome); everything that stops it earlier is a `CliError`, whose `exitCode` says whose move it
 * is: 2 when the command line is wrong (nothing was sent to AWS), 3 when AWS or the stack is.
 */
export const EXIT_OK = 0;
/** The execution ran and failed, timed out or was aborted. */
export const EXIT_EXECUTION_FAILED = 1;
/** The command line is wrong; nothing was sent to AWS. */
export const EXIT_USAGE = 2;
/** An AWS call failed or the stack is missing something: credentials, region, stack or output. */
export const EXIT_AWS = 3;

/** Base class of the errors that end the CLI with a message; `exitCode` is the process's. */
export abstract class CliError extends Error {
  abstract readonly exitCode: number;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The command line is wrong: unknown command or option, missing or invalid value. */
export class UsageError extends CliError {
  readonly exitCode = EXIT_USAGE;
}

/**
 * An AWS call failed or the deployed stack lacks what the command needs. The message says what
 * to do (deploy, pass `--stack`/`--region`, fix credentials); the SDK error is the `cause`.
 */
export class AwsCallError extends CliError {
  readonly exitCode = EXIT_AWS;
}
