import https from 'node:https';

/** The fields of a CloudFormation custom resource event this project reads. */
export interface CustomResourceEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly ResponseURL: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties: Readonly<Record<string, unknown>>;
}

/**
 * Answers CloudFormation for a Lambda-backed custom resource: a PUT of the outcome to the
 * pre-signed S3 URL in the event. Without an answer the stack waits for an hour, so every path,
 * failures included, ends here.
 */
export async function respondToCloudFormation(
  event: CustomResourceEvent,
  outcome: {
    readonly status: 'SUCCESS' | 'FAILED';
    readonly physicalResourceId: string;
    readonly reason?: string;
  },
): Promise<void> {
  const body = JSON.stringify({
    Status: outcome.status,
    Reason: (outcome.reason ?? 'See the function logs').slice(0, 3000),
    PhysicalResourceId: outcome.physicalResourceId,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
  });
  await new Promise<void>((resolve, reject) => {
    // The pre-signed URL is signed for an empty content type.
    // Looked up on the module at the call, so X-Ray's patch of `https.request` (tracing.mts) records it.
    const put = https.request(
      event.ResponseURL,
      {
        method: 'PUT',
        headers: { 'content-type': '', 'content-length': Buffer.byteLength(body) },
        timeout: 10_000,
      },
      (response) => {
        response.resume();
        response.on('end', () =>
          (response.statusCode ?? 0) < 300
            ? resolve()
            : reject(new Error(`CloudFormation's response URL answered HTTP ${response.statusCode}`)),
        );
      },
    );
    put.on('timeout', () => put.destroy(new Error('CloudFormation response URL timed out')));
    put.on('error', reject);
    put.end(body);
  });
}
