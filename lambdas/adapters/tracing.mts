import { Tracer } from '@aws-lambda-powertools/tracer';

/**
 * X-Ray tracing through the Powertools Tracer, in a module of its own: the Tracer brings the X-Ray
 * SDK (about 130 KB minified), so lib/lambda-bundle.ts builds this file as `tracing.mjs` beside
 * each function's `index.mjs`, and runtime.ts imports it only for an invocation that X-Ray traces.
 * Bundles stay small, and a function run where there is no X-Ray (the local harness, a unit test)
 * never loads the SDK or looks for a daemon.
 *
 * Built once per execution environment. Creating the Tracer patches `node:http` and `node:https`
 * (`captureHTTPsRequests`), so every request to the CA becomes a subsegment.
 */
export const tracer = new Tracer({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'acme-aws' });

/** Records an AWS SDK v3 client's calls as subsegments (`captureAWSv3Client`); returns the same client. */
export function captureClient<Client>(client: Client): Client {
  return tracer.captureAWSv3Client(client);
}

/**
 * Runs one invocation in a `## <name>` subsegment, annotated with the cold start, the service and
 * `annotations` (searchable in X-Ray), as the Tracer's documented manual instrumentation does. An
 * error is recorded (name, message, stack) and rethrown unchanged. The response is deliberately not
 * recorded: step outputs are workflow state, not something to copy into traces.
 */
export async function traceInvocation<Result>(
  name: string,
  annotations: Readonly<Record<string, string>>,
  run: () => Promise<Result>,
): Promise<Result> {
  const segment = tracer.getSegment();
  // No facade segment (no trace header on this invocation): nothing to attach to.
  if (!segment) return run();
  const subsegment = segment.addNewSubsegment(`## ${name}`);
  tracer.setSegment(subsegment);
  tracer.annotateColdStart();
  tracer.addServiceNameAnnotation();
  for (const [key, value] of Object.entries(annotations)) tracer.putAnnotation(key, value);
  try {
    return await run();
  } catch (error) {
    tracer.addErrorAsMetadata(error as Error);
    throw error;
  } finally {
    subsegment.close();
    tracer.setSegment(segment);
  }
}
