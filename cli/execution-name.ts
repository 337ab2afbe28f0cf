/**
 * Execution names. Step Functions keeps a name unique per state machine for 90 days and lists
 * executions without any filter on name, so the name is how `history` finds a certificate's
 * runs: the CLI names them `<certificateId>-<action>-<yyyymmddThhmmssZ>`, and the renewal
 * planner names its runs `<certificateId>-<yyyymmdd>`. Account actions concern no certificate:
 * they are `account-<action>-<yyyymmddThhmmssZ>`, which no certificate's name pattern matches.
 */
import type { AccountAction } from '../lambdas/core/workflow/input.js';

/** The actions the CLI starts on the issuance state machine. */
export type StartAction = 'issue' | 'renew' | 'revoke';

const ACTIONS: readonly StartAction[] = ['issue', 'renew', 'revoke'];
const MAX_NAME_LENGTH = 80;
const STAMP_LENGTH = '20250101T000000Z'.length;
const CLI_STAMP = /^\d{8}T\d{6}Z$/;
const PLANNER_STAMP = /^\d{8}$/;

/** `2025-03-01T12:00:00.000Z` → `20250301T120000Z`: sortable, and only characters names allow. */
function stamp(now: Date): string {
  return now.toISOString().slice(0, 19).replaceAll('-', '').replaceAll(':', '').concat('Z');
}

/** The id as it appears in names of `action`: cut so the whole name fits in 80 characters. */
function idPart(certificateId: string, action: string): string {
  return certificateId.slice(0, MAX_NAME_LENGTH - action.length - STAMP_LENGTH - 2);
}

/**
 * The name of an execution the CLI starts. Certificate ids (letters, digits, `.`, `_`, `-`) are
 * kept as they are: Step Functions allows all of them, and the planner keeps them too. Ids longer
 * than 56 characters are cut to fit the 80-character limit.
 */
export function executionName(certificateId: string, action: StartAction, now: Date): string {
  return `${idPart(certificateId, action)}-${action}-${stamp(now)}`;
}

/** The name of a fleet renewal run started by the CLI. */
export function fleetExecutionName(now: Date): string {
  return `fleet-renew-${stamp(now)}`;
}

/**
 * The name of an account action the CLI starts, e.g. `account-rollover-account-key-20300301T120000Z`
 * (45 characters at most). Every action name ends in `-account` or `-key`, never in a certificate
 * action, so `isExecutionOf` keeps them out of every certificate's history.
 */
export function accountExecutionName(action: AccountAction, now: Date): string {
  return `account-${action}-${stamp(now)}`;
}

/**
 * True when `name` is one of `certificateId`'s executions, as named by the CLI or the renewal
 * planner. Matching the whole suffix keeps `web` from claiming `web-api`'s runs.
 */
export function isExecutionOf(name: string, certificateId: string): boolean {
  for (const action of ACTIONS) {
    const prefix = `${idPart(certificateId, action)}-${action}-`;
    if (name.startsWith(prefix) && CLI_STAMP.test(name.slice(prefix.length))) return true;
  }
  const prefix = `${certificateId}-`;
  return name.startsWith(prefix) && PLANNER_STAMP.test(name.slice(prefix.length));
}
