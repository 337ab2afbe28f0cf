import { randomUUID } from 'node:crypto';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './constants.js';

/**
 * EventBridge rules of a deployed stack: which events they match and where they send them. The
 * matcher covers the pattern syntax of "Creating event patterns" in the EventBridge User Guide
 * that a rule may use here: exact values, `prefix`, `suffix`, `anything-but`, `exists` and nested
 * objects, with arrays in the event matched when any element matches. Any other operator is
 * refused loudly, so a rule is never silently mismatched.
 */

/** An event as EventBridge delivers it to a target. */
export interface EventEnvelope {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: Record<string, unknown>;
}

export function eventEnvelope(event: {
  readonly source: string;
  readonly detailType: string;
  readonly resources?: readonly string[];
  readonly detail: Record<string, unknown>;
}): EventEnvelope {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': event.detailType,
    source: event.source,
    account: LOCAL_ACCOUNT,
    time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: LOCAL_REGION,
    resources: event.resources ?? [],
    detail: event.detail,
  };
}

type Pattern = Record<string, unknown>;

/** True when `event` matches the rule's event pattern. */
export function matchesPattern(pattern: Pattern, event: unknown): boolean {
  return Object.entries(pattern).every(([key, expected]) => {
    const actual = (event as Record<string, unknown> | null)?.[key];
    if (Array.isArray(expected)) return matchesValues(expected, actual);
    if (typeof expected === 'object' && expected !== null) {
      return typeof actual === 'object' && actual !== null && matchesPattern(expected as Pattern, actual);
    }
    throw new Error(
      `Event pattern field "${key}" must be an array or an object, not ${JSON.stringify(expected)}`,
    );
  });
}

function matchesValues(expected: readonly unknown[], actual: unknown): boolean {
  const candidates = Array.isArray(actual) ? actual : [actual];
  return expected.some((matcher) => {
    if (typeof matcher !== 'object' || matcher === null) {
      return actual !== undefined && candidates.some((candidate) => candidate === matcher);
    }
    const [operator, argument] = Object.entries(matcher)[0] ?? [];
    switch (operator) {
      case 'exists':
        return argument === (actual !== undefined);
      case 'prefix':
        return candidates.some(
          (candidate) => typeof candidate === 'string' && candidate.startsWith(String(argument)),
        );
      case 'suffix':
        return candidates.some(
          (candidate) => typeof candidate === 'string' && candidate.endsWith(String(argument)),
        );
      case 'anything-but': {
        const excluded = Array.isArray(argument) ? argument : [argument];
        return actual !== undefined && candidates.every((candidate) => !excluded.includes(candidate));
      }
      default:
        throw new Error(
          `The local cloud does not implement the event pattern operator ${JSON.stringify(matcher)}`,
        );
    }
  });
}
