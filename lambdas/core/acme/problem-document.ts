import type { AcmeProblem, AcmeSubproblem } from '../errors.js';
import {
  MAX_IDENTIFIER_LENGTH,
  MAX_PROBLEM_DETAIL_LENGTH,
  MAX_PROBLEM_TYPE_LENGTH,
  MAX_SUBPROBLEM_DETAIL_LENGTH,
  MAX_SUBPROBLEMS,
  MAX_SUBPROBLEMS_TEXT_LENGTH,
  truncateText,
} from './bounds.js';

/**
 * Reads an RFC 7807 / RFC 8555 §6.7 problem document, wherever the CA puts one: an error response,
 * an order's `error`, a challenge's `error`. Never throws: a field of the wrong type is left out.
 *
 * `maxDetailLength` is lower for a problem about one identifier (a challenge's `error`, which
 * becomes a subproblem of an invalid order's error).
 *
 * Guarantees: every text is within its bound in `bounds.ts` (a longer one is shortened and says
 * so); at most `MAX_SUBPROBLEMS` subproblems, holding at most `MAX_SUBPROBLEMS_TEXT_LENGTH`
 * characters together, are kept, and the detail counts those left out. So the error built from it,
 * whose message lists every subproblem, stays small enough for the state, the registry and events.
 */
export function readProblem(
  value: unknown,
  httpStatus?: number,
  maxDetailLength = MAX_PROBLEM_DETAIL_LENGTH,
): AcmeProblem | undefined {
  if (!isRecord(value)) return undefined;
  const offered = Array.isArray(value.subproblems) ? value.subproblems.filter(isRecord) : [];
  const subproblems: AcmeSubproblem[] = [];
  let textLength = 0;
  for (const candidate of offered) {
    if (subproblems.length >= MAX_SUBPROBLEMS) break;
    const subproblem = readSubproblem(candidate);
    const length =
      subproblem.type.length + (subproblem.detail?.length ?? 0) + (subproblem.identifier?.value.length ?? 0);
    if (textLength + length > MAX_SUBPROBLEMS_TEXT_LENGTH) break;
    textLength += length;
    subproblems.push(subproblem);
  }
  const omitted = offered.length - subproblems.length;
  const detail = typeof value.detail === 'string' ? truncateText(value.detail, maxDetailLength) : '';
  const withOmitted =
    omitted > 0 ? `${detail}${detail ? ' ' : ''}(${omitted} more subproblems not shown)` : detail;
  const status = typeof value.status === 'number' ? value.status : httpStatus;
  return {
    // RFC 7807 §4.2: a problem without a type is "about:blank".
    type: typeof value.type === 'string' ? truncateText(value.type, MAX_PROBLEM_TYPE_LENGTH) : 'about:blank',
    ...(typeof value.detail === 'string' || omitted > 0 ? { detail: withOmitted } : {}),
    ...(status !== undefined ? { status } : {}),
    ...(subproblems.length > 0 ? { subproblems } : {}),
  };
}

/** A problem document from a response body, or `undefined` when the body is not a JSON object. */
export function parseProblemBody(body: string, httpStatus: number): AcmeProblem | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  return readProblem(value, httpStatus);
}

function readSubproblem(sub: Record<string, unknown>): AcmeSubproblem {
  const identifier = sub.identifier;
  return {
    type: typeof sub.type === 'string' ? truncateText(sub.type, MAX_PROBLEM_TYPE_LENGTH) : 'about:blank',
    ...(typeof sub.detail === 'string'
      ? { detail: truncateText(sub.detail, MAX_SUBPROBLEM_DETAIL_LENGTH) }
      : {}),
    ...(isRecord(identifier) && typeof identifier.type === 'string' && typeof identifier.value === 'string'
      ? {
          identifier: {
            type: truncateText(identifier.type, MAX_IDENTIFIER_LENGTH),
            value: truncateText(identifier.value, MAX_IDENTIFIER_LENGTH),
          },
        }
      : {}),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
