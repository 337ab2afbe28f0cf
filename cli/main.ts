import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseCommandLine, USAGE, wantsJson } from './args.js';
import { runAccountActionCommand, runAccountListCommand } from './commands/account.js';
import { runHistoryCommand } from './commands/history.js';
import { runPersistRecordCommand } from './commands/persist-record.js';
import { runStartCommand } from './commands/start.js';
import { runStatusCommand } from './commands/status.js';
import { commandContext } from './context.js';
import { type CliEnvironment, processEnvironment } from './environment.js';
import { CliError, EXIT_AWS, EXIT_OK } from './errors.js';

/**
 * The operator CLI, `acme-aws <command>`: finds the deployed stack through its CloudFormation
 * outputs, then reads the registry or starts and follows executions. Returns the exit code and
 * never calls `process.exit`, so tests run it in-process against the faked AWS clients.
 */
export async function runCli(
  argv: readonly string[],
  env: CliEnvironment = processEnvironment(),
): Promise<number> {
  const json = wantsJson(argv);
  try {
    const { options, command } = parseCommandLine(argv);
    const context = commandContext(options, env);
    switch (command.name) {
      case 'help':
        env.stdout(`${USAGE}\n`);
        return EXIT_OK;
      case 'status':
        return await runStatusCommand(context);
      case 'history':
        return await runHistoryCommand(command, context);
      case 'persist-record':
        return await runPersistRecordCommand(command, context);
      case 'account':
        return await runAccountListCommand(context);
      case 'account-rollover':
      case 'account-update':
      case 'account-deactivate':
        return await runAccountActionCommand(command, context);
      default:
        return await runStartCommand(command, context);
    }
  } catch (error) {
    const exitCode = error instanceof CliError ? error.exitCode : EXIT_AWS;
    const message = error instanceof Error ? error.message : String(error);
    const name = error instanceof CliError ? error.name : 'UnexpectedError';
    if (json) env.stdout(`${JSON.stringify({ error: { name, message, exitCode } }, null, 2)}\n`);
    env.stderr(`acme-aws: ${message}\n`);
    if (error instanceof CliError && error.exitCode === 2) env.stderr('Run acme-aws --help for usage.\n');
    if (!(error instanceof CliError)) env.stderr(`${error instanceof Error ? error.stack : ''}\n`);
    return exitCode;
  }
}

/** True when this module is the program itself (`tsx cli/main.ts`), not an import. */
function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  process.exitCode = await runCli(process.argv.slice(2));
}
