import { type CustomResourceEvent, respondToCloudFormation } from '../adapters/cloudformation-response.js';
import { lambdaHandler, logger } from '../adapters/powertools.js';
import { registry } from '../adapters/runtime.js';
import { syncDeclaredCertificates } from '../core/renewal/declared.js';

const PHYSICAL_ID = 'declared-certificates';

/** Custom resource: records the certificates declared in the CDK props in the registry. */
export const handler = lambdaHandler('SyncDeclaredCertificates', async (event: CustomResourceEvent) => {
  try {
    const count =
      event.RequestType === 'Delete'
        ? 0
        : await syncDeclaredCertificates(JSON.parse(String(event.ResourceProperties.Certificates ?? '[]')), {
            registry: await registry(process.env),
            log: {
              debug: () => {},
              info: (m, a) => logger.info(m, a ?? {}),
              warn: (m, a) => logger.warn(m, a ?? {}),
            },
          });
    await respondToCloudFormation(event, {
      status: 'SUCCESS',
      physicalResourceId: PHYSICAL_ID,
      reason: `${count} declared certificates recorded`,
    });
  } catch (error) {
    logger.error('Could not record the declared certificates', {
      errorName: error instanceof Error ? error.name : 'Error',
      errorMessage: error instanceof Error ? error.message : String(error),
    });
    await respondToCloudFormation(event, {
      status: 'FAILED',
      physicalResourceId: event.PhysicalResourceId ?? PHYSICAL_ID,
      reason: error instanceof Error ? error.message : String(error),
    });
  }
});
