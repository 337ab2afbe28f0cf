/**
 * `create`, called on first use only; every later call returns that first result (a promise stays
 * the same promise, settled or not). For what an execution environment builds once and keeps: SDK
 * clients, adapter caches, Powertools utilities.
 *
 * Calling it has no effect until its result is called. esbuild does not carry that across modules,
 * so a module-level call is written `/* @__PURE__ *\/ once(...)`: a bundle that never calls the
 * result then drops it, with everything only its `create` refers to.
 */
export function once<Args extends unknown[], Value>(
  create: (...args: Args) => Value,
): (...args: Args) => Value {
  let made: { readonly value: Value } | undefined;
  return (...args) => {
    made ??= { value: create(...args) };
    return made.value;
  };
}
