import * as v from 'valibot';

/**
 * Stands for the name of the field in a rule's message. Each caller names fields its own way
 * (`regions[1]` in an execution input, `AcmeCertificates: certificates[0].regions[1]` at synth,
 * `--regions` in the CLI), so a rule says `${FIELD} "mars-1" is not an AWS region…` and
 * {@link issueMessage} puts the name in. `JSON.stringify` escapes U+0001, so no value that
 * {@link shown} repeats can contain it.
 */
export const FIELD = '\u0001';

/** Characters of an input value repeated in an error message. */
const SHOWN_LENGTH = 80;

/** An input value as an error message repeats it: JSON, cut to a readable length. */
export function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > SHOWN_LENGTH ? `${text.slice(0, SHOWN_LENGTH)}… (${text.length} characters)` : text;
}

/** The keys from the root of the input to a value: `["domains", 2]`. */
export type FieldPath = readonly (string | number)[];

/** How a caller names the field at a path, for {@link FIELD} in messages. */
export type FieldLabel = (path: FieldPath) => string;

/**
 * Names a field as a JSON path under `root`: `domains[2]`, `execution.id`, or with the root
 * `AcmeCertificates: certificates`, `AcmeCertificates: certificates[0].domains[2]`.
 */
export function pathLabel(root = ''): FieldLabel {
  return (path) =>
    path.reduce<string>(
      (label, key) => (typeof key === 'number' ? `${label}[${key}]` : label === '' ? key : `${label}.${key}`),
      root,
    );
}

/** The message of a schema issue, with its field named by `label`. */
export function issueMessage(issue: v.BaseIssue<unknown>, label: FieldLabel): string {
  const path = (issue.path ?? []).map((item) => item.key as string | number);
  return issue.message.replaceAll(FIELD, label(path));
}

/**
 * Parses `value` with one of the config schemas, stopping at the first problem, and throws
 * `error(message)` with that problem's message (its field named by `label`). Each side picks its
 * error: `InvalidInputError` in the state machine, `UsageError` in the CLI, a plain `Error` at synth.
 */
export function parseWith<S extends v.GenericSchema>(
  schema: S,
  value: unknown,
  label: FieldLabel,
  error: (message: string) => Error,
): v.InferOutput<S> {
  const result = v.safeParse(schema, value, { abortEarly: true });
  if (result.success) return result.output;
  const [issue] = result.issues;
  throw error(issueMessage(issue, label));
}

/** A message template for a rule: a function of the refused value, with {@link FIELD} for its name. */
export function message(
  template: (input: unknown, issue: v.BaseIssue<unknown>) => string,
): (issue: v.BaseIssue<unknown>) => string {
  return (issue) => template(issue.input, issue);
}
