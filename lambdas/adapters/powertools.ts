import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { once } from './once.js';

/**
 * The Powertools utilities of a function, each built once per execution environment, and
 * {@link lambdaHandler}, which gives them each invocation's context.
 */

/** Structured JSON logs; what callers pass as attributes must never carry a secret. */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'acme-aws' });

/** The Metrics of the environment, once a step asks for them; published after each invocation. */
const recorders = new Set<Metrics>();

/**
 * CloudWatch metrics as embedded-metric-format log lines. Created on first use, so a function
 * whose step records none neither builds one nor carries the Metrics code in its bundle.
 */
export const powertoolsMetrics = /* @__PURE__ */ once((env: NodeJS.ProcessEnv) => {
  const recorder = new Metrics({
    namespace: env.POWERTOOLS_METRICS_NAMESPACE ?? 'AcmeAws',
    serviceName: env.POWERTOOLS_SERVICE_NAME ?? 'acme-aws',
  });
  recorders.add(recorder);
  return recorder;
});

/**
 * The X-Ray tracing module (tracing.mts, shipped as `tracing.mjs` beside the bundle), imported
 * only when Lambda traces the invocation that first asks (`_X_AMZN_TRACE_ID`, which Lambda sets
 * per invocation) and `POWERTOOLS_TRACE_ENABLED` is not `false`; otherwise none, and the X-Ray
 * SDK is never loaded: where there is no X-Ray (the local harness), nothing looks for a daemon.
 */
export const tracing = /* @__PURE__ */ once(
  async (): Promise<typeof import('./tracing.mjs') | undefined> =>
    process.env._X_AMZN_TRACE_ID && process.env.POWERTOOLS_TRACE_ENABLED !== 'false'
      ? import('./tracing.mjs')
      : undefined,
);

/** What SDK clients go through: the Tracer's `captureAWSv3Client` when tracing is on, else nothing. */
export async function clientCapture(): Promise<<Client>(client: Client) => Client> {
  return (await tracing())?.captureClient ?? ((client) => client);
}

/**
 * Wraps a Lambda handler in the Powertools bookkeeping of each invocation, through the calls the
 * Powertools documentation gives for handlers without Middy or decorators; they do what the
 * Logger's `injectLambdaContext({ resetKeys: true })`, the Tracer's `captureLambdaHandler` and
 * the Metrics' `logMetrics` do, without Middy in every bundle:
 *
 * - the Logger gets the Lambda context, so every line carries the request id, the cold-start flag
 *   and the function's name, version, ARN and memory size; keys added with `logger.appendKeys`
 *   during the invocation are removed when it ends, however it ends;
 * - when X-Ray traces the invocation, it runs in a `## <name>` subsegment annotated with
 *   `annotations`, holding the AWS calls and CA requests it makes (tracing.mts);
 * - the metrics recorded during the invocation are published when it ends, if there are any.
 *
 * Errors are rethrown unchanged, so their `name` reaches Retry and Catch.
 */
export function lambdaHandler<Event, Result>(
  name: string,
  handle: (event: Event, context: Context) => Promise<Result>,
  annotations: (event: Event) => Readonly<Record<string, string>> = () => ({}),
): (event: Event, context: Context) => Promise<Result> {
  return async (event, context) => {
    logger.refreshSampleRateCalculation();
    logger.addContext(context);
    try {
      const tracer = await tracing();
      return await (tracer
        ? tracer.traceInvocation(name, annotations(event), () => handle(event, context))
        : handle(event, context));
    } finally {
      // Publishing nothing (a Cleanup with no lock to record, say) would only log a warning.
      for (const recorder of recorders) if (recorder.hasStoredMetrics()) recorder.publishStoredMetrics();
      logger.resetKeys();
    }
  };
}
