import type { GlobalOptions } from './args.js';
import type { CliEnvironment } from './environment.js';
import { type DeployedStack, findStack } from './stack.js';

/** What every command gets: the global options, the environment, and the stack on demand. */
export interface CommandContext {
  readonly options: GlobalOptions;
  readonly env: CliEnvironment;
  /** Looks the stack up (once) through CloudFormation. */
  stack(): Promise<DeployedStack>;
  /** The region of the stack's resources: the stack's own, else `--region`/the SDK default. */
  regionOf(stack: DeployedStack): string;
  /** Human output: stdout normally, stderr under `--json` (which keeps stdout for the document). */
  say(text: string): void;
  /** Prints the command's JSON document on stdout. */
  printJson(document: unknown): void;
}

export function commandContext(options: GlobalOptions, env: CliEnvironment): CommandContext {
  let stack: Promise<DeployedStack> | undefined;
  return {
    options,
    env,
    stack() {
      stack ??= findStack(env.clients.cloudFormation(options.region), options.stack);
      return stack;
    },
    regionOf(deployed) {
      return deployed.region || options.region || '';
    },
    say(text) {
      (options.json ? env.stderr : env.stdout)(`${text}\n`);
    },
    printJson(document) {
      env.stdout(`${JSON.stringify(document, null, 2)}\n`);
    },
  };
}
